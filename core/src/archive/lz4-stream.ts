/**
 * LZ4 frame streams on top of lz4-napi's buffer API: compression writes one frame per chunk (a sequence of frames
 * is a valid .lz4 file, which the `lz4` tool reads), decompression splits the input at frame boundaries.
 * Memory is bounded by one frame.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { compressFrame, decompressFrame } from 'lz4-napi';

const FRAME_MAGIC = 0x184d2204;
const CHUNK = 4 * 1024 * 1024;

/** Compresses its input into a sequence of LZ4 frames of at most {@link CHUNK} input bytes each. */
export class Lz4Compress extends Transform {
  private pending: Buffer[] = [];
  private size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk);
    this.size += chunk.length;
    if (this.size < CHUNK) return cb();
    this.flushPending().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.flushPending().then(() => cb(), cb);
  }

  private async flushPending(): Promise<void> {
    if (this.size === 0) return;
    const data = Buffer.concat(this.pending, this.size);
    this.pending = [];
    this.size = 0;
    // The content checksum lets decompression notice a corrupted frame instead of returning wrong bytes.
    this.push(await compressFrame(data, { contentChecksum: true }));
  }
}

/** Length of the complete frame at the start of `buf`, or 0 when more bytes are needed. */
export function frameLength(buf: Buffer): number {
  if (buf.length < 7) return 0;
  const magic = buf.readUInt32LE(0);
  if (magic >= 0x184d2a50 && magic <= 0x184d2a5f) {
    const total = 8 + buf.readUInt32LE(4);
    return buf.length >= total ? total : 0;
  }
  if (magic !== FRAME_MAGIC) throw new Error('bad LZ4 frame magic');
  const flg = buf[4];
  const blockChecksum = (flg & 0x10) !== 0;
  const contentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const dictId = (flg & 0x01) !== 0;
  let off = 4 + 2 + (contentSize ? 8 : 0) + (dictId ? 4 : 0) + 1;
  for (;;) {
    if (buf.length < off + 4) return 0;
    const word = buf.readUInt32LE(off);
    off += 4;
    if (word === 0) break;
    off += (word & 0x7fffffff) + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) off += 4;
  return buf.length >= off ? off : 0;
}

/** Decompresses a sequence of LZ4 frames. */
export class Lz4Decompress extends Transform {
  private buf: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.drain().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.buf.length > 0) return cb(new Error('truncated LZ4 stream'));
    cb();
  }

  private async drain(): Promise<void> {
    for (;;) {
      const len = frameLength(this.buf);
      if (len === 0) return;
      const frame = this.buf.subarray(0, len);
      this.buf = this.buf.subarray(len);
      if (frame.readUInt32LE(0) !== FRAME_MAGIC) continue; // skippable frame
      this.push(await decompressFrame(frame));
    }
  }
}
