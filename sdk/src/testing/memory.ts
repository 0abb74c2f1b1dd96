/**
 * Helpers for a storage plugin's own tests of what its uploads hold in memory and how they fail: live buffer
 * memory after a full GC, a producer that writes with backpressure while sampling it, and a port where nothing
 * listens.
 */
import { createServer } from 'node:net';
import type { Writable } from 'node:stream';

/** Live buffer memory: what is left after a full garbage collection. Needs `--expose-gc` (mocha: `--node-option expose-gc`). */
export function liveBuffers(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('liveBuffers needs a full GC: run the tests with --expose-gc (mocha: --node-option expose-gc)');
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** Resolves on the first of `events` on `emitter`, and removes its listeners. */
function first(emitter: NodeJS.EventEmitter, events: string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const e of events) emitter.off(e, done);
      resolve();
    };
    for (const e of events) emitter.on(e, done);
  });
}

/**
 * Writes `total` bytes (fresh copies of `chunk`, as a real producer writes) into `stream`, waiting whenever it asks
 * to, and ends it unless `end` is false. Stops early when the stream is destroyed. Returns the peak of
 * {@link liveBuffers} sampled every 25 ms meanwhile, and how many samples were taken.
 */
export async function writeRepeated(stream: Writable, chunk: Buffer, total: number, end = true): Promise<{ peak: number; samples: number }> {
  let peak = 0;
  let samples = 0;
  const sample = setInterval(() => {
    peak = Math.max(peak, liveBuffers());
    samples++;
  }, 25);
  try {
    for (let sent = 0; sent < total && !stream.destroyed; sent += chunk.length) {
      if (!stream.write(Buffer.from(chunk))) await first(stream, ['drain', 'close']);
    }
    if (end && !stream.destroyed) {
      const ended = first(stream, ['finish', 'close']);
      stream.end();
      await ended;
    }
  } finally {
    clearInterval(sample);
  }
  return { peak, samples };
}

/** A TCP port on 127.0.0.1 where nothing listens (it was free a moment ago). */
export async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
