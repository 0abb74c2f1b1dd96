/**
 * Test harness: a real daemon (its own process, socket, database and directories) and a way to run the real
 * `cedana` CLI against it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', '..', 'bin', 'cedana');

/** Result of one CLI call. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An isolated environment: private dirs, and the env variables that point the CLI and daemon at them. */
export class TestEnv {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  private daemon?: ChildProcess;
  daemonLog = '';

  constructor(extraEnv: NodeJS.ProcessEnv = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'cedana-test-'));
    this.env = {
      ...process.env,
      CEDANA_CONFIG_DIR: join(this.dir, 'config'),
      CEDANA_ADDRESS: join(this.dir, 'cedana.sock'),
      CEDANA_DB_PATH: join(this.dir, 'cedana.db'),
      CEDANA_CHECKPOINT_DIR: join(this.dir, 'checkpoints'),
      CEDANA_PLUGINS_LIB_DIR: join(this.dir, 'plugins'),
      CEDANA_LOG_LEVEL: 'debug',
      ...extraEnv,
    };
    spawnSync('mkdir', ['-p', join(this.dir, 'checkpoints')]);
  }

  get socket(): string {
    return this.env.CEDANA_ADDRESS!;
  }

  /** Runs `cedana ARGS…` to completion. */
  cli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): CliResult {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      env: { ...this.env, ...opts.env },
      input: opts.input,
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 60_000,
      cwd: this.dir,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** Like {@link cli}, but throws with the output when the exit code is not 0. */
  ok(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
    const r = this.cli(args, opts);
    if (r.code !== 0) throw new Error(`cedana ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\ndaemon log tail: ${this.daemonLog.slice(-2000)}`);
    return r.stdout;
  }

  /** The PID of the daemon this environment started. */
  get daemonPid(): number | undefined {
    return this.daemon?.pid;
  }

  /** Starts `cedana daemon start` and waits for its socket (or, for tcp, until `ready` says so). */
  async startDaemon(extraArgs: string[] = [], ready: () => boolean = () => existsSync(this.socket)): Promise<void> {
    const child = spawn(process.execPath, [CLI, 'daemon', 'start', ...extraArgs], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.daemon = child;
    child.stdout!.on('data', (d: Buffer) => (this.daemonLog += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.daemonLog += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!ready()) {
      if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${this.daemonLog}`);
      if (Date.now() > deadline) throw new Error(`daemon did not start: ${this.daemonLog}`);
      await sleep(50);
    }
  }

  /** Stops the daemon with `signal` and waits for it to exit. */
  async stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.daemon;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }

  /** Kills every job's process tree recorded in the DB, stops the daemon, removes the directory. */
  async cleanup(): Promise<void> {
    if (this.daemon && existsSync(this.socket)) {
      this.cli(['job', 'kill', '--all', '--signal', 'KILL']);
    }
    await this.stopDaemon();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function waitFor<T>(fn: () => T | Promise<T>, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The PID column of `cedana ps --json` for `jid`. */
export function jobOf(env: TestEnv, jid: string): { pid: number; status: string; log: string; latestCheckpoint?: { path: string; size: number } } {
  const jobs = JSON.parse(env.ok(['ps', '--json'])) as { jid: string; pid: number; status: string; log: string }[];
  const job = jobs.find((j) => j.jid === jid);
  if (!job) throw new Error(`job ${jid} not in ps`);
  return job;
}
