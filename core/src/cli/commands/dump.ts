/**
 * `cedana dump job <JID>` and `cedana dump <type> <ID>` (`dump process <PID>`). The last word printed is the
 * checkpoint's path.
 */
import type { Argv, CommandModule } from 'yargs';
import { absolute, daemonFrom, GLOBAL_FLAGS, type GlobalArgs } from '../context';
import { progressLineFor } from '../progress-line';
import { acceptRuntimeOptions, runtimeOptionsOf } from '../runtime-options';

const DUMP_FLAGS = [...GLOBAL_FLAGS, 'type', 'target', 'dir', 'd', 'name', 'compression', 'streams', 'leave-running', 'tcp-established', 'file-locks', 'shell-job'];

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
      .option('file-locks', { type: 'boolean', describe: 'checkpoint file locks' })
      .option('shell-job', { type: 'boolean', describe: 'the process was started from a terminal' }) as Argv<DumpArgs>,
  handler: async (argv) => {
    const isJob = argv.type === 'job';
    const daemon = daemonFrom(argv);
    // On a terminal, a progress line on stderr (DumpWatch); in scripts, the plain call and nothing extra.
    const line = progressLineFor(process.stderr);
    try {
      const req = {
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
        optionsJson: JSON.stringify(runtimeOptionsOf(argv, DUMP_FLAGS)),
      };
      const { checkpoint } = line ? await daemon.dumpWatch(req, (p) => line.update(p)).finally(() => line.clear()) : await daemon.dump(req);
      console.log(`Dumped to ${checkpoint!.path}`);
    } finally {
      daemon.close();
    }
  },
};
