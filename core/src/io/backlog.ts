/**
 * Output a job wrote while nobody was attached, kept for the next attacher. Nothing is dropped: past its limit
 * the backlog says it is full, and its owner stops reading (the job's writes then wait).
 *
 * Reads from a FIFO come in pieces as small as the job's writes (a shell's `echo`: a dozen bytes), and each
 * piece is a Buffer of its own with far more overhead than data. So pieces of one stream are gathered into
 * blocks of about {@link BLOCK_BYTES}, and the limit holds for memory, not just for the count of data bytes.
 */
import type { OutputStream } from './job-io';

const BLOCK_BYTES = 64 * 1024;

interface Block {
  stream: OutputStream;
  parts: Buffer[];
  bytes: number;
}

export class Backlog {
  private blocks: Block[] = [];
  private bytes = 0;

  constructor(private readonly limit: number) {}

  push(stream: OutputStream, data: Buffer): void {
    let last = this.blocks[this.blocks.length - 1];
    if (!last || last.stream !== stream || last.bytes >= BLOCK_BYTES) {
      if (last && last.parts.length > 1) last.parts = [Buffer.concat(last.parts)];
      last = { stream, parts: [], bytes: 0 };
      this.blocks.push(last);
    }
    last.parts.push(data);
    last.bytes += data.length;
    this.bytes += data.length;
  }

  /** True once it holds `limit` bytes or more. */
  get full(): boolean {
    return this.bytes >= this.limit;
  }

  /** Everything kept, oldest first, as one buffer per block; empties the backlog. */
  take(): { stream: OutputStream; data: Buffer }[] {
    const out = this.blocks.map((b) => ({ stream: b.stream, data: b.parts.length === 1 ? b.parts[0] : Buffer.concat(b.parts) }));
    this.blocks = [];
    this.bytes = 0;
    return out;
  }
}
