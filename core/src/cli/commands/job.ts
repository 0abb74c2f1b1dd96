/**
 * `cedana job list|kill|delete|checkpoints|inspect` and their top-level aliases (`ps`, `kill`, `delete`,
 * `checkpoints`).
 */
import type { Argv, CommandModule } from 'yargs';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { Job } from '../../generated/daemon';
import { daemonFrom, type GlobalArgs } from '../context';
import { dateTime, formatSize, keyValues, table, timeAgo } from '../format';
import { attachTerminal } from '../attach';

interface ListArgs extends GlobalArgs {
  json?: boolean;
  all?: boolean;
}
interface JidsArgs extends GlobalArgs {
  jids: string[];
  all?: boolean;
  signal?: string;
  grace?: number;
  checkpoints?: boolean;
}
interface OneJidArgs extends GlobalArgs {
  jid: string;
  json?: boolean;
}

/** The `cedana ps` table. */
export function jobsTable(jobs: Job[], now = Date.now()): string {
  const rows = jobs.map((j) => [
    j.jid,
    j.type,
    String(j.pid),
    j.status,
    j.gpu ? 'yes' : 'no',
    j.latestCheckpoint ? timeAgo(j.latestCheckpoint.time, now) : '',
    j.latestCheckpoint ? formatSize(j.latestCheckpoint.size) : '',
    j.log,
  ]);
  return table(['Job', 'Type', 'PID', 'Status', 'GPU', 'Checkpoint', 'Size', 'Log'], rows, ['PID', 'Checkpoint', 'Size']);
}

async function withDaemon<T>(argv: GlobalArgs, fn: (d: ReturnType<typeof daemonFrom>) => Promise<T>): Promise<T> {
  const daemon = daemonFrom(argv);
  try {
    return await fn(daemon);
  } finally {
    daemon.close();
  }
}

const list: CommandModule<GlobalArgs, ListArgs> = {
  command: ['list', 'ls'],
  describe: 'List jobs',
  builder: (y) =>
    y
      .option('json', { type: 'boolean', describe: 'print JSON for scripts' })
      .option('all', { alias: 'a', type: 'boolean', describe: 'also jobs of other hosts (every job of the database is listed anyway)' }) as Argv<ListArgs>,
  handler: (argv) =>
    withDaemon(argv, async (d) => {
      const { jobs } = await d.listJobs({ jids: [] });
      if (argv.json) return console.log(JSON.stringify(jobs, null, 2));
      if (jobs.length === 0) return console.log('No jobs found');
      console.log(jobsTable(jobs));
      console.log('\nUse `job inspect <JID>` for more details about a job');
      console.log('Use `job checkpoints <JID>` to list all checkpoints for a job');
    }),
};

const jidsBuilder = (y: Argv<GlobalArgs>) =>
  y
    .positional('jids', { type: 'string', array: true, describe: 'job ids' })
    .option('all', { alias: 'a', type: 'boolean', describe: 'all jobs' }) as Argv<JidsArgs>;

const kill: CommandModule<GlobalArgs, JidsArgs> = {
  command: 'kill [jids..]',
  describe: 'Kill jobs',
  builder: (y) =>
    jidsBuilder(y)
      .option('signal', { alias: 's', type: 'string', describe: 'send only this signal (default: TERM, then KILL after --grace)' })
      .option('grace', { type: 'number', describe: 'seconds between TERM and KILL (default 10)' }) as Argv<JidsArgs>,
  handler: (argv) =>
    withDaemon(argv, async (d) => {
      const { jids } = await d.killJobs({ jids: (argv.jids ?? []).map(String), all: argv.all ?? false, signal: argv.signal ?? '', graceSeconds: argv.grace });
      for (const jid of jids) console.log(`Killed job ${jid}`);
    }),
};

const del: CommandModule<GlobalArgs, JidsArgs> = {
  command: ['delete [jids..]', 'rm'],
  describe: 'Delete jobs (killing them if running)',
  builder: (y) => jidsBuilder(y).option('checkpoints', { type: 'boolean', describe: 'also delete their checkpoint files' }) as Argv<JidsArgs>,
  handler: (argv) =>
    withDaemon(argv, async (d) => {
      const { jids } = await d.deleteJobs({ jids: (argv.jids ?? []).map(String), all: argv.all ?? false, checkpoints: argv.checkpoints ?? false });
      for (const jid of jids) console.log(`Deleted job ${jid}`);
    }),
};

