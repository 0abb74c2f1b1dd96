/**
 * Running a command to its end, and the reasons a failed runc or CRIU run gives.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** Output of a finished command. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `bin args…` to its end, collecting stdout and stderr unless `stdio` says otherwise, with `env` added to
 * this process's environment. Rejects only when it cannot start.
 */
export function runCommand(bin: string, args: string[], stdio: StdioOptions = ['ignore', 'pipe', 'pipe'], env: Record<string, string> = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The `Error (…)` lines of a CRIU log, less the one CRIU always prints about RLIMIT_NOFILE. */
export function criuErrorLines(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => /Error \(/.test(l) && !/RLIMIT_NOFILE/.test(l))
    .map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, '').trim());
}

/** The messages of runc's JSON log (`--log-format json`) at level error or fatal. */
export function runcLogErrors(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) out.push(entry.msg.trim());
    } catch {
      // runc writes plain text before it has parsed its own flags.
      if (/error/i.test(line)) out.push(line.trim());
    }
  }
  return out;
}

/** A file's text, or '' when it cannot be read. */
export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

/** The command line of a process, or [] when it is gone. */
export async function cmdlineOf(pid: number): Promise<string[]> {
  return (await readText(`/proc/${pid}/cmdline`)).split('\0').filter(Boolean);
}
