/**
 * Unpacks a checkpoint archive into a directory, refusing anything that would land outside it.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import * as tar from 'tar-stream';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { decompressor } from '@cedana-ts/sdk/codecs';
import { sniffFormat } from './formats';
import { SumStream, type SumMap } from './checksums';

/** Where an entry named `name` may be written inside `dest`, or an error saying why it may not. */
export function safeTarget(dest: string, name: string): string {
  const clean = normalize(name);
  if (isAbsolute(name) || clean.split(sep).includes('..') || clean === '..') {
    throw new CedanaError(ErrorCode.CorruptCheckpoint, `unsafe archive entry '${name}': it would land outside the target directory`);
  }
  const target = resolve(dest, clean);
  const root = resolve(dest);
  if (target !== root && !target.startsWith(root + sep)) {
    throw new CedanaError(ErrorCode.CorruptCheckpoint, `unsafe archive entry '${name}': it would land outside the target directory`);
  }
  return target;
}

/** Counts the bytes that pass through, and tells `onBytes` of each chunk when given. */
class ByteCounter extends Transform {
  bytes = 0;

  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }
}

/**
 * Unpacks the entries; returns the size and CRC-32 of each file (taken as it is written) and the tar offset where
 * the last entry's data ends.
 */
async function extractEntries(extract: tar.Extract, dest: string): Promise<{ files: number; end: number; sums: SumMap }> {
  let files = 0;
  const sums: SumMap = new Map();
  let end = 0;
  for await (const entry of extract) {
    const { name, type, mode, size } = entry.header;
    // byteOffset (tar-stream): where the entry's data starts; the data is padded to 512-byte blocks.
    const start = (entry.header as { byteOffset?: number }).byteOffset ?? 0;
    end = Math.max(end, start + Math.ceil((size ?? 0) / 512) * 512);
    if (type !== 'file' && type !== 'directory') {
      entry.resume();
      throw new CedanaError(ErrorCode.CorruptCheckpoint, `unsafe archive entry '${name}': ${type} entries are not allowed in a checkpoint`);
    }
    const target = safeTarget(dest, name);
    if (type === 'directory') {
      await mkdir(target, { recursive: true, mode: 0o700 });
      entry.resume();
      continue;
    }
    await mkdir(join(target, '..'), { recursive: true, mode: 0o700 });
    const sum = new SumStream();
    await pipeline(entry, sum, createWriteStream(target, { mode: (mode ?? 0o600) & 0o777, flags: 'wx' }));
    const path = normalize(name).split(sep).filter(Boolean).join('/');
    sums.set(path, { path, size: sum.size, crc32: sum.crc });
    files++;
  }
  return { files, end, sums };
}

/**
 * Recognises the format of `source` from its first bytes and unpacks it into `dest` (which must exist and be
 * empty). `what` names the source in errors. Truncated or corrupted input fails with CORRUPT_CHECKPOINT.
 * `onBytes`, when given, hears of every chunk of the archive (as stored) read from `source`. Returns the size and
 * CRC-32 of every file unpacked, by relative path.
 */
export async function unpackArchive(source: Readable, dest: string, what: string, onBytes?: (n: number) => void): Promise<SumMap> {
  const { format, stream } = await sniffFormat(source, what);
  const extract = tar.extract();
  const counter = new ByteCounter();
  try {
    const [, { files, end, sums }] = await Promise.all([pipeline([stream, ...(onBytes ? [new ByteCounter(onBytes)] : []), decompressor(format), counter, extract]), extractEntries(extract, dest)]);
    // A tar ends with zero blocks after its last entry. Without them it was cut at an entry boundary, which the
    // tar reader cannot tell from the end: entries after the cut would be missing.
    if (counter.bytes <= end) throw new CedanaError(ErrorCode.CorruptCheckpoint, `${what} is truncated (it ends without the end-of-archive blocks)`, { hint: 'the checkpoint cannot be restored; use another one' });
    if (files === 0) throw new CedanaError(ErrorCode.CorruptCheckpoint, `${what} is an empty archive`);
    return sums;
  } catch (err) {
    stream.destroy();
    source.destroy();
    extract.destroy();
    if (err instanceof CedanaError) throw err;
    throw new CedanaError(ErrorCode.CorruptCheckpoint, `${what} is truncated or corrupted (${(err as Error).message})`, {
      hint: 'the checkpoint cannot be restored; use another one',
      cause: err,
    });
  }
}
