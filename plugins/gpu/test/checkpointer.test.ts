/**
 * The orchestration of the driver's checkpoint calls, on real process trees, against the stand-in libcuda (a fake:
 * this machine has no GPU). The stand-in stops a process when it is locked and continues it when unlocked, so a
 * process left locked is visibly stopped.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { CedanaError, ErrorCode, type GpuCheckpointer, type GpuCheckpointInfo } from '@cedana-ts/sdk';
import { buildFakeCuda, FakeCudaState } from './helpers/fake-cuda';
import { initPlugin, logged, restoreEnv } from './helpers/context';

const H100 = 'NVIDIA H100 80GB HBM3';
const GPU_A = `00112233445566778899aabbccddeeff:${H100}:81559`;
const GPU_B = `ffeeddccbbaa99887766554433221100:${H100}:81559`;
const UUID_A = 'GPU-00112233-4455-6677-8899-aabbccddeeff';
const UUID_B = 'GPU-ffeeddcc-bbaa-9988-7766-554433221100';

function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0];
}

async function waitFor(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A bash parent with one sleeping child: a tree of two processes. */
async function startTree(): Promise<{ proc: ChildProcess; parent: number; child: number }> {
  const proc = spawn('bash', ['-c', 'sleep 600 & wait'], { stdio: 'ignore' });
  const parent = proc.pid!;
  let child = 0;
  await waitFor('the child', () => {
    const text = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim();
    child = Number(text.split(/\s+/)[0] || 0);
    return child > 0;
  });
  return { proc, parent, child };
}

