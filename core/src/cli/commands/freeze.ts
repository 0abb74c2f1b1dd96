/**
 * `cedana freeze process|job|runc|containerd <ID>` and `cedana unfreeze …`: stop a job where it is, and let it go
 * on (the runtime's pause, the cgroup freezer, or SIGSTOP/SIGCONT of the process tree).
 */
import type { Argv, CommandModule } from 'yargs';
import type { FreezeReq } from '../../generated/daemon';
import { daemonFrom, GLOBAL_FLAGS, type GlobalArgs } from '../context';
import { acceptRuntimeOptions, runtimeOptionsOf } from '../runtime-options';

const FREEZE_FLAGS = [...GLOBAL_FLAGS, 'type', 'target'];

interface FreezeArgs extends GlobalArgs {
  type: string;
  target: string;
}

/** The gRPC request of a freeze or unfreeze command line. */
function freezeRequestOf(argv: FreezeArgs & Record<string, unknown>): FreezeReq {
  const isJob = argv.type === 'job';
  return {
    jid: isJob ? String(argv.target) : '',
    type: isJob ? '' : argv.type,
    target: isJob ? '' : String(argv.target),
    optionsJson: JSON.stringify(runtimeOptionsOf(argv, FREEZE_FLAGS)),
  };
}

function freezeCommandOf(freeze: boolean): CommandModule<GlobalArgs, FreezeArgs> {
  const verb = freeze ? 'freeze' : 'unfreeze';
  return {
    command: `${verb} <type> <target>`,
    describe: freeze ? 'Freeze a job, process or container where it is' : 'Let a frozen job, process or container go on',
    builder: (y: Argv<GlobalArgs>) =>
      acceptRuntimeOptions(y)
        .positional('type', { type: 'string', demandOption: true, choices: ['process', 'job', 'runc', 'containerd'], describe: '"job", or a job type' })
        .positional('target', { type: 'string', demandOption: true, describe: 'JID, PID or container id' }) as Argv<FreezeArgs>,
    handler: async (argv) => {
      const daemon = daemonFrom(argv);
      try {
        const req = freezeRequestOf(argv as FreezeArgs & Record<string, unknown>);
        const resp = freeze ? await daemon.freeze(req) : await daemon.unfreeze(req);
        for (const message of resp.messages) console.log(message);
      } finally {
        daemon.close();
      }
    },
  };
}

export const freezeCommand = freezeCommandOf(true);
export const unfreezeCommand = freezeCommandOf(false);
