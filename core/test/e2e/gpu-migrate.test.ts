/**
 * GPU checkpoints across machines, played by daemons with different (stand-in) GPUs: the stand-in libcuda is a
 * FAKE, since this machine has no GPU (see helpers/fake-cuda.ts). A CUDA process that is not a job is dumped by PID
 * on one daemon; daemons without the GPU plugin or without a GPU of the same kind refuse the checkpoint before CRIU
 * runs; a daemon with another GPU of the same kind restores it onto that GPU.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { assertCounts, dumpedPath, isAlive, job, lastNumber, PY_COUNTER, teardown } from '../helpers/e2e';
import { FakeCuda, GPU_A, GPU_A100, GPU_B } from '../helpers/fake-cuda';

const NO_DRIVER = '/nonexistent/libcuda.so.1';

describe('e2e: GPU checkpoints on other machines (stand-in driver)', function () {
  this.timeout(120_000);
  const envs: TestEnv[] = [];
  let cuda: FakeCuda;
  let pid = 0;

  async function daemon(extra: NodeJS.ProcessEnv): Promise<TestEnv> {
    const env = new TestEnv(extra);
    envs.push(env);
    await env.startDaemon();
    return env;
  }

  before(() => {
    cuda = new FakeCuda();
  });
  after(async () => {
    for (const env of envs) await teardown(env, pid ? [pid] : []);
    cuda.remove();
  });

  it('refuses GPU jobs on a machine without the GPU plugin, saying why', async () => {
    // A library path that exists nowhere: the plugin is skipped on any machine, GPU or not.
    const plain = await daemon({ CEDANA_GPU_LIBRARY: NO_DRIVER });
    const r = plain.cli(['run', 'process', '--gpu-enabled', '--', 'sleep', '60']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /a GPU job \(--gpu-enabled\) needs the GPU plugin, but the cuda GPU plugin is skipped here: no NVIDIA driver: \/nonexistent\/libcuda\.so\.1 cannot be loaded/);
    assert.match(r.stderr, /NVIDIA GPU with driver 570 or newer/);
    const m = plain.cli(['manage', 'process', String(process.pid), '--gpu-enabled']);
    assert.notEqual(m.code, 0);
    assert.match(m.stderr, /needs the GPU plugin, but the cuda GPU plugin is skipped here/);
    assert.match(plain.cli(['daemon', 'check']).stdout, /^CUDA\n\s+plugin\s+0\.1\.0 skipped\s+.*no NVIDIA driver: \/nonexistent\/libcuda\.so\.1 cannot be loaded/m);
  });

  it('moves a CUDA process (dumped by PID) onto another GPU of the same kind, and refuses where it cannot', async () => {
    const source = await daemon(cuda.env(GPU_A.spec));
    const dir = join(source.dir, 'checkpoints');
    const log = join(source.dir, 'cuda-process.log');
    const out = openSync(log, 'a');
    const child = spawn(PY_COUNTER[0], PY_COUNTER.slice(1), { detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    pid = child.pid!;
    cuda.addCudaPid(pid, 2 ** 30);
    await waitFor(() => lastNumber(log) >= 3, 10_000, 'the process to count');

    const path = dumpedPath(source.ok(['dump', 'process', String(pid), '--dir', dir, '--compression', 'gzip']));
    assert.deepEqual(cuda.steps(pid), ['lock', 'checkpoint']);
    await waitFor(() => !isAlive(pid), 10_000, 'the dumped process to be gone');
    // It is this test's child: its zombie holds the PID until this process's event loop reaps it, which a
    // blocking CLI call would prevent. The restore needs the PID free.
    await waitFor(() => !existsSync(`/proc/${pid}`), 10_000, 'the dumped process to be reaped');

    // No GPU plugin: refused before CRIU runs.
    const plain = envs[0];
    let r = plain.cli(['restore', 'process', '--path', path]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`restoring ${path.replace(/[.]/g, '\\.')}, which holds GPU state, needs the GPU plugin, but the cuda GPU plugin is skipped here`));
    assert.ok(!isAlive(pid), 'CRIU ran anyway');

    // Another kind of GPU: refused before CRIU runs, naming what is there.
    const a100 = await daemon(cuda.env(GPU_A100.spec));
    cuda.clearCalls();
    r = a100.cli(['restore', 'process', '--path', path]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`the checkpoint's GPU ${GPU_A.uuid} \\(NVIDIA H100 80GB HBM3\\) is not on this machine and no other NVIDIA H100 80GB HBM3 is free here: restore it on a machine with a NVIDIA H100 80GB HBM3 \\(GPUs here: NVIDIA A100-SXM4-40GB\\)`));
    assert.ok(!isAlive(pid), 'CRIU ran anyway');
    assert.deepEqual(cuda.steps(pid), []);

    // Same kind, another UUID: restored onto it, as a new GPU job.
    const target = await daemon(cuda.env(GPU_B.spec));
    const restored = target.ok(['restore', 'process', '--path', path]);
    assert.match(restored.trim(), new RegExp(`^Restored successfully, PID: ${pid}$`));
    assert.deepEqual(cuda.steps(pid), ['restore', 'unlock']);
    assert.equal(cuda.calls().find((c) => c.call === 'restore')!.extra, `pairs=1 [${GPU_A.uuid}=${GPU_B.uuid}] args=zero`);
    const at = lastNumber(log);
    await waitFor(() => lastNumber(log) >= at + 5, 10_000, 'the moved process to count');
    assertCounts(log);

    const jobs = JSON.parse(target.ok(['ps', '--json'])) as { jid: string; pid: number; gpu: boolean }[];
    const moved = jobs.find((j) => j.pid === pid);
    assert.ok(moved, 'the restored process is a job');
    assert.equal(moved.gpu, true);
    const details = (JSON.parse(target.ok(['job', 'inspect', moved.jid, '--json'])) as { details: { gpu: { restore: { remapped: Record<string, string> } } } }).details;
    assert.deepEqual(details.gpu.restore.remapped, { [GPU_A.uuid]: GPU_B.uuid });
    assert.ok(readFileSync(log, 'utf8').length > 0);
    assert.equal(job(target, moved.jid).status === 'halted', false);
  });
});
