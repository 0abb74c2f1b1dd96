/**
 * How an image directory maps onto shards: its files laid end to end in name order, cut into N nearly equal
 * ranges, each range a list of pieces (a file, an offset in it, a length).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ShardedFile } from '@cedana-ts/sdk';

/** A contiguous part of one file. */
export interface Piece {
  /** Path relative to the image directory. */
  path: string;
  offset: number;
  length: number;
}

/** The directories and regular files under `root`, names sorted, paths relative and `/`-separated. */
export async function listTree(root: string, rel = ''): Promise<{ dirs: string[]; files: ShardedFile[] }> {
  const dirs: string[] = [];
  const files: ShardedFile[] = [];
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      dirs.push(path);
      const sub = await listTree(root, path);
      dirs.push(...sub.dirs);
      files.push(...sub.files);
    } else if (e.isFile()) {
      const st = await stat(join(root, path));
      files.push({ path, size: st.size, mode: st.mode & 0o7777 });
    }
  }
  return { dirs, files };
}

/** Cuts `[0, total)` into `n` ranges whose lengths differ by at most one byte. */
export function splitRanges(total: number, n: number): { offset: number; length: number }[] {
  const base = Math.floor(total / n);
  const extra = total % n;
  const out: { offset: number; length: number }[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const length = base + (i < extra ? 1 : 0);
    out.push({ offset, length });
    offset += length;
  }
  return out;
}

/** The pieces of `files` (laid end to end) that fall in `[offset, offset + length)`. */
export function piecesOf(files: readonly ShardedFile[], offset: number, length: number): Piece[] {
  const out: Piece[] = [];
  const end = offset + length;
  let fileStart = 0;
  for (const f of files) {
    const fileEnd = fileStart + f.size;
    const from = Math.max(offset, fileStart);
    const to = Math.min(end, fileEnd);
    if (to > from) out.push({ path: f.path, offset: from - fileStart, length: to - from });
    fileStart = fileEnd;
    if (fileStart >= end) break;
  }
  return out;
}
