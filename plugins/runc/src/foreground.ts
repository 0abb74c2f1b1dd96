/**
 * `runc run` and `runc restore` in the foreground (`--no-server`): runc keeps this command's stdio and waits for
 * the container, whose init PID it writes to a pid file once the container runs. That PID, not this command's,
 * is the job's (`--pid-file`).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode, type ExitStatus } from '@cedana-ts/sdk';

/** A foreground runc: the container's init PID (runc's own when no container came up), and how runc ended. */
export interface ForegroundRunc {
  pid: number;
  exited: Promise<ExitStatus>;
}

async function pidIn(file: string): Promise<number | null> {
  const n = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  return Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * Runs `bin global… action --pid-file F rest…` with this process's stdio and `env` added; settles once runc has
 * written F (the container runs) or has ended.
 */
export async function foregroundRunc(
  bin: string,
  global: string[],
  action: 'run' | 'restore',
  rest: string[],
  tmpDir: string,
  env: Record<string, string> = {},
): Promise<ForegroundRunc> {
  const scratch = await mkdtemp(join(tmpDir, 'cedana-runc-fg-'));
  const pidFile = join(scratch, 'pid');
  try {
    const child = spawn(bin, [...global, action, '--pid-file', pidFile, ...rest], {
      stdio: 'inherit',
      env: { ...process.env, ...env },
    });
    const exited = new Promise<ExitStatus>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    let ended = false;
    void exited.then(
      () => (ended = true),
      () => (ended = true),
    );
    for (;;) {
      const pid = await pidIn(pidFile);
      if (pid !== null) return { pid, exited };
      if (ended) {
        await exited.catch((err: Error) => {
          throw new CedanaError(ErrorCode.Unavailable, `cannot run runc at ${bin}: ${err.message}`, {
            hint: 'install runc or set runc.binary',
          });
        });
        return { pid: child.pid ?? process.pid, exited };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
