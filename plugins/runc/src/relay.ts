/**
 * The stdio of a runc container. It cannot be the log file itself: CRIU cannot dump a file that lies outside the
 * container's mounts ("Can't lookup mount"); nor Node's own stdio pipes, which are unix socket pairs whose far
 * end CRIU cannot find ("Unix socket … not found"). It is made of real pipes instead (bash process
 * substitution), whose far ends belong to small relay processes (`cat`) that copy into the log, or into the FIFOs
 * of an attachable job. runc records such pipes in the checkpoint and, on restore, hands the restored container
 * its own stdio in their place — so a restore gets new relays, writing to the same log.
 *
 * The relays outlive runc (and the daemon: a daemon restart does not cut a container's output); each ends when
 * the container closes its end.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { openLogFile, type OpenLog } from '@cedana-ts/sdk';
import type { CommandResult } from './command';

/** Where the container's stdio goes: a log file, or the descriptors of an attachable job. */
export type StdioTarget = { logPath: string } | { stdio: { stdin: number; stdout: number; stderr: number } };

// fds 3 and 4 are where stdout and stderr end up, 5 (when given) where stdin comes from. Then runc replaces bash,
// keeping only 0, 1 and 2, which are pipes to the relays.
// Each relay closes the descriptors that are not its own, so that it holds no other stream open.
const SCRIPT = [
  'if [ -e /proc/self/fd/5 ]; then exec 0< <(exec cat <&5 3>&- 4>&- 5>&-) 5<&-; fi',
  'exec 1> >(exec cat >&3 3>&- 4>&-) 2> >(exec cat >&4 3>&- 4>&-) 3>&- 4>&-',
  'exec "$@"',
].join('\n');

/** Opens the log for appending (no log: /dev/null); the caller closes it. */
async function openLog(logPath: string): Promise<OpenLog> {
  if (logPath) return openLogFile(logPath);
  const fd = openSync('/dev/null', 'a');
  return { fd, close: async () => closeSync(fd) };
}

/** Runs `bin args…` (runc run -d or runc restore -d) with its stdio through relays to `target`. */
export async function runWithRelays(bin: string, args: string[], target: StdioTarget): Promise<CommandResult> {
  const log = 'logPath' in target ? await openLog(target.logPath) : undefined;
  const fds = 'stdio' in target ? [target.stdio.stdout, target.stdio.stderr, target.stdio.stdin] : [log!.fd, log!.fd];
  try {
    return await new Promise<CommandResult>((resolve, reject) => {
      const child = spawn('bash', ['-c', SCRIPT, 'cedana-runc', bin, ...args], { stdio: ['ignore', 'ignore', 'ignore', ...fds], detached: true });
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal, stdout: '', stderr: '' }));
    });
  } finally {
    await log?.close();
  }
}
