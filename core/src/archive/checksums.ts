/**
 * Per-file sizes and CRC-32s of a checkpoint's images (the same checksum as the streamer's shards), computed while
 * packing and unpacking, and the check a restore makes against the ones recorded in the metadata.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { CedanaError, ErrorCode, METADATA_FILE, type ImageFileSum } from '@cedana-ts/sdk';

/** Sums by relative path. */
export type SumMap = Map<string, ImageFileSum>;

/** Passes bytes through and keeps their size and CRC-32. */
export class SumStream extends Transform {
  size = 0;
  crc = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    this.crc = crc32(chunk, this.crc);
    cb(null, chunk);
  }
}

/** Adds a chunk to a running sum. */
export function addChunk(sum: ImageFileSum, chunk: Buffer): void {
  sum.size += chunk.length;
  sum.crc32 = crc32(chunk, sum.crc32);
}

/** Sums of every regular file under `dir` except the metadata (an image directory written by CRIU). */
export async function sumTree(dir: string, root = dir, out: SumMap = new Map()): Promise<SumMap> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) await sumTree(full, root, out);
    else if (e.isFile()) {
      const path = relative(root, full).split(sep).join('/');
      if (path === METADATA_FILE) continue;
      const sum: ImageFileSum = { path, size: 0, crc32: 0 };
      for await (const chunk of createReadStream(full, { highWaterMark: 1 << 20 })) addChunk(sum, chunk as Buffer);
      out.set(path, sum);
    }
  }
  return out;
}

/** The sums in the order the metadata records them. */
export function sumList(sums: SumMap): ImageFileSum[] {
  return [...sums.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * Checks the images found (`actual`) against the metadata's record; CORRUPT_CHECKPOINT naming the first file that
 * is missing, of another size, with another checksum, or not recorded at all.
 */
export function verifySums(recorded: ImageFileSum[], actual: SumMap, what: string): void {
  const fail = (why: string) => new CedanaError(ErrorCode.CorruptCheckpoint, `${what} is corrupted: ${why}`, { hint: 'the checkpoint cannot be restored; use another one' });
  for (const want of recorded) {
    const got = actual.get(want.path);
    if (!got) throw fail(`${want.path} is missing`);
    if (got.size !== want.size) throw fail(`${want.path} has ${got.size} bytes, the checkpoint recorded ${want.size}`);
    if (got.crc32 !== want.crc32) throw fail(`${want.path} does not match its checksum (${got.crc32.toString(16)}, recorded ${want.crc32.toString(16)})`);
  }
  const known = new Set(recorded.map((f) => f.path));
  for (const path of actual.keys()) if (!known.has(path) && path !== METADATA_FILE) throw fail(`${path} was not part of it`);
}
