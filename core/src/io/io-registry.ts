/**
 * The open I/O of every attachable job in this daemon, by job id.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ensurePrivateDir } from '../security/private-files';
import type { ExitStatus } from '@cedana-ts/sdk';
import { JobIO } from './job-io';

export class IoRegistry {
  private readonly byJid = new Map<string, JobIO>();

  /** `baseDir/<jid>` holds each job's FIFOs; `baseDir` is root's alone (0700), created so when absent. */
  constructor(readonly baseDir: string) {
    ensurePrivateDir(baseDir);
  }

  /** New FIFOs for a job about to start. */
  create(jid: string): JobIO {
    this.byJid.get(jid)?.close();
    this.byJid.delete(jid);
    ensurePrivateDir(this.baseDir);
    // A directory left at that name (a job restored under another JID keeps its FIFOs) is never reused.
    let dir = join(this.baseDir, jid);
    for (let i = 1; existsSync(dir); i++) dir = join(this.baseDir, `${jid}.${i}`);
    const io = JobIO.open(dir, true);
    this.byJid.set(jid, io);
    return io;
  }

  /** Opens the FIFOs at `dir` (a job from before a restart, or one about to be restored) unless open already. */
  open(jid: string, dir: string): JobIO {
    const existing = this.byJid.get(jid);
    if (existing && existing.paths.dir === dir) return existing;
    existing?.close();
    // A checkpoint restored as a new job keeps the FIFOs of the job it was: the new job takes over their
    // daemon ends, with the output nobody has read yet. Two readers on one FIFO would split the stream.
    for (const [other, io] of this.byJid) {
      if (io.paths.dir !== dir) continue;
      this.byJid.delete(other);
      this.byJid.set(jid, io);
      return io;
    }
    const io = JobIO.open(dir);
    this.byJid.set(jid, io);
    return io;
  }

  get(jid: string): JobIO | undefined {
    return this.byJid.get(jid);
  }

  exited(jid: string, status: ExitStatus): void {
    this.byJid.get(jid)?.exited(status);
  }

  /**
   * A job is deleted: closes its ends and removes its FIFOs — those open here, or those at `dir` (its recorded
   * directory, which may not be open after a restart) — unless another job took them over.
   */
  remove(jid: string, dir?: string): void {
    const io = this.byJid.get(jid);
    this.byJid.delete(jid);
    const path = io?.paths.dir ?? dir;
    io?.releaseStdin();
    io?.close();
    // The recorded path comes from the job database: only a directory of this registry's is ever removed.
    if (path && this.owns(path) && ![...this.byJid.values()].some((other) => other.paths.dir === path)) rmSync(path, { recursive: true, force: true });
  }

  /** True when `dir` is a job directory directly under the base directory. */
  private owns(dir: string): boolean {
    return dirname(resolve(dir)) === resolve(this.baseDir);
  }

  closeAll(): void {
    for (const io of this.byJid.values()) io.close();
    this.byJid.clear();
  }
}
