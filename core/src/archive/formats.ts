/**
 * Checkpoint archive formats: file extensions, and recognition from the first bytes of a file.
 */
import { Readable } from 'node:stream';
import { CedanaError, ErrorCode, type Compression } from '@cedana-ts/sdk';

/** File name suffix of each archive format. */
export const extensionOf: Record<Exclude<Compression, 'none'>, string> = {
  tar: '.tar',
  gzip: '.tar.gz',
  lz4: '.tar.lz4',
  zlib: '.tar.zlib',
  zstd: '.tar.zst',
};

/** Bytes needed to recognise every format (a tar header is 512 bytes; "ustar" sits at 257). */
export const SNIFF_BYTES = 512;

/** The archive format of a file that starts with `head`, or null when it is none we know. */
export function detectFormat(head: Buffer): Exclude<Compression, 'none'> | null {
  // The tar magic first: a plain tar starts with its first entry's name, which may pass the zlib check below.
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x184d2204) return 'lz4';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 2 && head[0] === 0x78 && ((head[0] << 8) | head[1]) % 31 === 0) return 'zlib';
  return null;
}

/**
 * Reads up to `n` bytes from the start of a stream; returns them, and a stream that reads as the original did.
 * (Unshifting them back would fail for a stream shorter than `n`, which has ended by then.)
 */
export async function peek(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const source = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const next = await source.next();
    if (next.done) break;
    chunks.push(next.value);
    have += next.value.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      yield* chunks;
      for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
    } finally {
      await source.return?.();
    }
  }
  return { head: Buffer.concat(chunks).subarray(0, n), stream: Readable.from(replay(), { objectMode: false }) };
}

/** Recognises the format of an archive stream from its first bytes (not its name); read on from `stream`. */
export async function sniffFormat(source: Readable, what: string): Promise<{ format: Exclude<Compression, 'none'>; stream: Readable }> {
  const { head, stream } = await peek(source, SNIFF_BYTES);
  const format = detectFormat(head);
  if (!format) {
    stream.destroy();
    source.destroy(); // the replay may never have started, so it would not close the source itself
    throw new CedanaError(ErrorCode.CorruptCheckpoint, `${what} is not a checkpoint archive (unknown format)`, {
      hint: 'give the path of a checkpoint made by cedana dump',
    });
  }
  return { format, stream };
}
