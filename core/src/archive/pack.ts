/**
 * Writes an image directory as a (compressed) tar stream, file by file, without holding a file in memory.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import * as tar from 'tar-stream';
import type { Compression, ImageFileSum } from '@cedana-ts/sdk';
import { compressor } from '@cedana-ts/sdk/codecs';
import { addChunk, type SumMap } from './checksums';

/** A file written after all the others, from the sums of those others (the checkpoint's metadata). */
export interface Trailer {
  name: string;
  body(sums: SumMap): Buffer | string;
}

/** Regular files and directories under `dir`, depth first, paths relative to `dir`. */
async function walk(dir: string, root = dir): Promise<{ path: string; dir: boolean }[]> {
  const out: { path: string; dir: boolean }[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) {
      out.push({ path: relative(root, full), dir: true });
      out.push(...(await walk(full, root)));
    } else if (e.isFile()) {
      out.push({ path: relative(root, full), dir: false });
    }
  }
  return out;
}

async function fillTar(pack: tar.Pack, dir: string, onBytes?: (n: number) => void, trailer?: Trailer): Promise<void> {
  const sums: SumMap = new Map();
  for (const item of await walk(dir)) {
    const full = join(dir, item.path);
    const st = await stat(full);
    if (item.path === trailer?.name) {
      // The trailer goes in last instead; its file's bytes still count, as the total was taken with it.
      onBytes?.(st.size);
      continue;
    }
    const header = { name: item.path, mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
    if (item.dir) {
      await new Promise<void>((res, rej) => pack.entry({ ...header, type: 'directory' }, (err) => (err ? rej(err) : res())));
      continue;
    }
    await new Promise<void>((res, rej) => {
      const entry = pack.entry({ ...header, type: 'file', size: st.size }, (err) => (err ? rej(err) : res()));
      // 1 MiB reads instead of Node's 64 KiB: far fewer chunks through tar and the compressor (lz4 ≈ 20 % faster).
      const src = createReadStream(full, { highWaterMark: 1 << 20 });
      src.on('error', rej);
      // The checksum is taken as the file is read for the archive: no second pass over the images.
      const sum: ImageFileSum = { path: item.path, size: 0, crc32: 0 };
      sums.set(sum.path, sum);
      src.on('data', (chunk) => {
        addChunk(sum, chunk as Buffer);
        onBytes?.(chunk.length);
      });
      // When the output fails mid-archive (an upload cut off), the entry is destroyed with that error: handle it
      // here, or it is an uncaught 'error' event that takes the daemon down.
      entry.on('error', (err: Error) => {
        src.destroy();
        rej(err);
      });
      src.pipe(entry);
    });
  }
  if (trailer) {
    const body = Buffer.from(trailer.body(sums));
    await new Promise<void>((res, rej) => pack.entry({ name: trailer.name, mode: 0o600, mtime: new Date(), type: 'file', size: body.length }, body, (err) => (err ? rej(err) : res())));
  }
  pack.finalize();
}

/**
 * Streams `dir` as a tar archive in `format` into `out`; resolves when `out` has taken the last byte. `onBytes`,
 * when given, hears of every chunk of file content read. `trailer`, when given, replaces the file of its name and
 * is written last, from the sizes and CRC-32s of every file before it.
 */
export async function packDirectory(dir: string, format: Exclude<Compression, 'none'>, out: Writable, onBytes?: (n: number) => void, trailer?: Trailer): Promise<void> {
  const pack = tar.pack();
  const filling = fillTar(pack, dir, onBytes, trailer).catch((err: Error) => pack.destroy(err));
  await Promise.all([pipeline(pack, compressor(format), out), filling]);
}
