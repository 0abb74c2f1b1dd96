/**
 * A restored job's stdio handed over in place of the one it was dumped with (RestoreSpec.stdio), through CRIU's
 * `--inherit-fd fd[N]:KEY`: KEY names the dumped resource as CRIU's images do (`pipe:[INODE]`, a file's path
 * without its leading `/`), so the dump records what fds 0-2 of the job were (`details.stdio`).
 */
import { readlink } from 'node:fs/promises';

/** What fds 0, 1 and 2 of `pid` are, as /proc names them (`/var/log/x.log`, `pipe:[123]`); '' when closed. */
export async function stdioOf(pid: number): Promise<string[]> {
  return Promise.all([0, 1, 2].map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
}

/** CRIU's key of a resource named as /proc does, or undefined for those it cannot be handed (a terminal). */
export function inheritKey(name: string): string | undefined {
  if (/^(pipe|socket):\[\d+\]$/.test(name)) return name;
  if (name.startsWith('/') && !name.startsWith('/dev/pts/') && !name.startsWith('/dev/tty')) return name.slice(1).replace(/ \(deleted\)$/, '');
  return undefined;
}

/**
 * The CRIU arguments and the fds (to pass as CRIU's fds 3, 4, …) that give the restored job `stdio` in place of
 * the dumped `names`. A resource shared by several of fds 0-2 (one log for stdout and stderr) is handed once: by
 * the first of them.
 */
export function inheritArgs(names: unknown, stdio: { stdin?: number; stdout: number; stderr: number }): { args: string[]; fds: number[] } {
  const dumped = Array.isArray(names) ? names.map(String) : [];
  const given = [stdio.stdin, stdio.stdout, stdio.stderr];
  const args: string[] = [];
  const fds: number[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const key = inheritKey(dumped[i] ?? '');
    const fd = given[i];
    if (key === undefined || fd === undefined || seen.has(key)) continue;
    seen.add(key);
    args.push('--inherit-fd', `fd[${3 + fds.length}]:${key}`);
    fds.push(fd);
  }
  return { args, fds };
}
