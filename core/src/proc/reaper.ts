/**
 * Makes the daemon a child subreaper and reaps what it adopts: restored process trees (whose exit statuses it
 * reports) and orphans that would otherwise stay zombies and keep their PIDs, which blocks restoring them.
 * Node reaps only the children it spawned itself, so this never touches a PID Node may still wait for, except
 * those it is told were orphaned by a dump.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { loadLibc, type Libc } from './libc';
import type { ChildWatcher, ExitStatus } from '@cedana-ts/sdk';

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
const ECHILD = 10;

const signalNames = new Map<number, string>(Object.entries(constants.signals).map(([name, num]) => [num, name]));

/** Decodes a wait(2) status word. */
export function decodeWaitStatus(status: number): ExitStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: signalNames.get(sig) ?? `SIG${sig}` };
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

async function zombieChildren(): Promise<number[]> {
  const tasks = await readdir('/proc/self/task').catch(() => [] as string[]);
  const kids = new Set<number>();
  for (const tid of tasks) {
    const list = await readFile(`/proc/self/task/${tid}/children`, 'utf8').catch(() => '');
    for (const p of list.split(/\s+/).filter(Boolean)) kids.add(Number(p));
  }
  const zombies: number[] = [];
  for (const pid of kids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') zombies.push(pid);
  }
  return zombies;
}

export class Reaper implements ChildWatcher {
  private readonly libc: Libc;
  private readonly watched = new Map<number, (s: ExitStatus) => void>();
  private readonly orphans = new Set<number>();
  /** Zombies seen on an earlier sweep: not Node's (Node reaps its own at once), so ours to reap. */
  private seenZombies = new Set<number>();
  private timer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(intervalMs = 250) {
    this.libc = loadLibc();
    if (this.libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) !== 0) throw new Error('prctl(PR_SET_CHILD_SUBREAPER) failed');
    this.timer = setInterval(() => void this.sweep(), intervalMs);
    this.timer.unref();
  }

  /** Settles when `pid` ends; until then the sweeps keep this process alive (the CLI waits on it for --no-server). */
  watch(pid: number): Promise<ExitStatus> {
    return new Promise((resolve) => {
      this.watched.set(pid, resolve);
      this.timer?.ref();
      this.reap(pid);
    });
  }

  /** PIDs a dump just killed whose parents died with them: reaped now, or as soon as they are zombies. */
  expectOrphans(pids: number[]): void {
    for (const p of pids) {
      this.orphans.add(p);
      this.reap(p);
    }
  }

  /** Reaps `pid` if it has ended; true when it was reaped (or is not ours to wait for). */
  private reap(pid: number): boolean {
    const status = [0];
    const r = this.libc.waitpid(pid, status, WNOHANG);
    if (r === 0) return false;
    const result: ExitStatus = r === pid ? decodeWaitStatus(status[0]) : { code: null, signal: null };
    if (r === -1 && this.libc.errno() !== ECHILD) return false;
    // Not our child (started before a daemon restart, say): it is over when it is gone, or a zombie that its
    // parent (an init that does not reap, say) may never collect.
    if (r === -1 && existsSync(`/proc/${pid}`) && !isZombie(pid)) return false;
    this.orphans.delete(pid);
    this.seenZombies.delete(pid);
    const resolve = this.watched.get(pid);
    this.watched.delete(pid);
    if (this.watched.size === 0) this.timer?.unref();
    resolve?.(result);
    return true;
  }

  /** One pass: watched PIDs, expected orphans, and zombies left over from the last pass. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const pid of [...this.watched.keys()]) this.reap(pid);
      const zombies = await zombieChildren();
      const next = new Set<number>();
      for (const pid of zombies) {
        if (this.watched.has(pid) || this.orphans.has(pid) || this.seenZombies.has(pid)) this.reap(pid);
        else next.add(pid);
      }
      this.seenZombies = next;
    } finally {
      this.sweeping = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
