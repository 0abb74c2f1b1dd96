/**
 * A job's end: exit codes recorded for run and restored jobs (a dump is not an exit), `job kill` (TERM to the
 * whole process group, KILL after the grace period, or one signal), `job delete` (kills, removes the job and its
 * FIFOs, and with --checkpoints its checkpoint files), `--all` for both, and their refusals.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, TestEnv, waitFor } from '../helpers/env';
import { allProcesses, counter, dumpedPath, isAlive, job, killGroup, lastNumber, logLines, psJson, PYTHON, restoredPid, runPid, teardown } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { ioDir } from '../helpers/attach';

interface Inspected {
  status: string;
  exited: boolean;
  exitCode?: number;
  exitSignal?: string;
}

function inspect(env: TestEnv, jid: string): Inspected {
  return JSON.parse(env.ok(['job', 'inspect', jid, '--json'])) as Inspected;
}

/** Live (non-zombie) processes of process group `pgid`. */
function groupAlive(pgid: number): number[] {
  return allProcesses()
    .filter((p) => p.pgrp === pgid && p.state !== 'Z')
    .map((p) => p.pid);
}

/** Runs `cedana ARGS…` and returns how long it took, failing when it fails. */
function timed(env: TestEnv, args: string[]): { ms: number; stdout: string } {
  const t0 = Date.now();
  const stdout = env.ok(args);
  return { ms: Date.now() - t0, stdout };
}

