/**
 * Runs the CRIU command line and turns its failures into errors that quote CRIU's own reason.
 */
import { spawn } from 'node:child_process';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode, type CriuOptions } from '@cedana-ts/sdk';

type BooleanOption = Exclude<keyof CriuOptions, 'external'>;

/** CRIU flags for each option, and the actions they apply to. */
const optionFlags: Record<BooleanOption, [string, ('dump' | 'restore')[]]> = {
  leaveRunning: ['--leave-running', ['dump']],
  tcpEstablished: ['--tcp-established', ['dump', 'restore']],
  fileLocks: ['--file-locks', ['dump', 'restore']],
  shellJob: ['--shell-job', ['dump', 'restore']],
  extUnixSk: ['--ext-unix-sk', ['dump', 'restore']],
  skipInFlight: ['--skip-in-flight', ['dump']],
  linkRemap: ['--link-remap', ['dump', 'restore']],
  tcpClose: ['--tcp-close', ['restore']],
  leaveStopped: ['--leave-stopped', ['restore']],
};

/** The command-line flags for a set of options, those that apply to `action`. */
export function criuFlags(opts: CriuOptions, action: 'dump' | 'restore'): string[] {
  const flags = (Object.keys(optionFlags) as BooleanOption[]).filter((k) => opts[k] && optionFlags[k][1].includes(action)).map((k) => optionFlags[k][0]);
  for (const ext of opts.external ?? []) flags.push('--external', ext);
  return flags;
}

/** Output of a finished command. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, collecting output. Rejects only when it cannot start. */
/** `extraFds` become the child's fds 3, 4, … (for CRIU's `--inherit-fd fd[N]:…`). */
export function runCommand(bin: string, args: string[], opts: { stdio?: 'inherit'; extraFds?: number[] } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: opts.stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe', ...(opts.extraFds ?? [])] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The `Error (...)` lines of a CRIU log, which say why it failed. */
export function criuErrorLines(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => /Error \(/.test(l) && !/Can't setup RLIMIT_NOFILE for self/.test(l))
    .map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, '').trim());
}

/** The PIDs a CRIU dump log says it dumped: the tree as it was when frozen. */
export function dumpedPids(log: string): number[] {
  return [...log.matchAll(/Dumping task \(pid: (\d+)/g)].map((m) => Number(m[1]));
}

/** Parses `criu --version` output ("Version: 4.2.1") into "4.2.1". */
export function parseCriuVersion(out: string): string | null {
  const m = /Version:\s*([\d.]+)/.exec(out);
  return m ? m[1] : null;
}

/**
 * Runs `criu <action>` with its log in `logDir`. On failure keeps a copy of the log at `keepLogAt` (the log
 * directory may be deleted by the caller) and throws an error that quotes CRIU's reason and names that copy.
 */
export async function runCriu(
  criuPath: string,
  action: 'dump' | 'restore',
  args: string[],
  paths: { logDir: string; keepLogAt: string },
  extraFds: number[] = [],
): Promise<CommandResult> {
  const logName = `${action}.log`;
  let result: CommandResult;
  try {
    result = await runCommand(criuPath, [action, ...args, '-o', logName, '-v4'], { extraFds });
  } catch (err) {
    throw new CedanaError(ErrorCode.Unavailable, `cannot run CRIU at ${criuPath}: ${(err as Error).message}`, {
      hint: 'install CRIU ≥ 4.2 or set criu.binary_path',
      cause: err,
    });
  }
  if (result.code === 0) return result;
  const logPath = join(paths.logDir, logName);
  const log = await readFile(logPath, 'utf8').catch(() => '');
  await copyFile(logPath, paths.keepLogAt).catch(() => undefined);
  const reasons = criuErrorLines(log);
  const reason = reasons.length > 0 ? reasons.slice(-3).join('; ') : (result.stderr.trim() || `exit code ${result.code}`);
  const code = action === 'dump' ? ErrorCode.CheckpointFailed : ErrorCode.RestoreFailed;
  const taken = action === 'restore' ? await pidTaken(log) : '';
  throw new CedanaError(code, `criu ${action} failed: ${reason}${taken}`, { hint: `CRIU log: ${paths.keepLogAt}` });
}

/**
 * A restored process gets its old PID back; when another process holds it, CRIU says only "File exists". This
 * names the holder, so the user sees what to stop. A PID stays taken while it is the process group or session of
 * a process, a zombie included: a dumped job's child that its init has not reaped yet keeps its group's PID.
 */
export async function pidTaken(log: string): Promise<string> {
  const m = /Can't fork for (\d+): File exists/.exec(log);
  if (!m) return '';
  const pid = Number(m[1]);
  const holder = await holderOf(pid);
  return holder
    ? ` (PID ${pid} is taken by ${holder}: a restored process needs its old PID free)`
    : ` (PID ${pid} was taken by another process, which is gone now: a restored process needs its old PID free)`;
}

interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
}

async function procStat(pid: number | string): Promise<ProcStat | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  const m = text ? /^(\d+) \((.*)\) (\S) (-?\d+) (-?\d+) (-?\d+)/s.exec(text) : null;
  if (!m) return null;
  return { pid: Number(m[1]), comm: m[2], state: m[3], ppid: Number(m[4]), pgrp: Number(m[5]), session: Number(m[6]) };
}

async function describe(p: ProcStat): Promise<string> {
  const parent = await readFile(`/proc/${p.ppid}/comm`, 'utf8').then((c) => ` ${c.trim()}`, () => '');
  const state = p.state === 'Z' ? 'a zombie' : `state ${p.state}`;
  return `${p.comm} (PID ${p.pid}, ${state}, parent PID ${p.ppid}${parent})`;
}

/** What holds `pid`: a process or thread of that PID, or a process whose group or session it is; null when none. */
async function holderOf(pid: number): Promise<string | null> {
  const own = await procStat(pid);
  if (own) {
    const tgid = /^Tgid:\s*(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));
    if (tgid && Number(tgid[1]) !== pid) return `a thread of ${await describe((await procStat(tgid[1])) ?? own)}`;
    return describe(own);
  }
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const p = await procStat(name);
    if (p && (p.pgrp === pid || p.session === pid)) {
      return `${await describe(p)}, whose ${p.session === pid ? 'session' : 'process group'} it is`;
    }
  }
  return null;
}
