/**
 * Checkpoint archive formats: file extensions, and recognition from the first bytes of a file.
 */
import type { Readable } from 'node:stream';
import { CedanaError, ErrorCode, type Compression } from '@cedana-ts/sdk';

/** File name suffix of each archive format. */
export const extensionOf: Record<Exclude<Compression, 'none'>, string> = {
  tar: '.tar',
  gzip: '.tar.gz',
  lz4: '.tar.lz4',
  zlib: '.tar.zlib',
};

/** Bytes needed to recognise every format (a tar header is 512 bytes; "ustar" sits at 257). */
export const SNIFF_BYTES = 512;

/** The archive format of a file that starts with `head`, or null when it is none we know. */
export function detectFormat(head: Buffer): Exclude<Compression, 'none'> | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x184d2204) return 'lz4';
  if (head.length >= 2 && head[0] === 0x78 && ((head[0] << 8) | head[1]) % 31 === 0) return 'zlib';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return null;
}

/** Reads up to `n` bytes from the start of a stream and puts them back, so the stream reads as before. */
export function peek(stream: Readable, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const done = (err?: Error) => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
      if (err) return reject(err);
      const head = Buffer.concat(chunks);
      if (head.length > 0) stream.unshift(head);
      resolve(head.subarray(0, n));
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (have < n && (chunk = stream.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        have += chunk.length;
      }
      if (have >= n) done();
    };
    const onEnd = () => done();
    const onError = (err: Error) => done(err);
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

/** Recognises the format of an archive stream from its first bytes (not its name). */
export async function sniffFormat(stream: Readable, what: string): Promise<Exclude<Compression, 'none'>> {
  const head = await peek(stream, SNIFF_BYTES);
  const format = detectFormat(head);
  if (!format) {
    throw new CedanaError(ErrorCode.CorruptCheckpoint, `${what} is not a checkpoint archive (unknown format)`, {
      hint: 'give the path of a checkpoint made by cedana dump',
    });
  }
  return format;
}