const checkpoints: CommandModule<GlobalArgs, OneJidArgs> = {
  command: 'checkpoints <jid>',
  describe: 'List the checkpoints of a job',
  builder: (y) =>
    y.positional('jid', { type: 'string', demandOption: true }).option('json', { type: 'boolean', describe: 'print JSON' }) as Argv<OneJidArgs>,
  handler: (argv) =>
    withDaemon(argv, async (d) => {
      const { checkpoints: list } = await d.listCheckpoints({ jid: String(argv.jid) });
      if (argv.json) return console.log(JSON.stringify(list, null, 2));
      if (list.length === 0) return console.log(`No checkpoints found for job ${argv.jid}`);
      // Stats columns (like Podman's --print-stats) read "-" for checkpoints made before stats were recorded.
      const ms = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)} ms`);
      const rows = list.map((c) => [c.id, dateTime(c.time), formatSize(c.size), c.stats ? formatSize(c.stats.rawBytes) : '-', ms(c.stats?.freezeMs), ms(c.stats?.criuMs), ms(c.stats?.totalMs), c.path]);
      console.log(table(['ID', 'Time', 'Size', 'Raw', 'Freeze', 'CRIU', 'Total', 'Path'], rows, ['Size', 'Raw', 'Freeze', 'CRIU', 'Total']));
    }),
};

const inspect: CommandModule<GlobalArgs, OneJidArgs> = {
  command: 'inspect <jid>',
  describe: 'Show everything about a job',
  builder: (y) =>
    y.positional('jid', { type: 'string', demandOption: true }).option('json', { type: 'boolean', describe: 'print JSON' }) as Argv<OneJidArgs>,
  handler: (argv) =>
    withDaemon(argv, async (d) => {
      const { jobs } = await d.listJobs({ jids: [String(argv.jid)] });
      const job = jobs[0];
      if (!job) {
        throw new CedanaError(ErrorCode.NotFound, `job ${argv.jid} not found`, { hint: 'see `cedana ps` for the jobs there are' });
      }
      const { detailsJson, ...rest } = job;
      const view = {
        ...rest,
        createdAt: new Date(job.createdAt).toISOString(),
        details: JSON.parse(detailsJson || '{}') as Record<string, unknown>,
        exitCode: job.exited && !job.exitSignal ? job.exitCode : undefined,
        exitSignal: job.exitSignal || undefined,
        latestCheckpoint: job.latestCheckpoint ? { ...job.latestCheckpoint, time: new Date(job.latestCheckpoint.time).toISOString() } : undefined,
      };
      console.log(argv.json ? JSON.stringify(view, null, 2) : keyValues(view));
    }),
};

const attach: CommandModule<GlobalArgs, OneJidArgs> = {
  command: 'attach <jid>',
  describe: 'Attach to an attachable job: its output here, your input to it; Ctrl+C detaches',
  builder: (y) => y.positional('jid', { type: 'string', demandOption: true }) as Argv<OneJidArgs>,
  handler: async (argv) => {
    const daemon = daemonFrom(argv);
    try {
      process.exitCode = await attachTerminal(daemon, { jid: String(argv.jid) }, `job ${argv.jid}`);
    } finally {
      daemon.close();
    }
  },
};

interface PidArgs extends GlobalArgs {
  pid: string;
}

/** `cedana attach <PID>`: the same, by the job's PID. */
export const attachPidCommand: CommandModule<GlobalArgs, PidArgs> = {
  command: 'attach <pid>',
  describe: 'Attach to the attachable job with this PID',
  // A string, not a number: yargs would turn `abc` into NaN before we could quote it back.
  builder: (y) => y.positional('pid', { type: 'string', demandOption: true }) as Argv<PidArgs>,
  handler: async (argv) => {
    const pid = Number(argv.pid);
    if (!/^\d+$/.test(String(argv.pid)) || !Number.isSafeInteger(pid) || pid <= 0) {
      throw new CedanaError(ErrorCode.InvalidArgument, `'${String(argv.pid)}' is not a PID`, { hint: 'cedana attach <PID>, or cedana job attach <JID>' });
    }
    const daemon = daemonFrom(argv);
    try {
      process.exitCode = await attachTerminal(daemon, { pid }, `PID ${pid}`);
    } finally {
      daemon.close();
    }
  },
};

export const jobCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'job',
  describe: 'Manage jobs',
  builder: (y) =>
    y
      .command(list)
      .command(kill)
      .command(del)
      .command(checkpoints)
      .command({ ...checkpoints, command: 'checkpoint <jid>', describe: false } as CommandModule<GlobalArgs, OneJidArgs>)
      .command(inspect)
      .command(attach)
      .demandCommand(1, 'name a job subcommand'),
  handler: () => undefined,
};

/** Top-level shortcuts. */
export const jobAliases: CommandModule<GlobalArgs, never>[] = [
  { ...list, command: ['ps', 'jobs'] } as CommandModule<GlobalArgs, never>,
  kill as CommandModule<GlobalArgs, never>,
  del as CommandModule<GlobalArgs, never>,
  { ...checkpoints, command: 'checkpoints <jid>' } as CommandModule<GlobalArgs, never>,
];
