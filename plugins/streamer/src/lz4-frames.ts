/**
 * LZ4 for shards, on lz4-napi's buffer API: the compressor emits one LZ4 frame per input chunk (a sequence of frames
 * is a valid `.lz4` file), and the decompressor finds frame boundaries in arbitrary input chunks by walking the
 * block headers.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { compressFrame, decompressFrame } from 'lz4-napi';

const LZ4_MAGIC = 0x184d2204;
/** Input bytes per frame: large enough for a good ratio, small enough to bound memory per worker. */
const FRAME_INPUT = 4 << 20;

/** Compresses its input into LZ4 frames with content checksums. */
export class Lz4FrameCompress extends Transform {
  private parts: Buffer[] = [];
  private have = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(chunk);
    this.have += chunk.length;
    if (this.have >= FRAME_INPUT) this.emitFrame().then(() => cb(), cb);
    else cb();
  }

  override _flush(cb: TransformCallback): void {
    this.emitFrame().then(() => cb(), cb);
  }

  private async emitFrame(): Promise<void> {
    if (this.have === 0) return;
    const input = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.have);
    this.parts = [];
    this.have = 0;
    this.push(await compressFrame(input, { contentChecksum: true }));
  }
}

/** Where the LZ4 frame that starts `buf` ends, or -1 when `buf` does not hold all of it yet. */
export function lz4FrameEnd(buf: Buffer): number {
  if (buf.length < 7) return -1;
  if (buf.readUInt32LE(0) !== LZ4_MAGIC) throw new Error('not an LZ4 frame (bad magic number)');
  const flags = buf[4];
  const hasBlockSums = (flags & 0x10) !== 0;
  let pos = 6 + ((flags & 0x08) !== 0 ? 8 : 0) + ((flags & 0x01) !== 0 ? 4 : 0) + 1;
  for (;;) {
    if (pos + 4 > buf.length) return -1;
    const blockHeader = buf.readUInt32LE(pos);
    pos += 4;
    if (blockHeader === 0) break; // end mark
    pos += (blockHeader & 0x7fffffff) + (hasBlockSums ? 4 : 0);
  }
  if ((flags & 0x04) !== 0) pos += 4; // content checksum
  return pos <= buf.length ? pos : -1;
}

/** Decompresses a sequence of LZ4 frames; input that ends inside a frame is an error. */
export class Lz4FrameDecompress extends Transform {
  private pending: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.emitFrames().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    cb(this.pending.length > 0 ? new Error('the LZ4 data ends inside a frame') : null);
  }

  private async emitFrames(): Promise<void> {
    for (let end = lz4FrameEnd(this.pending); end > 0; end = lz4FrameEnd(this.pending)) {
      const frame = this.pending.subarray(0, end);
      this.pending = this.pending.subarray(end);
      this.push(await decompressFrame(frame));
    }
  }
}
