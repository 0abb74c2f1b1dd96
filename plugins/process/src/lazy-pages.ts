/**
 * CRIU's lazy-pages daemon for a lazy restore: it serves the restored tree's memory through userfaultfd, on demand
 * and in the background, from the image directory, and exits once every page is in.
 *
 * When it ends before that (killed, or its images unreadable) the kernel would resolve the tree's remaining page
 * faults with zero-filled pages, so the tree is killed at once: a job whose memory cannot be completed fails
 * rather than runs on with holes in it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { criuErrorLines } from './criu';

const LOG = 'lazy-pages.log';

/** A running lazy-pages daemon, listening in `workDir` for the restore to connect. */
export class LazyPages {
  private constructor(
    private readonly child: ChildProcess,
    private readonly workDir: string,
    private readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  ) {}

  /** Starts `criu lazy-pages` and waits until it listens (its status fd), or fails with CRIU's reason. */
  static async start(criuPath: string, imagesDir: string, workDir: string): Promise<LazyPages> {
    const child = spawn(criuPath, ['lazy-pages', '-D', imagesDir, '-W', workDir, '-o', LOG, '-v2', '--status-fd', '3'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
    const lazy = new LazyPages(child, workDir, ended);
    const ready = await new Promise<boolean>((resolve, reject) => {
      child.once('error', (err) =>
        reject(new CedanaError(ErrorCode.Unavailable, `cannot run CRIU at ${criuPath}: ${err.message}`, { hint: 'install CRIU ≥ 4.2 or set criu.binary_path' })),
      );
      child.stdio[3]!.once('data', () => resolve(true));
      void ended.then(() => resolve(false));
    });
    if (!ready) throw new CedanaError(ErrorCode.RestoreFailed, `criu lazy-pages did not start: ${(await lazy.reason()) || stderr.trim()}`);
    return lazy;
  }

  /** The `Error (...)` lines of its log. */
  async reason(): Promise<string> {
    const log = await readFile(join(this.workDir, LOG), 'utf8').catch(() => '');
    return criuErrorLines(log).slice(-3).join('; ');
  }

  /** Stops it (a restore that failed before the tree ran). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.ended;
  }

  /**
   * Settles once every page of the restored tree led by `pid` is in. When the daemon ends otherwise, kills the
   * tree first and rejects with why.
   */
  async pagesIn(pid: number): Promise<void> {
    const { code, signal } = await this.ended;
    if (code === 0) return;
    // Its process group first (the tree of a job the daemon restores leads its own), then the PID itself.
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Gone already, or not a group leader.
      }
    }
    const why = (await this.reason()) || (signal ? `it was killed by ${signal}` : `exit code ${code}`);
    throw new CedanaError(ErrorCode.RestoreFailed, `lazy restore lost its page source before all memory was in (${why}); the job was killed`, {
      hint: 'restore it again without --lazy',
    });
  }
}
