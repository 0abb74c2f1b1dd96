/**
 * A server process started by a test fixture (containerd, dockerd): its own session and log file, a wait for its
 * socket, and a stop that ends only that process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `fn` until it is true; throws naming `what` after `ms`. */
export async function waitUntil(fn: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A daemon process started by a fixture, and the file its output goes to. */
export interface StartedDaemon {
  child: ChildProcess;
  log: string;
}

/** The last part of a daemon's log, to quote when it fails. */
export function logTail(started: StartedDaemon): string {
  return readFileSync(started.log, 'utf8').slice(-2000);
}

/** Starts `bin args…` with stdout and stderr appended to `logPath`. */
export function startLogged(bin: string, args: string[], logPath: string, env: NodeJS.ProcessEnv = process.env): StartedDaemon {
  const fd = openSync(logPath, 'a');
  // Its own session, so a test's Ctrl+C does not reach it before the teardown stops it.
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: true, env });
  closeSync(fd);
  return { child, log: logPath };
}

/** Waits (30 s at most) for the daemon to create its socket at `path`; throws with its log when it exits first. */
export async function waitForSocket(path: string, started: StartedDaemon, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(path)) {
    if (started.child.exitCode !== null) throw new Error(`${what} exited ${started.child.exitCode}: ${logTail(started)}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start: ${logTail(started)}`);
    await sleep(50);
  }
}

/** SIGTERM, then SIGKILL after 10 s; settles once the process has exited. */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
