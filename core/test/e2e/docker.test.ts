/**
 * The docker runtime end to end: a real daemon drives a real dockerd (Debian's docker.io, experimental, on a
 * private socket and data root, over a private containerd) through the Engine API. Images are imported from a
 * busybox rootfs made here; containers have no network but loopback (`--network none`).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, sleep, waitFor } from '../helpers/env';
import { assertCounts, dumpedPath, job, lastNumber, logLines, restoredPid, teardown } from '../helpers/e2e';
import { boxCounter, boxTcpPair, PrivateContainerd, PrivateDockerd, runcWithCriuConfig } from '@cedana-ts/sdk/testing';

function dockerPid(stdout: string): number {
  const m = /^Running managed docker PID (\d+)$/m.exec(stdout);
  assert.ok(m, `unexpected run output: ${stdout}`);
  return Number(m[1]);
}

describe('docker runtime (e2e)', function () {
  this.timeout(180_000);
  let base: string;
  let ctrd: PrivateContainerd;
  let dockerd: PrivateDockerd;
  let env: TestEnv;

  /** `GET /containers/{id}/json` of the private dockerd. */
  async function inspect(id: string): Promise<{ Id: string; State: { Running: boolean; Pid: number; Status: string } } | null> {
    const r = await dockerd.api('GET', `/containers/${id}/json`);
    return r.status === 200 ? (JSON.parse(r.body) as { Id: string; State: { Running: boolean; Pid: number; Status: string } }) : null;
  }

  async function runCounter(name: string): Promise<string> {
    const log = join(env.dir, `${name}.log`);
    const pid = dockerPid(env.ok(['run', 'docker', '--image', 'cedana-counter:1', '--name', name, '--network', 'none', '--jid', name, '--log', log]));
    assert.equal((await inspect(name))?.State.Pid, pid, 'the job PID is the container init');
    await waitFor(() => lastNumber(log) >= 5, 15_000, `${name} counting`);
    return log;
  }

  async function countsOn(log: string, from: number, n = 5): Promise<void> {
    await waitFor(() => lastNumber(log) >= from + n, 15_000, `counter past ${from + n} in ${log}`);
  }

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'cedana-dk-'));
    ctrd = new PrivateContainerd(join(base, 'ctrd'));
    await ctrd.start();
    dockerd = new PrivateDockerd(join(base, 'dockerd'), ctrd.socket);
    await dockerd.start(runcWithCriuConfig(join(base, 'runc')));
    await dockerd.importBusybox(join(base, 'img1'), 'cedana-counter:1', boxCounter());
    await dockerd.importBusybox(join(base, 'img2'), 'cedana-tcp:1', boxTcpPair());
    env = new TestEnv({ CEDANA_DOCKER_ADDRESS: dockerd.socket });
    await env.startDaemon();
  });

  after(async () => {
    await teardown(env);
    await dockerd?.stop();
    await ctrd?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('runs a container as a job of type docker, its output in the job log', async () => {
    const log = await runCounter('dk-run');
    const j = job(env, 'dk-run');
    assert.equal(j.type, 'docker');
    assert.equal(j.log, log);
    assert.match(env.ok(['ps']), /dk-run\s+docker\s+\d+\s+(running|sleep)/);
    assertCounts(log);
  });

  it('dumps and restores a job in the same container: the counter carries on', async () => {
    const log = await runCounter('dk-same');
    const before = (await inspect('dk-same'))!.Id;
    const path = dumpedPath(env.ok(['dump', 'job', 'dk-same']));
    assert.ok(path.length > 0);
    assert.equal((await inspect('dk-same'))?.State.Running, false, 'the checkpoint stopped the container');
    const atDump = lastNumber(log);
    await sleep(300);
    assert.equal(lastNumber(log), atDump);
    const pid = restoredPid(env.ok(['restore', 'job', 'dk-same']));
    const after = (await inspect('dk-same'))!;
    assert.equal(after.Id, before, 'the same container');
    assert.equal(after.State.Pid, pid);
    await countsOn(log, atDump);
    assertCounts(log);
  });

  it('restores a checkpoint into a new container with --name', async () => {
    const log = await runCounter('dk-new');
    const dir = join(env.dir, 'ckpt-dk');
    mkdirSync(dir);
    const path = dumpedPath(env.ok(['dump', 'docker', 'dk-new', '--dir', dir, '--compression', 'tar']));
    assert.ok(path.startsWith(dir));
    const atDump = lastNumber(log);
    const pid = restoredPid(env.ok(['restore', 'docker', '--path', path, '--name', 'dk-new-2']));
    const c = (await inspect('dk-new-2'))!;
    assert.equal(c.State.Pid, pid);
    assert.notEqual(c.Id, (await inspect('dk-new'))!.Id);
    const restored = (JSON.parse(env.ok(['ps', '--json'])) as { pid: number; type: string; log: string }[]).find((j) => j.pid === pid);
    assert.equal(restored?.type, 'docker');
    assert.equal(restored?.log, log);
    await countsOn(log, atDump);
    assertCounts(log);
  });

  it('dumps with --leave-running: the container keeps counting', async () => {
    const log = await runCounter('dk-leave');
    env.ok(['dump', 'job', 'dk-leave', '--leave-running', '--compression', 'gzip']);
    assert.equal((await inspect('dk-leave'))?.State.Running, true);
    await countsOn(log, lastNumber(log));
    assertCounts(log);
  });

  for (const compression of ['none', 'tar', 'gzip', 'lz4', 'zlib']) {
    it(`round-trips a checkpoint through --compression ${compression}`, async () => {
      const name = `dk-z-${compression}`;
      const log = await runCounter(name);
      env.ok(['dump', 'job', name, '--compression', compression]);
      const atDump = lastNumber(log);
      restoredPid(env.ok(['restore', 'job', name]));
      await countsOn(log, atDump, 3);
      assertCounts(log);
      env.ok(['job', 'kill', name, '--signal', 'KILL']);
    });
  }

  it('keeps an established TCP connection inside the container across dump and restore', async () => {
    const log = join(env.dir, 'dk-tcp.log');
    env.ok(['run', 'docker', '--image', 'cedana-tcp:1', '--name', 'dk-tcp', '--network', 'none', '--jid', 'dk-tcp', '--log', log]);
    const echoed = () => logLines(log).filter((l) => /^echo \d+$/.test(l)).map((l) => Number(l.slice(5)));
    await waitFor(() => echoed().length >= 5, 15_000, 'echoes');
    env.ok(['dump', 'job', 'dk-tcp', '--tcp-established']);
    const atDump = echoed().length;
    env.ok(['restore', 'job', 'dk-tcp']);
    await waitFor(() => echoed().length >= atDump + 5, 15_000, 'echoes after restore');
    const nums = echoed();
    nums.forEach((n, i) => assert.equal(n, i, `echo ${i} over the one connection (got ${nums.join(' ')})`));
  });

  it('manages a container started outside cedana, and dumps and restores it', async () => {
    const created = await dockerd.api('POST', '/containers/create?name=dk-outside', { Image: 'cedana-counter:1', HostConfig: { NetworkMode: 'none' } });
    assert.equal(created.status, 201, created.body);
    assert.equal((await dockerd.api('POST', '/containers/dk-outside/start')).status, 204);
    const c = (await inspect('dk-outside'))!;
    assert.match(env.ok(['manage', 'docker', 'dk-outside', '--jid', 'dk-managed']), new RegExp(`Managing docker PID ${c.State.Pid}`));
    env.ok(['dump', 'job', 'dk-managed']);
    assert.equal((await inspect('dk-outside'))?.State.Running, false);
    const pid = restoredPid(env.ok(['restore', 'job', 'dk-managed']));
    assert.equal((await inspect('dk-outside'))?.State.Pid, pid);
  });

  it('kills a docker job', async () => {
    await runCounter('dk-kill');
    env.ok(['job', 'kill', 'dk-kill', '--signal', 'KILL']);
    await waitFor(async () => (await inspect('dk-kill'))?.State.Running === false, 15_000, 'container stopped');
  });
});
