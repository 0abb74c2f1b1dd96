/**
 * What the root command does itself: `--version` and `cedana version`, `cedana completion <shell>`, and the root
 * flags that act before any command (`--init-config`, `--merge-config`, `--profiling`, `--profiling-path`).
 */
import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import type { GlobalArgs } from '../context';

export const VERSION: string = (require('../../../../package.json') as { version: string }).version;

export const versionCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'version',
  describe: 'Print the version',
  handler: () => console.log(VERSION),
};

/** What `--profiling` measured, printed once the command is done. */
interface Profile {
  command: string;
  start: number;
  path?: string;
}
let profile: Profile | undefined;

/** Runs before every command's handler. */
export function rootMiddleware(argv: GlobalArgs & { _: (string | number)[] }): void {
  if (argv['init-config'] || argv['merge-config']) {
    const { initConfig } = require('../../config/load') as typeof import('../../config/load');
    const { path, written } = initConfig({ configDir: argv['config-dir'], configJson: argv.config }, { merge: argv['merge-config'] ?? false });
    process.stderr.write(written ? `Wrote config to ${path}\n` : `Config ${path} exists; left as it is\n`);
  }
  if (argv.profiling) profile = { command: argv._.join(' '), start: performance.now(), path: argv['profiling-path'] };
  else if (argv['profiling-path']) throw new CedanaError(ErrorCode.InvalidArgument, '--profiling-path needs --profiling', { hint: 'add --profiling' });
}

/** Prints (and with --profiling-path writes) how long the command took; called when it has ended. */
export function reportProfile(exitCode: number): void {
  if (!profile) return;
  const ms = Math.round((performance.now() - profile.start) * 10) / 10;
  process.stderr.write(`Profiling: ${profile.command} took ${ms} ms (exit code ${exitCode})\n`);
  if (profile.path) writeFileSync(profile.path, `${JSON.stringify({ command: profile.command, durationMs: ms, exitCode })}\n`);
  profile = undefined;
}

interface CompletionArgs extends GlobalArgs {
  shell: string;
  'no-descriptions'?: boolean;
}

/** The fish script: fish asks the CLI itself for the words that can come next. */
const FISH = `# cedana completion for fish: save as ~/.config/fish/completions/cedana.fish
function __cedana_complete
    set -l words (commandline -opc) (commandline -ct)
    cedana --get-yargs-completions $words[2..-1] 2>/dev/null | string replace -r ':.*' ''
end
complete -c cedana -f -a '(__cedana_complete)'
`;

/** The PowerShell script: like fish's, it asks the CLI for the words that can come next. */
const POWERSHELL = `# cedana completion for PowerShell: add to your profile, or run
#   cedana completion powershell | Out-String | Invoke-Expression
Register-ArgumentCompleter -Native -CommandName cedana -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
    if ($wordToComplete -eq '') { $words += '' }
    cedana --get-yargs-completions @words 2>$null | ForEach-Object {
        $word = ($_ -split ':', 2)[0]
        [System.Management.Automation.CompletionResult]::new($word, $word, 'ParameterValue', $word)
    }
}
`;

/** `cedana completion bash|zsh|fish|powershell`: `script(shell)` is yargs's script for bash or zsh. */
export function completionCommand(script: (shell: 'bash' | 'zsh') => void): CommandModule<GlobalArgs, CompletionArgs> {
  return {
    command: 'completion <shell>',
    describe: 'Print the shell completion script (bash, zsh, fish or powershell)',
    builder: (y) =>
      y
        .positional('shell', { type: 'string', demandOption: true, describe: 'bash, zsh, fish or powershell' })
        .option('no-descriptions', { type: 'boolean', describe: 'accepted for Cedana scripts; the scripts have no descriptions' }) as Argv<CompletionArgs>,
    handler: (argv) => {
      const shell = String(argv.shell);
      if (shell === 'bash' || shell === 'zsh') return script(shell);
      if (shell === 'fish') return void process.stdout.write(FISH);
      if (shell === 'powershell') return void process.stdout.write(POWERSHELL);
      throw new CedanaError(ErrorCode.InvalidArgument, `no completion script for '${shell}'`, {
        hint: 'cedana completion bash|zsh|fish|powershell',
      });
    },
  };
}
