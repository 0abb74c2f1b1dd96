/**
 * Freezing processes where they are: the cgroup freezer (v1 `freezer.state`, v2 `cgroup.freeze`) of a cgroup
 * that holds only the processes to freeze, else SIGSTOP/SIGCONT of each process of the tree.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

const CGROUP_ROOT = '/sys/fs/cgroup';
const POLL_MS = 20;

export interface Freezer {
  kind: 'v1' | 'v2';
  /** The cgroup's directory. */
  dir: string;
  /** Its path inside the hierarchy. */
  path: string;
}

/** The cgroup of `pid` that can freeze it: v1's freezer hierarchy, else the unified one with cgroup.freeze. */
export async function freezerOf(pid: number): Promise<Freezer | null> {
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => null);
  if (text === null) return null;
  const lines = text.trim().split('\n').map((l) => l.split(':'));
  const v1 = lines.find((l) => l[1]?.split(',').includes('freezer'));
  if (v1) return { kind: 'v1', dir: join(CGROUP_ROOT, 'freezer', v1.slice(2).join(':')), path: v1.slice(2).join(':') };
  const v2 = lines.find((l) => l[0] === '0' && l[1] === '');
  if (!v2) return null;
  const path = v2.slice(2).join(':');
  const dir = join(CGROUP_ROOT, path);
  return (await readFile(join(dir, 'cgroup.freeze'), 'utf8').catch(() => null)) === null ? null : { kind: 'v2', dir, path };
}

/** True when `pid`'s cgroup is frozen. */
export async function cgroupFrozen(pid: number): Promise<boolean> {
  const f = await freezerOf(pid);
  if (!f || f.path === '/') return false;
  if (f.kind === 'v1') return /^(FROZEN|FREEZING)/.test(await readFile(join(f.dir, 'freezer.state'), 'utf8').catch(() => ''));
  return /^frozen 1$/m.test(await readFile(join(f.dir, 'cgroup.events'), 'utf8').catch(() => ''));
}

/** The PIDs in cgroup `f` (and its children). */
async function members(dir: string): Promise<number[]> {
  const out = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) out.push(...(await members(join(dir, e.name))));
  return out;
}

/**
 * The freezer cgroup of `pids` when it holds nothing else (never the root, nor one this daemon lives in), so that
 * freezing it freezes exactly them.
 */
export async function ownFreezer(pids: number[]): Promise<Freezer | null> {
  const f = await freezerOf(pids[0]);
  if (!f || f.path === '/') return null;
  const mine = await freezerOf(process.pid);
  if (mine && mine.kind === f.kind && (mine.path === f.path || mine.path.startsWith(`${f.path}/`))) return null;
  const set = new Set(pids);
  return (await members(f.dir)).every((p) => set.has(p)) ? f : null;
}

/** Freezes or thaws cgroup `f` and waits until the kernel says it is done. */
export async function setFrozen(f: Freezer, frozen: boolean, timeoutMs = 10_000): Promise<void> {
  const [file, value] = f.kind === 'v1' ? ['freezer.state', frozen ? 'FROZEN' : 'THAWED'] : ['cgroup.freeze', frozen ? '1' : '0'];
  await writeFile(join(f.dir, file), value);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = f.kind === 'v1' ? (await readFile(join(f.dir, 'freezer.state'), 'utf8')).trim() : /^frozen 1$/m.test(await readFile(join(f.dir, 'cgroup.events'), 'utf8')) ? 'FROZEN' : 'THAWED';
    if (state === (frozen ? 'FROZEN' : 'THAWED')) return;
    if (Date.now() >= deadline) throw new CedanaError(ErrorCode.Internal, `cgroup ${f.path} did not become ${frozen ? 'frozen' : 'thawed'} (state: ${state})`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** `pid` and its descendants, parents before children. */
export async function processTree(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (stat === null) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return out;
}
