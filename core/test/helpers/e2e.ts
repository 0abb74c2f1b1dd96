/**
 * Helpers for the end-to-end tests: the jobs they run (counters, python scripts), reading their logs, and
 * making sure no process a test started outlives it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestEnv } from './env';

/** A job as `cedana ps --json` prints it. */
export interface JobJson {
  jid: string;
  type: string;
  pid: number;
  status: string;
  log: string;
  cmdline: string[];
  latestCheckpoint?: { id: string; jid: string; path: string; size: number; time: number; compression: string };
}

/** Every job, from `cedana ps --json`. */
export function psJson(env: TestEnv): JobJson[] {
  return JSON.parse(env.ok(['ps', '--json'])) as JobJson[];
}

/** One job from `cedana ps --json`. */
export function job(env: TestEnv, jid: string): JobJson {
  const found = psJson(env).find((j) => j.jid === jid);
  assert.ok(found, `job ${jid} is not in cedana ps`);
  return found;
}

/**
 * The real python3 binary (not a pyenv shim, which would exec another path: the job's command line would then
 * differ from the one recorded and the daemon would call it stale).
 */
export const PYTHON: string = (() => {
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : '/usr/bin/python3';
})();

/**
 * A counter in one process (python3), one line every 50 ms, for processes started outside the daemon: a shell
 * counter's `sleep` child, orphaned when the dump kills the shell, stays a zombie until this machine's init reaps
 * it, and holds the shell's session ID, which is the PID the restore needs.
 */
export const PY_COUNTER = [PYTHON, '-u', '-c', 'import time\ni = 0\nwhile True:\n    print(i)\n    i += 1\n    time.sleep(0.05)'];

/**
 * A shell counter that writes 0, 1, 2, … to stdout, one line every `periodMs`; with `until`, it stops after
 * `until - 1` and exits with `exitCode`.
 */
export function counter(opts: { periodMs?: number; until?: number; exitCode?: number } = {}): string[] {
  const sleep = ((opts.periodMs ?? 50) / 1000).toFixed(3);
  const cond = opts.until === undefined ? ':' : `[ $i -lt ${opts.until} ]`;
  const tail = opts.until === undefined ? '' : `; exit ${opts.exitCode ?? 0}`;
  return ['bash', '-c', `i=0; while ${cond}; do echo $i; i=$((i+1)); sleep ${sleep}; done${tail}`];
}

/** The lines of a log file (empty when it does not exist yet). */
export function logLines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

/** The integers a counter wrote to its log. */
export function logNumbers(path: string): number[] {
  return logLines(path).map((l) => {
    assert.match(l, /^\d+$/, `unexpected line in ${path}: ${JSON.stringify(l)}`);
    return Number(l);
  });
}

/** The last integer in a counter's log, or -1. */
export function lastNumber(path: string): number {
  const nums = logNumbers(path);
  return nums.length > 0 ? nums[nums.length - 1] : -1;
}

/** Asserts the log holds exactly 0, 1, 2, …: no restart from 0, no gap, no repeat. */
export function assertCounts(path: string): number[] {
  const nums = logNumbers(path);
  const bad = nums.findIndex((n, i) => n !== i);
  assert.equal(bad, -1, `${path}: line ${bad} is ${nums[bad]}, expected ${bad} (log: ${nums.join(' ')})`);
  return nums;
}

/** The state letter of /proc/PID/stat, or null when there is no such process. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** True when `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const s = procState(pid);
  return s !== null && s !== 'Z';
}

/** SIGKILLs the process group led by `pid` (a job runs in a session of its own), or `pid` alone. */
export function killGroup(pid: number): void {
  if (!(pid > 1)) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
}

/** Writes a script into the environment's directory; returns its path. */
export function writeScript(env: TestEnv, name: string, text: string): string {
  const path = join(env.dir, name);
  writeFileSync(path, text);
  return path;
}

/**
 * Tears an environment down: kills the process group of every live job the daemon knows and of every PID in
 * `pids` that still runs, then stops the daemon and removes the directory.
 */
export async function teardown(env: TestEnv | undefined, pids: number[] = []): Promise<void> {
  if (!env) return;
  if (existsSync(env.socket)) {
    const r = env.cli(['ps', '--json']);
    if (r.code === 0) {
      for (const j of JSON.parse(r.stdout) as JobJson[]) if (!['halted', 'stale', 'remote'].includes(j.status)) killGroup(j.pid);
    }
  }
  for (const pid of pids) if (isAlive(pid)) killGroup(pid);
  await env.cleanup();
}

