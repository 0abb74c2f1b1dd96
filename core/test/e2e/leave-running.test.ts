/**
 * `dump --leave-running`: the job keeps running under its PID and the checkpoint is recorded; after the job is
 * killed, that checkpoint brings it back to the moment of the dump.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { counter, dumpedPath, isAlive, job, killGroup, lastNumber, logNumbers, restoredPid, runPid, teardown } from '../helpers/e2e';

/** PIDs of `pid` and its descendants. */
function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const kids = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8');
      out.push(...kids.split(/\s+/).filter(Boolean).map(Number));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('e2e: dump --leave-running', function () {
  this.timeout(60_000);
  let env: TestEnv | undefined;

  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  it('keeps the job running, records the checkpoint, and can restore it after the job is killed', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'counter.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'live', '--log', log, '--', ...counter()]));
    await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');

    const beforeDump = lastNumber(log);
    const path = dumpedPath(env.ok(['dump', 'job', 'live', '--leave-running', '--compression', 'gzip']));
    const afterDump = lastNumber(log);

    // Still the same process, still counting.
    const running = job(env, 'live');
    assert.equal(running.pid, pid);
    assert.ok(!['halted', 'zombie', 'stale'].includes(running.status), `status after --leave-running: ${running.status}`);
    assert.ok(isAlive(pid));
    await waitFor(() => lastNumber(log) >= afterDump + 5, 10_000, 'the counter to go on after the dump');
    assert.equal(job(env, 'live').pid, pid);

    // The checkpoint is recorded.
    assert.equal(running.latestCheckpoint?.path, path);
    assert.ok(running.latestCheckpoint!.size > 0);
    assert.ok(path.endsWith('.tar.gz'));
    const listed = JSON.parse(env.ok(['job', 'checkpoints', 'live', '--json'])) as { path: string }[];
    assert.deepEqual(listed.map((c) => c.path), [path]);

    // Restoring while it runs is refused: the PID is taken.
    const refused = env.cli(['restore', 'job', 'live']);
    assert.notEqual(refused.code, 0, 'restore of a running job succeeded');
    assert.match(refused.stderr, /still running/);

    // Kill it (the whole tree, so no orphan holds a PID of the checkpoint), then restore.
    const pids = tree(pid);
    env.ok(['job', 'kill', 'live', '--signal', 'KILL']);
    await waitFor(() => job(env!, 'live').status === 'halted', 10_000, 'the job to be halted');
    killGroup(pid);
    await waitFor(() => pids.every((p) => !existsSync(`/proc/${p}`)), 10_000, 'the tree to be reaped');
    const atKill = logNumbers(log).length;

    assert.equal(restoredPid(env.ok(['restore', 'job', 'live'])), pid);
    await waitFor(() => logNumbers(log).length >= atKill + 5, 10_000, 'the restored counter to count');
    // The restored counter starts over from where the checkpoint was taken, not from where it was killed.
    const nums = logNumbers(log);
    const resumed = nums.slice(atKill);
    assert.ok(resumed[0] > beforeDump && resumed[0] <= afterDump + 1, `restored counter wrote ${resumed[0]}; dump was between ${beforeDump} and ${afterDump}`);
    assert.ok(resumed[0] < nums[atKill - 1], 'the restored counter went on from the kill, not from the checkpoint');
    resumed.forEach((n, i) => assert.equal(n, resumed[0] + i, 'the restored counter skips numbers'));
  });

  it('gives a dump whose default name is taken (two dumps in one second) the next free one, -1, -2…', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'counter.log');
    runPid(env.ok(['run', 'process', '--jid', 'twice', '--log', log, '--', ...counter()]));
    await waitFor(() => lastNumber(log) >= 2, 10_000, 'the counter to count');
    // The names the next seconds' dumps would get are taken already, as by dumps a moment before.
    const dir = join(env.dir, 'checkpoints');
    const second = Math.floor(Date.now() / 1000);
    for (let t = second; t < second + 10; t++) writeFileSync(join(dir, `dump-process-twice-${t}.tar.gz`), 'earlier');
    const first = dumpedPath(env.ok(['dump', 'job', 'twice', '--leave-running', '--compression', 'gzip']));
    const next = dumpedPath(env.ok(['dump', 'job', 'twice', '--leave-running', '--compression', 'gzip']));
    assert.match(first, /\/dump-process-twice-\d+-1\.tar\.gz$/);
    assert.match(next, /\/dump-process-twice-\d+-[12]\.tar\.gz$/);
    assert.notEqual(first, next);
    const listed = JSON.parse(env.ok(['job', 'checkpoints', 'twice', '--json'])) as { path: string }[];
    assert.deepEqual(listed.map((c) => c.path).sort(), [first, next].sort());
    for (let t = second; t < second + 10; t++) assert.equal(readFileSync(join(dir, `dump-process-twice-${t}.tar.gz`), 'utf8'), 'earlier');
  });
});
