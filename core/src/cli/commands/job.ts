/**
 * `cedana job list|kill|delete|checkpoints|inspect` and their top-level aliases (`ps`, `kill`, `delete`,
 * `checkpoints`).
 */
import type { Argv, CommandModule } from 'yargs';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import type { Job } from '../../generated/daemon';
import { absolute, daemonFrom, type GlobalArgs } from '../context';
import { dateTime, formatSize, keyValues, table, timeAgo } from '../format';
import { attachTerminal } from '../attach';
import type { CheckpointImages } from '../../images/inspect';
import { INSPECT_TYPES } from '../../images/inspect-types';

interface ListArgs extends GlobalArgs {
  json?: boolean;
  all?: boolean;
}
interface MigrateArgs extends GlobalArgs {
  jid: string;
  to: string;
  dir?: string;
  compression?: string;
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

/** The Slurm job a job runs in (slurm runtime), from its details; '' for others. */
function slurmJobIdOf(j: Job): string {
  try {
    const id = (JSON.parse(j.detailsJson || '{}') as { slurmJobId?: unknown }).slurmJobId;
    return id === undefined || id === null ? '' : String(id);
  } catch {
    return '';
  }
}

/**
 * The `cedana ps` table; with `withHost` (ps --all) a HOST column after STATUS names each job's host. A SLURM
 * column after TYPE names the Slurm job ID, only when a listed job runs in one.
 */
export function jobsTable(jobs: Job[], now = Date.now(), withHost = false): string {
  const slurm = jobs.map(slurmJobIdOf);
  const withSlurm = slurm.some(Boolean);
  const rows = jobs.map((j, i) => [
    j.jid,
    j.type,
    ...(withSlurm ? [slurm[i]] : []),
    String(j.pid),
    j.status,
    ...(withHost ? [j.hostName || j.host] : []),
    j.gpu ? 'yes' : 'no',
    j.latestCheckpoint ? timeAgo(j.latestCheckpoint.time, now) : '',
    j.latestCheckpoint ? formatSize(j.latestCheckpoint.size) : '',
    j.log,
  ]);
  const headers = ['Job', 'Type', ...(withSlurm ? ['Slurm'] : []), 'PID', 'Status', ...(withHost ? ['Host'] : [])];
  return table([...headers, 'GPU', 'Checkpoint', 'Size', 'Log'], rows, ['PID', 'Checkpoint', 'Size']);
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
      .option('all', { alias: 'a', type: 'boolean', describe: 'include jobs from remote hosts (those sharing the job database)' }) as Argv<ListArgs>,
  handler: (argv) =>
    withDaemon(argv, async (d) => {
      const { jobs } = await d.listJobs({ jids: [], remote: argv.all ?? false });
      if (argv.json) return console.log(JSON.stringify(jobs, null, 2));
      if (jobs.length === 0) return console.log('No jobs found');
      console.log(jobsTable(jobs, Date.now(), argv.all ?? false));
      for (const j of jobs) if (j.notice) console.log(`\nJob ${j.jid}: ${j.notice}`);
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
      console.log('\nUse `cedana job checkpoint inspect <ID>` to see what a checkpoint holds');
    }),
};

interface InspectCkptArgs extends GlobalArgs {
  id?: string;
  path?: string;
  type?: string;
  json?: boolean;
}

/** The image sections for the readable output: each a table, or a line saying it is empty. */
function imagesText(images: CheckpointImages): string {
  const parts: string[] = [];
  const section = (title: string, headers: string[], rows: string[][], right: string[]) =>
    parts.push(`${title}:`, rows.length ? table(headers, rows, right) : '  (none)', '');
  if (images.processes) section('processes', ['PID', 'PPID', 'PGID', 'SID', 'Comm', 'Threads'], images.processes.map((p) => [String(p.pid), String(p.ppid), String(p.pgid), String(p.sid), p.comm, String(p.threads.length)]), ['PID', 'PPID', 'PGID', 'SID', 'Threads']);
  if (images.memory) section('memory', ['PID', 'Mappings', 'Virtual', 'Dumped'], images.memory.map((m) => [String(m.pid), String(m.mappings), formatSize(m.virtualBytes), formatSize(m.dumpedBytes)]), ['PID', 'Mappings', 'Virtual', 'Dumped']);
  if (images.files) section('files', ['PID', 'FD', 'Type', 'Path'], images.files.map((f) => [String(f.pid), String(f.fd), f.type, f.path]), ['PID', 'FD']);
  if (images.sockets) section('sockets', ['PID', 'FD', 'Family', 'Type', 'State', 'Local', 'Remote'], images.sockets.map((k) => [String(k.pid), String(k.fd), k.family, k.type, k.state, k.local, k.remote]), ['PID', 'FD']);
  return parts.join('\n').trimEnd();
}

const inspectCheckpoint: CommandModule<GlobalArgs, InspectCkptArgs> = {
  command: 'inspect [id]',
  describe: 'Show what a checkpoint holds: its process tree, files, sockets and memory (read from its CRIU images)',
  builder: (y) =>
    y
      .positional('id', { type: 'string', describe: 'the checkpoint ID (see `cedana checkpoints <JID>`)' })
      .option('path', { alias: 'p', type: 'string', describe: 'inspect the checkpoint at this path instead (directory, archive or sharded)' })
      .option('type', { alias: 't', type: 'string', describe: `only these sections, comma-separated: ${INSPECT_TYPES.join('|')}` })
      .option('json', { type: 'boolean', describe: 'print JSON' }) as Argv<InspectCkptArgs>,
  handler: (argv) => {
    const types = (argv.type ?? '').split(',').map((t) => t.trim()).filter(Boolean);
    if (types.includes('gpu')) {
      throw new CedanaError(ErrorCode.Unsupported, '--type gpu is not supported: GPU state is not kept in CRIU images', { hint: `use one of ${INSPECT_TYPES.join(', ')}` });
    }
    if (!argv.id === !argv.path) {
      throw new CedanaError(ErrorCode.InvalidArgument, 'name the checkpoint by its ID or by --path (one of them)', { hint: 'cedana job checkpoint inspect <ID>, or --path P' });
    }
    return withDaemon(argv, async (d) => {
      const res = await d.inspectCheckpoint({ id: argv.id ? String(argv.id) : '', path: absolute(argv.path) ?? '', types });
      const images = JSON.parse(res.imagesJson || '{}') as CheckpointImages;
      const ck = res.checkpoint;
      const head = ck ? { id: ck.id, jid: ck.jid, path: ck.path, time: new Date(ck.time).toISOString(), size: ck.size, compression: ck.compression } : { path: absolute(argv.path) };
      if (argv.json) return console.log(JSON.stringify({ checkpoint: head, ...images }, null, 2));
      console.log(`${keyValues({ checkpoint: { ...head, size: ck ? formatSize(ck.size) : undefined } })}\n\n${imagesText(images)}`);
    });
  },
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

const migrate: CommandModule<GlobalArgs, MigrateArgs> = {
  command: 'migrate <jid>',
  describe: 'Move a job of this host to another host that shares the job database (docs/fleet.md)',
  builder: (y) =>
    y
      .positional('jid', { type: 'string', demandOption: true })
      .option('to', { type: 'string', demandOption: true, describe: 'the host (ID or name, as in `cedana ps --all`)' })
      .option('dir', { type: 'string', describe: 'where the checkpoint goes; both hosts must reach it (s3://bucket/prefix)' })
      .option('compression', { type: 'string', describe: 'checkpoint compression (default: checkpoint.compression, else lz4)' }) as Argv<MigrateArgs>,
  handler: (argv) =>
    withDaemon(argv, async (d) => {
      const res = await d.migrateJob({ jid: String(argv.jid), toHost: String(argv.to), dir: absolute(argv.dir) ?? '', compression: argv.compression ?? '' });
      const job = res.job!;
      console.log(`Migrated job ${job.jid} to host ${job.hostName || job.host} (PID ${job.pid}) in ${Math.round(res.downtimeMs)} ms through ${res.checkpoint?.path ?? ''}`);
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

/** `cedana job checkpoint list|inspect` (also `cedana checkpoint …`). */
const checkpointCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'checkpoint',
  describe: 'Manage job checkpoints',
  builder: (y) =>
    y
      .command({ ...checkpoints, command: ['list <jid>', 'ls'] } as CommandModule<GlobalArgs, OneJidArgs>)
      .command(inspectCheckpoint)
      .demandCommand(1, 'name a checkpoint subcommand (list, inspect)'),
  handler: () => undefined,
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
      .command(checkpointCommand)
      .command(inspect)
      .command(migrate)
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
  checkpointCommand as CommandModule<GlobalArgs, never>,
];
