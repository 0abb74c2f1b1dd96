/**
 * `cedana manage <type> <target> [--jid ID]`
 */
import type { Argv, CommandModule } from 'yargs';
import { daemonFrom, GLOBAL_FLAGS, type GlobalArgs } from '../context';
import { writeFileSync } from 'node:fs';
import { acceptRuntimeOptions, runtimeOptionsOf } from '../runtime-options';
import { refuseGpuFlags } from '../cedana-flags';

const MANAGE_FLAGS = [...GLOBAL_FLAGS, 'type', 'target', 'jid', 'j', 'upcoming', 'timeout', 'gpu-enabled', 'g', 'gpu-id', 'gpu-tracing', 'pid-file', 'b'];

interface ManageArgs extends GlobalArgs {
  type: string;
  target: string;
  jid?: string;
  upcoming?: boolean;
  timeout?: number;
  'gpu-enabled'?: boolean;
  'gpu-id'?: string;
  'gpu-tracing'?: boolean;
  'pid-file'?: string;
}

export const manageCommand: CommandModule<GlobalArgs, ManageArgs> = {
  command: 'manage <type> <target>',
  describe: 'Manage a running process (or container) as a job',
  builder: (y: Argv<GlobalArgs>) =>
    acceptRuntimeOptions(y)
      .positional('type', { type: 'string', demandOption: true, describe: 'job type (process, …)' })
      .positional('target', { type: 'string', demandOption: true, describe: 'PID, pid file or process name (or a container id)' })
      .option('jid', { alias: 'j', type: 'string', describe: 'job id (default: a random name)' })
      .option('upcoming', { type: 'boolean', describe: 'wait for the target to appear (process: a name or a pid file)' })
      .option('timeout', { type: 'number', describe: 'seconds to wait with --upcoming (default 60)' })
      .option('gpu-enabled', { alias: 'g', type: 'boolean', describe: 'a GPU job: its dumps checkpoint device memory (needs the GPU plugin)' })
      .option('gpu-id', { type: 'string', describe: 'attach to an existing GPU controller (refused: see docs/cli.md)' })
      .option('gpu-tracing', { type: 'boolean', describe: 'trace GPU calls (refused: see docs/cli.md)' })
      .option('pid-file', { type: 'string', describe: 'write the managed PID here' })
      .option('bundle', { alias: 'b', type: 'string', describe: '(runc) the container’s bundle directory' }) as Argv<ManageArgs>,
  handler: async (argv) => {
    refuseGpuFlags(argv);
    const daemon = daemonFrom(argv);
    try {
      const { job } = await daemon.manage({ type: argv.type, target: String(argv.target), jid: argv.jid ?? '', upcoming: argv.upcoming ?? false, timeoutSeconds: argv.timeout, gpuEnabled: argv['gpu-enabled'] ?? false, optionsJson: JSON.stringify(runtimeOptionsOf(argv, MANAGE_FLAGS)) });
      if (argv['pid-file']) writeFileSync(argv['pid-file'], `${job!.pid}\n`);
      console.log(`Managing ${job!.type} PID ${job!.pid}`);
    } finally {
      daemon.close();
    }
  },
};
