/**
 * The main-thread side of a shard's worker: starts it, moves its bytes between it and a storage stream, paces it
 * with credits, and turns its outcome into a promise.
 */
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { Compression } from '@cedana-ts/sdk';
import type { Piece } from './layout';
import type { FromWorker, WorkerJob } from './messages';

/** What a worker reports when it is done. */
export interface ShardOutcome {
  raw: number;
  stored: number;
  crc32: number;
}

/** Compressed chunks in flight per shard (each up to a frame or a zlib output chunk). */
const WINDOW = 8;

function startWorker(job: Omit<WorkerJob, 'codecs'>): Worker {
  const workerData: WorkerJob = { ...job, codecs: require.resolve('@cedana-ts/sdk/codecs') };
  return new Worker(join(__dirname, 'worker.js'), { workerData });
}

/** Settles with the worker's `done`, or rejects with its error (or its unexpected exit). */
function outcomeOf(worker: Worker, onMessage: (m: FromWorker) => void): Promise<ShardOutcome> {
  return new Promise<ShardOutcome>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      if (m.kind === 'done') resolve({ raw: m.raw, stored: m.stored, crc32: m.crc32 });
      else if (m.kind === 'error') reject(new Error(m.message));
      else onMessage(m);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`its worker thread stopped (exit code ${code})`)));
  });
}

/** Compresses `pieces` of `root` in a worker thread into `out` (which it does not end). */
export async function compressShard(
  root: string,
  pieces: Piece[],
  compression: Compression,
  out: Writable,
  onBytes: (raw: number, stored: number) => void,
): Promise<ShardOutcome> {
  const worker = startWorker({ kind: 'compress', compression, root, pieces, window: WINDOW });
  let stored = 0;
  let writeError: Error | null = null;
  try {
    const outcome = outcomeOf(worker, (m) => {
      if (m.kind !== 'data') return;
      const b = Buffer.from(m.buf);
      stored += b.length;
      onBytes(m.raw, stored);
      out.write(b, (err) => {
        if (err) writeError = err;
        else worker.postMessage({ kind: 'credit' });
      });
    });
    const onError = new Promise<never>((_, reject) => out.once('error', reject));
    const result = await Promise.race([outcome, onError]);
    if (writeError) throw writeError;
    return result;
  } finally {
    await worker.terminate();
  }
}

/** A copy of `b` that owns its whole ArrayBuffer, so it can be transferred without touching a shared pool. */
function transferable(b: Buffer): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
  const copy = new ArrayBuffer(b.length);
  new Uint8Array(copy).set(b);
  return copy;
}

/** Decompresses `source` in a worker thread into `pieces` of `root` (the files must exist at their full size). */
export async function decompressShard(
  root: string,
  pieces: Piece[],
  compression: Compression,
  source: Readable,
  onBytes: (raw: number, stored: number) => void,
): Promise<ShardOutcome> {
  const worker = startWorker({ kind: 'decompress', compression, root, pieces, window: WINDOW });
  let credits = WINDOW;
  let wake: (() => void) | null = null;
  let stored = 0;
  try {
    const outcome = outcomeOf(worker, (m) => {
      if (m.kind !== 'credit') return;
      credits++;
      onBytes(m.raw, stored);
      wake?.();
    });
    outcome.catch(() => wake?.());
    let failed: unknown = null;
    outcome.catch((err: unknown) => (failed = err));
    for await (const chunk of source as AsyncIterable<Buffer>) {
      while (credits === 0 && !failed) await new Promise<void>((r) => (wake = r));
      if (failed) break;
      credits--;
      stored += chunk.length;
      const ab = transferable(chunk);
      worker.postMessage({ kind: 'data', buf: ab }, [ab]);
    }
    worker.postMessage({ kind: 'end' });
    return await outcome;
  } finally {
    source.destroy();
    await worker.terminate();
  }
}
