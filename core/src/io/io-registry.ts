/**
 * The open I/O of every attachable job in this daemon, by job id.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ExitStatus } from '@cedana-ts/sdk';
import { JobIO } from './job-io';

export class IoRegistry {
  private readonly byJid = new Map<string, JobIO>();

  /** `baseDir/<jid>` holds each job's FIFOs. */
  constructor(readonly baseDir: string) {}

  /** New FIFOs for a job about to start. */
  create(jid: string): JobIO {
    return this.open(jid, join(this.baseDir, jid));
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
    if (path && ![...this.byJid.values()].some((other) => other.paths.dir === path)) rmSync(path, { recursive: true, force: true });
  }

  closeAll(): void {
    for (const io of this.byJid.values()) io.close();
    this.byJid.clear();
  }
}
