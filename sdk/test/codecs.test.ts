import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Compression } from '../src';
import { compressor, decompressor, frameLength } from '../src/codecs';

/** `size` bytes like a process's pages: blocks of random bytes between blocks of repeated text. */
function pagesLike(size: number): Buffer {
  const text = Buffer.from('counter=0042 state=running next=0x7ffd1234;'.repeat(2000));
  const out = Buffer.alloc(size);
  for (let at = 0, i = 0; at < size; at += 64 * 1024, i++) {
    const block = i % 3 === 0 ? randomBytes(64 * 1024) : text;
    block.copy(out, at, 0, Math.min(64 * 1024, size - at));
  }
  return out;
}

/** Runs `data` through `stream`, fed in pieces of the given sizes (cycled), and collects the output. */
async function through(stream: Transform, data: Buffer, pieces: number[] = [64 * 1024]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = pieces[i % pieces.length];
    parts.push(data.subarray(at, at + n));
    at += n;
  }
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), stream, async (src: AsyncIterable<Buffer>) => {
    for await (const b of src) out.push(b);
  });
  return Buffer.concat(out);
}

/** The frames of an LZ4 stream, by walking it with frameLength. */
function framesOf(lz4: Buffer): number[] {
  const lengths: number[] = [];
  for (let at = 0; at < lz4.length; ) {
    const n = frameLength(lz4.subarray(at));
    assert.ok(n > 0, `no whole frame at byte ${at}`);
    lengths.push(n);
    at += n;
  }
  return lengths;
}

describe('codecs', () => {
  // Pages of a process: some compressible, some not, larger than one LZ4 frame's input (4 MiB).
  const data = pagesLike(9 * 1024 * 1024 + 123);

  for (const c of Compression.options) {
    it(`${c}: what the compressor writes, the decompressor reads back, whatever the chunk sizes`, async () => {
      const packed = await through(compressor(c), data);
      if (c !== 'none' && c !== 'tar') assert.ok(packed.length < data.length * 0.8, `${c} did not compress: ${packed.length}`);
      // Odd, tiny and large pieces: frame and block boundaries fall anywhere inside a chunk.
      const back = await through(decompressor(c), packed, [1, 7, 4093, 1 << 20, 13]);
      assert.ok(back.equals(data));
    });
  }

  it('lz4: writes independent frames of at most 4 MiB of input, in order', async () => {
    const packed = await through(compressor('lz4'), data);
    const frames = framesOf(packed);
    assert.equal(frames.length, 3);
    // Each frame decompresses on its own to its part of the input.
    let at = 0;
    let offset = 0;
    for (const n of frames) {
      const part = await through(decompressor('lz4'), packed.subarray(at, at + n));
      assert.ok(part.equals(data.subarray(offset, offset + part.length)));
      at += n;
      offset += part.length;
    }
    assert.equal(offset, data.length);
  });

  it('lz4: skips skippable frames', async () => {
    const packed = await through(compressor('lz4'), data.subarray(0, 1000));
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(5, 4);
    const back = await through(decompressor('lz4'), Buffer.concat([skippable, packed]), [3]);
    assert.ok(back.equals(data.subarray(0, 1000)));
  });

  it('lz4: a truncated stream, a corrupted frame and bad magic are errors, not short or wrong output', async () => {
    const packed = await through(compressor('lz4'), data);
    await assert.rejects(through(decompressor('lz4'), packed.subarray(0, packed.length - 10)), /truncated LZ4 stream/);
    const corrupted = Buffer.from(packed);
    corrupted[Math.floor(corrupted.length / 2)] ^= 0xff;
    await assert.rejects(through(decompressor('lz4'), corrupted));
    await assert.rejects(through(decompressor('lz4'), randomBytes(64)), /bad LZ4 frame magic/);
  });

  it('zstd: a corrupted stream is an error (its frames carry a checksum)', async () => {
    const packed = await through(compressor('zstd'), data);
    const corrupted = Buffer.from(packed);
    corrupted[Math.floor(corrupted.length / 2)] ^= 0xff;
    await assert.rejects(through(decompressor('zstd'), corrupted));
  });

  it('frameLength asks for more bytes until a frame is whole', async () => {
    const packed = await through(compressor('lz4'), data.subarray(0, 5000));
    assert.equal(frameLength(packed), packed.length);
    for (const cut of [0, 3, 6, 7, 11, packed.length - 1]) assert.equal(frameLength(packed.subarray(0, cut)), 0, `cut at ${cut}`);
  });
});
