/**
 * The GPU contract: what a GPU plugin (type `gpu`) provides so the core can checkpoint and restore processes that
 * hold device memory. The core calls it around CRIU:
 *
 *   dump:    checkpoint (lock, device memory → host memory) → CRIU dump → resume, when the process keeps running
 *   restore: prepareRestore (can this machine take it?) → CRIU restore → restore (host → device memory, unlock)
 *
 * A GPU plugin never leaves a process locked when it reports a failure: it puts it back the way it found it first.
 */
import { z } from 'zod';

/** One GPU as the driver lists it. */
export const GpuDevice = z.object({
  /** `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, as nvidia-smi prints it. */
  uuid: z.string().min(1),
  /** The product name (`NVIDIA H100 80GB HBM3`): a restore onto another GPU needs one of the same name. */
  name: z.string(),
  /** Total device memory. */
  memoryBytes: z.number().int().nonnegative(),
  /** Whether a checkpointed process had memory on it; absent when the plugin could not tell. */
  used: z.boolean().optional(),
});
export type GpuDevice = z.infer<typeof GpuDevice>;

/** What the device side of a dump cost. */
export const GpuDumpStats = z.object({
  /** CUDA processes found in the dumped tree. */
  processes: z.number().int().nonnegative(),
  /** Time to lock them (wait for submitted work, block new CUDA calls). */
  lockMs: z.number().nonnegative(),
  /** Time to move their device memory into host memory. */
  checkpointMs: z.number().nonnegative(),
  /** Device memory they held, when the plugin can measure it. */
  deviceMemoryBytes: z.number().int().nonnegative().nullable(),
});
export type GpuDumpStats = z.infer<typeof GpuDumpStats>;

/** What the device side of a restore (or of a resume after a dump) cost. */
export const GpuRestoreStats = z.object({
  processes: z.number().int().nonnegative(),
  /** Time to move device memory back onto the GPUs. */
  restoreMs: z.number().nonnegative(),
  /** Time to unlock the processes' CUDA calls. */
  unlockMs: z.number().nonnegative(),
  deviceMemoryBytes: z.number().int().nonnegative().nullable(),
  /** GPUs restored onto another GPU: old UUID → new UUID. Empty when every GPU was the same. */
  remapped: z.record(z.string(), z.string()).default({}),
});
export type GpuRestoreStats = z.infer<typeof GpuRestoreStats>;

/** Written into a checkpoint's metadata (`gpu`) by the core when the dumped tree used a GPU. */
export const GpuCheckpointInfo = z.object({
  /** The id of the GPU plugin that made it (`cuda`). */
  plugin: z.string(),
  /** The driver's API version at dump time (cuDriverGetVersion: 13000 for 13.0). */
  driverVersion: z.number().int(),
  /** The GPUs the dumping machine had. */
  devices: z.array(GpuDevice),
  /** The PIDs of the checkpointed CUDA processes, as they were at dump time. */
  pids: z.array(z.number().int().positive()),
  stats: GpuDumpStats,
});
export type GpuCheckpointInfo = z.infer<typeof GpuCheckpointInfo>;

/** A GPU plugin's main object (`PluginInstance.gpu`). */
export interface GpuCheckpointer {
  /**
   * Before CRIU dumps the tree rooted at `pid`: locks its CUDA processes and moves their device memory into host
   * memory, so CRIU sees no device. Returns null when no process of the tree uses CUDA. On failure the processes are
   * restored and unlocked before it throws (CHECKPOINT_FAILED).
   */
  checkpoint(pid: number): Promise<GpuCheckpointInfo | null>;
  /**
   * After a dump that left the tree running (`--leave-running`, or a CRIU failure): device memory back, unlock.
   */
  resume(pid: number, info: GpuCheckpointInfo): Promise<GpuRestoreStats>;
  /**
   * Before CRIU restores: fails (with the reason and what to do) when this machine cannot take the checkpoint's GPU
   * state — no GPU of the same kind, or a driver that cannot restore onto another GPU.
   */
  prepareRestore(info: GpuCheckpointInfo): Promise<void>;
  /**
   * After CRIU restored the tree rooted at `pid`: device memory back onto the GPUs (onto others of the same kind when
   * the recorded ones are not here), then unlock. On failure, unlocks what it can and throws (RESTORE_FAILED).
   */
  restore(pid: number, info: GpuCheckpointInfo): Promise<GpuRestoreStats>;
}
