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

/**
 * Where the container's stdio goes: a log file, or the descriptors of an attachable job. `direct` names slots
 * (0, 1, 2) that get a descriptor of their own instead of a relay: the host files of a container restored with
 * its stdio outside it (external.ts).
 */
export type StdioTarget = ({ logPath: string } | { stdio: { stdin?: number; stdout: number; stderr: number } }) & { direct?: Partial<Record<0 | 1 | 2, number>> };

// fds 3 and 4 are where stdout and stderr end up, 5 (when given) where stdin comes from, 6, 7 and 8 the direct
// descriptors of slots 0, 1 and 2. Then runc replaces bash, keeping only 0, 1 and 2: pipes to the relays, or the
// direct descriptors. Each relay closes the descriptors that are not its own, so that it holds no other stream open.
const CLOSE = '3>&- 4>&- 5>&- 6>&- 7>&- 8>&-';
function script(direct: Partial<Record<0 | 1 | 2, number>>): string {
  const stdin = direct[0] !== undefined ? 'exec 0<&6' : `if [ -e /proc/self/fd/5 ]; then exec 0< <(exec cat <&5 ${CLOSE}); fi`;
  const stdout = direct[1] !== undefined ? 'exec 1>&7' : `exec 1> >(exec cat >&3 ${CLOSE})`;
  const stderr = direct[2] !== undefined ? 'exec 2>&8' : `exec 2> >(exec cat >&4 ${CLOSE})`;
  return [stdin, stdout, stderr, `exec ${CLOSE}`, 'exec "$@"'].join('\n');
}

/** Opens the log for appending (no log: /dev/null); the caller closes it. */
async function openLog(logPath: string): Promise<OpenLog> {
  if (logPath) return openLogFile(logPath);
  const fd = openSync('/dev/null', 'a');
  return { fd, close: async () => closeSync(fd) };
}

/** Runs `bin args…` (runc run -d or runc restore -d) with its stdio through relays to `target`, and `env` added. */
export async function runWithRelays(bin: string, args: string[], target: StdioTarget, env: Record<string, string> = {}): Promise<CommandResult> {
  const log = 'logPath' in target ? await openLog(target.logPath) : undefined;
  const direct = target.direct ?? {};
  const base: (number | 'ignore')[] = 'stdio' in target ? [target.stdio.stdout, target.stdio.stderr, target.stdio.stdin ?? 'ignore'] : [log!.fd, log!.fd, 'ignore'];
  const fds: (number | 'ignore')[] = [...base, direct[0] ?? 'ignore', direct[1] ?? 'ignore', direct[2] ?? 'ignore'];
  try {
    return await new Promise<CommandResult>((resolve, reject) => {
      const child = spawn('bash', ['-c', script(direct), 'cedana-runc', bin, ...args], { stdio: ['ignore', 'ignore', 'ignore', ...fds], detached: true, env: { ...process.env, ...env } });
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal, stdout: '', stderr: '' }));
    });
  } finally {
    await log?.close();
  }
}
