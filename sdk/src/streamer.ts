/**
 * The streamer contract: what a streamer plugin (type `streamer`) provides so the core can write a checkpoint as N
 * compressed shards in parallel (`cedana dump --streams N`) and read them back in parallel on restore.
 *
 * A sharded checkpoint is a folder (or an object prefix in a storage) holding `img-0 … img-<N-1>` and
 * {@link SHARD_MANIFEST}. The image directory's files are laid end to end in name order and cut into N ranges of
 * (nearly) equal length; shard `i` is range `i`, compressed on its own. The manifest, written last, says where
 * each file and each shard sits in that sequence, so a restore can decompress every shard at once and write its
 * bytes straight to their place in the files. A checkpoint without the manifest is incomplete.
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { Compression } from './checkpoint';
import type { Upload } from './storage';

/** The manifest's name inside a sharded checkpoint. Its presence is what makes a checkpoint sharded and complete. */
export const SHARD_MANIFEST = 'shards.json';

/** File name suffix of a shard for each compression (`none` and `tar` shards hold the bytes as they are). */
export const shardExtension: Record<Compression, string> = {
  none: '',
  tar: '',
  gzip: '.gz',
  lz4: '.lz4',
  zlib: '.zlib',
  zstd: '.zst',
};

/** The name of shard `index` (`img-0.lz4`). */
export function shardName(index: number, compression: Compression): string {
  return `img-${index}${shardExtension[compression]}`;
}

/** One regular file of the image directory. */
export const ShardedFile = z.object({
  /** Path relative to the image directory, `/`-separated, never absolute and without `..`. */
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  /** Permission bits. */
  mode: z.number().int().min(0).max(0o7777),
});
export type ShardedFile = z.infer<typeof ShardedFile>;

/** One shard: which range of the file sequence it holds, and what it looks like stored. */
export const ShardInfo = z.object({
  name: z.string().min(1),
  /** Where its range starts in the files laid end to end. */
  offset: z.number().int().nonnegative(),
  /** Uncompressed length of its range. */
  length: z.number().int().nonnegative(),
  /** Stored (compressed) size. */
  stored: z.number().int().nonnegative(),
  /** CRC-32 of the stored bytes: a corrupted shard is named before anything is restored from it. */
  crc32: z.number().int().nonnegative(),
});
export type ShardInfo = z.infer<typeof ShardInfo>;

/** The content of {@link SHARD_MANIFEST}. */
export const ShardManifest = z.object({
  version: z.literal(1),
  compression: Compression,
  /** Sub-directories, relative, parents before children. */
  dirs: z.array(z.string().min(1)).default([]),
  /** Files in the order they are laid end to end. */
  files: z.array(ShardedFile),
  shards: z.array(ShardInfo).min(1),
});
export type ShardManifest = z.infer<typeof ShardManifest>;

/** Bytes moved so far by a sharded write or read, for progress reports. */
export interface ShardProgress {
  /** Uncompressed bytes read from (write) or written to (read) the image directory. */
  rawBytes: number;
  /** Compressed bytes handed to (write) or taken from (read) the storage. */
  storedBytes: number;
}

/** What {@link Streamer.write} needs. */
export interface ShardWriteSpec {
  /** The image directory CRIU wrote (with the core's metadata file). It is only read. */
  imagesDir: string;
  /** How many shards, each compressed by its own worker thread and written through its own upload. */
  streams: number;
  compression: Compression;
  /** Starts an object named `name` (a shard, then the manifest) under the checkpoint's folder or prefix. */
  create(name: string): Promise<Upload>;
  /** Called now and then while bytes move. */
  onProgress?(p: ShardProgress): void;
}

/** What {@link Streamer.read} needs. */
export interface ShardReadSpec {
  manifest: ShardManifest;
  /** An empty directory that receives the image files. */
  destDir: string;
  /** Opens the object named `name` under the checkpoint's folder or prefix; NOT_FOUND when it is missing. */
  open(name: string): Promise<Readable>;
  /** Names the checkpoint in errors. */
  what: string;
  onProgress?(p: ShardProgress): void;
}

/** A streamer plugin's main object (`PluginInstance.streamer`). */
export interface Streamer {
  /**
   * Writes `imagesDir` as `streams` shards in parallel, commits them, then writes and commits the manifest, which
   * it returns. On failure every upload not yet committed is aborted before it throws.
   */
  write(spec: ShardWriteSpec): Promise<ShardManifest>;
  /**
   * Reads every shard in parallel into `destDir`. A missing shard fails with NOT_FOUND, a corrupted or truncated
   * one with CORRUPT_CHECKPOINT; both name the shard.
   */
  read(spec: ShardReadSpec): Promise<void>;
}
