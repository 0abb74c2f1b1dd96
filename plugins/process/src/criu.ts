/**
 * Runs the CRIU command line and turns its failures into errors that quote CRIU's own reason.
 */
import { spawn } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode, type CriuOptions } from '@cedana-ts/sdk';

/** CRIU flags for each option. */
const optionFlags: Record<keyof CriuOptions, string> = {
  leaveRunning: '--leave-running',
  tcpEstablished: '--tcp-established',
  fileLocks: '--file-locks',
  shellJob: '--shell-job',
  extUnixSk: '--ext-unix-sk',
};

/** The command-line flags for a set of options; `leaveRunning` only applies to dumps. */
export function criuFlags(opts: CriuOptions, action: 'dump' | 'restore'): string[] {
  return (Object.keys(optionFlags) as (keyof CriuOptions)[])
    .filter((k) => opts[k] && !(action === 'restore' && k === 'leaveRunning'))
    .map((k) => optionFlags[k]);
}

/** Output of a finished command. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, collecting output. Rejects only when it cannot start. */
export function runCommand(bin: string, args: string[], opts: { stdio?: 'inherit' } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: opts.stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
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
    .filter((l) => /Error \(/.test(l))
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
): Promise<CommandResult> {
  const logName = `${action}.log`;
  let result: CommandResult;
  try {
    result = await runCommand(criuPath, [action, ...args, '-o', logName, '-v4']);
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
  throw new CedanaError(code, `criu ${action} failed: ${reason}`, { hint: `CRIU log: ${paths.keepLogAt}` });
}