function expectCedana(code: string, re: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof CedanaError, `expected a CedanaError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, re);
    return true;
  };
}

describe('gpu plugin: checkpoint and restore orchestration', () => {
  let lib: string;
  let state: FakeCudaState;
  let tree: Awaited<ReturnType<typeof startTree>>;
  let gpu: GpuCheckpointer;

  async function plugin(env: Record<string, string> = {}, settings: Record<string, unknown> = {}): Promise<GpuCheckpointer> {
    const instance = await initPlugin({ library: lib, nvml_library: lib, ...settings }, state.env({ FAKE_CUDA_GPUS: GPU_A, ...env }));
    return instance.gpu!;
  }

  before(() => {
    lib = buildFakeCuda();
  });
  beforeEach(async () => {
    state = new FakeCudaState();
    tree = await startTree();
    gpu = await plugin();
  });
  afterEach(() => {
    for (const pid of [tree.child, tree.parent]) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    restoreEnv();
    state.remove();
  });

  it('returns null for a tree without CUDA processes, and touches nothing', async () => {
    assert.equal(await gpu.checkpoint(tree.parent), null);
    assert.deepEqual(state.steps(), []);
  });

  it('leaves to CRIU a process the driver cannot answer about, unless it holds an NVIDIA device', async () => {
    state.fail('getRestoreThreadId');
    assert.equal(await gpu.checkpoint(tree.parent), null);
    assert.deepEqual(state.steps(), []);
    // A process with an NVIDIA device file open is clearly a GPU process: that is an error, before any lock.
    const device = `/dev/nvidia-cedana-test-${process.pid}`;
    writeFileSync(device, '');
    const fd = openSync(device, 'r');
    const holder = spawn('sleep', ['600'], { stdio: ['ignore', 'ignore', 'ignore', fd] });
    closeSync(fd);
    try {
      await waitFor('the holder to start', () => existsSync(`/proc/${holder.pid}/fd/3`));
      await assert.rejects(gpu.checkpoint(holder.pid!), expectCedana(ErrorCode.CheckpointFailed, new RegExp(`^PID ${holder.pid} uses an NVIDIA GPU, but the driver cannot say its checkpoint state: cuCheckpointProcessGetRestoreThreadId returned CUDA_ERROR_UNKNOWN$`)));
      assert.deepEqual(state.steps(), []);
    } finally {
      holder.kill('SIGKILL');
      rmSync(device, { force: true });
    }
  });

  it('locks every CUDA process before checkpointing any, with zeroed args and the lock timeout', async () => {
    state.addCudaPids([tree.parent, tree.child], 3 * 2 ** 30);
    const info = await gpu.checkpoint(tree.parent);
    assert.ok(info);
    assert.deepEqual(state.steps(), [`lock:${tree.parent}`, `lock:${tree.child}`, `checkpoint:${tree.parent}`, `checkpoint:${tree.child}`]);
    const calls = state.calls().filter((c) => c.call === 'lock' || c.call === 'checkpoint');
    assert.equal(calls[0].extra, 'timeoutMs=10000 args=zero');
    assert.equal(calls[2].extra, 'args=zero');
    // Locked processes were stopped by the stand-in before their checkpoint: the lock came first.
    assert.equal(calls[2].procState, 'T');
    assert.deepEqual(info.pids, [tree.parent, tree.child]);
    assert.equal(info.plugin, 'cuda');
    assert.equal(info.driverVersion, 13000);
    assert.deepEqual(info.devices, [{ uuid: UUID_A, name: H100, memoryBytes: 81559 * 2 ** 20, used: true }]);
    assert.equal(info.stats.processes, 2);
    assert.equal(info.stats.deviceMemoryBytes, 6 * 2 ** 30);
    assert.ok(info.stats.lockMs >= 0 && info.stats.checkpointMs >= 0);
    assert.equal(state.state(tree.parent), 2);
  });

  it('resumes after a dump that left the tree running: restore then unlock, and the tree runs again', async () => {
    state.addCudaPids([tree.parent, tree.child]);
    const info = (await gpu.checkpoint(tree.parent))!;
    state.clearCalls();
    const stats = await gpu.resume(tree.parent, info);
    assert.deepEqual(state.steps(), [`restore:${tree.parent}`, `restore:${tree.child}`, `unlock:${tree.parent}`, `unlock:${tree.child}`]);
    assert.match(state.calls().find((c) => c.call === 'restore')!.extra, /^pairs=0 \[\] args=zero$/);
    assert.equal(stats.processes, 2);
    assert.deepEqual(stats.remapped, {});
    assert.equal(stats.deviceMemoryBytes, 0, 'NVML answers, but no mem file was given');
    await waitFor('the tree to run', () => procState(tree.parent) !== 'T' && procState(tree.child) !== 'T');
  });

  it('unlocks every locked process when the first checkpoint fails', async () => {
    state.addCudaPids([tree.parent, tree.child]);
    state.fail('checkpoint');
    await assert.rejects(gpu.checkpoint(tree.parent), expectCedana(ErrorCode.CheckpointFailed, new RegExp(`^GPU checkpoint of PID ${tree.parent} failed: cuCheckpointProcessCheckpoint returned CUDA_ERROR_UNKNOWN; the process keeps running$`)));
    assert.deepEqual(state.steps(), [`lock:${tree.parent}`, `lock:${tree.child}`, `checkpoint:${tree.parent}`, `unlock:${tree.child}`, `unlock:${tree.parent}`]);
    assert.equal(state.state(tree.parent), 0);
    assert.equal(state.state(tree.child), 0);
    await waitFor('the tree to run', () => procState(tree.parent) !== 'T' && procState(tree.child) !== 'T');
  });

  it('restores and unlocks the processes already checkpointed when a later one fails', async () => {
    state.addCudaPids([tree.parent, tree.child]);
    state.fail('checkpoint', 2, tree.child);
    await assert.rejects(gpu.checkpoint(tree.parent), (err: CedanaError) => {
      assert.equal(err.code, ErrorCode.CheckpointFailed);
      assert.match(err.message, new RegExp(`^GPU checkpoint of PID ${tree.child} failed: cuCheckpointProcessCheckpoint returned CUresult 2; the process keeps running$`));
      assert.match(err.hint!, /UVM and IPC memory/);
      return true;
    });
    assert.deepEqual(state.steps(), [
      `lock:${tree.parent}`,
      `lock:${tree.child}`,
      `checkpoint:${tree.parent}`,
      `checkpoint:${tree.child}`,
      `unlock:${tree.child}`,
      `restore:${tree.parent}`,
      `unlock:${tree.parent}`,
    ]);
    await waitFor('the tree to run', () => procState(tree.parent) !== 'T' && procState(tree.child) !== 'T');
  });

  it('touches nothing more when the first lock fails, and says how to wait longer', async () => {
    state.addCudaPids([tree.parent]);
    state.fail('lock');
    await assert.rejects(gpu.checkpoint(tree.parent), (err: CedanaError) => {
      assert.equal(err.message, `GPU lock of PID ${tree.parent} failed: cuCheckpointProcessLock returned CUDA_ERROR_UNKNOWN; the process keeps running`);
      assert.match(err.hint!, /gpu\.lock_timeout_seconds \(10 s\)/);
      return true;
    });
    assert.deepEqual(state.steps(), [`lock:${tree.parent}`]);
  });

  it('refuses a process that something else holds locked, and leaves it as it is', async () => {
    state.addCudaPids([tree.parent]);
    const first = await gpu.checkpoint(tree.parent);
    assert.ok(first);
    state.clearCalls();
    await assert.rejects(gpu.checkpoint(tree.parent), expectCedana(ErrorCode.FailedPrecondition, new RegExp(`^PID ${tree.parent} is already checkpointed by the NVIDIA driver$`)));
    assert.deepEqual(state.steps(), []);
    assert.equal(state.state(tree.parent), 2);
  });

  it('unlocks the process when a checkpoint call times out', async () => {
    gpu = await plugin({}, { timeout_seconds: 0.3 });
    state.addCudaPids([tree.parent]);
    state.hang('checkpoint', 1);
    await assert.rejects(gpu.checkpoint(tree.parent), expectCedana(ErrorCode.CheckpointFailed, /^GPU checkpoint of PID \d+ failed: cuCheckpointProcessCheckpoint did not return within 0\.3 s; the process keeps running$/));
    assert.equal(state.state(tree.parent), 0);
    await waitFor('the process to run', () => procState(tree.parent) !== 'T');
  });

  it('unlocks the process when a lock that timed out succeeds late', async () => {
    gpu = await plugin({}, { timeout_seconds: 0.3, lock_timeout_seconds: 0.1 });
    state.addCudaPids([tree.parent]);
    state.hang('lock', 1);
    await assert.rejects(gpu.checkpoint(tree.parent), expectCedana(ErrorCode.CheckpointFailed, /^GPU lock of PID \d+ failed: cuCheckpointProcessLock did not return within 0\.4 s; the process keeps running$/));
    assert.equal(state.state(tree.parent), 0, 'the lock has not happened yet');
    await waitFor('the late lock', () => logged.some((l) => l === `warn: gpu: lock of PID ${tree.parent} finished after its timeout; putting the process back to running`), 5000);
    await waitFor('the late lock to be undone', () => state.state(tree.parent) === 0 && procState(tree.parent) !== 'T');
    assert.deepEqual(state.steps(), [`lock:${tree.parent}`, `unlock:${tree.parent}`]);
  });

  it('restores onto the same GPU without pairs, and reports the restore figures', async () => {
    state.addCudaPids([tree.parent], 2 ** 30);
    const info = (await gpu.checkpoint(tree.parent))!;
    await gpu.prepareRestore(info);
    state.clearCalls();
    const stats = await gpu.restore(tree.parent, info);
    assert.deepEqual(state.steps(), [`restore:${tree.parent}`, `unlock:${tree.parent}`]);
    assert.equal(stats.deviceMemoryBytes, 2 ** 30);
    assert.deepEqual(stats.remapped, {});
  });

  it('restores onto another GPU of the same kind by passing every GPU pair', async () => {
    state.addCudaPids([tree.parent]);
    const info = (await gpu.checkpoint(tree.parent))!;
    const other = await plugin({ FAKE_CUDA_GPUS: GPU_B });
    await other.prepareRestore(info);
    state.clearCalls();
    const stats = await other.restore(tree.parent, info);
    assert.deepEqual(stats.remapped, { [UUID_A]: UUID_B });
    assert.equal(state.calls().find((c) => c.call === 'restore')!.extra, `pairs=1 [${UUID_A}=${UUID_B}] args=zero`);
    assert.equal(state.state(tree.parent), 0);
  });

  it('refuses, before touching anything, a machine without a GPU of the same kind', async () => {
    state.addCudaPids([tree.parent]);
    const info = (await gpu.checkpoint(tree.parent))!;
    const other = await plugin({ FAKE_CUDA_GPUS: 'ffeeddccbbaa99887766554433221100:NVIDIA A100-SXM4-40GB:40960' });
    state.clearCalls();
    await assert.rejects(other.prepareRestore(info), expectCedana(ErrorCode.FailedPrecondition, new RegExp(`^the checkpoint's GPU ${UUID_A} \\(${H100}\\) is not on this machine and no other ${H100} is free here$`)));
    await assert.rejects(other.restore(tree.parent, info), expectCedana(ErrorCode.FailedPrecondition, /is not on this machine/));
    assert.deepEqual(state.steps(), []);
  });

  it('refuses to remap with a driver that cannot', async () => {
    state.addCudaPids([tree.parent]);
    const info = (await gpu.checkpoint(tree.parent))!;
    const old = await plugin({ FAKE_CUDA_GPUS: GPU_B, FAKE_CUDA_DRIVER_VERSION: '12080' });
    await assert.rejects(old.prepareRestore(info), (err: CedanaError) => {
      assert.equal(err.code, ErrorCode.Unsupported);
      assert.equal(err.message, `restoring onto another GPU (${UUID_A} is not here) needs driver API 13.0 or newer; this driver has 12.8`);
      assert.match(err.hint!, /upgrade the NVIDIA driver/);
      return true;
    });
  });

  it('reports a failed device restore, which leaves the process checkpointed and not unlocked', async () => {
    state.addCudaPids([tree.parent]);
    const info = (await gpu.checkpoint(tree.parent))!;
    state.clearCalls();
    state.fail('restore');
    await assert.rejects(gpu.restore(tree.parent, info), expectCedana(ErrorCode.RestoreFailed, new RegExp(`^GPU restore of PID ${tree.parent} failed: cuCheckpointProcessRestore returned CUDA_ERROR_UNKNOWN \\(PID ${tree.parent} stays checkpointed\\)$`)));
    assert.deepEqual(state.steps(), [`restore:${tree.parent}`]);
  });

  it('reports a failed unlock after the device memory came back', async () => {
    state.addCudaPids([tree.parent]);
    const info = (await gpu.checkpoint(tree.parent))!;
    state.clearCalls();
    state.fail('unlock');
    await assert.rejects(gpu.restore(tree.parent, info), expectCedana(ErrorCode.RestoreFailed, /^GPU unlock of PID \d+ failed: cuCheckpointProcessUnlock returned CUDA_ERROR_UNKNOWN/));
    assert.deepEqual(state.steps(), [`restore:${tree.parent}`, `unlock:${tree.parent}`, `unlock:${tree.parent}`]);
  });

  it('fails clearly when the restored tree holds no checkpointed CUDA process', async () => {
    const info: GpuCheckpointInfo = { plugin: 'cuda', driverVersion: 13000, devices: [], pids: [tree.parent], stats: { processes: 1, lockMs: 0, checkpointMs: 0, deviceMemoryBytes: null } };
    await assert.rejects(gpu.restore(tree.parent, info), expectCedana(ErrorCode.RestoreFailed, new RegExp(`^no checkpointed CUDA process in the tree of PID ${tree.parent} \\(the checkpoint had 1\\)$`)));
  });
});
