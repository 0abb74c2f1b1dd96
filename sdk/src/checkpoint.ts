/**
 * Checkpoint options and metadata shared by every runtime.
 */
import { z } from 'zod';
import { GpuCheckpointInfo } from './gpu';

/** How a checkpoint is stored: a plain image directory (`none`) or one archive file. */
export const Compression = z.enum(['none', 'tar', 'gzip', 'lz4', 'zlib', 'zstd']);
export type Compression = z.infer<typeof Compression>;

/** Accepted spellings of each compression. */
export const compressionAliases: Record<string, Compression> = { '': 'none', gz: 'gzip', zst: 'zstd' };

/** Parses a user-given compression name; unknown names fail with the list of known ones. */
export const CompressionInput = z
  .string()
  .transform((s) => compressionAliases[s.toLowerCase()] ?? s.toLowerCase())
  .pipe(
    z.enum(Compression.options, {
      error: (issue) => `unknown compression '${String(issue.input)}' (use one of: ${Compression.options.join(', ')})`,
    }),
  );

/** CRIU behaviours a dump or restore can ask for; runtimes pass on those they support. */
export const CriuOptions = z
  .object({
    leaveRunning: z.boolean().default(false),
    tcpEstablished: z.boolean().default(false),
    fileLocks: z.boolean().default(false),
    shellJob: z.boolean().default(false),
    extUnixSk: z.boolean().default(false),
    /** dump: leave half-open (in-flight) TCP connections out. */
    skipInFlight: z.boolean().optional(),
    /** dump and restore: files deleted but still open are kept through links (CRIU --link-remap). */
    linkRemap: z.boolean().optional(),
    /** restore: listening TCP sockets may exist already (CRIU --tcp-close restores established ones closed). */
    tcpClose: z.boolean().optional(),
    /** restore: the restored tree stays stopped (SIGSTOP) until it is continued. */
    leaveStopped: z.boolean().optional(),
    /** Resources outside the tree's namespaces, each as CRIU's --external takes it (`mnt[/path]:name`, …). */
    external: z.array(z.string().min(1)).optional(),
  })
  .strict();
export type CriuOptions = z.infer<typeof CriuOptions>;

/** One image file as the dump wrote it: a restore refuses images that differ (CRC-32, as the streamer's shards). */
export const ImageFileSum = z.object({
  /** Path relative to the image directory, `/`-separated. */
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  crc32: z.number().int().nonnegative(),
});
export type ImageFileSum = z.infer<typeof ImageFileSum>;

/**
 * Written by the core into every checkpoint (`cedana.json` at the image root) so that a restore, on this host or
 * another, knows which runtime made it and with which options.
 */
export const CheckpointMetadata = z.object({
  /** Format version of this file. */
  version: z.literal(1),
  /** Job type, which is the id of the runtime plugin that made the checkpoint. */
  type: z.string(),
  /** Version of that plugin. */
  runtimeVersion: z.string(),
  jid: z.string().optional(),
  pid: z.number().int(),
  host: z.string(),
  createdAt: z.number().int(),
  /** CRIU behaviours in force at dump time; restore must repeat some of them. */
  criu: CriuOptions,
  /** Runtime-specific details (a container id, a bundle path…), opaque to the core. */
  details: z.record(z.string(), z.unknown()).default({}),
  /** The GPU state of the tree, when it used a GPU: restore needs a GPU plugin and a GPU of the same kind. */
  gpu: GpuCheckpointInfo.optional(),
  /**
   * Every other file of the image directory with its size and checksum (`tar`, compressed and `none` checkpoints;
   * a sharded one has its shards' checksums in its manifest). Absent in checkpoints made before it existed.
   */
  files: z.array(ImageFileSum).optional(),
});
export type CheckpointMetadata = z.infer<typeof CheckpointMetadata>;

/** The file name of {@link CheckpointMetadata} inside an image directory. */
export const METADATA_FILE = 'cedana.json';
