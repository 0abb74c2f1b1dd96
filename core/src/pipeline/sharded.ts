/**
 * Sharded checkpoints (`dump --streams N`) as the dump and restore pipelines see them: where the shards go, and
 * how a checkpoint is recognised as sharded. The work itself is the streamer plugin's (see the SDK's streamer.ts).
 *
 * A local sharded checkpoint is a directory `<dir>/<name>/` written as `.<name>.partial-*` and renamed into place
 * when complete; in a storage it is the objects `<url>/<name>/img-*` and `<url>/<name>/shards.json`, the manifest
 * written last.
 */
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { partialPrefix } from '../daemon/scratch-cleaner';
import { extensionOf } from '../archive/formats';
import { CedanaError, ErrorCode, SHARD_MANIFEST, ShardManifest, type Compression, type ShardProgress, type Streamer } from '@cedana-ts/sdk';
import { localPath, notWritable } from '../storage/local';
import { schemeOf } from '../storage/registry';
import type { Services } from './services';

/** The loaded streamer plugin, or UNSUPPORTED saying why there is none. */
export function requireStreamer(s: Services): Streamer {
  const ok = s.plugins.list().find((r) => r.status === 'ok' && r.manifest?.type === 'streamer' && r.instance?.streamer);
  if (ok?.instance?.streamer) return ok.instance.streamer;
  const other = s.plugins.list().find((r) => r.manifest?.type === 'streamer');
  throw new CedanaError(ErrorCode.Unsupported, other ? `the streamer plugin is ${other.status}: ${other.reason}` : 'no streamer plugin is installed, so --streams cannot be used', {
    hint: 'install @cedana-ts/plugin-streamer, or dump with --streams 0',
  });
}

function joinUrl(base: string, name: string): string {
  return schemeOf(base) === 'file' ? join(localPath(base), name) : `${base.replace(/\/+$/, '')}/${name}`;
}

/** A sharded checkpoint being written. */
export interface ShardedTarget {
  /** The checkpoint's path or URL, recorded on the job. */
  url: string;
  /** Writes the shards and the manifest; returns the stored bytes. */
  write(imagesDir: string, onProgress?: (p: ShardProgress) => void): Promise<number>;
  /** Removes what a failed write left. */
  abort(): Promise<void>;
}

/** Checks the destination (before anything is frozen) and prepares it. */
export async function openShardedTarget(s: Services, dir: string, name: string, compression: Compression, streams: number): Promise<ShardedTarget> {
  const streamer = requireStreamer(s);
  const url = joinUrl(dir, name);
  if (schemeOf(dir) === 'file') {
    const parent = dirname(url);
    if (!(await stat(parent).catch(() => null))?.isDirectory()) throw new CedanaError(ErrorCode.NotFound, `directory ${parent} does not exist`, { hint: 'create it or choose another --dir' });
    if (await stat(url).catch(() => null)) throw new CedanaError(ErrorCode.AlreadyExists, `${url} exists already`, { hint: 'choose another --name' });
    const partial = await mkdtemp(join(parent, partialPrefix(basename(url)))).catch((err: NodeJS.ErrnoException) => {
      throw notWritable(parent, err);
    });
    const local = s.storage.for(partial);
    return {
      url,
      async write(imagesDir, onProgress) {
        const m = await streamer.write({ imagesDir, streams, compression, create: (n) => local.create(join(partial, n)), onProgress });
        await rename(partial, url);
        return m.shards.reduce((sum, sh) => sum + sh.stored, 0);
      },
      abort: () => rm(partial, { recursive: true, force: true }),
    };
  }
  const storage = s.storage.for(url);
  if (await storage.stat(joinUrl(url, SHARD_MANIFEST))) throw new CedanaError(ErrorCode.AlreadyExists, `${url} exists already`, { hint: 'choose another --name' });
  let written: string[] = [];
  return {
    url,
    async write(imagesDir, onProgress) {
      const m = await streamer.write({
        imagesDir,
        streams,
        compression,
        create: (n) => {
          written.push(joinUrl(url, n));
          return storage.create(joinUrl(url, n));
        },
        onProgress,
      });
      written = [];
      return m.shards.reduce((sum, sh) => sum + sh.stored, 0);
    },
    // Shards committed before a later one failed are deleted; the manifest was never written.
    abort: async () => {
      await Promise.all(written.map((u) => storage.delete(u).catch(() => undefined)));
    },
  };
}

/** The manifest of the sharded checkpoint at `path`, or null when it is not a sharded checkpoint. */
export async function shardManifestAt(s: Services, path: string): Promise<ShardManifest | null> {
  let text: string | null;
  if (schemeOf(path) === 'file') {
    text = await readFile(join(localPath(path), SHARD_MANIFEST), 'utf8').catch(() => null);
  } else {
    // An archive's name (x.tar.gz) is never a sharded checkpoint: asking for x.tar.gz/shards.json would only
    // make errors (an unreachable server, refused credentials) name a file the user never gave.
    if (Object.values(extensionOf).some((ext) => ext && path.endsWith(ext))) return null;
    const storage = s.storage.for(path);
    const url = joinUrl(path, SHARD_MANIFEST);
    if (!(await storage.stat(url))) return null;
    const chunks: Buffer[] = [];
    for await (const c of await storage.open(url)) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
  }
  if (text === null) return null;
  try {
    return ShardManifest.parse(JSON.parse(text));
  } catch (err) {
    throw new CedanaError(ErrorCode.CorruptCheckpoint, `${path} has an unreadable ${SHARD_MANIFEST} (${(err as Error).message.split('\n')[0]})`, {
      hint: 'the checkpoint cannot be restored; use another one',
    });
  }
}

/** Reads the sharded checkpoint at `path` into `destDir`, every shard in parallel. */
export async function readSharded(s: Services, path: string, manifest: ShardManifest, destDir: string, onProgress?: (p: ShardProgress) => void): Promise<void> {
  const storage = s.storage.for(path);
  await requireStreamer(s).read({ manifest, destDir, what: path, open: (n) => storage.open(joinUrl(path, n)), onProgress });
}
