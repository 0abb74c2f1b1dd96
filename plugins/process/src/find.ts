/**
 * Finds the process a `manage` target names: a PID, a pid file (a path), or a process name.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** The oldest live process whose name (comm) or first argument's base name is `name`. */
async function byName(name: string): Promise<number | null> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    const argv0 = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')[0];
    if ((comm === name || (argv0 && basename(argv0) === name)) && (await alive(pid))) found.push(pid);
  }
  return found.length > 0 ? Math.min(...found) : null;
}

/**
 * The PID `target` names. A number is a PID; a string with a slash is a pid file; anything else a process name.
 * NOT_FOUND when there is (as yet) no such process.
 */
export async function findProcess(target: string): Promise<number> {
  if (/^\d+$/.test(target)) {
    const pid = Number(target);
    if (pid > 0 && (await alive(pid))) return pid;
    throw new CedanaError(ErrorCode.NotFound, `no process with PID ${target}`, { hint: 'see `ps` for running processes' });
  }
  if (target.includes('/')) {
    const text = await readFile(target, 'utf8').catch(() => null);
    const pid = text === null ? NaN : Number(text.trim());
    if (text !== null && !(Number.isInteger(pid) && pid > 0)) {
      throw new CedanaError(ErrorCode.InvalidArgument, `pid file ${target} does not hold a PID`);
    }
    if (text !== null && (await alive(pid))) return pid;
    throw new CedanaError(ErrorCode.NotFound, `no live process in pid file ${target}`);
  }
  if (!/^[\w.@+-]{1,64}$/.test(target)) throw new CedanaError(ErrorCode.InvalidArgument, `'${target}' is not a PID, a pid file or a process name`);
  const pid = await byName(target);
  if (pid === null) throw new CedanaError(ErrorCode.NotFound, `no process named ${target}`);
  return pid;
}
