/**
 * Stdio of a container that lies outside it: a container started by hand (`runc run -d … > /host/file`) writes
 * straight into a host file that none of its mounts holds, and CRIU refuses it ("Can't lookup mount"). Such a file
 * is named to CRIU as external at the dump (`external file[mnt_id:inode]`), and handed back at the restore
 * (`inherit-fd fd[N]:file[…]`, N being the stdio slot of `runc restore`, which runc passes on to CRIU).
 *
 * runc has no flag for either, so they go in a CRIU config file named by CRIU_CONFIG_FILE, which CRIU reads
 * besides the options runc sends it.
 */
import { readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One stdio descriptor of the container that is a host file: its slot (0, 1, 2), path and CRIU key. */
export interface ExternalStdio {
  fd: 0 | 1 | 2;
  path: string;
  key: string;
}

/** `pid` and its descendants, from /proc/<pid>/task/<tid>/children. */
async function treeOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  const walk = async (p: number): Promise<void> => {
    out.push(p);
    const tasks = await readdir(`/proc/${p}/task`).catch(() => [] as string[]);
    for (const tid of tasks) {
      const kids = await readFile(`/proc/${p}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const k of kids.split(/\s+/).filter(Boolean)) await walk(Number(k));
    }
  };
  await walk(pid);
  return out;
}

/** The mount ids of a process's mount namespace. */
async function mountIds(pid: number): Promise<Set<number>> {
  const text = await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '');
  return new Set(text.split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0])));
}

/**
 * The stdio descriptors of the container's processes (init first) that are files outside its mounts. A file seen
 * on several slots or processes is listed once, at the slot where it is first seen.
 */
export async function externalStdio(initPid: number): Promise<ExternalStdio[]> {
  const mounts = await mountIds(initPid);
  const found = new Map<string, ExternalStdio>();
  for (const pid of await treeOf(initPid)) {
    for (const fd of [0, 1, 2] as const) {
      const path = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (!path.startsWith('/')) continue; // pipe:[…], socket:[…], anon_inode:…
      const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
      const mnt = /^mnt_id:\s*(\d+)/m.exec(info);
      if (!mnt || mounts.has(Number(mnt[1]))) continue;
      const st = await stat(`/proc/${pid}/fd/${fd}`).catch(() => null);
      if (!st?.isFile()) continue; // a terminal or device: not a file CRIU can take as external
      const key = `file[${Number(mnt[1]).toString(16)}:${st.ino.toString(16)}]`;
      if (!found.has(key)) found.set(key, { fd, path: path.replace(/ \(deleted\)$/, ''), key });
    }
  }
  return [...found.values()];
}

/** Reads `details.externalStdio` back from a checkpoint's metadata (absent or malformed: none). */
export function externalStdioOf(details: Record<string, unknown>): ExternalStdio[] {
  const list = details.externalStdio;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (e): e is ExternalStdio => typeof e === 'object' && e !== null && [0, 1, 2].includes((e as ExternalStdio).fd) && typeof (e as ExternalStdio).path === 'string' && typeof (e as ExternalStdio).key === 'string',
  );
}

/**
 * Writes the CRIU config file for a dump (`external` lines) or a restore (`inherit-fd` lines) into `dir`; returns
 * the environment that points CRIU at it, or {} when there is nothing to say.
 */
export async function criuConfigEnv(dir: string, files: ExternalStdio[], action: 'checkpoint' | 'restore'): Promise<Record<string, string>> {
  if (files.length === 0) return {};
  const lines = files.map((f) => (action === 'checkpoint' ? `external ${f.key}` : `inherit-fd fd[${f.fd}]:${f.key}`));
  const path = join(dir, 'cedana-criu.conf');
  await writeFile(path, lines.join('\n') + '\n', { mode: 0o600 });
  return { CRIU_CONFIG_FILE: path };
}

/**
 * The host file a container's output reaches through its runc: a container run in the foreground
 * (`runc run … > /host/file`) writes into pipes that runc copies to its own stdout. The checkpoint ends that runc;
 * the restored container's output is then relayed into the same file. Undefined when the parent of the container's
 * init is not a runc writing to a regular file.
 */
export async function runcRelayedFile(initPid: number): Promise<string | undefined> {
  const own = await readlink(`/proc/${initPid}/fd/1`).catch(() => '');
  if (!own.startsWith('pipe:')) return undefined;
  const line = await readFile(`/proc/${initPid}/stat`, 'utf8').catch(() => '');
  const ppid = Number(line.slice(line.lastIndexOf(')') + 2).split(' ')[1]);
  if (!(ppid > 1) || ppid === process.pid) return undefined;
  const cmd = (await readFile(`/proc/${ppid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  if (!/(^|\/)runc$/.test(cmd[0] ?? '') || !cmd.includes('run')) return undefined;
  const path = await readlink(`/proc/${ppid}/fd/1`).catch(() => '');
  if (!path.startsWith('/') || path.endsWith(' (deleted)')) return undefined;
  const st = await stat(`/proc/${ppid}/fd/1`).catch(() => null);
  return st?.isFile() ? path : undefined;
}
