/**
 * The worker thread of one shard. `compress`: reads the shard's pieces from the image directory and sends the
 * compressed bytes to the main thread. `decompress`: takes the stored bytes from the main thread and writes the
 * decompressed bytes to their place in the image files. Both directions are paced by credits (see worker-link.ts),
 * so memory stays bounded whatever the speed of the storage.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import type { Compression } from '@cedana-ts/sdk';
import type * as Codecs from '@cedana-ts/sdk/codecs';
import type { Piece } from './layout';
import type { FromWorker, ToWorker, WorkerJob } from './messages';

const READ_CHUNK = 1 << 20;
const port = parentPort!;
const job = workerData as WorkerJob;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { compressor, decompressor } = require(job.codecs) as typeof Codecs;

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  try {
    port.postMessage(msg, transfer);
  } catch {
    // Memory owned by a native addon (lz4-napi's output) cannot be transferred; it is copied instead.
    port.postMessage(msg);
  }
}

/** A buffer the worker may hand over: a copy unless it owns its whole ArrayBuffer. */
function ownBuffer(b: Buffer): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
  const copy = new ArrayBuffer(b.length);
  new Uint8Array(copy).set(b);
  return copy;
}

async function* readPieces(root: string, pieces: Piece[]): AsyncGenerator<Buffer> {
  for (const p of pieces) {
    const fd = openSync(join(root, p.path), 'r');
    try {
      for (let done = 0; done < p.length; ) {
        const buf = Buffer.allocUnsafeSlow(Math.min(READ_CHUNK, p.length - done));
        const n = readSync(fd, buf, 0, buf.length, p.offset + done);
        if (n === 0) throw new Error(`${p.path} is shorter than when it was listed`);
        done += n;
        yield n === buf.length ? buf : buf.subarray(0, n);
      }
    } finally {
      closeSync(fd);
    }
  }
}

async function compress(compression: Compression, root: string, pieces: Piece[], window: number): Promise<void> {
  let credits = window;
  let wake: (() => void) | null = null;
  port.on('message', (m: ToWorker) => {
    if (m.kind !== 'credit') return;
    credits++;
    wake?.();
  });
  let raw = 0;
  let stored = 0;
  let crc = 0;
  const counted = async function* (src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const b of src) {
      raw += b.length;
      yield b;
    }
  };
  await pipeline(Readable.from(counted(readPieces(root, pieces))), compressor(compression), async (out: AsyncIterable<Buffer>) => {
    for await (const b of out) {
      while (credits === 0) await new Promise<void>((r) => (wake = r));
      wake = null;
      credits--;
      crc = crc32(b, crc);
      stored += b.length;
      const ab = ownBuffer(b);
      send({ kind: 'data', buf: ab, raw }, [ab]);
    }
  });
  send({ kind: 'done', raw, stored, crc32: crc });
}

/** Writes decompressed bytes to the pieces, in order. */
class PieceWriter {
  private index = 0;
  private done = 0;
  private fd = -1;
  written = 0;

  constructor(private readonly root: string, private readonly pieces: Piece[]) {}

  write(b: Buffer): void {
    let at = 0;
    while (at < b.length) {
      const p = this.pieces[this.index];
      if (!p) throw new Error('it holds more data than the manifest says');
      if (this.fd < 0) this.fd = openSync(join(this.root, p.path), 'r+');
      const n = Math.min(p.length - this.done, b.length - at);
      writeSync(this.fd, b, at, n, p.offset + this.done);
      at += n;
      this.done += n;
      this.written += n;
      if (this.done === p.length) this.next();
    }
  }

  private next(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.index++;
    this.done = 0;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

async function decompress(compression: Compression, root: string, pieces: Piece[]): Promise<void> {
  const writer = new PieceWriter(root, pieces);
  const codec = decompressor(compression);
  let stored = 0;
  let crc = 0;
  codec.on('data', (b: Buffer) => writer.write(b));
  const ended = new Promise<void>((resolve, reject) => {
    codec.on('end', resolve);
    codec.on('error', reject);
  });
  port.on('message', (m: ToWorker) => {
    if (m.kind === 'data') {
      const b = Buffer.from(m.buf);
      stored += b.length;
      crc = crc32(b, crc);
      codec.write(b, () => send({ kind: 'credit', raw: writer.written }));
    } else if (m.kind === 'end') {
      codec.end();
    }
  });
  try {
    await ended;
  } finally {
    writer.close();
  }
  send({ kind: 'done', raw: writer.written, stored, crc32: crc });
}

(job.kind === 'compress' ? compress(job.compression, job.root, job.pieces, job.window) : decompress(job.compression, job.root, job.pieces)).catch(
  (err: unknown) => send({ kind: 'error', message: err instanceof Error ? err.message : String(err) }),
);
