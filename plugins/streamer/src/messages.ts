/**
 * Messages between the main thread and a shard's worker thread.
 */
import type { Compression } from '@cedana-ts/sdk';
import type { Piece } from './layout';

/** What a worker is started with (`workerData`). */
export interface WorkerJob {
  kind: 'compress' | 'decompress';
  compression: Compression;
  /** The image directory. */
  root: string;
  pieces: Piece[];
  /** Compressed chunks a compressing worker may send before the main thread has written one. */
  window: number;
  /**
   * Where the host's `@cedana-ts/sdk/codecs` is. The host answers for the SDK in the main thread only (a plugin
   * installs no copy of its own), so the worker loads the codecs from the path the main thread resolved.
   */
  codecs: string;
}

/** Main thread → worker. */
export type ToWorker =
  /** The main thread has written one chunk out: the compressing worker may send another. */
  | { kind: 'credit' }
  /** Stored bytes for a decompressing worker. */
  | { kind: 'data'; buf: ArrayBuffer }
  /** No more stored bytes. */
  | { kind: 'end' };

/** Worker → main thread. */
export type FromWorker =
  /** Compressed bytes; `raw` is how many image bytes have been read so far. */
  | { kind: 'data'; buf: ArrayBuffer; raw: number }
  /** A decompressing worker has taken one chunk; `raw` image bytes are written so far. */
  | { kind: 'credit'; raw: number }
  | { kind: 'done'; raw: number; stored: number; crc32: number }
  | { kind: 'error'; message: string };
