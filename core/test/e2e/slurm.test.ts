/**
 * The slurm runtime end to end, on a real Slurm (munged, slurmctld and two slurmd started by the test in a
 * private state dir): a counting batch job is managed and dumped (the Slurm job ends), `restore` submits a new
 * Slurm job on the other node whose batch step restores the tree, and the counter goes on in the same output
 * file; the same through s3://; a `cedana slurm sbatch` job checkpointed on its --signal warning, requeued and
 * restored, twice.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SlurmTestCluster } from '@cedana-ts/sdk/testing';
import { TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, job as jobJson, teardown, type JobJson } from '../helpers/e2e';
import { S3TestServer } from '../helpers/remote-storage';
import { expectError } from '../helpers/bad-input';

/** A batch script that prints 0, 1, 2… five times a second. */
export const COUNTER_SCRIPT = '#!/bin/bash\ni=0\nwhile true; do echo $i; i=$((i+1)); sleep 0.2; done\n';
/**
 * The same in one process, for jobs dumped by `dump slurm`: a child of the batch script (the shell's `sleep`)
 * killed by the dump is re-parented to PID 1, which on this VM does not reap it, and its zombie keeps the batch
 * script's process group id, which the restore needs (docs/slurm.md, limits).
 */
export const ONE_PROCESS_COUNTER = '#!/usr/bin/python3 -u\nimport time\ni = 0\nwhile True:\n    print(i)\n    i += 1\n    time.sleep(0.2)\n';

export function numbers(path: string): number[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
}

/** The numbers count up by one, with no restart from 0. */
export function assertCountsOn(path: string): void {
  const n = numbers(path);
  for (let i = 1; i < n.length; i++) assert.equal(n[i], n[i - 1] + 1, `${path} does not count on at line ${i}: ${n.slice(Math.max(0, i - 3), i + 3).join(',')}`);
}

export function slurmJobIdOf(stdout: string): string {
  const m = /^Slurm job ID: (\d+)$/m.exec(stdout);
  assert.ok(m, `restore did not print the Slurm job ID: ${stdout}`);
  return m[1];
}

const job = (env: TestEnv, jid: string) => jobJson(env, jid) as JobJson & { detailsJson?: string };

