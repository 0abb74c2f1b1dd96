/**
 * The `cedana` command line: Cedana's command tree, global flags, and one place for errors.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import { daemonCommand } from './commands/daemon';
import { dumpCommand } from './commands/dump';
import { attachPidCommand, jobAliases, jobCommand } from './commands/job';
import { manageCommand } from './commands/manage';
import { featuresCommand, pluginCommand, pluginsCommand } from './commands/plugin';
import { restoreCommand } from './commands/restore';
import { execCommand, runCommand } from './commands/run';
import { checkCommand } from './commands/check';
import { freezeCommand, unfreezeCommand } from './commands/freeze';
import { queryCommand } from './commands/query';
import { completionCommand, reportProfile, rootMiddleware, VERSION, versionCommand } from './commands/root';
import { slurmCommand } from './commands/slurm';
import { reportError } from './errors';
import type { GlobalArgs } from './context';

export async function main(args: string[]): Promise<number> {
  let failed: unknown;
  let suggestion: string | undefined;
  const parser = yargs(args)
    .scriptName('cedana')
    .parserConfiguration({ 'populate--': true, 'halt-at-non-option': false, 'boolean-negation': false })
    .option('config', { type: 'string', describe: 'one-time config JSON, merged over the config file', global: true })
    .option('config-dir', { type: 'string', describe: 'config directory (default /etc/cedana, or CEDANA_CONFIG_DIR)', global: true })
    .option('init-config', { type: 'boolean', describe: 'write the config file (defaults and env overrides) if there is none', global: true })
    .option('merge-config', { type: 'boolean', describe: 'write the config file with defaults, --config and env overrides merged into it', global: true })
    .option('address', { type: 'string', describe: 'daemon address (socket path or host:port)', global: true })
    .option('protocol', { type: 'string', describe: 'unix or tcp (vsock is not supported)', global: true })
    .option('profiling', { type: 'boolean', describe: 'print how long the command took, on stderr', global: true })
    .option('profiling-path', { type: 'string', describe: 'with --profiling: also write it as JSON to this file', global: true })
    .option('deadline', { type: 'number', describe: 'seconds each call to the daemon may take (default: per call, 30 s to 30 min)', global: true })
    .middleware(rootMiddleware)
    .command(runCommand)
    .command(execCommand)
    .command(manageCommand)
    .command(dumpCommand)
    .command(restoreCommand)
    .command(jobCommand)
    .command(daemonCommand)
    .command(attachPidCommand)
    .command(checkCommand)
    .command(freezeCommand)
    .command(unfreezeCommand)
    .command(queryCommand)
    .command(versionCommand)
    .command(
      completionCommand((shell) => {
        // yargs picks its zsh script by the SHELL it runs under.
        const saved = process.env.SHELL;
        process.env.SHELL = `/bin/${shell}`;
        parser.showCompletionScript();
        // Assigning undefined to process.env would store the string "undefined".
        if (saved === undefined) delete process.env.SHELL;
        else process.env.SHELL = saved;
      }),
    )
    .completion('__completion-script', false);
  for (const alias of jobAliases) parser.command(alias);
  parser.command(pluginCommand).command(pluginsCommand).command(featuresCommand).command(slurmCommand);
  parser
    .demandCommand(1, 'name a command')
    .strict()
    .recommendCommands()
    .help()
    .version('version', 'print the version', VERSION)
    .exitProcess(false)
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      const didYouMean = !err && /^Did you mean (.+)\?$/.exec(msg ?? '');
      if (didYouMean) {
        // No command matched, so none runs; yargs goes on to report the unknown word, with this as the hint.
        suggestion = didYouMean[1];
        return;
      }
      const hint = suggestion ? `did you mean ${suggestion}? see cedana --help` : 'see cedana --help';
      failed = err ?? new CedanaError(ErrorCode.InvalidArgument, msg ?? 'bad command line', { hint });
      // Throwing stops yargs: returning would let it run the command anyway, with the bad flag ignored.
      throw failed;
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    failed ??= err;
  }
  if (!failed && suggestion) failed = new CedanaError(ErrorCode.InvalidArgument, `unknown command: did you mean ${suggestion}?`, { hint: 'see cedana --help' });
  const code = failed ? reportError(failed) : typeof process.exitCode === 'number' ? process.exitCode : 0;
  reportProfile(code);
  return code;
}

export type { GlobalArgs };

if (require.main === module) {
  main(hideBin(process.argv)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportError(err);
    },
  );
}
