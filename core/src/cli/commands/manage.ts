/**
 * `cedana manage <type> <target> [--jid ID]`
 */
import type { Argv, CommandModule } from 'yargs';
import { daemonFrom, GLOBAL_FLAGS, type GlobalArgs } from '../context';
import { acceptRuntimeOptions, runtimeOptionsOf } from '../runtime-options';

const MANAGE_FLAGS = [...GLOBAL_FLAGS, 'type', 'target', 'jid', 'j', 'upcoming', 'timeout', 'gpu-enabled'];

interface ManageArgs extends GlobalArgs {
  type: string;
  target: string;
  jid?: string;
  upcoming?: boolean;
  timeout?: number;
  'gpu-enabled'?: boolean;
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
      .option('gpu-enabled', { type: 'boolean', describe: 'a GPU job: its dumps checkpoint device memory (needs the GPU plugin)' }) as Argv<ManageArgs>,
  handler: async (argv) => {
    const daemon = daemonFrom(argv);
    try {
      const { job } = await daemon.manage({ type: argv.type, target: String(argv.target), jid: argv.jid ?? '', upcoming: argv.upcoming ?? false, timeoutSeconds: argv.timeout, gpuEnabled: argv['gpu-enabled'] ?? false, optionsJson: JSON.stringify(runtimeOptionsOf(argv, MANAGE_FLAGS)) });
      console.log(`Managing ${job!.type} PID ${job!.pid}`);
    } finally {
      daemon.close();
    }
  },
};