/** The number in `Running managed process PID <n>`. */
export function runPid(stdout: string): number {
  const m = /^Running managed process PID (\d+)$/m.exec(stdout);
  assert.ok(m, `unexpected run output: ${stdout}`);
  return Number(m[1]);
}

/** The path in `Dumped to <path>` (the last word of the output). */
export function dumpedPath(stdout: string): string {
  assert.match(stdout.trim(), /^Dumped to \S+$/, `unexpected dump output: ${stdout}`);
  return stdout.trim().split(/\s+/).pop()!;
}

/** The PID in `Restored successfully, PID: <n>`. */
export function restoredPid(stdout: string): number {
  const m = /^Restored successfully, PID: (\d+)$/.exec(stdout.trim());
  assert.ok(m, `unexpected restore output: ${stdout}`);
  return Number(m[1]);
}

/** Every process now: its PID, state, process group and session (from /proc/PID/stat). */
export function allProcesses(): { pid: number; state: string; pgrp: number; session: number }[] {
  const out: { pid: number; state: string; pgrp: number; session: number }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid: Number(e), state: f[0], pgrp: Number(f[2]), session: Number(f[3]) });
  }
  return out;
}

/** A container ID of 18 random digits (Cedana scripts name containers by numbers): new for every call. */
export function digitsId(): string {
  const digit = (): number => Math.floor(Math.random() * 10);
  return `${1 + Math.floor(Math.random() * 9)}${Array.from({ length: 17 }, digit).join('')}`;
}

/** What `runc state` says of container `id` under `root`, or null when runc does not know it. */
export function runcState(root: string, id: string): { status: string; pid: number } | null {
  const r = spawnSync('runc', ['--root', root, 'state', id], { encoding: 'utf8' });
  return r.status === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : null;
}

/**
 * Removes container `id` and every cgroup named for it (a restore that failed halfway leaves one behind, and a
 * container started again under that name finds it not empty), killing what is still in them.
 */
export function removeContainer(root: string, id: string): void {
  spawnSync('runc', ['--root', root, 'delete', '--force', id]);
  const find = ['/sys/fs/cgroup', '-maxdepth', '6', '-type', 'd', '-name', id];
  const found = spawnSync('find', find, { encoding: 'utf8' });
  for (const dir of found.stdout.split('\n').filter(Boolean).sort((a, b) => b.length - a.length)) {
    const procs = existsSync(join(dir, 'cgroup.procs')) ? readFileSync(join(dir, 'cgroup.procs'), 'utf8') : '';
    for (const p of procs.split('\n').filter(Boolean)) killGroup(Number(p));
    spawnSync('rmdir', [dir]);
  }
}

/** A line runc writes into its stdout or stderr (`time="…" level=warning msg="…"`), not the container's. */
const RUNC_LINE = /^time="[^"]*" level=\w+ msg=/;

/**
 * The integers a container's counter wrote into a host file that runc's own stdout or stderr also went to: runc's
 * log lines are left out, any other line fails.
 */
export function hostFileNumbers(path: string): number[] {
  return logLines(path)
    .filter((l) => !RUNC_LINE.test(l))
    .map((l) => {
      assert.match(l, /^\d+$/, `unexpected line in ${path}: ${JSON.stringify(l)}`);
      return Number(l);
    });
}

/** The last integer of {@link hostFileNumbers}, or -1. */
export function hostFileLast(path: string): number {
  const nums = hostFileNumbers(path);
  return nums.length > 0 ? nums[nums.length - 1] : -1;
}

/** Asserts the host file holds one counter carried on: 0, 1, 2, … with no restart, gap or repeat. */
export function assertHostFileCounts(path: string): void {
  const nums = hostFileNumbers(path);
  nums.forEach((n, i) => assert.equal(n, i, `${path}: one counter, carried on (${nums.join(' ')})`));
}

/**
 * Starts container `id` outside cedana with its stdout and stderr in the host file `out`, as a shell redirect
 * would: `runc run --detach` (the container holds the file itself), or `runc run` in the background (runc copies
 * the container's output into the file; returns its PID).
 */
export function runcToFile(
  root: string,
  bundle: string,
  id: string,
  out: string,
  how: 'detached' | 'foreground',
): number | undefined {
  const fd = openSync(out, 'w');
  try {
    const stdio: ['ignore', number, number] = ['ignore', fd, fd];
    if (how === 'foreground') return spawn('runc', ['--root', root, 'run', '--bundle', bundle, id], { stdio }).pid;
    const r = spawnSync('runc', ['--root', root, 'run', '--detach', '--bundle', bundle, id], { stdio });
    assert.equal(r.status, 0, `runc run --detach ${id}`);
    return undefined;
  } finally {
    closeSync(fd);
  }
}