describe('e2e: slurm', function () {
  this.timeout(180_000);
  let cluster: SlurmTestCluster;
  let s3: S3TestServer;
  let env: TestEnv | undefined;

  before(async () => {
    cluster = await SlurmTestCluster.start();
    s3 = await S3TestServer.start(['ckpt']);
  });
  after(async () => {
    await s3?.stop();
    cluster?.stop();
  });
  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  async function counting(): Promise<{ env: TestEnv; id: string; out: string }> {
    env = new TestEnv({ ...cluster.env, ...s3.env() });
    await env.startDaemon();
    const script = join(env.dir, 'count.py');
    writeFileSync(script, ONE_PROCESS_COUNTER, { mode: 0o755 });
    const out = join(env.dir, 'count.out');
    const id = cluster.sbatch(['--job-name=count', '-w', 'n1', `--output=${out}`, script]);
    await cluster.waitState(id, ['RUNNING']);
    await waitFor(() => numbers(out).length >= 5, 20_000, 'the batch job to count');
    return { env, id, out };
  }

  async function dumpAndRestore(dirOf: (env: TestEnv) => string, extra: string[] = []): Promise<void> {
    const { env, id, out } = await counting();
    const dir = dirOf(env);
    env.ok(['manage', 'slurm', id, '--jid', 'count']);
    const managed = job(env, 'count');
    assert.equal(managed.type, 'slurm');
    assert.equal((JSON.parse(managed.detailsJson ?? '{}') as { slurmJobId?: string }).slurmJobId, id);

    const path = dumpedPath(env.ok(['dump', 'job', 'count', '--dir', dir, ...extra]));
    assert.ok(path.startsWith(dir.replace(/\/$/, '')), path);
    const state = await cluster.waitState(id, ['FAILED', 'CANCELLED', 'COMPLETED']);
    assert.notEqual(state, 'RUNNING');
    const atDump = numbers(out);
    assert.ok(atDump.length >= 5);

    const restored = env.ok(['restore', 'job', 'count', '--nodelist', 'n2']);
    const newId = slurmJobIdOf(restored);
    assert.notEqual(newId, id);
    assert.equal(await cluster.waitState(newId, ['RUNNING']), 'RUNNING');
    assert.equal(cluster.jobField(newId, 'NodeList'), 'n2');
    await waitFor(() => numbers(out).length >= atDump.length + 10, 30_000, 'the counter to go on in the new job');
    assertCountsOn(out);
    const after = job(env, 'count');
    assert.equal(after.type, 'slurm');
    assert.equal((JSON.parse(after.detailsJson ?? '{}') as { slurmJobId?: string }).slurmJobId, newId);
    assert.match(env.ok(['ps']), new RegExp(`^count\\s+slurm\\s+${newId}\\s`, 'm'));
  }

  it('dumps a counting batch job, which ends, and restores it as a new job on the other node that counts on', async () => {
    await dumpAndRestore((e) => join(e.dir, 'checkpoints'));
  });

  it('the same through s3://', async () => {
    await dumpAndRestore(() => `s3://ckpt/slurm-${Date.now()}/`, ['--compression', 'lz4']);
  });

  it('cedana slurm sbatch: checkpointed on the --signal warning, requeued and restored twice, counting on', async function () {
    this.timeout(600_000);
    env = new TestEnv(cluster.env);
    await env.startDaemon();
    const script = join(env.dir, 'count.py');
    writeFileSync(script, ONE_PROCESS_COUNTER, { mode: 0o755 });
    const out = join(env.dir, 'spot.out');
    const ck = join(env.dir, 'spot');
    const log = join(ck, 'cedana.log');
    // A 1-minute limit with a 50 s lead: Slurm sends USR1 to the batch shell within its next time-limit sweep
    // (every 30 s), 10 to 40 s after each start. A requeue resets the limit, so each run is warned again.
    const sbatch = ['--time=1', '--signal=B:USR1@50', '-w', 'n1', `--output=${out}`, '--checkpoint-dir', ck, script];
    const submitted = env.ok(['slurm', 'sbatch', ...sbatch]);
    const m = /^Submitted batch job (\d+)/.exec(submitted);
    assert.ok(m, submitted);
    const id = m[1];
    const wait = (fn: () => boolean, ms: number, what: string) =>
      waitFor(fn, ms, what).catch((err: Error) => {
        const wrapper = existsSync(log) ? readFileSync(log, 'utf8') : '(none)';
        throw new Error(`${err.message}\n${cluster.report(id)}\n--- ${log}\n${wrapper}`);
      });
    const restarts = () => Number(cluster.jobField(id, 'Restarts') ?? 0);
    await cluster.waitState(id, ['RUNNING']);
    await wait(() => numbers(out).length >= 5, 30_000, 'the batch job to count');
    const atCheckpoint: number[] = [];
    for (const round of [1, 2]) {
      // The wrapper dumps the tree (which ends it), then requeues: the count is final once Restarts goes up.
      await wait(() => restarts() >= round, 150_000, `preemption ${round}: the job to be checkpointed and requeued`);
      atCheckpoint.push(numbers(out).length);
      // Requeued, the job waits cred_expire + 1 s (BeginTime), then runs again and restores.
      const running = () => cluster.jobField(id, 'JobState') === 'RUNNING';
      await wait(running, 150_000, `the job to run again after preemption ${round}`);
      const counted = () => numbers(out).length > atCheckpoint[round - 1];
      await wait(counted, 60_000, `the counter to go on after preemption ${round}`);
    }
    await wait(() => numbers(out).length >= atCheckpoint[1] + 10, 30_000, 'the counter to go on after the 2nd requeue');
    assertCountsOn(out);
    const n = numbers(out);
    assert.ok(n[0] === 0 && n.lastIndexOf(0) === 0, 'the requeued job started over from 0');
    assert.ok(atCheckpoint[1] > atCheckpoint[0], `no count between the two preemptions: ${atCheckpoint.join(', ')}`);
    assert.ok(restarts() >= 2, `the job was requeued ${restarts()} times`);
    // Two checkpoints, the second of the restored tree; the wrapper's log holds none of the program's output.
    assert.ok(readdirSync(join(ck, 'checkpoints')).length >= 2, readdirSync(join(ck, 'checkpoints')).join(', '));
    const wrapperLog = readFileSync(log, 'utf8');
    assert.match(wrapperLog, /restoring .* \(restart [2-9]\)/);
    assert.deepEqual(numbers(log), [], `the program's output went into ${log}`);
    cluster.cmd('scancel', [id]);
  });

  describe('bad input', () => {
    let bad: TestEnv | undefined;
    before(async () => {
      bad = new TestEnv(cluster.env);
      await bad.startDaemon();
    });
    after(async () => {
      await teardown(bad);
      bad = undefined;
    });

    it('an unknown Slurm job id', () => {
      expectError(bad!.cli(['manage', 'slurm', '999999']), /no Slurm job 999999/);
      expectError(bad!.cli(['dump', 'slurm', '999999']), /no Slurm job 999999/);
      expectError(bad!.cli(['manage', 'slurm', 'abc']), /'abc' is not a Slurm job id/);
    });

    it('a pending job, and one already finished', async () => {
      const script = join(bad!.dir, 'short.sh');
      writeFileSync(script, '#!/bin/sh\ntrue\n', { mode: 0o755 });
      const held = cluster.sbatch(['--hold', '--output=/dev/null', script]);
      expectError(bad!.cli(['manage', 'slurm', held]), new RegExp(`Slurm job ${held} is pending`));
      cluster.cmd('scancel', [held]);
      const done = cluster.sbatch(['--output=/dev/null', script]);
      await cluster.waitState(done, ['COMPLETED']);
      expectError(bad!.cli(['dump', 'slurm', done]), new RegExp(`Slurm job ${done} is not running \\(state COMPLETED\\)`));
    });

    it('a job array', async () => {
      const script = join(bad!.dir, 'arr.sh');
      writeFileSync(script, '#!/bin/sh\nsleep 30\n', { mode: 0o755 });
      const id = cluster.sbatch(['--array=0-1', '--output=/dev/null', script]);
      expectError(bad!.cli(['manage', 'slurm', `${id}_0`]), /task of a job array/);
      await waitFor(() => cluster.jobField(`${id}_0`, 'JobState') === 'RUNNING', 30_000, 'the array to run');
      expectError(bad!.cli(['manage', 'slurm', cluster.jobField(`${id}_0`, 'JobId')!]), /job array/);
      cluster.cmd('scancel', [id]);
    });

    it('the controller down, and no Slurm installed: daemon check and the commands say what is missing', async () => {
      const conf = join(bad!.dir, 'down.conf');
      writeFileSync(conf, readFileSync(cluster.env.SLURM_CONF!, 'utf8').replace(/^SlurmctldPort=\d+$/m, 'SlurmctldPort=1').concat('MessageTimeout=2\n'));
      // The daemon runs Slurm's commands with its own environment: daemons of their own for these checks.
      const down = new TestEnv({ ...cluster.env, SLURM_CONF: conf });
      const none = new TestEnv({ ...cluster.env, PATH: '/nonexistent' });
      try {
        await down.startDaemon();
        expectError(down.cli(['manage', 'slurm', '1']), /the Slurm controller does not answer/, /start slurmctld/);
        assert.match(down.cli(['daemon', 'check']).stdout + down.cli(['daemon', 'check']).stderr, /slurm controller[^\n]*unreachable/i);
        await none.startDaemon();
        const check = none.cli(['daemon', 'check']);
        assert.match(check.stdout + check.stderr, /SLURM\n\s+plugin[^\n]*skipped[^\n]*Slurm is not installed: no scontrol on PATH/);
        expectError(none.cli(['manage', 'slurm', '1']), /slurm/);
      } finally {
        await down.cleanup();
        await none.cleanup();
      }
    });

    it('sbatch refusing the resubmission: its reason quoted, the checkpoint kept', async () => {
      const script = join(bad!.dir, 'count.py');
      writeFileSync(script, ONE_PROCESS_COUNTER, { mode: 0o755 });
      const out = join(bad!.dir, 'refused.out');
      const id = cluster.sbatch(['-w', 'n1', `--output=${out}`, script]);
      await cluster.waitState(id, ['RUNNING']);
      await waitFor(() => numbers(out).length >= 3, 20_000, 'the batch job to count');
      bad!.ok(['manage', 'slurm', id, '--jid', 'refused']);
      const path = dumpedPath(bad!.ok(['dump', 'job', 'refused', '--dir', join(bad!.dir, 'checkpoints')]));
      expectError(bad!.cli(['restore', 'job', 'refused', '--partition', 'nosuch']), /sbatch refused the job: ".*[Ii]nvalid partition/);
      assert.ok(existsSync(join(path, 'cedana.json')) || existsSync(path), 'the checkpoint is gone');
      // Still restorable afterwards.
      const newId = slurmJobIdOf(bad!.ok(['restore', 'job', 'refused']));
      await cluster.waitState(newId, ['RUNNING']);
      cluster.cmd('scancel', [newId]);
    });
  });
});
