/**
 * The CUDA side of a dump and a restore, for every CUDA process of a tree:
 *
 *   checkpoint: lock all → checkpoint all (device memory → host memory); on failure, restore and unlock each
 *   resume / restore: restore all (host → device memory, remapped onto other GPUs when needed) → unlock all
 *
 * All processes are locked before any is checkpointed, so processes that share work (NCCL peers) are caught at
 * the same point. A failure never leaves a process locked when it can be unlocked.
 */
import {
  CedanaError,
  ErrorCode,
  type GpuCheckpointInfo,
  type GpuCheckpointer,
  type GpuDevice,
  type GpuRestoreStats,
  type Logger,
} from '@cedana-ts/sdk';
import { CudaCallError, CudaTimeoutError, ProcessState, stateName, type CudaDriver } from './driver';
import type { Nvml } from './nvml';
import { planRemap } from './remap';
import type { GpuSettings } from './settings';
import { holdsNvidiaDevice, processTree } from './tree';

export interface CheckpointerDeps {
  pluginId: string;
  driver: CudaDriver;
  driverVersion: number;
  devices: GpuDevice[];
  nvml: Nvml | null;
  settings: GpuSettings;
  logger: Logger;
}

interface CudaProcess {
  pid: number;
  state: number;
}

function describe(err: unknown): string {
  if (err instanceof CudaCallError || err instanceof CudaTimeoutError) return err.message;
  if (err instanceof CedanaError) return err.message;
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

const elapsed = (since: number) => Math.round((performance.now() - since) * 10) / 10;

export class CudaCheckpointer implements GpuCheckpointer {
  constructor(private readonly deps: CheckpointerDeps) {}

  /**
   * The CUDA processes of the tree rooted at `root`, with their checkpoint state. A process the driver cannot answer
   * about is left to CRIU unless it holds an NVIDIA device (then CRIU would fail on it less clearly than this).
   */
  private async cudaProcesses(root: number): Promise<CudaProcess[]> {
    const out: CudaProcess[] = [];
    for (const pid of await processTree(root)) {
      try {
        if ((await this.deps.driver.restoreThreadId(pid)) === null) continue;
        out.push({ pid, state: await this.deps.driver.state(pid) });
      } catch (err) {
        if (await holdsNvidiaDevice(pid)) {
          throw new CedanaError(ErrorCode.CheckpointFailed, `PID ${pid} uses an NVIDIA GPU, but the driver cannot say its checkpoint state: ${describe(err)}`, {
            cause: err,
            hint: 'check the driver (nvidia-smi) and the process; nothing was locked',
          });
        }
        this.deps.logger.debug(`gpu: PID ${pid} left to CRIU (${describe(err)})`);
      }
    }
    return out;
  }

  /** Device memory of `pids` (NVML), and the GPUs they use; null figures when NVML is not there. */
  private async memory(pids: number[]): Promise<{ bytes: number | null; used: Set<string> | null }> {
    if (!this.deps.nvml) return { bytes: null, used: null };
    try {
      const rows = await this.deps.nvml.memoryOf(pids, this.deps.devices.map((d) => d.uuid));
      return { bytes: rows.reduce((n, r) => n + r.bytes, 0), used: new Set(rows.map((r) => r.uuid)) };
    } catch (err) {
      this.deps.logger.warn(`gpu: NVML could not measure device memory: ${describe(err)}`);
      return { bytes: null, used: null };
    }
  }

  /** Puts one process back to running from wherever it is; returns what went wrong, or null. */
  private async rollBackOne(pid: number, assumed: number): Promise<string | null> {
    const { driver } = this.deps;
    const state = await driver.state(pid).catch(() => assumed);
    try {
      if (state === ProcessState.Checkpointed) await driver.restore(pid);
      if (state === ProcessState.Checkpointed || state === ProcessState.Locked) await driver.unlock(pid);
      if (state === ProcessState.Failed) return `PID ${pid} is in the driver's failed state`;
      return null;
    } catch (err) {
      return `PID ${pid}: ${describe(err)}`;
    }
  }

  /** When a call that timed out succeeds after all, undo it so that the process is not left locked. */
  private late(pid: number, call: string): (code: number) => void {
    return (code) => {
      if (code !== 0) return;
      this.deps.logger.warn(`gpu: ${call} of PID ${pid} finished after its timeout; putting the process back to running`);
      void this.rollBackOne(pid, ProcessState.Locked).then((problem) => problem && this.deps.logger.error(`gpu: ${problem}`));
    };
  }

  async checkpoint(root: number): Promise<GpuCheckpointInfo | null> {
    const { driver, settings } = this.deps;
    const found = await this.cudaProcesses(root);
    if (found.length === 0) return null;
    const busy = found.find((p) => p.state !== ProcessState.Running);
    if (busy) {
      throw new CedanaError(ErrorCode.FailedPrecondition, `PID ${busy.pid} is already ${stateName(busy.state)} by the NVIDIA driver`, {
        hint: 'something else (cuda-checkpoint?) holds it: put it back to running first',
      });
    }
    const pids = found.map((p) => p.pid);
    const memory = await this.memory(pids);
    const reached = new Map<number, number>(pids.map((pid) => [pid, ProcessState.Running]));
    let step = 'lock';
    let current = pids[0];
    const start = performance.now();
    let lockMs = 0;
    try {
      for (const pid of pids) {
        current = pid;
        await driver.lock(pid, settings.lock_timeout_seconds * 1000, this.late(pid, 'lock'));
        reached.set(pid, ProcessState.Locked);
      }
      lockMs = elapsed(start);
      step = 'checkpoint';
      const checkpointStart = performance.now();
      for (const pid of pids) {
        current = pid;
        await driver.checkpoint(pid, this.late(pid, 'checkpoint'));
        reached.set(pid, ProcessState.Checkpointed);
      }
      const checkpointMs = elapsed(checkpointStart);
      this.deps.logger.info('gpu: checkpointed', { pids, lockMs, checkpointMs, deviceMemoryBytes: memory.bytes });
      return {
        plugin: this.deps.pluginId,
        driverVersion: this.deps.driverVersion,
        devices: this.deps.devices.map((d) => (memory.used ? { ...d, used: memory.used.has(d.uuid) } : { ...d })),
        pids,
        stats: { processes: pids.length, lockMs, checkpointMs, deviceMemoryBytes: memory.bytes },
      };
    } catch (err) {
      const problems: string[] = [];
      for (const pid of [...pids].reverse()) {
        const problem = await this.rollBackOne(pid, reached.get(pid)!);
        if (problem) problems.push(problem);
      }
      const after = problems.length === 0 ? 'the process keeps running' : `and it could not be put back to running (${problems.join('; ')})`;
      throw new CedanaError(ErrorCode.CheckpointFailed, `GPU ${step} of PID ${current} failed: ${describe(err)}; ${after}`, {
        cause: err,
        hint:
          step === 'lock'
            ? `its GPU work did not settle within gpu.lock_timeout_seconds (${settings.lock_timeout_seconds} s): try again, or raise it`
            : 'see docs/gpu.md for what the driver cannot checkpoint (UVM and IPC memory)',
      });
    }
  }

  async prepareRestore(info: GpuCheckpointInfo): Promise<void> {
    planRemap(info.devices, this.deps.devices, this.deps.driverVersion);
  }

  async resume(root: number, info: GpuCheckpointInfo): Promise<GpuRestoreStats> {
    return this.bringBack(root, info, [], {}, ErrorCode.CheckpointFailed);
  }

  async restore(root: number, info: GpuCheckpointInfo): Promise<GpuRestoreStats> {
    const plan = planRemap(info.devices, this.deps.devices, this.deps.driverVersion);
    return this.bringBack(root, info, plan.pairs, plan.remapped, ErrorCode.RestoreFailed);
  }

  /** Restores then unlocks every checkpointed CUDA process of the tree. */
  private async bringBack(
    root: number,
    info: GpuCheckpointInfo,
    pairs: { from: string; to: string }[],
    remapped: Record<string, string>,
    code: typeof ErrorCode.CheckpointFailed | typeof ErrorCode.RestoreFailed,
  ): Promise<GpuRestoreStats> {
    const { driver } = this.deps;
    const found = (await this.cudaProcesses(root)).filter((p) => p.state === ProcessState.Checkpointed || p.state === ProcessState.Locked);
    if (found.length === 0) {
      throw new CedanaError(code, `no checkpointed CUDA process in the tree of PID ${root} (the checkpoint had ${info.pids.length})`, {
        hint: 'the driver lost track of its state: the GPU memory of this process cannot be brought back',
      });
    }
    if (found.length !== info.pids.length) this.deps.logger.warn(`gpu: ${found.length} checkpointed CUDA processes under PID ${root}, the checkpoint had ${info.pids.length}`);
    let step = 'restore';
    let current = found[0].pid;
    const start = performance.now();
    let restoreMs = 0;
    try {
      for (const p of found) {
        current = p.pid;
        if (p.state === ProcessState.Checkpointed) await driver.restore(p.pid, pairs, this.late(p.pid, 'restore'));
      }
      restoreMs = elapsed(start);
      step = 'unlock';
      const unlockStart = performance.now();
      for (const p of found) {
        current = p.pid;
        await driver.unlock(p.pid);
      }
      const unlockMs = elapsed(unlockStart);
      const memory = await this.memory(found.map((p) => p.pid));
      this.deps.logger.info('gpu: restored', { pids: found.map((p) => p.pid), restoreMs, unlockMs, remapped });
      return { processes: found.length, restoreMs, unlockMs, deviceMemoryBytes: memory.bytes, remapped };
    } catch (err) {
      // Unlock whatever came back as far as locked; a process still checkpointed cannot run again.
      const problems: string[] = [];
      for (const p of found) {
        const state = await driver.state(p.pid).catch(() => -1);
        if (state === ProcessState.Locked) await driver.unlock(p.pid).catch((e: unknown) => problems.push(`PID ${p.pid}: ${describe(e)}`));
        else if (state !== ProcessState.Running) problems.push(`PID ${p.pid} stays ${stateName(state)}`);
      }
      throw new CedanaError(code, `GPU ${step} of PID ${current} failed: ${describe(err)}${problems.length ? ` (${problems.join('; ')})` : ''}`, {
        cause: err,
        hint: 'the checkpoint is unchanged: fix the cause (GPU memory free, same GPU kind) and restore again',
      });
    }
  }
}
