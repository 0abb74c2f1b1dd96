/**
 * `cedana run <type> [--jid ID] [--out PATH] [--pid-file F] [--no-server] CMD ARGS…`, and `cedana exec CMD ARGS…`
 * (the same as `run process`). Flags may come before or after the command; `--` ends them.
 */
import type { Argv, CommandModule } from 'yargs';
import { absolute, daemonFrom, GLOBAL_FLAGS, localServices, type GlobalArgs } from '../context';
import { acceptRuntimeOptions, runtimeOptionsOf } from '../runtime-options';
import { attachTerminal } from '../attach';
import { refuseGpuFlags, RUNC_RUN_FLAGS, RUNC_SHORT } from '../cedana-flags';

interface RunArgs extends GlobalArgs {
  type: string;
  args: string[];
  '--'?: string[];
  jid?: string;
  log?: string;
  'pid-file'?: string;
  'no-server'?: boolean;
  attach?: boolean;
  attachable?: boolean;
  'gpu-enabled'?: boolean;
  'gpu-id'?: string;
  'gpu-tracing'?: boolean;
  'as-root'?: boolean;
}

/** The command line: positional words, then everything after `--`. */
export function commandOf(argv: { args?: (string | number)[]; '--'?: (string | number)[] }): string[] {
  return [...(argv.args ?? []), ...(argv['--'] ?? [])].map(String);
}

function envStrings(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
}

const RUN_FLAGS = [...GLOBAL_FLAGS, 'type', 'args', 'jid', 'j', 'log', 'o', 'out', 'pid-file', 'no-server', 'attach', 'a', 'attachable', 'gpu-enabled', 'g', 'gpu-id', 'gpu-tracing', 'as-root', ...RUNC_SHORT];

/** The flags of `run` and `exec`, then the runtime's (undeclared ones pass to the runtime plugin). */
function runFlags(y: Argv<GlobalArgs>): Argv<RunArgs> {
  return acceptRuntimeOptions(y)
      .positional('args', { type: 'string', array: true, describe: 'command and arguments' })
      .option('jid', { alias: 'j', type: 'string', describe: 'job id (default: a random name)' })
      .option('log', { alias: ['o', 'out'], type: 'string', describe: 'file for the job’s stdout and stderr (--out, -o)' })
      .option('pid-file', { type: 'string', describe: 'write the PID here' })
      .option('no-server', { type: 'boolean', describe: 'run in the foreground without the daemon' })
      .option('attach', { alias: 'a', type: 'boolean', describe: 'stream the job’s stdio here; Ctrl+C detaches' })
      .option('attachable', { type: 'boolean', describe: 'stdio through the daemon, to attach to later' })
      .option('gpu-enabled', { alias: 'g', type: 'boolean', describe: 'a GPU job: its dumps checkpoint device memory (needs the GPU plugin)' })
      .option('gpu-id', { type: 'string', describe: 'attach to an existing GPU controller (refused: see docs/cli.md)' })
      .option('gpu-tracing', { type: 'boolean', describe: 'trace GPU calls (refused: see docs/cli.md)' })
      .option('as-root', { type: 'boolean', describe: 'run as root (jobs always run as the daemon’s user)' })
      .options(RUNC_RUN_FLAGS)
      .conflicts('attach', 'log')
      .conflicts('attachable', 'log')
      .epilogue('Other --flags are options of the runtime (see its plugin docs).') as Argv<RunArgs>;
}

export const runCommand: CommandModule<GlobalArgs, RunArgs> = {
  command: 'run <type> [args..]',
  describe: 'Run a managed job (the command after the type; put it after -- when it has flags of its own)',
  builder: (y: Argv<GlobalArgs>) => runFlags(y.positional('type', { type: 'string', describe: 'job type (process, runc, containerd, …)', demandOption: true })),
  handler: (argv) => runJob(argv),
};

export const execCommand: CommandModule<GlobalArgs, RunArgs> = {
  command: 'exec [args..]',
  describe: 'Run a process as a managed job (the same as run process)',
  builder: runFlags,
  handler: (argv) => runJob({ ...argv, type: 'process' }),
};

async function runJob(argv: RunArgs & Record<string, unknown>): Promise<void> {
    refuseGpuFlags(argv);
    const request = {
      type: argv.type,
      jid: argv.jid,
      args: commandOf(argv),
      cwd: process.cwd(),
      env: envStrings(),
      logPath: absolute(argv.log),
      pidFile: absolute(argv['pid-file']),
      options: runtimeOptionsOf(argv, RUN_FLAGS),
    };
    if (argv['no-server']) {
      const wired = await localServices(argv);
      try {
        const { runForeground } = await import('../../pipeline/run.js');
        const status = await runForeground(wired.services, request);
        process.exitCode = status.code ?? 128 + 9;
      } finally {
        await wired.close();
      }
      return;
    }
    const daemon = daemonFrom(argv);
    try {
      const { job } = await daemon.run({ ...request, jid: request.jid ?? '', logPath: request.logPath ?? '', pidFile: request.pidFile ?? '', optionsJson: JSON.stringify(request.options), attachable: Boolean(argv.attach || argv.attachable), gpuEnabled: argv['gpu-enabled'] ?? false });
      if (argv.attach) {
        process.exitCode = await attachTerminal(daemon, { jid: job!.jid }, `job ${job!.jid}`);
        return;
      }
      console.log(`Running managed ${job!.type} PID ${job!.pid}`);
    } finally {
      daemon.close();
    }
}
