/**
 * The runc runtime end to end: a real daemon drives real runc (and through it CRIU 4.2) on busybox bundles made
 * here, with a private runc root.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, TestEnv, sleep, waitFor } from '../helpers/env';
import { assertCounts, dumpedPath, isAlive, job, lastNumber, logLines, logNumbers, restoredPid, teardown } from '../helpers/e2e';
import { boxCounter, boxTcpPair, NetnsHolder, runcBundle } from '@cedana-ts/sdk/testing';
import { killSessions, numbersIn, session, type Session } from '../helpers/attach';

/** The PID in `Running managed runc PID <n>`. */
function runcPid(stdout: string): number {
  const m = /^Running managed runc PID (\d+)$/m.exec(stdout);
  assert.ok(m, `unexpected run output: ${stdout}`);
  return Number(m[1]);
}

describe('runc runtime (e2e)', function () {
  this.timeout(120_000);
  let env: TestEnv;
  let root: string;
  let counterBundle: string;
  let tcpBundle: string;
  let netns: NetnsHolder;
  const containers: string[] = [];
  const outside: ChildProcess[] = [];

  /** `runc state` of a container in the private root, or null. */
  function runcState(id: string): { status: string; pid: number } | null {
    const r = spawnSync('runc', ['--root', root, 'state', id], { encoding: 'utf8' });
    return r.status === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : null;
  }

  /** Runs a counter container as job `jid`; returns its log path. */
  async function runCounter(jid: string, id = jid): Promise<string> {
    containers.push(id);
    const out = env.ok(['run', 'runc', '--bundle', counterBundle, '--id', id, '--jid', jid, '--log', join(env.dir, `${jid}.log`)]);
    const pid = runcPid(out);
    assert.equal(runcState(id)?.pid, pid, 'the job PID is the container init');
    const log = job(env, jid).log;
    await waitFor(() => lastNumber(log) >= 5, 10_000, `${jid} counting`);
    return log;
  }

  /** Waits until the counter in `log` has gone `n` past `from`. */
  async function countsOn(log: string, from: number, n = 5): Promise<void> {
    await waitFor(() => lastNumber(log) >= from + n, 10_000, `counter past ${from + n} in ${log}`);
  }

  before(async () => {
    env = new TestEnv();
    root = join(env.dir, 'runc-root');
    env.env.CEDANA_RUNC_ROOT = root;
    counterBundle = runcBundle(join(env.dir, 'counter-bundle'), boxCounter());
    netns = await NetnsHolder.start();
    tcpBundle = runcBundle(join(env.dir, 'tcp-bundle'), boxTcpPair(), netns.path);
    await env.startDaemon();
  });

  after(async () => {
    for (const id of containers) spawnSync('runc', ['--root', root, 'delete', '--force', id]);
    for (const c of outside) c.kill('SIGKILL');
    netns?.stop();
    await teardown(env);
  });

  it('runs a container as a job of type runc, its output in the job log', async () => {
    const log = await runCounter('rc-run');
    const j = job(env, 'rc-run');
    assert.equal(j.type, 'runc');
    assert.ok(['running', 'sleep'].includes(j.status), `status ${j.status}`);
    assert.equal(log, join(env.dir, 'rc-run.log'));
    assertCounts(log);
    const table = env.ok(['ps']);
    assert.match(table, /rc-run\s+runc\s+\d+\s+(running|sleep)/);
  });

  it('dumps and restores a job under the same container id: the counter carries on', async () => {
    const log = await runCounter('rc-same');
    const path = dumpedPath(env.ok(['dump', 'job', 'rc-same']));
    assert.ok(statSync(path).isDirectory(), 'compression none: an image directory');
    assert.equal(runcState('rc-same'), null, 'runc checkpoint removes the container');
    const atDump = lastNumber(log);
    await sleep(300);
    assert.equal(lastNumber(log), atDump, 'nothing counts while checkpointed');
    const pid = restoredPid(env.ok(['restore', 'job', 'rc-same']));
    assert.equal(runcState('rc-same')?.status, 'running');
    assert.equal(job(env, 'rc-same').pid, pid);
    await countsOn(log, atDump);
    assertCounts(log);
  });

  it('restores a checkpoint under a new container id as a new job', async () => {
    const log = await runCounter('rc-new');
    const dir = join(env.dir, 'ckpt-new');
    spawnSync('mkdir', ['-p', dir]);
    const path = dumpedPath(env.ok(['dump', 'runc', 'rc-new', '--dir', dir, '--compression', 'tar']));
    assert.ok(path.startsWith(dir) && path.endsWith('.tar'), path);
    const atDump = lastNumber(log);
    containers.push('rc-new-2');
    const pid = restoredPid(env.ok(['restore', 'runc', '--path', path, '--id', 'rc-new-2', '--bundle', counterBundle]));
    assert.equal(runcState('rc-new-2')?.pid, pid);
    const restored = JSON.parse(env.ok(['ps', '--json'])) as { jid: string; type: string; pid: number; log: string }[];
    const j = restored.find((r) => r.pid === pid);
    assert.ok(j, 'the restored container is a job');
    assert.equal(j.type, 'runc');
    assert.equal(j.log, log, 'the new job keeps the log');
    await countsOn(log, atDump);
    assertCounts(log);
  });

  it('dumps with --leave-running: the container keeps counting', async () => {
    const log = await runCounter('rc-leave');
    const path = dumpedPath(env.ok(['dump', 'job', 'rc-leave', '--leave-running', '--compression', 'gzip']));
    assert.ok(statSync(path).size > 0);
    assert.equal(runcState('rc-leave')?.status, 'running');
    await countsOn(log, lastNumber(log));
    assertCounts(log);
    assert.ok(env.ok(['job', 'checkpoints', 'rc-leave']).includes(path));
  });

  for (const compression of ['none', 'tar', 'gzip', 'lz4', 'zlib']) {
    it(`round-trips a checkpoint through --compression ${compression}`, async () => {
      const jid = `rc-z-${compression}`;
      const log = await runCounter(jid);
      const path = dumpedPath(env.ok(['dump', 'job', jid, '--compression', compression]));
      assert.ok(existsSync(path));
      const atDump = lastNumber(log);
      restoredPid(env.ok(['restore', 'job', jid]));
      await countsOn(log, atDump, 3);
      assertCounts(log);
      env.ok(['job', 'kill', jid, '--signal', 'KILL']);
    });
  }

  it('keeps an established TCP connection inside the container across dump and restore', async () => {
    containers.push('rc-tcp');
    env.ok(['run', 'runc', '--bundle', tcpBundle, '--id', 'rc-tcp', '--jid', 'rc-tcp', '--log', join(env.dir, 'rc-tcp.log')]);
    const log = job(env, 'rc-tcp').log;
    const echoed = () => logLines(log).filter((l) => /^echo \d+$/.test(l)).map((l) => Number(l.slice(5)));
    await waitFor(() => echoed().length >= 5, 10_000, 'echoes');
    env.ok(['dump', 'job', 'rc-tcp', '--tcp-established']);
    const atDump = echoed().length;
    env.ok(['restore', 'job', 'rc-tcp']);
    await waitFor(() => echoed().length >= atDump + 5, 10_000, 'echoes after restore');
    const nums = echoed();
    nums.forEach((n, i) => assert.equal(n, i, `echo ${i} over the one connection (got ${nums.join(' ')})`));
  });

  it('manages a container started outside cedana, and dumps and restores it', async () => {
    const bundle = runcBundle(join(env.dir, 'outside-bundle'), boxCounter());
    containers.push('rc-outside');
    // In the foreground: runc stays the parent, and reaps the init the dump ends.
    outside.push(spawn('runc', ['--root', root, 'run', '--bundle', bundle, 'rc-outside'], { stdio: 'ignore' }));
    await waitFor(() => runcState('rc-outside')?.status === 'running', 10_000, 'rc-outside running');
    const state = runcState('rc-outside')!;
    assert.match(env.ok(['manage', 'runc', 'rc-outside', '--jid', 'rc-managed']), new RegExp(`Managing runc PID ${state.pid}`));
    assert.equal(job(env, 'rc-managed').type, 'runc');
    env.ok(['dump', 'job', 'rc-managed']);
    assert.equal(runcState('rc-outside'), null);
    const pid = restoredPid(env.ok(['restore', 'job', 'rc-managed']));
    assert.equal(runcState('rc-outside')?.pid, pid);
    assert.ok(isAlive(pid));
  });

  it('manage --upcoming waits for a container that does not exist yet', async () => {
    const bundle = runcBundle(join(env.dir, 'upcoming-bundle'), boxCounter());
    containers.push('rc-upcoming');
    const manage = spawn(process.execPath, [CLI, 'manage', '--upcoming', 'runc', 'rc-upcoming', '--jid', 'rc-up', '--timeout', '30'], { env: env.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    manage.stdout.on('data', (d: Buffer) => (out += d.toString()));
    manage.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number | null>((resolve) => manage.once('exit', resolve));
    await sleep(1_000);
    assert.equal(manage.exitCode, null, `manage --upcoming returned before the container existed: ${out}`);
    outside.push(spawn('runc', ['--root', root, 'run', '--bundle', bundle, 'rc-upcoming'], { stdio: 'ignore' }));
    assert.equal(await done, 0, out);
    assert.equal(job(env, 'rc-up').pid, runcState('rc-upcoming')!.pid);
  });

  it('runs an attachable container, and it stays attachable across dump and restore', async () => {
    containers.push('rc-attach');
    env.ok(['run', 'runc', '--bundle', counterBundle, '--id', 'rc-attach', '--jid', 'rc-attach', '--attachable']);
    /** Attaches until the counter has passed `past`, then detaches (SIGINT); returns the numbers seen. */
    const watch = async (past: number): Promise<number[]> => {
      const attach = spawn(process.execPath, [CLI, 'job', 'attach', 'rc-attach'], { env: env.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      attach.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((resolve) => attach.once('exit', resolve));
      const numbers = () => out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
      try {
        await waitFor(() => numbers().some((n) => n > past), 10_000, `the counter past ${past} through attach (seen: ${out.slice(-200)})`);
      } finally {
        attach.kill('SIGINT');
        await exited;
      }
      return numbers();
    };
    const before = await watch(3);
    env.ok(['dump', 'job', 'rc-attach']);
    assert.equal(runcState('rc-attach'), null);
    const atDump = Math.max(...before);
    env.ok(['restore', 'job', 'rc-attach', '--attachable']);
    assert.equal(runcState('rc-attach')?.status, 'running');
    const after = await watch(atDump + 5);
    const fresh = after.filter((n) => n > atDump);
    assert.ok(fresh.length >= 5, `output after the restore reaches the attacher (${after.join(' ')})`);
    fresh.forEach((n, i) => i > 0 && assert.equal(n, fresh[i - 1] + 1, `the restored counter carries on (${fresh.join(' ')})`));
  });

  it('a logged container restored --attachable streams to an attacher; restored plainly after, to the default log', async () => {
    const sessions: Session[] = [];
    const defaultLog = '/var/log/cedana-output-rc-modes.log';
    rmSync(defaultLog, { force: true });
    try {
      const log = await runCounter('rc-modes');
      env.ok(['dump', 'job', 'rc-modes']);
      const atDump = lastNumber(log);
      env.ok(['restore', 'job', 'rc-modes', '--attachable']);
      assert.equal(job(env, 'rc-modes').log, '[Attachable]');
      const a = session(env, ['job', 'attach', 'rc-modes'], sessions);
      await a.waitOut((o) => numbersIn(o).some((n) => n > atDump + 5), 15_000);
      const seen = numbersIn((await a.interrupt()).stdout);
      assert.equal(seen[0], atDump + 1, `the attach stream starts at ${seen[0]}, after ${atDump}`);
      seen.forEach((n, i) => i > 0 && assert.equal(n, seen[i - 1] + 1, `the attach stream runs on (${seen.join(' ')})`));
      assert.equal(lastNumber(log), atDump, 'nothing more went to its old log');

      // Restored without attach: an attachable job's output goes to a log, the default one (it has no other now).
      env.ok(['dump', 'job', 'rc-modes']);
      env.ok(['restore', 'job', 'rc-modes']);
      assert.equal(job(env, 'rc-modes').log, defaultLog);
      const last = seen[seen.length - 1];
      await waitFor(() => lastNumber(defaultLog) >= last + 10, 15_000, `the counter past ${last + 10} in ${defaultLog}`);
      const nums = logNumbers(defaultLog);
      assert.equal(nums[0], last + 1, `the log starts at ${nums[0]}, after ${last} (the output nobody read comes first)`);
      nums.forEach((n, i) => i > 0 && assert.equal(n, nums[i - 1] + 1, `the log runs on (${nums.join(' ')})`));
    } finally {
      killSessions(sessions);
      env.cli(['job', 'kill', 'rc-modes', '--signal', 'KILL']);
      rmSync(defaultLog, { force: true });
    }
  });

  it('a logged container restored --attach streams here and ends with the container’s exit code (42)', async () => {
    const sessions: Session[] = [];
    const bundle = runcBundle(join(env.dir, 'exit42-bundle'), ['sh', '-c', 'i=0; while [ $i -lt 150 ]; do echo $i; i=$((i+1)); sleep 0.05; done; exit 42']);
    containers.push('rc-exit');
    const log = join(env.dir, 'rc-exit.log');
    try {
      env.ok(['run', 'runc', '--bundle', bundle, '--id', 'rc-exit', '--jid', 'rc-exit', '--log', log]);
      await waitFor(() => lastNumber(log) >= 5, 10_000, 'rc-exit counting');
      env.ok(['dump', 'job', 'rc-exit']);
      const atDump = lastNumber(log);
      const b = session(env, ['restore', 'job', 'rc-exit', '--attach'], sessions);
      const end = await b.exit(40_000);
      assert.equal(end.code, 42, `stderr: ${end.stderr}`);
      const nums = numbersIn(end.stdout);
      assert.equal(nums[0], atDump + 1, `the stream starts at ${nums[0]}, after ${atDump}`);
      assert.equal(nums[nums.length - 1], 149);
      nums.forEach((n, i) => i > 0 && assert.equal(n, nums[i - 1] + 1, `the stream runs on (${nums.join(' ')})`));
      assert.equal(lastNumber(log), atDump, 'nothing more went to the log');
    } finally {
      killSessions(sessions);
    }
  });

  it('kills a runc job', async () => {
    await runCounter('rc-kill');
    env.ok(['job', 'kill', 'rc-kill', '--signal', 'KILL']);
    await waitFor(() => runcState('rc-kill')?.status !== 'running', 10_000, 'container stopped');
  });
});
