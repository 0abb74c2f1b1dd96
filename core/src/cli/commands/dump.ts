/**
 * `cedana dump job <JID>` and `cedana dump <type> <ID>` (`dump process <PID>`). The last word printed is the
 * checkpoint's path; `--result-file F` also writes the whole response as JSON.
 */
import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import type { Checkpoint, DumpReq } from '../../generated/daemon';
import { absolute, daemonFrom, GLOBAL_FLAGS, localServices, type GlobalArgs } from '../context';
import { criuOptsOverrides } from '../criu-opts';
import { progressLineFor } from '../progress-line';
import { acceptRuntimeOptions, runtimeOptionsOf } from '../runtime-options';

const DUMP_FLAGS = [...GLOBAL_FLAGS, 'type', 'target', 'dir', 'd', 'name', 'compression', 'streams', 'leave-running', 'tcp-established', 'file-locks', 'shell-job', 'skip-in-flight', 'link-remap', 'external', 'criu-opts', 'no-server', 'result-file'];

/** The request fields `--criu-opts` may set in a dump. */
const DUMP_CRIU = ['leaveRunning', 'tcpEstablished', 'fileLocks', 'shellJob', 'skipInFlight', 'linkRemap', 'external'];

interface DumpArgs extends GlobalArgs {
  type: string;
  target: string;
  dir?: string;
  name?: string;
  compression?: string;
  streams?: number;
  'leave-running'?: boolean;
  'tcp-established'?: boolean;
  'file-locks'?: boolean;
  'shell-job'?: boolean;
  'skip-in-flight'?: boolean;
  'link-remap'?: boolean;
  external?: string[];
  'criu-opts'?: string;
  'no-server'?: boolean;
  'result-file'?: string;
}

/** The gRPC request a dump command line makes. */
export function dumpRequestOf(argv: DumpArgs & Record<string, unknown>): DumpReq {
  const isJob = argv.type === 'job';
  const req: DumpReq = {
    jid: isJob ? String(argv.target) : '',
    type: isJob ? '' : argv.type,
    target: isJob ? '' : String(argv.target),
    dir: absolute(argv.dir) ?? '',
    name: argv.name ?? '',
    compression: argv.compression ?? '',
    streams: argv.streams ?? 0,
    leaveRunning: argv['leave-running'] ?? false,
    tcpEstablished: argv['tcp-established'] ?? false,
    fileLocks: argv['file-locks'] ?? false,
    shellJob: argv['shell-job'] ?? false,
    skipInFlight: argv['skip-in-flight'] ?? false,
    linkRemap: argv['link-remap'] ?? false,
    external: (argv.external ?? []).map(String),
    optionsJson: JSON.stringify(runtimeOptionsOf(argv, DUMP_FLAGS)),
  };
  return { ...req, ...criuOptsOverrides(argv['criu-opts'], DUMP_CRIU) };
}

export const dumpCommand: CommandModule<GlobalArgs, DumpArgs> = {
  command: 'dump <type> <target>',
  describe: 'Checkpoint a job (dump job <JID>) or a process (dump process <PID>)',
  builder: (y: Argv<GlobalArgs>) =>
    acceptRuntimeOptions(y)
      .positional('type', { type: 'string', demandOption: true, describe: '"job", or a job type such as process' })
      .positional('target', { type: 'string', demandOption: true, describe: 'JID, PID or container id' })
      .option('dir', { alias: 'd', type: 'string', describe: 'directory or storage URL (default: checkpoint.dir)' })
      .option('name', { type: 'string', describe: 'checkpoint name (default: dump-<type>-<id>-<time>)' })
      .option('compression', { type: 'string', describe: 'none, tar, gzip, lz4, zlib or zstd (default: checkpoint.compression)' })
      .option('streams', { type: 'number', describe: 'write N shards compressed in parallel (default: checkpoint.streams; 0: one archive)' })
      .option('leave-running', { type: 'boolean', describe: 'keep the process running after the dump' })
      .option('tcp-established', { type: 'boolean', describe: 'checkpoint established TCP connections' })
      .option('skip-in-flight', { type: 'boolean', describe: 'leave half-open (in-flight) TCP connections out' })
      .option('file-locks', { type: 'boolean', describe: 'checkpoint file locks' })
      .option('shell-job', { type: 'boolean', describe: 'the process was started from a terminal' })
      .option('link-remap', { type: 'boolean', describe: 'keep deleted but open files through links' })
      .option('external', { type: 'string', array: true, describe: 'a resource outside the namespaces, as CRIU --external takes it (repeatable)' })
      .option('criu-opts', { type: 'string', describe: 'CRIU options as JSON ({"tcp_established":true,…}); they override the flags' })
      .option('no-server', { type: 'boolean', describe: 'dump in this process, without the daemon' })
      .option('result-file', { type: 'string', describe: 'write the dump response as JSON to this file' }) as Argv<DumpArgs>,
  handler: async (argv) => {
    const req = dumpRequestOf(argv as DumpArgs & Record<string, unknown>);
    let checkpoint: Checkpoint | undefined;
    if (argv['no-server']) {
      if (req.jid) throw new CedanaError(ErrorCode.InvalidArgument, 'dump job needs the daemon (it holds the jobs)', { hint: `cedana dump <type> <ID> --no-server, or drop --no-server` });
      checkpoint = await dumpHere(argv, req);
    } else {
      const daemon = daemonFrom(argv);
      // On a terminal, a progress line on stderr (DumpWatch); in scripts, the plain call and nothing extra.
      const line = progressLineFor(process.stderr);
      try {
        ({ checkpoint } = line ? await daemon.dumpWatch(req, (p) => line.update(p)).finally(() => line.clear()) : await daemon.dump(req));
      } finally {
        daemon.close();
      }
    }
    if (argv['result-file']) writeFileSync(argv['result-file'], `${JSON.stringify({ checkpoint: (require('../../generated/daemon') as typeof import('../../generated/daemon')).Checkpoint.toJSON(checkpoint!) }, null, 2)}\n`);
    console.log(`Dumped to ${checkpoint!.path}`);
  },
};

/** `--no-server`: the dump pipeline in this process, as the daemon would run it. */
async function dumpHere(argv: GlobalArgs, req: DumpReq): Promise<Checkpoint> {
  const wired = await localServices(argv);
  try {
    const [{ dump }, { dumpRequestOf: fromWire }] = await Promise.all([import('../../pipeline/dump.js'), import('../../server/handlers.js')]);
    return await dump(wired.services, fromWire(req));
  } finally {
    await wired.close();
  }
}
