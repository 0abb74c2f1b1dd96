/**
 * Looks at a process tree before a dump and works out which CRIU options it needs, as a user would otherwise
 * have to: established TCP connections, unix sockets, a controlling terminal or a session led from outside.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import type { CriuOptions } from '@cedana-ts/sdk';

/** PIDs of `pid` and all its descendants. */
export async function processTree(pid: number): Promise<number[]> {
  const seen: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (seen.includes(p)) continue;
    seen.push(p);
    const tasks = await readdir(`/proc/${p}/task`).catch(() => [] as string[]);
    for (const tid of tasks) {
      const kids = await readFile(`/proc/${p}/task/${tid}/children`, 'utf8').catch(() => '');
      queue.push(...kids.split(/\s+/).filter(Boolean).map(Number));
    }
  }
  return seen;
}

/** Field 6 (session id) of /proc/PID/stat. */
async function sessionOf(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[3]);
}

/** Socket inodes listed in a /proc/net table, with the state column when it has one. */
async function socketTable(pid: number, table: string): Promise<Map<string, string>> {
  const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
  const rows = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 2) continue;
    if (table === 'unix') rows.set(cols[6], cols[5]);
    else rows.set(cols[9], cols[3]);
  }
  return rows;
}

/** What was found in the tree. */
export interface TreeFindings {
  pids: number[];
  tcpEstablished: boolean;
  /** A file lock is held (fdinfo `lock:` lines, which show OFD locks too, or /proc/locks): CRIU needs --file-locks. */
  fileLocks: boolean;
  unixSockets: boolean;
  terminal: boolean;
  foreignSession: boolean;
  /** A process whose session is led from outside this PID namespace (/proc shows session 0): CRIU cannot dump it. */
  hiddenSession: number | null;
}

/** Inspects the open files and sessions of the tree rooted at `pid`. */
export async function inspectTree(pid: number): Promise<TreeFindings> {
  const pids = await processTree(pid);
  const inodes = new Set<string>();
  let terminal = false;
  let foreignSession = false;
  let hiddenSession: number | null = null;
  let fileLocks = await inLocksTable(pids);
  for (const p of pids) {
    const fds = await readdir(`/proc/${p}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      if (!fileLocks && /^lock:/m.test(await readFile(`/proc/${p}/fdinfo/${fd}`, 'utf8').catch(() => ''))) fileLocks = true;
      const target = await readlink(`/proc/${p}/fd/${fd}`).catch(() => '');
      const sock = /^socket:\[(\d+)\]$/.exec(target);
      if (sock) inodes.add(sock[1]);
      else if (/^\/dev\/(pts\/\d+|tty\w*|console)$/.test(target)) terminal = true;
    }
    const sid = await sessionOf(p);
    if (sid === 0) hiddenSession ??= p;
    if (sid !== null && !pids.includes(sid)) foreignSession = true;
  }
  let tcpEstablished = false;
  let unixSockets = false;
  if (inodes.size > 0) {
    for (const table of ['tcp', 'tcp6']) {
      for (const [inode, state] of await socketTable(pid, table)) {
        if (inodes.has(inode) && state === '01') tcpEstablished = true;
      }
    }
    for (const inode of (await socketTable(pid, 'unix')).keys()) if (inodes.has(inode)) unixSockets = true;
  }
  return { pids, tcpEstablished, fileLocks, unixSockets, terminal, foreignSession, hiddenSession };
}

/** True when /proc/locks lists a lock held by a process of the tree (POSIX and flock locks name their PID). */
async function inLocksTable(pids: number[]): Promise<boolean> {
  const text = await readFile('/proc/locks', 'utf8').catch(() => '');
  const tree = new Set(pids);
  // "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF" — the PID is the fifth column (-1 for OFD locks).
  return text.split('\n').some((line) => tree.has(Number(line.trim().split(/\s+/)[4])));
}

/** The options the user asked for, plus those the tree needs. */
export function neededOptions(asked: CriuOptions, found: TreeFindings): CriuOptions {
  return {
    ...asked,
    tcpEstablished: asked.tcpEstablished || found.tcpEstablished,
    fileLocks: asked.fileLocks || found.fileLocks,
    extUnixSk: asked.extUnixSk || found.unixSockets,
    shellJob: asked.shellJob || found.terminal || found.foreignSession,
  };
}
