/**
 * The GPU steps of the dump and restore pipelines, around the runtime's CRIU call:
 *
 *   dump:    GPU checkpoint (lock → device memory to host) → CRIU dump → GPU resume when the tree keeps running
 *            (--leave-running, or CRIU failed) or when it is restored after a failed archive
 *   restore: can this machine take the GPU state? → CRIU restore → GPU restore (→ unlock); on failure the
 *            restored tree is killed, since a process whose GPU state is gone cannot run on
 *
 * Which tree uses a GPU is asked of the GPU plugin at every dump; a job marked `--gpu-enabled` needs the plugin.
 */
import {
  CedanaError,
  ErrorCode,
  type CheckpointMetadata,
  type DumpResult,
  type GpuCheckpointer,
  type GpuCheckpointInfo,
  type GpuRestoreStats,
  type Runtime,
  type StartedJob,
} from '@cedana-ts/sdk';
import type { Services } from './services';

/** The loaded GPU plugin's checkpointer, or null when none loaded. */
export function gpuCheckpointer(s: Services): GpuCheckpointer | null {
  return s.plugins.list().find((r) => r.status === 'ok' && r.manifest?.type === 'gpu' && r.instance?.gpu)?.instance?.gpu ?? null;
}

/** The GPU plugin's checkpointer for `what`, or UNSUPPORTED saying why there is none. */
export function requireGpu(s: Services, what: string): GpuCheckpointer {
  const gpu = gpuCheckpointer(s);
  if (gpu) return gpu;
  const rec = s.plugins.list().find((r) => r.manifest?.type === 'gpu');
  const why = rec ? `the ${rec.manifest!.id} GPU plugin is ${rec.status} here: ${rec.reason}` : 'no GPU plugin is installed';
  throw new CedanaError(ErrorCode.Unsupported, `${what} needs the GPU plugin, but ${why}`, {
    hint: 'GPU jobs need an NVIDIA GPU with driver 570 or newer (see docs/gpu.md)',
  });
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/** Merges GPU figures into a job's details (shown by `job inspect`). */
export function withGpuStats(details: Record<string, unknown>, stats: Record<string, unknown>): Record<string, unknown> {
  const old = details.gpu && typeof details.gpu === 'object' ? (details.gpu as Record<string, unknown>) : {};
  return { ...details, gpu: { ...old, ...stats } };
}

/** The device side of one dump. */
export class GpuDump {
  private constructor(
    private readonly gpu: GpuCheckpointer,
    private readonly pid: number,
    /** What the GPU checkpoint recorded: goes into the checkpoint's metadata. */
    readonly info: GpuCheckpointInfo,
  ) {}

  /**
   * Checkpoints the device memory of the tree rooted at `pid` when it uses a GPU; null when it does not (or when no
   * GPU plugin is loaded and the job is not a GPU job).
   */
  static async begin(s: Services, pid: number, jid: string | undefined): Promise<GpuDump | null> {
    const gpuJob = jid && s.store ? (await s.store.getJob(jid))?.gpu === 1 : false;
    const what = jid ? `job ${jid}` : `PID ${pid}`;
    const gpu = gpuJob ? requireGpu(s, `dumping GPU ${what}`) : gpuCheckpointer(s);
    if (!gpu) return null;
    const info = await gpu.checkpoint(pid);
    if (!info) {
      if (gpuJob) s.logger.warn(`${what} is a GPU job, but none of its processes uses CUDA now: dumping it without GPU state`);
      return null;
    }
    return new GpuDump(gpu, pid, info);
  }

  /** Runs the CRIU dump; brings the device memory back when the tree keeps running after it. */
  async around(dump: () => Promise<DumpResult>): Promise<DumpResult> {
    let result: DumpResult;
    try {
      result = await dump();
    } catch (err) {
      // CRIU let the tree go on running: its GPU state must come back, or it hangs in its next CUDA call.
      try {
        await this.gpu.resume(this.pid, this.info);
      } catch (resumeErr) {
        const code = err instanceof CedanaError ? err.code : ErrorCode.CheckpointFailed;
        throw new CedanaError(code, `${message(err)}; and the GPU state of PID ${this.pid} could not be brought back: ${message(resumeErr)}`, { cause: err });
      }
      throw err;
    }
    if (result.criu.leaveRunning) await this.gpu.resume(this.pid, this.info);
    return result;
  }

  /** After a failed archive, the tree was restored from its images: its device memory too. */
  async afterRecovery(pid: number): Promise<void> {
    await this.gpu.restore(pid, this.info);
  }

  /** Records the dump's GPU figures on the job. */
  async record(s: Services, jid: string | undefined): Promise<void> {
    const row = jid && s.store ? await s.store.getJob(jid) : undefined;
    if (!row || !s.store) return;
    const details = withGpuStats(JSON.parse(row.details) as Record<string, unknown>, { dump: this.info.stats });
    await s.store.updateJob(row.jid, { details: JSON.stringify(details) });
  }
}

/** The device side of one restore. */
export class GpuRestore {
  private constructor(
    private readonly gpu: GpuCheckpointer,
    private readonly info: GpuCheckpointInfo,
  ) {}

  /** For a checkpoint with GPU state: checks, before CRIU runs, that this machine can take it. Null otherwise. */
  static async prepare(s: Services, meta: CheckpointMetadata, path: string): Promise<GpuRestore | null> {
    if (!meta.gpu) return null;
    const gpu = requireGpu(s, `restoring ${path}, which holds GPU state,`);
    await gpu.prepareRestore(meta.gpu);
    return new GpuRestore(gpu, meta.gpu);
  }

  /** After CRIU restored the tree: its device memory back, then unlock. On failure the tree is killed. */
  async after(started: StartedJob, runtime: Runtime, s: Services): Promise<GpuRestoreStats> {
    try {
      return await this.gpu.restore(started.pid, this.info);
    } catch (err) {
      await runtime.kill({ jid: '', pid: started.pid, details: started.details }, 'SIGKILL').catch((killErr: unknown) => {
        s.logger.error(`could not kill PID ${started.pid} after its GPU restore failed: ${message(killErr)}`);
      });
      // Wait (briefly) until it is reaped, so its PID is free and its job reads `halted` when the error arrives.
      if (started.exited) await Promise.race([started.exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
      if (err instanceof CedanaError) throw err;
      throw new CedanaError(ErrorCode.RestoreFailed, `GPU restore of PID ${started.pid} failed: ${message(err)}`, { cause: err });
    }
  }

  /** The figures `job inspect` shows: the dump's (from the checkpoint) and this restore's. */
  stats(restore: GpuRestoreStats): Record<string, unknown> {
    return { dump: this.info.stats, restore };
  }
}
