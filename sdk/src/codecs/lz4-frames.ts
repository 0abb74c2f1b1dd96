/**
 * LZ4 frame streams on top of lz4-napi's buffer API: compression writes one frame per chunk (a sequence of frames
 * is a valid .lz4 file, which the `lz4` tool reads), decompression splits the input at frame boundaries.
 * Frames are independent, so several are (de)compressed at once on libuv's thread pool, and written out in
 * order: one stream keeps more than one core busy. Memory is bounded by the frames in flight.
 */
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import type * as Lz4Napi from 'lz4-napi';

/** lz4-napi, loaded on first use: a daemon that never sees lz4 does not carry its native library. */
let lz4: typeof Lz4Napi | undefined;
function lz4Napi(): typeof Lz4Napi {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (lz4 ??= require('lz4-napi') as typeof Lz4Napi);
}

const FRAME_MAGIC = 0x184d2204;
const CHUNK = 4 * 1024 * 1024;
/** Frames (de)compressed at once: the cores, up to libuv's default pool of 4 threads. */
const IN_FLIGHT = Math.max(2, Math.min(4, availableParallelism()));

/**
 * Work started in order, its results pushed in the same order: at most {@link IN_FLIGHT} at once. A failure is
 * kept and thrown at the next call, so the stream fails instead of writing past a frame that is missing.
 */
class OrderedWork {
  private readonly running: Promise<Buffer>[] = [];

  constructor(private readonly push: (b: Buffer) => void) {}

  /** Starts `job`; waits while too many are running, pushing what is done. */
  async add(job: Promise<Buffer>): Promise<void> {
    job.catch(() => undefined); // awaited below, in order; this only keeps it from counting as unhandled
    this.running.push(job);
    while (this.running.length >= IN_FLIGHT) this.push(await this.running.shift()!);
  }

  /** Waits for everything started, pushing it in order. */
  async drain(): Promise<void> {
    while (this.running.length > 0) this.push(await this.running.shift()!);
  }
}

/** Compresses its input into a sequence of LZ4 frames of at most {@link CHUNK} input bytes each. */
export class Lz4Compress extends Transform {
  private pending: Buffer[] = [];
  private size = 0;
  private readonly work = new OrderedWork((b) => this.push(b));

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk);
    this.size += chunk.length;
    if (this.size < CHUNK) return cb();
    this.startFrame().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.startFrame()
      .then(() => this.work.drain())
      .then(() => cb(), cb);
  }

  private async startFrame(): Promise<void> {
    if (this.size === 0) return;
    const data = Buffer.concat(this.pending, this.size);
    this.pending = [];
    this.size = 0;
    // The content checksum lets decompression notice a corrupted frame instead of returning wrong bytes.
    await this.work.add(lz4Napi().compressFrame(data, { contentChecksum: true }));
  }
}

/** Random access to bytes that may be spread over several buffers. */
interface ByteSource {
  readonly length: number;
  u8(i: number): number;
  u32(i: number): number;
}

/** Bytes received but not yet decoded, kept as the chunks they came in (no copying until a frame is whole). */
class ChunkQueue implements ByteSource {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  u8(i: number): number {
    for (const c of this.chunks) {
      if (i < c.length) return c[i];
      i -= c.length;
    }
    throw new RangeError('past the end');
  }

  u32(i: number): number {
    return (this.u8(i) | (this.u8(i + 1) << 8) | (this.u8(i + 2) << 16) | (this.u8(i + 3) << 24)) >>> 0;
  }

  /** Removes and returns the first `n` bytes as one buffer. */
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - done);
      c.copy(out, done, 0, k);
      done += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.length -= n;
    return out;
  }
}

function bufferSource(buf: Buffer): ByteSource {
  return { length: buf.length, u8: (i) => buf[i], u32: (i) => buf.readUInt32LE(i) };
}

/** Length of the complete frame at the start of `src`, or 0 when more bytes are needed. */
function frameLengthIn(src: ByteSource): number {
  if (src.length < 7) return 0;
  const magic = src.u32(0);
  if (magic >= 0x184d2a50 && magic <= 0x184d2a5f) {
    const total = 8 + src.u32(4);
    return src.length >= total ? total : 0;
  }
  if (magic !== FRAME_MAGIC) throw new Error('bad LZ4 frame magic');
  const flg = src.u8(4);
  const blockChecksum = (flg & 0x10) !== 0;
  const contentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const dictId = (flg & 0x01) !== 0;
  let off = 4 + 2 + (contentSize ? 8 : 0) + (dictId ? 4 : 0) + 1;
  for (;;) {
    if (src.length < off + 4) return 0;
    const word = src.u32(off);
    off += 4;
    if (word === 0) break;
    off += (word & 0x7fffffff) + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) off += 4;
  return src.length >= off ? off : 0;
}

/** Length of the complete frame at the start of `buf`, or 0 when more bytes are needed. */
export function frameLength(buf: Buffer): number {
  return frameLengthIn(bufferSource(buf));
}

/** Decompresses a sequence of LZ4 frames. */
export class Lz4Decompress extends Transform {
  private readonly queue = new ChunkQueue();
  private readonly work = new OrderedWork((b) => this.push(b));

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.queue.push(chunk);
    this.startFrames().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.queue.length > 0) return cb(new Error('truncated LZ4 stream'));
    this.work.drain().then(() => cb(), cb);
  }

  private async startFrames(): Promise<void> {
    for (;;) {
      const len = frameLengthIn(this.queue);
      if (len === 0) return;
      const frame = this.queue.take(len);
      if (frame.readUInt32LE(0) !== FRAME_MAGIC) continue; // skippable frame
      await this.work.add(lz4Napi().decompressFrame(frame));
    }
  }
}
