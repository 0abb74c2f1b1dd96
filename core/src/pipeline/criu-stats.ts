/**
 * Reads CRIU's `stats-dump` image (written into the images directory at the end of every dump) for the figures
 * only CRIU knows: how long freezing took and how long the tree stayed frozen.
 *
 * The image is CRIU's usual framing — two 32-bit magic numbers, then a 32-bit length and a protobuf `StatsEntry`
 * whose field 1 is a `DumpStatsEntry` (times in microseconds: 1 freezing_time, 2 frozen_time, 3 memdump_time,
 * 4 memwrite_time; 7 pages_written), read with the images' protobuf reader (images/protobuf.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fieldMap as fields } from '../images/protobuf';

/** CRIU's own dump figures, in milliseconds. */
export interface CriuDumpStats {
  freezeMs: number;
  frozenMs: number;
  memdumpMs: number;
  memwriteMs: number;
  pagesWritten: number;
}

/** CRIU's dump figures from `imagesDir/stats-dump`, or null when the file is missing or unreadable. */
export async function readCriuDumpStats(imagesDir: string): Promise<CriuDumpStats | null> {
  const buf = await readFile(join(imagesDir, 'stats-dump')).catch(() => null);
  if (!buf || buf.length < 12) return null;
  try {
    const len = buf.readUInt32LE(8);
    const entry = fields(buf.subarray(12, 12 + len)).get(1);
    if (!Buffer.isBuffer(entry)) return null;
    const d = fields(entry);
    const ms = (f: number) => (typeof d.get(f) === 'number' ? (d.get(f) as number) / 1000 : 0);
    return { freezeMs: ms(1), frozenMs: ms(2), memdumpMs: ms(3), memwriteMs: ms(4), pagesWritten: typeof d.get(7) === 'number' ? (d.get(7) as number) : 0 };
  } catch {
    return null;
  }
}
