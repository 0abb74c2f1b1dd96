/**
 * Reading a sharded checkpoint: the manifest is checked, the image files are created at their full size, and
 * every shard is decompressed by its own worker thread straight into its place in those files.
 */
import { mkdir, open } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import type { Readable } from 'node:stream';
import { CedanaError, ErrorCode, ShardManifest, type ShardReadSpec } from '@cedana-ts/sdk';
import { piecesOf } from './layout';
import { decompressShard } from './worker-link';

function corrupt(what: string, why: string): CedanaError {
  return new CedanaError(ErrorCode.CorruptCheckpoint, `${what} ${why}`, { hint: 'the checkpoint cannot be restored; use another one' });
}

/** A relative path that stays inside the directory, or an error. */
function safePath(what: string, path: string): string {
  const clean = normalize(path);
  if (isAbsolute(path) || clean === '..' || clean.startsWith('../') || clean.split('/').includes('..')) {
    throw corrupt(what, `has an unsafe path in its manifest ('${path}')`);
  }
  return clean;
}

/** Checks that the shards cover the files exactly, end to end. */
function checkCoverage(m: ShardManifest, what: string): void {
  const total = m.files.reduce((sum, f) => sum + f.size, 0);
  let at = 0;
  for (const s of m.shards) {
    if (s.offset !== at) throw corrupt(what, `has a manifest whose shard ${s.name} does not start where the one before ends`);
    at += s.length;
  }
  if (at !== total) throw corrupt(what, `has a manifest whose shards hold ${at} bytes, not the ${total} of its files`);
}

/** See {@link Streamer.read}. */
export async function readShards(spec: ShardReadSpec): Promise<void> {
  const { what } = spec;
  const parsed = ShardManifest.safeParse(spec.manifest);
  if (!parsed.success) throw corrupt(what, `has an unreadable manifest (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  const m = parsed.data;
  checkCoverage(m, what);
  for (const d of m.dirs) await mkdir(join(spec.destDir, safePath(what, d)), { recursive: true, mode: 0o700 });
  for (const f of m.files) {
    const fh = await open(join(spec.destDir, safePath(what, f.path)), 'wx', f.mode & 0o777);
    await fh.truncate(f.size);
    await fh.close();
  }

  // Every shard is opened before any is read: a missing one fails the restore before work is spent.
  const sources: Readable[] = [];
  try {
    for (const s of m.shards) {
      sources.push(
        await spec.open(s.name).catch((err: unknown) => {
          if ((err as { code?: unknown })?.code === ErrorCode.NotFound) {
            throw new CedanaError(ErrorCode.NotFound, `shard ${s.name} of ${what} is missing`, { hint: 'the checkpoint is incomplete; use another one' });
          }
          throw err;
        }),
      );
    }
  } catch (err) {
    for (const src of sources) src.destroy();
    throw err;
  }

  const raw = new Array<number>(m.shards.length).fill(0);
  const stored = new Array<number>(m.shards.length).fill(0);
  const report = () => spec.onProgress?.({ rawBytes: raw.reduce((a, b) => a + b, 0), storedBytes: stored.reduce((a, b) => a + b, 0) });
  const results = await Promise.allSettled(
    m.shards.map(async (s, i) => {
      try {
        const outcome = await decompressShard(spec.destDir, piecesOf(m.files, s.offset, s.length), m.compression, sources[i], (rw, st) => {
          raw[i] = rw;
          stored[i] = st;
          report();
        });
        if (outcome.stored !== s.stored || outcome.crc32 !== s.crc32) throw corrupt(`shard ${s.name} of ${what}`, `is corrupted (${outcome.stored} bytes, checksum ${outcome.crc32.toString(16)}; the manifest says ${s.stored} bytes, checksum ${s.crc32.toString(16)})`);
        if (outcome.raw !== s.length) throw corrupt(`shard ${s.name} of ${what}`, `is truncated (it holds ${outcome.raw} of ${s.length} bytes)`);
      } catch (err) {
        // One bad shard stops the others: their work would be thrown away.
        for (const src of sources) src.destroy();
        if (err instanceof CedanaError) throw err;
        throw corrupt(`shard ${s.name} of ${what}`, `is corrupted or truncated (${err instanceof Error ? err.message : String(err)})`);
      }
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // The first shard that failed on its own, not one stopped because another failed.
    const own = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !/Premature close|aborted|destroyed/i.test(String((r.reason as Error).message)));
    throw (own ?? failed).reason;
  }
}
