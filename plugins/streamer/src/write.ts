/**
 * Writing a sharded checkpoint: N uploads, N worker threads compressing in parallel, commits once every shard is
 * complete, then the manifest, which makes the checkpoint visible as complete.
 */
import { finished } from 'node:stream/promises';
import {
  CedanaError,
  ErrorCode,
  SHARD_MANIFEST,
  shardName,
  type ShardManifest,
  type ShardWriteSpec,
  type Upload,
} from '@cedana-ts/sdk';
import { listTree, piecesOf, splitRanges } from './layout';
import { compressShard } from './worker-link';

/** The most shards one checkpoint may have. */
export const MAX_STREAMS = 64;

function wrap(err: unknown, what: string): CedanaError {
  if (err instanceof CedanaError) return err;
  return new CedanaError(ErrorCode.CheckpointFailed, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** See {@link Streamer.write}. */
export async function writeShards(spec: ShardWriteSpec): Promise<ShardManifest> {
  const n = spec.streams;
  if (!Number.isInteger(n) || n < 1 || n > MAX_STREAMS) {
    throw new CedanaError(ErrorCode.InvalidArgument, `--streams ${n} is out of range`, { hint: `give a whole number from 1 to ${MAX_STREAMS}` });
  }
  const { dirs, files } = await listTree(spec.imagesDir);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  const ranges = splitRanges(total, n);
  const names = ranges.map((_, i) => shardName(i, spec.compression));
  const uploads: Upload[] = [];
  const raw = new Array<number>(n).fill(0);
  const stored = new Array<number>(n).fill(0);
  const report = () => spec.onProgress?.({ rawBytes: raw.reduce((a, b) => a + b, 0), storedBytes: stored.reduce((a, b) => a + b, 0) });
  try {
    for (const name of names) uploads.push(await spec.create(name));
    const outcomes = await Promise.all(
      ranges.map(async (r, i) => {
        const pieces = piecesOf(files, r.offset, r.length);
        try {
          const outcome = await compressShard(spec.imagesDir, pieces, spec.compression, uploads[i].stream, (rw, st) => {
            raw[i] = rw;
            stored[i] = st;
            report();
          });
          uploads[i].stream.end();
          await finished(uploads[i].stream);
          return outcome;
        } catch (err) {
          throw wrap(err, `writing shard ${names[i]} failed`);
        }
      }),
    );
    await Promise.all(uploads.map((u) => u.commit()));
    const manifest: ShardManifest = {
      version: 1,
      compression: spec.compression,
      dirs,
      files,
      shards: ranges.map((r, i) => ({ name: names[i], offset: r.offset, length: r.length, stored: outcomes[i].stored, crc32: outcomes[i].crc32 })),
    };
    const last = await spec.create(SHARD_MANIFEST);
    uploads.push(last);
    last.stream.end(JSON.stringify(manifest, null, 2));
    await finished(last.stream);
    await last.commit();
    return manifest;
  } catch (err) {
    await Promise.all(uploads.map((u) => u.abort().catch(() => undefined)));
    throw wrap(err, 'writing the shards failed');
  }
}
