/**
 * CRIU's image files: a magic header (two 32-bit words: the common magic and the image's own), then entries, each
 * a 32-bit little-endian length and a protobuf message of that length.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { Message } from './protobuf';

/** The entries of the image `name` in `dir`; an empty list when the image is absent. */
export async function readImage(dir: string, name: string): Promise<Message[]> {
  const buf = await readFile(join(dir, name)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (!buf) return [];
  try {
    return imageEntries(buf);
  } catch (err) {
    throw new CedanaError(ErrorCode.CorruptCheckpoint, `image ${name} is unreadable (${(err as Error).message})`, { hint: 'the checkpoint is damaged; use another one' });
  }
}

/** The messages of an image file's bytes. */
export function imageEntries(buf: Buffer): Message[] {
  if (buf.length < 8) throw new Error('shorter than its magic header');
  const out: Message[] = [];
  let pos = 8;
  while (pos < buf.length) {
    if (pos + 4 > buf.length) throw new Error('truncated entry length');
    const len = buf.readUInt32LE(pos);
    pos += 4;
    if (pos + len > buf.length) throw new Error('truncated entry');
    out.push(Message.parse(buf.subarray(pos, pos + len)));
    pos += len;
  }
  return out;
}
