/**
 * The containerd runtime end to end: a real daemon drives a real containerd (Debian's, on a private socket, root
 * and state) through its gRPC API. Images are OCI layouts of a busybox rootfs made here, imported with
 * `ctr image import`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, sleep, waitFor } from '../helpers/env';
import { assertCounts, dumpedPath, job, lastNumber, logLines, restoredPid, teardown } from '../helpers/e2e';
import { boxCounter, boxTcpPair, NetnsHolder, ociImageTar, PrivateContainerd } from '@cedana-ts/sdk/testing';

const COUNTER = 'docker.io/cedana/counter:1';
/**
 * The shim keeps runc's state under /run/containerd/runc/<namespace> whatever containerd's own state directory:
 * a namespace of this run's own keeps it apart from anything else there.
 */
const NS = `cedana-test-${randomBytes(3).toString('hex')}`;
const K8S_ID = `cd-k8s-${randomBytes(3).toString('hex')}`;
const TCP = 'docker.io/cedana/tcp:1';

function containerdPid(stdout: string): number {
  const m = /^Running managed containerd PID (\d+)$/m.exec(stdout);
  assert.ok(m, `unexpected run output: ${stdout}`);
  return Number(m[1]);
}

describe('containerd runtime (e2e)', function () {
  this.timeout(180_000);
  let base: string;
  let ctrd: PrivateContainerd;
  let netns: NetnsHolder;
  let env: TestEnv;

  /** `ctr tasks ls` of a namespace: container id → [pid, status]. */
  function tasks(ns = NS): Map<string, { pid: number; status: string }> {
    const out = ctrd.ctr(['tasks', 'ls'], ns).split('\n').slice(1).filter(Boolean);
    return new Map(out.map((l) => l.trim().split(/\s+/)).map(([id, pid, status]) => [id, { pid: Number(pid), status }]));
  }

  async function runCounter(id: string, extra: string[] = []): Promise<string> {
    const log = join(env.dir, `${id}.log`);
    const pid = containerdPid(env.ok(['run', 'containerd', '--image', COUNTER, '--id', id, '--jid', id, '--log', log, ...extra]));
    const ns = extra.includes('--namespace') ? extra[extra.indexOf('--namespace') + 1] : NS;
    assert.equal(tasks(ns).get(id)?.pid, pid, 'the job PID is the task PID');
    await waitFor(() => lastNumber(log) >= 5, 15_000, `${id} counting`);
    return log;
  }

  async function countsOn(log: string, from: number, n = 5): Promise<void> {
    await waitFor(() => lastNumber(log) >= from + n, 15_000, `counter past ${from + n} in ${log}`);
  }

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'cedana-cd-'));
    ctrd = new PrivateContainerd(join(base, 'ctrd'));
    await ctrd.start();
    for (const ns of [NS, 'k8s.io']) ctrd.ctr(['image', 'import', ociImageTar(join(base, `img-${ns}`), COUNTER, boxCounter())], ns);
    ctrd.ctr(['image', 'import', ociImageTar(join(base, 'img-tcp'), TCP, boxTcpPair())], NS);
    netns = await NetnsHolder.start();
    env = new TestEnv({ CEDANA_CONTAINERD_ADDRESS: ctrd.socket, CEDANA_CONTAINERD_NAMESPACE: NS });
    await env.startDaemon();
  });

  after(async () => {
    await teardown(env);
    await ctrd?.stop();
    netns?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('runs a container as a job of type containerd, its output in the job log', async () => {
    const log = await runCounter('cd-run');
    const j = job(env, 'cd-run');
    assert.equal(j.type, 'containerd');
    assert.equal(j.log, log);
    assert.match(env.ok(['ps']), /cd-run\s+containerd\s+\d+\s+(running|sleep)/);
    assertCounts(log);
  });

  it('dumps and restores a job in the same container: the counter carries on', async () => {
    const log = await runCounter('cd-same');
    dumpedPath(env.ok(['dump', 'job', 'cd-same']));
    assert.equal(tasks().get('cd-same'), undefined, 'the checkpoint ended and removed the task');
    const atDump = lastNumber(log);
    await sleep(300);
    assert.equal(lastNumber(log), atDump);
    const pid = restoredPid(env.ok(['restore', 'job', 'cd-same']));
    assert.equal(tasks().get('cd-same')?.pid, pid);
    await countsOn(log, atDump);
    assertCounts(log);
  });

  it('restores a checkpoint under a new container id as a new job', async () => {
    const log = await runCounter('cd-new');
    const dir = join(env.dir, 'ckpt-cd');
    mkdirSync(dir);
    const path = dumpedPath(env.ok(['dump', 'containerd', 'cd-new', '--dir', dir, '--compression', 'tar']));
    assert.ok(path.startsWith(dir));
    const atDump = lastNumber(log);
    const pid = restoredPid(env.ok(['restore', 'containerd', '--path', path, '--id', 'cd-new-2']));
    assert.equal(tasks().get('cd-new-2')?.pid, pid);
    const restored = (JSON.parse(env.ok(['ps', '--json'])) as { pid: number; type: string; log: string }[]).find((j) => j.pid === pid);
    assert.equal(restored?.type, 'containerd');
    assert.equal(restored?.log, log);
    await countsOn(log, atDump);
    assertCounts(log);
  });

  it('dumps with --leave-running: the container keeps counting', async () => {
    const log = await runCounter('cd-leave');
    env.ok(['dump', 'job', 'cd-leave', '--leave-running', '--compression', 'gzip']);
    assert.equal(tasks().get('cd-leave')?.status, 'RUNNING');
    await countsOn(log, lastNumber(log));
    assertCounts(log);
  });

  for (const compression of ['none', 'tar', 'gzip', 'lz4', 'zlib']) {
    it(`round-trips a checkpoint through --compression ${compression}`, async () => {
      const id = `cd-z-${compression}`;
      const log = await runCounter(id);
      env.ok(['dump', 'job', id, '--compression', compression]);
      const atDump = lastNumber(log);
      restoredPid(env.ok(['restore', 'job', id]));
      await countsOn(log, atDump, 3);
      assertCounts(log);
      env.ok(['job', 'kill', id, '--signal', 'KILL']);
    });
  }

  it('keeps an established TCP connection across dump and restore (container in a held network namespace)', async () => {
    const log = join(env.dir, 'cd-tcp.log');
    env.ok(['run', 'containerd', '--image', TCP, '--id', 'cd-tcp', '--jid', 'cd-tcp', '--log', log, '--network', netns.path]);
    const echoed = () => logLines(log).filter((l) => /^echo \d+$/.test(l)).map((l) => Number(l.slice(5)));
    await waitFor(() => echoed().length >= 5, 15_000, 'echoes');
    env.ok(['dump', 'job', 'cd-tcp', '--tcp-established']);
    const atDump = echoed().length;
    env.ok(['restore', 'job', 'cd-tcp']);
    await waitFor(() => echoed().length >= atDump + 5, 15_000, 'echoes after restore');
    const nums = echoed();
    nums.forEach((n, i) => assert.equal(n, i, `echo ${i} over the one connection (got ${nums.join(' ')})`));
  });

  it('works in a k8s.io-style namespace', async () => {
    const log = await runCounter(K8S_ID, ['--namespace', 'k8s.io']);
    assert.equal(tasks(NS).get(K8S_ID), undefined);
    env.ok(['dump', 'job', K8S_ID]);
    const atDump = lastNumber(log);
    const pid = restoredPid(env.ok(['restore', 'job', K8S_ID]));
    assert.equal(tasks('k8s.io').get(K8S_ID)?.pid, pid);
    await countsOn(log, atDump);
  });

  it('manages a container started outside cedana, and dumps and restores it', async () => {
    ctrd.ctr(['run', '-d', '--null-io', COUNTER, 'cd-outside'], NS);
    const pid = tasks().get('cd-outside')!.pid;
    assert.match(env.ok(['manage', 'containerd', 'cd-outside', '--jid', 'cd-managed']), new RegExp(`Managing containerd PID ${pid}`));
    env.ok(['dump', 'job', 'cd-managed']);
    assert.equal(tasks().get('cd-outside'), undefined);
    const restored = restoredPid(env.ok(['restore', 'job', 'cd-managed']));
    assert.equal(tasks().get('cd-outside')?.pid, restored);
  });

  it('dumps to a checkpoint image in containerd and restores from it under a new id', async () => {
    const log = await runCounter('cd-img');
    env.ok(['dump', 'containerd', 'cd-img', '--image', 'cedana/checkpoint:cd-img']);
    assert.match(ctrd.ctr(['image', 'ls', '-q'], NS), /cedana\/checkpoint:cd-img/);
    const atDump = lastNumber(log);
    const pid = restoredPid(env.ok(['restore', 'containerd', '--image', 'cedana/checkpoint:cd-img', '--id', 'cd-img-2']));
    assert.equal(tasks().get('cd-img-2')?.pid, pid);
    await countsOn(log, atDump);
    assertCounts(log);
  });

  it('run --env sets the container’s environment, --no-pivot reaches runc, --gpus is refused', async () => {
    const log = join(env.dir, 'cd-env.log');
    const script = 'echo "$FOO $BAZ $QUX"; sleep 30';
    const flags = ['--env', 'FOO=bar,BAZ=1', '--env', 'QUX=2', '--no-pivot'];
    const args = ['--id', 'cd-env', '--jid', 'cd-env', '--log', log, ...flags, '--', 'sh', '-c', script];
    env.ok(['run', 'containerd', '--image', COUNTER, ...args]);
    await waitFor(() => logLines(log).length > 0, 15_000, 'the container to print its environment');
    assert.deepEqual(logLines(log), ['bar 1 2']);
    const stateFile = `/run/containerd/runc/${NS}/cd-env/state.json`;
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { config: { no_pivot_root?: boolean } };
    assert.equal(state.config.no_pivot_root, true, 'runc made the container without pivot_root');
    env.ok(['job', 'kill', 'cd-env', '--signal', 'KILL']);
    const gpus = env.cli(['run', 'containerd', '--image', COUNTER, '--id', 'cd-gpu', '--gpus', '0']);
    assert.equal(gpus.code, 1);
    assert.match(gpus.stderr, /^Error: --gpus is not supported for containerd jobs: /);
    const badEnv = env.cli(['run', 'containerd', '--image', COUNTER, '--id', 'cd-badenv', '--env', 'NOVALUE']);
    assert.equal(badEnv.code, 1);
    assert.match(badEnv.stderr, /--env takes NAME=VALUE/);
  });

  it('kills a containerd job', async () => {
    await runCounter('cd-kill');
    env.ok(['job', 'kill', 'cd-kill', '--signal', 'KILL']);
    await waitFor(() => tasks().get('cd-kill')?.status !== 'RUNNING', 15_000, 'task stopped');
  });
});
