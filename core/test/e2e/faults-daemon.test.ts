/**
 * Fault injection on the daemon itself, real daemon and real CRIU: SIGKILL at each phase of a dump (stopped there
 * by the test-only pause points, CEDANA_TEST_PAUSE_DIR), SIGTERM during a long archive, concurrent requests on one
 * job, and a CLI talking to a daemon that never answers.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CLI, waitFor, type CliResult } from '../helpers/env';
import { envWithTmp, expectError } from '../helpers/bad-input';
import { assertCounts, dumpedPath, isAlive, job, lastNumber, PY_COUNTER, PYTHON, runPid, teardown } from '../helpers/e2e';

/** `cedana ARGS…` in the background; resolves with its result. */
function cliAsync(env: ReturnType<typeof envWithTmp>, args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: env.env, cwd: env.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { child, done };
}

describe('e2e: daemon faults', function () {
  this.timeout(180_000);
  let env: ReturnType<typeof envWithTmp>;
  let pauses: string;
  const pids: number[] = [];
  const ckdir = () => env.env.CEDANA_CHECKPOINT_DIR!;

  const hold = (point: string) => writeFileSync(join(pauses, `hold-${point}`), '');
  const release = (point: string) => rmSync(join(pauses, `hold-${point}`), { force: true });
  const arrivals = (point: string) => (existsSync(join(pauses, `at-${point}`)) ? readFileSync(join(pauses, `at-${point}`), 'utf8').split('\n').filter(Boolean).length : 0);
  const partials = () => readdirSync(ckdir()).filter((n) => n.includes('.partial'));
  const checkpoints = (jid: string) => JSON.parse(env.ok(['job', 'checkpoints', jid, '--json'])) as { path: string; time: number }[];

  before(async function () {
    env = envWithTmp();
    pauses = join(env.dir, 'pauses');
    mkdirSync(pauses);
    env.env.CEDANA_TEST_PAUSE_DIR = pauses;
    await env.startDaemon();
  });

  after(async function () {
    for (const f of readdirSync(pauses)) rmSync(join(pauses, f), { force: true });
    await teardown(env, pids);
  });

  beforeEach(function () {
    for (const f of readdirSync(pauses)) rmSync(join(pauses, f), { force: true });
  });

  async function start(jid: string): Promise<{ pid: number; log: string }> {
    const log = join(env.dir, `${jid}.log`);
    const pid = runPid(env.ok(['run', 'process', '--jid', jid, '--log', log, '--', ...PY_COUNTER]));
    pids.push(pid);
    await waitFor(() => lastNumber(log) >= 2, 30_000, `${jid} to start (${readFileSync(log, 'utf8').slice(-300)})`);
    return { pid, log };
  }

  async function restartAfterKill(): Promise<void> {
    process.kill(env.daemonPid!, 'SIGKILL');
    await waitFor(() => !isAlive(env.daemonPid!), 10_000, 'the daemon to die');
    for (const f of readdirSync(pauses)) rmSync(join(pauses, f), { force: true });
    rmSync(env.socket, { force: true });
    await env.startDaemon();
  }

  async function restoredAndCounting(jid: string, log: string): Promise<void> {
    env.ok(['restore', 'job', jid]);
    const pid = job(env, jid).pid;
    pids.push(pid);
    const before = lastNumber(log);
    await waitFor(() => lastNumber(log) > before + 2, 10_000, `${jid} to go on`);
    assertCounts(log);
  }

  describe('SIGKILL at each phase of a dump', function () {
    it('before the freeze (destination opened): the process runs on, the partial is removed, nothing recorded', async function () {
      const { pid } = await start('k-open');
      hold('dump-opened');
      const d = cliAsync(env, ['dump', 'job', 'k-open', '--compression', 'lz4']);
      await waitFor(() => arrivals('dump-opened') > 0, 20_000, 'the dump to reach its pause');
      assert.ok(partials().length > 0, 'a partial file exists while the dump runs');
      await restartAfterKill();
      assert.notEqual((await d.done).code, 0);
      assert.ok(isAlive(pid), 'the process was never frozen');
      assert.deepEqual(partials(), [], 'partial removed at start-up');
      assert.deepEqual(checkpoints('k-open'), []);
      assert.equal(job(env, 'k-open').status === 'halted', false);
    });

    for (const [point, compression] of [
      ['dump-imaged', 'lz4'],
      ['dump-imaged', 'none'],
      ['dump-archived', 'tar'],
    ] as const) {
      it(`${point === 'dump-imaged' ? 'after CRIU, before the archive' : 'after the archive, before the record'} (--compression ${compression}): the checkpoint is completed at start-up and said so`, async function () {
        const jid = `k-${point.slice(5)}-${compression}`;
        const { pid, log } = await start(jid);
        hold(point);
        const d = cliAsync(env, ['dump', 'job', jid, '--compression', compression]);
        await waitFor(() => arrivals(point) > 0, 30_000, 'the dump to reach its pause');
        await waitFor(() => !isAlive(pid), 10_000, 'CRIU to have stopped the process');
        await restartAfterKill();
        assert.notEqual((await d.done).code, 0);
        const ck = checkpoints(jid);
        assert.equal(ck.length, 1, 'the interrupted dump is recorded');
        assert.ok(existsSync(ck[0].path), `${ck[0].path} exists`);
        assert.deepEqual(partials(), [], 'no partial left');
        assert.match(job(env, jid).latestCheckpoint?.path ?? '', new RegExp(jid));
        assert.match(env.ok(['ps']), new RegExp(`Job ${jid}: the dump of .* was completed at daemon start-up`));
        assert.match(env.ok(['job', 'inspect', jid]), /completed at daemon start-up/);
        await restoredAndCounting(jid, log);
      });
    }

    it('killed with CRIU unfinished (images incomplete): the dump is said lost and restore refuses the older checkpoint unless --force', async function () {
      const jid = 'k-lost';
      const { log } = await start(jid);
      const older = dumpedPath(env.ok(['dump', 'job', jid, '--leave-running', '--compression', 'lz4']));
      const { pid } = job(env, jid);
      hold('dump-imaged');
      // The dump above passed this point too: wait for one more arrival, the held dump's.
      const passed = arrivals('dump-imaged');
      const d = cliAsync(env, ['dump', 'job', jid, '--compression', 'lz4']);
      await waitFor(() => arrivals('dump-imaged') > passed, 30_000, 'the dump to reach its pause');
      await waitFor(() => !isAlive(pid), 10_000, 'CRIU to have stopped the process');
      // As if the daemon had died while CRIU was still writing: the statistics CRIU writes last are not there.
      for (const dir of readdirSync(env.tmp).filter((n) => n.startsWith('cedana-dump-'))) rmSync(join(env.tmp, dir, 'stats-dump'), { force: true });
      await restartAfterKill();
      await d.done;
      assert.match(env.ok(['ps']), new RegExp(`Job ${jid}: the dump of .* was lost`));
      expectError(env.cli(['restore', 'job', jid]), /was lost when the daemon stopped during it; its newest checkpoint is older/, /--force/);
      assert.deepEqual(readdirSync(env.tmp).filter((n) => n.startsWith('cedana-dump-')), [], 'scratch images removed');
      env.ok(['restore', 'job', jid, '--force']);
      pids.push(job(env, jid).pid);
      assert.equal(job(env, jid).latestCheckpoint?.path, older);
      const before = lastNumber(log);
      await waitFor(() => lastNumber(log) > before, 10_000, 'the older state to run');
    });
  });

  describe('concurrent requests on one job', function () {
    it('a restore during the compression of a dump waits for it and restores the new checkpoint', async function () {
      const jid = 'c-restore';
      const { log } = await start(jid);
      env.ok(['dump', 'job', jid, '--leave-running', '--compression', 'lz4']);
      hold('dump-imaged');
      // The dump above passed this point too: wait for one more arrival, the held dump's.
      const passed = arrivals('dump-imaged');
      const d = cliAsync(env, ['dump', 'job', jid, '--compression', 'lz4']);
      await waitFor(() => arrivals('dump-imaged') > passed, 30_000, 'the dump to reach its pause');
      const r = cliAsync(env, ['restore', 'job', jid]);
      // While the dump is held the restore must not finish (it would restore the older checkpoint).
      const early = await Promise.race([r.done.then(() => 'finished'), new Promise((res) => setTimeout(() => res('waiting'), 2_000))]);
      assert.equal(early, 'waiting', `the restore waits for the dump: ${early === 'finished' ? JSON.stringify(await r.done) : ''}`);
      release('dump-imaged');
      const dumped = await d.done;
      assert.equal(dumped.code, 0, dumped.stderr);
      const restored = await r.done;
      assert.equal(restored.code, 0, restored.stderr);
      pids.push(job(env, jid).pid);
      assert.equal(job(env, jid).latestCheckpoint?.path, dumpedPath(dumped.stdout));
      const before = lastNumber(log);
      await waitFor(() => lastNumber(log) > before + 2, 10_000, 'the job to go on');
      assertCounts(log);
    });

    it('a second dump of a job waits for the first: never two CRIUs on one tree', async function () {
      const jid = 'c-dump';
      await start(jid);
      hold('dump-opened');
      const first = cliAsync(env, ['dump', 'job', jid]);
      await waitFor(() => arrivals('dump-opened') > 0, 20_000, 'the first dump to reach its pause');
      const second = cliAsync(env, ['dump', 'job', jid]);
      const early = await Promise.race([second.done.then(() => 'finished'), new Promise((res) => setTimeout(() => res('waiting'), 2_000))]);
      assert.equal(early, 'waiting');
      assert.equal(arrivals('dump-opened'), 1, 'the second dump has not started');
      release('dump-opened');
      assert.equal((await first.done).code, 0);
      expectError(await second.done, new RegExp(`job ${jid} is not running`));
      assert.equal(checkpoints(jid).length, 1);
    });

    it('restore job A --path <a checkpoint of B> is refused unless --force', async function () {
      await start('c-a');
      await start('c-b');
      env.ok(['dump', 'job', 'c-a']);
      const ofB = dumpedPath(env.ok(['dump', 'job', 'c-b']));
      await waitFor(() => job(env, 'c-a').status === 'halted', 10_000, 'c-a to be halted');
      expectError(env.cli(['restore', 'job', 'c-a', '--path', ofB]), new RegExp(`is a checkpoint of job c-b, not of job c-a`), /--force/);
      assert.equal(checkpoints('c-b').length, 1);
    });

    it('20 jobs dumped and restored at once', async function () {
      this.timeout(240_000);
      const jobs = Array.from({ length: 20 }, (_, i) => ({ jid: `many-${i}`, log: join(env.dir, `many-${i}.log`) }));
      const runs = await Promise.all(jobs.map((j) => cliAsync(env, ['run', 'process', '--jid', j.jid, '--log', j.log, '--', ...PY_COUNTER]).done));
      runs.forEach((r) => pids.push(runPid(r.stdout)));
      await Promise.all(jobs.map((j) => waitFor(() => lastNumber(j.log) >= 1, 60_000, `${j.jid} to start`)));
      const dumps = await Promise.all(jobs.map((_, i) => cliAsync(env, ['dump', 'job', `many-${i}`, '--compression', 'lz4']).done));
      dumps.forEach((r, i) => assert.equal(r.code, 0, `many-${i}: ${r.stderr}`));
      const restores = await Promise.all(jobs.map((_, i) => cliAsync(env, ['restore', 'job', `many-${i}`]).done));
      restores.forEach((r, i) => assert.equal(r.code, 0, `many-${i}: ${r.stderr}`));
      for (let i = 0; i < 20; i++) pids.push(job(env, `many-${i}`).pid);
      await Promise.all(jobs.map(async (j) => {
        const before = lastNumber(j.log);
        await waitFor(() => lastNumber(j.log) > before, 20_000, `${j.log} to go on`);
        assertCounts(j.log);
      }));
    });
  });

  describe('stopping', function () {
    it('SIGTERM during a long archive stops the daemon within 5 s; the process is left running', async function () {
      const jid = 'term';
      const log = join(env.dir, 'term.log');
      // About 300 MiB of random memory: gzip takes far longer than 5 s on it.
      const script = 'import os, sys, time\nb = os.urandom(300 << 20)\nprint("ready", flush=True)\nwhile True:\n    time.sleep(0.05)\n    print(len(b), flush=True)';
      const pid = runPid(env.ok(['run', 'process', '--jid', jid, '--log', log, '--', PYTHON, '-u', '-c', script]));
      pids.push(pid);
      await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('ready'), 60_000, 'the memory to be filled');
      hold('dump-imaged');
      const d = cliAsync(env, ['dump', 'job', jid, '--compression', 'gzip']);
      await waitFor(() => arrivals('dump-imaged') > 0, 60_000, 'CRIU to finish');
      release('dump-imaged');
      // The archive is being written: its partial file grows.
      await waitFor(() => partials().length > 0, 10_000, 'the archive to start');
      const sent = Date.now();
      await env.stopDaemon('SIGTERM');
      const took = Date.now() - sent;
      assert.ok(took < 5_000, `the daemon took ${took} ms to stop`);
      expectError(await d.done, /stopping|cannot reach|restored/);
      await env.startDaemon();
      const j = job(env, jid);
      assert.ok(isAlive(j.pid), 'the process runs');
      pids.push(j.pid);
      assert.deepEqual(partials(), []);
      const n = readFileSync(log, 'utf8').length;
      await waitFor(() => readFileSync(log, 'utf8').length > n, 10_000, 'the process to go on');
    });

    it('a daemon that accepts and never answers: the CLI gives up at its deadline and says what timed out', async function () {
      const sock = join(env.dir, 'silent.sock');
      const silent = createServer(() => undefined);
      await new Promise<void>((r) => silent.listen(sock, r));
      try {
        const t0 = Date.now();
        const r = env.cli(['ps', '--address', sock, '--deadline', '2'], { timeoutMs: 20_000 });
        expectError(r, /^ps timed out: the daemon at .* did not answer within 2 s/, /--deadline/);
        assert.ok(Date.now() - t0 < 10_000);
      } finally {
        silent.close();
      }
    });
  });
});