describe('e2e: job lifecycle', function () {
  this.timeout(60_000);
  let env: TestEnv;

  before(async () => {
    env = new TestEnv();
    await env.startDaemon();
  });

  // Each test starts with no jobs: whatever a test left running is killed, then every job is deleted.
  afterEach(() => {
    for (const j of psJson(env)) if (!['halted', 'stale', 'remote'].includes(j.status)) killGroup(j.pid);
    env.ok(['job', 'delete', '--all']);
  });

  after(async () => {
    await teardown(env);
  });

  describe('exit codes', () => {
    it('are recorded for a run job and shown by inspect; a running job has none', async () => {
      const log = join(env.dir, 'ex.log');
      runPid(env.ok(['run', 'process', '--jid', 'ex', '--log', log, '--', 'bash', '-c', 'echo hi; exit 5']));
      runPid(env.ok(['run', 'process', '--jid', 'alive', '--log', join(env.dir, 'alive.log'), '--', ...counter()]));
      await waitFor(() => inspect(env, 'ex').exited, 10_000, 'the job’s exit to be recorded');
      const ex = inspect(env, 'ex');
      assert.equal(ex.status, 'halted');
      assert.equal(ex.exitCode, 5);
      assert.equal(ex.exitSignal, undefined);
      assert.match(env.ok(['job', 'inspect', 'ex']), /^exitCode: 5$/m);
      assert.deepEqual(logLines(log), ['hi']);

      const alive = inspect(env, 'alive');
      assert.equal(alive.exited, false);
      assert.equal(alive.exitCode, undefined);
      assert.doesNotMatch(env.ok(['job', 'inspect', 'alive']), /^exit(Code|Signal):/m);
    });

    it('a dump is not an exit; the exit of the restored job is recorded, even right after the dump', async () => {
      const log = join(env.dir, 'rx.log');
      const stop = join(env.dir, 'rx.stop');
      const script = `i=0; while [ ! -e ${stop} ]; do echo $i; i=$((i+1)); sleep 0.03; done; exit 4`;
      const pid = runPid(env.ok(['run', 'process', '--jid', 'rx', '--log', log, '--', 'bash', '-c', script]));
      await waitFor(() => lastNumber(log) >= 3, 10_000, 'the job to count');
      dumpedPath(env.ok(['dump', 'job', 'rx']));
      await sleep(300);
      const dumped = inspect(env, 'rx');
      assert.equal(dumped.status, 'halted');
      assert.equal(dumped.exited, false, 'the dump’s kill was recorded as an exit');

      assert.equal(restoredPid(env.ok(['restore', 'job', 'rx'])), pid);
      writeFileSync(stop, '');
      await waitFor(() => inspect(env, 'rx').exited, 10_000, 'the restored job’s exit to be recorded');
      assert.equal(inspect(env, 'rx').exitCode, 4);
    });
  });

  describe('status', () => {
    it('a job whose process exec’d another program is still that job, before and after a restore', async () => {
      const log = join(env.dir, 'execd.log');
      const py = 'import time\ni = 0\nwhile True:\n    print(i, flush=True)\n    i += 1\n    time.sleep(0.05)';
      const pid = runPid(env.ok(['run', 'process', '--jid', 'execd', '--log', log, '--', 'bash', '-c', `exec ${PYTHON} -c '${py}'`]));
      await waitFor(() => lastNumber(log) >= 3, 10_000, 'the job to count');
      assert.equal(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0], PYTHON, 'bash did not exec python');
      assert.ok(!['stale', 'halted'].includes(job(env, 'execd').status), `status ${job(env, 'execd').status}`);

      dumpedPath(env.ok(['dump', 'job', 'execd']));
      const atDump = lastNumber(log);
      assert.equal(restoredPid(env.ok(['restore', 'job', 'execd'])), pid);
      await waitFor(() => lastNumber(log) >= atDump + 3, 10_000, 'the restored job to count on');
      assert.ok(!['stale', 'halted'].includes(job(env, 'execd').status), `status after restore ${job(env, 'execd').status}`);
      env.ok(['job', 'kill', 'execd']);
      assert.equal(job(env, 'execd').status, 'halted');
    });
  });

  describe('job kill', () => {
    it('sends TERM to the whole process group and returns once it is gone', async () => {
      const pid = runPid(env.ok(['run', 'process', '--jid', 'grp', '--log', join(env.dir, 'grp.log'), '--', 'bash', '-c', 'sleep 300 & sleep 300 & wait']));
      await waitFor(() => groupAlive(pid).length === 3, 10_000, 'the job and its two children');
      const { stdout } = timed(env, ['job', 'kill', 'grp']);
      assert.equal(stdout, 'Killed job grp\n');
      assert.deepEqual(groupAlive(pid), [], 'members of the job’s group outlived the kill');
      await waitFor(() => inspect(env, 'grp').exited, 10_000, 'the exit to be recorded');
      const info = inspect(env, 'grp');
      assert.equal(info.status, 'halted');
      assert.equal(info.exitSignal, 'SIGTERM');
      assert.equal(info.exitCode, undefined);
    });

    it('KILLs a job that ignores TERM once --grace seconds have passed', async () => {
      const script = 'trap "" TERM; while :; do sleep 0.05; done';
      const pid = runPid(env.ok(['run', 'process', '--jid', 'tough', '--log', join(env.dir, 'tough.log'), '--', 'bash', '-c', script]));
      await sleep(200);
      const { ms } = timed(env, ['job', 'kill', 'tough', '--grace', '1']);
      assert.ok(ms >= 1000, `returned after ${ms} ms, before the grace period was over`);
      assert.ok(ms < 6000, `took ${ms} ms`);
      assert.deepEqual(groupAlive(pid), []);
      await waitFor(() => inspect(env, 'tough').exited, 10_000, 'the exit to be recorded');
      assert.equal(inspect(env, 'tough').exitSignal, 'SIGKILL');
    });

    it('--grace 0 KILLs at once', async () => {
      const script = 'trap "" TERM; while :; do sleep 0.05; done';
      const pid = runPid(env.ok(['run', 'process', '--jid', 'tough0', '--log', join(env.dir, 'tough0.log'), '--', 'bash', '-c', script]));
      await sleep(200);
      const { ms } = timed(env, ['job', 'kill', 'tough0', '--grace', '0']);
      assert.ok(ms < 4000, `took ${ms} ms with --grace 0`);
      assert.deepEqual(groupAlive(pid), []);
    });

    it('--signal S sends only S: a job that handles it runs on', async () => {
      const log = join(env.dir, 'usr.log');
      const script = 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.05; done';
      const pid = runPid(env.ok(['run', 'process', '--jid', 'usr', '--log', log, '--', 'bash', '-c', script]));
      await waitFor(() => logLines(log).includes('ready'), 10_000, 'the job to set its trap');
      assert.equal(env.ok(['job', 'kill', 'usr', '--signal', 'USR1']), 'Killed job usr\n');
      await waitFor(() => logLines(log).includes('got-usr1'), 10_000, 'the job to handle USR1');
      await sleep(200);
      assert.ok(isAlive(pid), 'the job ended on USR1');
      assert.equal(inspect(env, 'usr').exited, false);
    });

    it('--all kills every running job and passes over the others', async () => {
      const a = runPid(env.ok(['run', 'process', '--jid', 'ka', '--log', join(env.dir, 'ka.log'), '--', ...counter()]));
      const b = runPid(env.ok(['run', 'process', '--jid', 'kb', '--log', join(env.dir, 'kb.log'), '--', ...counter()]));
      runPid(env.ok(['run', 'process', '--jid', 'kdone', '--log', join(env.dir, 'kdone.log'), '--', 'true']));
      await waitFor(() => inspect(env, 'kdone').exited, 10_000, 'kdone to end');
      const out = env.ok(['job', 'kill', '--all']).split('\n').filter(Boolean).sort();
      assert.deepEqual(out, ['Killed job ka', 'Killed job kb']);
      assert.ok(!isAlive(a) && !isAlive(b));
      assert.deepEqual(psJson(env).map((j) => j.status), ['halted', 'halted', 'halted']);
    });

    it('refuses an unknown job, a job that is not running, and no job at all', async () => {
      expectError(env.cli(['job', 'kill', 'nosuch']), /job nosuch not found/);
      runPid(env.ok(['run', 'process', '--jid', 'gone', '--log', join(env.dir, 'gone.log'), '--', 'true']));
      await waitFor(() => inspect(env, 'gone').exited, 10_000, 'the job to end');
      expectError(env.cli(['job', 'kill', 'gone']), /job gone is not running \(status: halted\)/);
      expectError(env.cli(['job', 'kill']), /name at least one JID, or use --all/);
      expectError(env.cli(['job', 'delete']), /name at least one JID, or use --all/);
      expectError(env.cli(['job', 'delete', 'nosuch']), /job nosuch not found/);
    });
  });

  describe('job delete', () => {
    it('kills a running job and removes it and its FIFOs, and keeps its checkpoints', async () => {
      const pid = runPid(env.ok(['run', 'process', '--jid', 'd1', '--attachable', '--', ...counter()]));
      await sleep(200);
      const path = dumpedPath(env.ok(['dump', 'job', 'd1', '--compression', 'tar']));
      assert.equal(restoredPid(env.ok(['restore', 'job', 'd1', '--attachable'])), pid);
      assert.ok(existsSync(join(ioDir(env, 'd1'), 'stdout')), 'the job’s FIFOs are where the test looks');

      assert.equal(env.ok(['job', 'delete', 'd1']), 'Deleted job d1\n');
      assert.deepEqual(psJson(env), []);
      assert.deepEqual(groupAlive(pid), [], 'the deleted job still runs');
      assert.ok(!existsSync(ioDir(env, 'd1')), 'its FIFOs are left');
      assert.ok(existsSync(path), 'delete without --checkpoints removed the checkpoint');
    });

    it('--checkpoints also removes its checkpoint files (archives and image directories), not its log', async () => {
      const log = join(env.dir, 'd2.log');
      const pid = runPid(env.ok(['run', 'process', '--jid', 'd2', '--log', log, '--', ...counter()]));
      await waitFor(() => lastNumber(log) >= 2, 10_000, 'the counter to count');
      const dir = dumpedPath(env.ok(['dump', 'job', 'd2', '--compression', 'none']));
      restoredPid(env.ok(['restore', 'job', 'd2']));
      const archive = dumpedPath(env.ok(['dump', 'job', 'd2', '--compression', 'gzip']));
      restoredPid(env.ok(['restore', 'job', 'd2']));
      // Another job's checkpoint in the same directory stays.
      runPid(env.ok(['run', 'process', '--jid', 'other', '--log', join(env.dir, 'other.log'), '--', ...counter()]));
      await sleep(200);
      const others = dumpedPath(env.ok(['dump', 'job', 'other', '--compression', 'tar']));

      assert.equal(env.ok(['job', 'delete', 'd2', '--checkpoints']), 'Deleted job d2\n');
      assert.ok(!existsSync(dir), `${dir} is left`);
      assert.ok(!existsSync(archive), `${archive} is left`);
      assert.ok(existsSync(others), 'another job’s checkpoint was removed');
      assert.ok(existsSync(log), 'the log was removed');
      assert.deepEqual(groupAlive(pid), []);
      assert.deepEqual(psJson(env).map((j) => j.jid), ['other']);
    });

    it('--all deletes every job, running or not', async () => {
      const a = runPid(env.ok(['run', 'process', '--jid', 'xa', '--attachable', '--', ...counter()]));
      runPid(env.ok(['run', 'process', '--jid', 'xb', '--log', join(env.dir, 'xb.log'), '--', 'true']));
      await waitFor(() => inspect(env, 'xb').exited, 10_000, 'xb to end');
      const out = env.ok(['job', 'delete', '--all']).split('\n').filter(Boolean).sort();
      assert.deepEqual(out, ['Deleted job xa', 'Deleted job xb']);
      assert.deepEqual(psJson(env), []);
      assert.deepEqual(groupAlive(a), []);
      assert.ok(!existsSync(ioDir(env, 'xa')));
    });
  });
});
