/**
 * What /proc says about a process: its state and command line, from which a job's status is derived.
 */
import { readdir, readFile } from 'node:fs/promises';
import { cgroupFrozen } from './freezer';

/** Process states as `cedana ps` shows them (the names Cedana's users know). */
const stateNames: Record<string, string> = {
  R: 'running',
  S: 'sleep',
  D: 'wait',
  T: 'stop',
  t: 'stop',
  Z: 'zombie',
  X: 'halted',
  I: 'idle',
  W: 'wait',
  P: 'stop',
};

/** The process's state name, or null when there is no such process. */
export async function processState(pid: number): Promise<string | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return stateNames[state] ?? 'unknown';
}

/** The process's command line, or null when there is no such process. */
export async function processCmdline(pid: number): Promise<string[] | null> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return raw === null ? null : raw.split('\0').filter(Boolean);
}

/** Parent PID of a process, or null. */
export async function parentOf(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * When the process started, in clock ticks after boot (field 22 of /proc/PID/stat), or null when there is no
 * such process. With the PID it names one process: a PID reused by another process has another start time,
 * while a process that exec'd another program keeps its own.
 */
export async function processStartTime(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

/**
 * A job's status: `remote` when another host recorded it, `halted` when its process is gone, `stale` when the
 * PID now belongs to another process — another start time when it was recorded, else another command line
 * (jobs recorded without one) — else the process state.
 */
export async function jobStatus(
  job: { pid: number; host: string; cmdline: string[]; startTime?: number },
  host: string,
  live?: ReadonlySet<number>,
): Promise<string> {
  if (job.host !== host) return 'remote';
  if (live && !live.has(job.pid)) return 'halted';
  if (!Number.isInteger(job.pid) || job.pid <= 0) return 'halted';
  const stat = await readFile(`/proc/${job.pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return 'halted';
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = stateNames[fields[0]] ?? 'unknown';
  if (state === 'halted') return 'halted';
  if (state === 'zombie') return 'zombie';
  if (job.startTime !== undefined) {
    if (Number(fields[19]) !== job.startTime) return 'stale';
  } else if (job.cmdline.length > 0) {
    const now = await processCmdline(job.pid);
    if (now && now.length > 0 && now.join('\0') !== job.cmdline.join('\0')) return 'stale';
  }
  // A task of a frozen cgroup sleeps in the kernel: only its cgroup says it is frozen (cedana freeze).
  if (state !== 'running' && (await cgroupFrozen(job.pid))) return 'frozen';
  return state;
}

/**
 * The PIDs of the processes that exist now (one listing of /proc), so that a list of many jobs looks up only the
 * processes that may be theirs.
 */
export async function livePids(): Promise<Set<number>> {
  const out = new Set<number>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry);
    if (Number.isInteger(pid)) out.add(pid);
  }
  return out;
}

/** Live (non-zombie) processes whose process group is `pgid`. */
export async function groupMembers(pgid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(pid);
  }
  return out;
}

/** PF_KTHREAD in the flags of /proc/PID/stat: a kernel thread. */
const PF_KTHREAD = 0x00200000;

/**
 * Why `pid` must never become a job (whose kill/delete would signal it), or null: init, this process and its
 * ancestors, and kernel threads.
 */
export async function unmanageableReason(pid: number): Promise<string | null> {
  if (pid === 1) return 'it is init (PID 1)';
  if (pid === process.pid) return 'it is the daemon itself';
  for (let p = await parentOf(process.pid); p !== null && p > 0; p = await parentOf(p)) {
    if (p === pid) return "it is one of the daemon's ancestors";
    if (p === 1) break;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const flags = Number(fields[6]);
  if ((flags & PF_KTHREAD) !== 0) return 'it is a kernel thread';
  if (Number(fields[1]) === 2 || pid === 2) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === '') return 'it is a kernel thread';
  }
  return null;
}
