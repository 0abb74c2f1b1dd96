/**
 * The runc command line: container state, run, checkpoint, restore, kill. Failures become CedanaErrors that quote
 * runc's reason and, for checkpoint and restore, CRIU's (from the log CRIU leaves in the work directory).
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode, type CriuOptions, type ErrorCode as Code } from '@cedana-ts/sdk';
import { criuErrorLines, readText, runCommand, runcLogErrors, type CommandResult } from './command';
import { runWithRelays, type StdioTarget } from './relay';

/** What `runc state` says about a container. */
export interface ContainerState {
  id: string;
  pid: number;
  /** creating, created, running, paused or stopped. */
  status: string;
  bundle: string;
}

/** runc flags for the CRIU options it supports; `leaveRunning` applies to checkpoints only. */
export function criuFlags(opts: CriuOptions, action: 'checkpoint' | 'restore'): string[] {
  const flags: [keyof CriuOptions, string][] = [
    ['leaveRunning', '--leave-running'],
    ['tcpEstablished', '--tcp-established'],
    ['fileLocks', '--file-locks'],
    ['shellJob', '--shell-job'],
    ['extUnixSk', '--ext-unix-sk'],
  ];
  // runc has no flag for these: refused rather than dropped.
  const missing: [boolean | undefined, string][] = [
    [opts.skipInFlight && action === 'checkpoint', '--skip-in-flight'],
    [opts.linkRemap, '--link-remap'],
    [opts.tcpClose && action === 'restore', '--tcp-close'],
    [opts.leaveStopped && action === 'restore', '--leave-stopped'],
    [(opts.external ?? []).length > 0, '--external'],
  ];
  const refused = missing.filter(([on]) => on).map(([, f]) => f);
  if (refused.length > 0) {
    throw new CedanaError(ErrorCode.Unsupported, `runc ${action} cannot pass ${refused.join(', ')} to CRIU`, { hint: `drop ${refused.join(', ')}, or use the process runtime` });
  }
  return flags.filter(([k]) => opts[k] && !(action === 'restore' && k === 'leaveRunning')).map(([, f]) => f);
}

/** How to call runc: its binary, state root and the CRIU it should use. */
export interface RuncTarget {
  binary: string;
  root: string;
  criu: string;
  /** Where kept CRIU logs go. */
  tmpDir: string;
  /** More global flags (--rootless, --systemd-cgroup). */
  global?: string[];
}

/** The reason a failed runc call gives: its error log lines, else its stderr. */
function reasonOf(result: CommandResult, log: string): string {
  const errors = runcLogErrors(log);
  if (errors.length > 0) return errors.slice(-2).join('; ');
  return result.stderr.trim().split('\n').slice(-2).join('; ') || `exit code ${result.code}`;
}

export class Runc {
  constructor(readonly t: RuncTarget) {}

  private globalArgs(logFile: string): string[] {
    return ['--root', this.t.root, '--criu', this.t.criu, ...(this.t.global ?? []), '--log', logFile, '--log-format', 'json'];
  }

  /**
   * Runs `runc <args>` with a private work directory for its log; returns the result and that log's text.
   * With `stdio`, runc's stdio (which run -d and restore -d hand to the container) goes through relays there.
   * `env` is added to runc's environment (which CRIU inherits).
   */
  async call(args: string[], stdio?: StdioTarget, env: Record<string, string> = {}): Promise<{ result: CommandResult; log: string; workDir: string }> {
    const workDir = await mkdtemp(join(this.t.tmpDir, 'cedana-runc-'));
    const logFile = join(workDir, 'runc.log');
    let result: CommandResult;
    try {
      const all = [...this.globalArgs(logFile), ...args];
      result = stdio ? await runWithRelays(this.t.binary, all, stdio, env) : await runCommand(this.t.binary, all, undefined, env);
    } catch (err) {
      await rm(workDir, { recursive: true, force: true });
      throw new CedanaError(ErrorCode.Unavailable, `cannot run runc at ${this.t.binary}: ${(err as Error).message}`, {
        hint: 'install runc or set runc.binary',
        cause: err,
      });
    }
    return { result, log: await readText(logFile), workDir };
  }

  /** The state of container `id`, or null when runc does not know it. */
  async state(id: string): Promise<ContainerState | null> {
    const { result, workDir } = await this.call(['state', id]);
    await rm(workDir, { recursive: true, force: true });
    if (result.code !== 0) return null;
    const s = JSON.parse(result.stdout) as { id: string; pid: number; status: string; bundle: string };
    return { id: s.id, pid: s.pid, status: s.status, bundle: s.bundle };
  }

  /** The state of container `id`, which must be running. */
  async running(id: string): Promise<ContainerState> {
    const state = await this.state(id);
    if (!state) {
      throw new CedanaError(ErrorCode.NotFound, `no runc container '${id}' (runc root ${this.t.root})`, {
        hint: 'see `runc --root ' + this.t.root + ' list`; give --root if it lives elsewhere',
      });
    }
    if (state.status !== 'running') {
      const hint = state.status === 'paused' ? { hint: `it is frozen; unfreeze it first: cedana unfreeze runc ${id}` } : undefined;
      throw new CedanaError(ErrorCode.FailedPrecondition, `runc container '${id}' is not running (status: ${state.status})`, hint);
    }
    return state;
  }

  /** Runs a command that must succeed, or throws `code` with runc's reason. */
  async must(args: string[], code: Code, what: string, stdio?: StdioTarget): Promise<CommandResult> {
    const { result, log, workDir } = await this.call(args, stdio);
    await rm(workDir, { recursive: true, force: true });
    if (result.code === 0) return result;
    const reason = reasonOf(result, log);
    const finalCode = /already exists|exists already/i.test(reason) ? ErrorCode.AlreadyExists : code;
    throw new CedanaError(finalCode, `${what} failed: ${reason}`);
  }

  /**
   * `runc checkpoint` or `runc restore` with CRIU's work files in `criuWorkDir`. On failure the CRIU log is kept
   * in the temp dir and the error quotes CRIU's reason. `env` goes to runc and CRIU (a CRIU config file, say).
   */
  async criuAction(action: 'checkpoint' | 'restore', args: string[], criuWorkDir: string, stdio?: StdioTarget, env: Record<string, string> = {}): Promise<void> {
    const { result, log, workDir } = await this.call([action, '--work-path', criuWorkDir, ...args], stdio, env);
    await rm(workDir, { recursive: true, force: true });
    if (result.code === 0) return;
    const criuLog = join(criuWorkDir, action === 'checkpoint' ? 'dump.log' : 'restore.log');
    const keepAt = join(this.t.tmpDir, `cedana-runc-${action}-${Date.now()}.log`);
    const kept = await copyFile(criuLog, keepAt).then(
      () => true,
      () => false,
    );
    const criuReasons = criuErrorLines(await readText(criuLog));
    const reason = criuReasons.length > 0 ? criuReasons.slice(-3).join('; ') : reasonOf(result, log);
    const code = action === 'checkpoint' ? ErrorCode.CheckpointFailed : ErrorCode.RestoreFailed;
    throw new CedanaError(code, `runc ${action} failed: ${reason}`, kept ? { hint: `CRIU log: ${keepAt}` } : {});
  }

  /** `runc --version`'s first line's version, or null when runc does not run. */
  async version(): Promise<string | null> {
    const out = await runCommand(this.t.binary, ['--version']).catch(() => null);
    return out?.code === 0 ? (/runc version (\S+)/.exec(out.stdout)?.[1] ?? null) : null;
  }
}
