/**
 * GPU jobs end to end: a real daemon, real CRIU, a real process marked as a GPU job, and the GPU plugin loaded
 * against the stand-in libcuda (a FAKE: this machine has no GPU or NVIDIA driver; see helpers/fake-cuda.ts). The
 * stand-in stops a process while it is locked, so a counter that keeps counting proves it was unlocked, and it
 * logs each call with the process's /proc state, which shows where CRIU ran in between.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { assertCounts, counter, dumpedPath, isAlive, job, lastNumber, procState, PYTHON, restoredPid, runPid, teardown, writeScript } from '../helpers/e2e';
import { FakeCuda, GPU_A } from '../helpers/fake-cuda';

const GiB = 2 ** 30;

interface Inspected {
  gpu: boolean;
  details: { gpu?: { dump?: Record<string, unknown>; restore?: Record<string, unknown> } };
}

function inspect(env: TestEnv, jid: string): Inspected {
  return JSON.parse(env.ok(['job', 'inspect', jid, '--json'])) as Inspected;
}

function checkpointsOf(env: TestEnv, jid: string): unknown[] {
  const out = env.ok(['job', 'checkpoints', jid, '--json']).trim();
  return out.startsWith('[') ? (JSON.parse(out) as unknown[]) : [];
}

describe('e2e: GPU jobs (stand-in driver)', function () {
  this.timeout(120_000);
  let env: TestEnv;
  let cuda: FakeCuda;

  before(async () => {
    cuda = new FakeCuda();
    env = new TestEnv(cuda.env());
    await env.startDaemon();
  });
  after(async () => {
    await teardown(env);
    cuda.remove();
  });

  /** Runs a counter as a GPU job and registers it with the stand-in. */
  async function gpuJob(jid: string, memBytes = 0): Promise<{ pid: number; log: string }> {
    const log = join(env.dir, `${jid}.log`);
    const pid = runPid(env.ok(['run', 'process', '--gpu-enabled', '--jid', jid, '--log', log, '--', ...counter()]));
    cuda.addCudaPid(pid, memBytes);
    await waitFor(() => lastNumber(log) >= 3, 10_000, `${jid} to count`);
    return { pid, log };
  }

  it('shows the plugin as loaded, with the GPUs it found', () => {
    // Other plugins may report errors here (no containerd running): only the CUDA section matters.
    const check = env.cli(['daemon', 'check']).stdout;
    assert.match(check, /^CUDA\n\s+plugin\s+0\.1\.0 ok\s+✔\n\s+nvidia driver\s+580\.65\.06\s+✔\n\s+gpus\s+NVIDIA H100 80GB HBM3\s+✔/m, check);
  });

  it('dumps a GPU job (lock → checkpoint → CRIU) and restores it (CRIU → restore → unlock); it counts on', async () => {
    const { pid, log } = await gpuJob('gpu-round', 3 * GiB);
    const ps = env.ok(['ps']);
    assert.match(ps, new RegExp(`^gpu-round\\s+process\\s+${pid}\\s+\\S+\\s+yes\\s`, 'm'), ps);

    const path = dumpedPath(env.ok(['dump', 'job', 'gpu-round']));
    const dumpCalls = cuda.calls().filter((c) => c.pid === pid && (c.call === 'lock' || c.call === 'checkpoint'));
    assert.deepEqual(dumpCalls.map((c) => c.call), ['lock', 'checkpoint']);
    assert.notEqual(dumpCalls[0].procState, 'T', 'the process ran until the lock');
    assert.equal(dumpCalls[1].procState, 'T', 'checkpointed while locked');
    assert.equal(dumpCalls[0].extra, 'timeoutMs=10000 args=zero');
    assert.equal(job(env, 'gpu-round').status, 'halted', 'CRIU dumped it after the GPU checkpoint');

    const meta = JSON.parse(readFileSync(join(path, 'cedana.json'), 'utf8')) as { gpu: { plugin: string; pids: number[]; devices: { uuid: string; used: boolean }[]; stats: { deviceMemoryBytes: number; processes: number } } };
    assert.equal(meta.gpu.plugin, 'cuda');
    assert.deepEqual(meta.gpu.pids, [pid]);
    assert.deepEqual(meta.gpu.devices.map((d) => [d.uuid, d.used]), [[GPU_A.uuid, true]]);
    assert.equal(meta.gpu.stats.deviceMemoryBytes, 3 * GiB);
    assert.equal(inspect(env, 'gpu-round').details.gpu?.dump?.deviceMemoryBytes, 3 * GiB);

    cuda.clearCalls();
    assert.equal(restoredPid(env.ok(['restore', 'job', 'gpu-round'])), pid);
    const restoreCalls = cuda.calls().filter((c) => c.pid === pid && (c.call === 'restore' || c.call === 'unlock'));
    assert.deepEqual(restoreCalls.map((c) => c.call), ['restore', 'unlock']);
    assert.equal(restoreCalls[0].procState, 'T', 'CRIU had restored the (locked) process before the device restore');
    assert.match(restoreCalls[0].extra, /^pairs=0 \[\]/, 'same GPU: no remapping');
    const atRestore = lastNumber(log);
    await waitFor(() => lastNumber(log) >= atRestore + 5, 10_000, 'the restored job to count');
    assertCounts(log);
    const seen = inspect(env, 'gpu-round');
    assert.equal(seen.gpu, true);
    assert.equal(seen.details.gpu?.dump?.deviceMemoryBytes, 3 * GiB);
    assert.equal(seen.details.gpu?.restore?.processes, 1);
    assert.equal(seen.details.gpu?.restore?.deviceMemoryBytes, 3 * GiB);
    assert.deepEqual(seen.details.gpu?.restore?.remapped, {});
  });

  it('keeps the job running when the GPU checkpoint fails, and records no checkpoint', async () => {
    const { pid, log } = await gpuJob('gpu-ckfail');
    cuda.fail('checkpoint');
    try {
      const r = env.cli(['dump', 'job', 'gpu-ckfail']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`GPU checkpoint of PID ${pid} failed: cuCheckpointProcessCheckpoint returned CUDA_ERROR_UNKNOWN; the process keeps running`));
    } finally {
      cuda.clearFailures();
    }
    assert.deepEqual(cuda.steps(pid), ['lock', 'checkpoint', 'unlock']);
    const at = lastNumber(log);
    await waitFor(() => lastNumber(log) >= at + 5, 10_000, 'the job to go on counting (unlocked)');
    assert.equal(job(env, 'gpu-ckfail').pid, pid);
    assert.deepEqual(checkpointsOf(env, 'gpu-ckfail'), []);
  });

  it('brings the GPU state back when CRIU fails, so the job keeps running', async () => {
    // A unix connection to a server outside the tree: CRIU refuses to dump it.
    const sock = join(env.dir, 'outside.sock');
    const server: Server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const log = join(env.dir, 'gpu-criufail.log');
      const script = writeScript(env, 'connected.py', `import socket, sys, time\ns = socket.socket(socket.AF_UNIX)\ns.connect(${JSON.stringify(sock)})\ni = 0\nwhile True:\n    print(i, flush=True)\n    i += 1\n    time.sleep(0.05)\n`);
      const pid = runPid(env.ok(['run', 'process', '--gpu-enabled', '--jid', 'gpu-criufail', '--log', log, '--', PYTHON, script]));
      cuda.addCudaPid(pid);
      await waitFor(() => lastNumber(log) >= 3, 10_000, 'the job to count');
      const r = env.cli(['dump', 'job', 'gpu-criufail']);
      assert.notEqual(r.code, 0, 'CRIU dumped a half unix connection');
      assert.match(r.stderr, /criu dump failed: .*Can't dump half of stream unix connection/);
      assert.deepEqual(cuda.steps(pid), ['lock', 'checkpoint', 'restore', 'unlock']);
      const at = lastNumber(log);
      await waitFor(() => lastNumber(log) >= at + 5, 10_000, 'the job to go on counting');
      assertCounts(log);
    } finally {
      server.close();
    }
  });

  it('--leave-running: checkpoints, resumes the GPU, and the job counts on', async () => {
    const { pid, log } = await gpuJob('gpu-live');
    dumpedPath(env.ok(['dump', 'job', 'gpu-live', '--leave-running']));
    assert.deepEqual(cuda.steps(pid), ['lock', 'checkpoint', 'restore', 'unlock']);
    const at = lastNumber(log);
    await waitFor(() => lastNumber(log) >= at + 5, 10_000, 'the job to go on counting');
    assert.equal(checkpointsOf(env, 'gpu-live').length, 1);
  });

  it('kills the restored process when its GPU restore fails; the checkpoint restores later', async () => {
    const { pid, log } = await gpuJob('gpu-rsfail');
    dumpedPath(env.ok(['dump', 'job', 'gpu-rsfail']));
    cuda.clearCalls();
    cuda.fail('restore');
    try {
      const r = env.cli(['restore', 'job', 'gpu-rsfail']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`GPU restore of PID ${pid} failed: cuCheckpointProcessRestore returned CUDA_ERROR_UNKNOWN \\(PID ${pid} stays checkpointed\\)`));
      assert.match(r.stderr, /the checkpoint is unchanged/);
    } finally {
      cuda.clearFailures();
    }
    await waitFor(() => !isAlive(pid), 10_000, 'the half-restored process to be killed');
    await waitFor(() => procState(pid) === null, 10_000, 'the killed process to be reaped');
    assert.equal(job(env, 'gpu-rsfail').status, 'halted');

    cuda.clearCalls();
    assert.equal(restoredPid(env.ok(['restore', 'job', 'gpu-rsfail'])), pid);
    assert.deepEqual(cuda.steps(pid), ['restore', 'unlock']);
    const at = lastNumber(log);
    await waitFor(() => lastNumber(log) >= at + 5, 10_000, 'the restored job to count');
    assertCounts(log);
  });

  it('dumps a plain job without GPU calls when none of its processes uses CUDA', async () => {
    const log = join(env.dir, 'plain.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'plain', '--log', log, '--', ...counter()]));
    await waitFor(() => lastNumber(log) >= 2, 10_000, 'the job to count');
    const path = dumpedPath(env.ok(['dump', 'job', 'plain']));
    assert.deepEqual(cuda.steps(pid), []);
    assert.equal((JSON.parse(readFileSync(join(path, 'cedana.json'), 'utf8')) as { gpu?: unknown }).gpu, undefined);
    assert.match(env.ok(['ps']), new RegExp(`^plain\\s+process\\s+${pid}\\s+\\S+\\s+no\\s`, 'm'));
  });

  it('marks a managed process as a GPU job with manage --gpu-enabled', async () => {
    const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
    try {
      const out = env.ok(['manage', 'process', String(child.pid), '--jid', 'managed-gpu', '--gpu-enabled']);
      assert.match(out, new RegExp(`Managing process PID ${child.pid}`));
      assert.equal(inspect(env, 'managed-gpu').gpu, true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
