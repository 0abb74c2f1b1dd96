/**
 * Helpers for the attach and lifecycle tests: a `cedana` command kept running (attach, manage --upcoming) with
 * piped stdio, so a test can type into it, read what it prints, send it SIGINT and read its exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CLI, type TestEnv, waitFor } from './env';

/** How a spawned command ended. */
export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A `cedana …` process the test talks to while it runs. */
export class Session {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly ended: Promise<Ended>;
  readonly startedAt = Date.now();

  constructor(env: TestEnv, args: string[]) {
    this.child = spawn(process.execPath, [CLI, ...args], { env: env.env, cwd: env.dir, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // Writing to a CLI that has exited must not crash the test run.
    this.child.stdin!.on('error', () => undefined);
    this.ended = new Promise((resolve) =>
      this.child.once('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Types `text` into the command's stdin. */
  type(text: string | Buffer): void {
    this.child.stdin!.write(text);
  }

  /** Closes the command's stdin (end of input). */
  endInput(): void {
    this.child.stdin!.end();
  }

  /** Waits until stdout matches `re` (or `fn` accepts it); fails with what was printed. */
  async waitOut(re: RegExp | ((out: string) => boolean), ms = 10_000): Promise<string> {
    const ok = typeof re === 'function' ? re : (s: string) => re.test(s);
    await waitFor(() => ok(this.stdout) || !this.running, ms, `output matching ${re.toString()}`).catch(() => undefined);
    if (!ok(this.stdout)) throw new Error(`no output matching ${re.toString()}\nstdout: ${JSON.stringify(this.stdout.slice(-2000))}\nstderr: ${JSON.stringify(this.stderr.slice(-2000))}`);
    return this.stdout;
  }

  /** Waits for the command to end; fails when it does not within `ms`. */
  async exit(ms = 15_000): Promise<Ended> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`cedana did not exit within ${ms} ms\nstdout: ${JSON.stringify(this.stdout.slice(-2000))}\nstderr: ${JSON.stringify(this.stderr.slice(-2000))}`)), ms);
    });
    try {
      return await Promise.race([this.ended, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ctrl+C: sends SIGINT and waits for the command to end. */
  async interrupt(ms = 10_000): Promise<Ended> {
    this.child.kill('SIGINT');
    return this.exit(ms);
  }

  /** Ends the command whatever it is doing (test clean-up). */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** Starts `cedana ARGS…` and returns at once. Keep the session to {@link killSessions} it after the test. */
export function session(env: TestEnv, args: string[], into?: Session[]): Session {
  const s = new Session(env, args);
  into?.push(s);
  return s;
}

/** Kills every session still running and empties the list. */
export function killSessions(list: Session[]): void {
  for (const s of list.splice(0)) s.kill();
}

/** The whole-number lines of `text` (a counter's output), in order. */
export function numbersIn(text: string): number[] {
  return text
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}

/** Index of the first place where `nums` does not go up by one from `nums[0]`, or -1. */
export function firstGap(nums: number[]): number {
  return nums.findIndex((n, i) => i > 0 && n !== nums[i - 1] + 1);
}

/** The FIFO directory of an attachable job: `<dirname(db path)>/cedana-io/<jid>`. */
export function ioDir(env: TestEnv, jid: string): string {
  return join(env.dir, 'cedana-io', jid);
}

/** Writes `text` straight into a job's stdin FIFO (as if an attacher typed it), without the daemon. */
export function writeFifo(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
