/**
 * The open I/O of every attachable job in this daemon, by job id.
 */
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

  remove(jid: string): void {
    this.byJid.get(jid)?.remove();
    this.byJid.delete(jid);
  }

  closeAll(): void {
    for (const io of this.byJid.values()) io.close();
    this.byJid.clear();
  }
}
