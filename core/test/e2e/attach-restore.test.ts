/**
 * Attach modes across a restore, on real CRIU: a job dumped with a log restored attached or attachable, one
 * dumped attachable restored to a log, and either restored with --no-server to the caller's own stdio. In each,
 * the output goes where the restore says (and nowhere else) and the job's exit code is the one reported.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { TestEnv, waitFor } from '../helpers/env';
import { counter, dumpedPath, job, lastNumber, logNumbers, restoredPid, runPid, teardown } from '../helpers/e2e';
import { killSessions, numbersIn, session, type Session } from '../helpers/attach';

/** Counts to 199, one line every 50 ms (10 s in all), then exits 42. */
const COUNT_THEN_42 = counter({ periodMs: 50, until: 200, exitCode: 42 });

function inspect(env: TestEnv, jid: string): { exitCode?: number; log: string; attachable: boolean } {
  return JSON.parse(env.ok(['job', 'inspect', jid, '--json'])) as { exitCode?: number; log: string; attachable: boolean };
}

/** Asserts `nums` run on by one from `from` to 199. */
function assertRun(nums: number[], from: number, what: string): void {
  assert.ok(nums.length > 0, `${what}: no output`);
  assert.equal(nums[0], from, `${what} starts at ${nums[0]}, expected ${from}`);
  const gap = nums.findIndex((n, i) => n !== from + i);
  assert.equal(gap, -1, `${what}: ${nums[gap]} at place ${gap} (…${nums.slice(Math.max(0, gap - 3), gap + 3).join(' ')}…)`);
  assert.equal(nums[nums.length - 1], 199, `${what} ends at ${nums[nums.length - 1]}`);
}

describe('e2e: attach modes across a restore', function () {
  this.timeout(90_000);
  let env: TestEnv;
  const sessions: Session[] = [];
  const logs: string[] = [];

  before(async () => {
    env = new TestEnv();
    await env.startDaemon();
  });

  afterEach(() => {
    killSessions(sessions);
    env.cli(['job', 'kill', '--all', '--signal', 'KILL']);
  });

  after(async () => {
    killSessions(sessions);
    await teardown(env);
    for (const f of logs) rmSync(f, { force: true });
  });

  /** Runs the counter with its default log, lets it count to 5 at least, dumps it; returns its log and checkpoint. */
  async function loggedAndDumped(jid: string): Promise<{ log: string; path: string; atDump: number }> {
    const log = `/var/log/cedana-output-${jid}.log`;
    logs.push(log);
    runPid(env.ok(['run', 'process', '--jid', jid, '--', ...COUNT_THEN_42]));
    await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');
    const path = dumpedPath(env.ok(['dump', 'job', jid]));
    return { log, path, atDump: lastNumber(log) };
  }

  /** Runs the counter attachable, reads it to 5 at least, detaches and dumps it; returns the last number read. */
  async function attachableAndDumped(jid: string): Promise<{ seen: number; path: string }> {
    runPid(env.ok(['run', 'process', '--jid', jid, '--attachable', '--', ...COUNT_THEN_42]));
    const a = session(env, ['job', 'attach', jid], sessions);
    await a.waitOut((o) => numbersIn(o).length >= 5);
    const seen = numbersIn((await a.interrupt()).stdout);
    const path = dumpedPath(env.ok(['dump', 'job', jid]));
    return { seen: seen[seen.length - 1], path };
  }

  it('logged → restore job --attach: the output streams here, not to the log, and the exit code (42) is the CLI’s', async () => {
    const jid = `l2a-${process.pid}`;
    const { log, atDump } = await loggedAndDumped(jid);
    const b = session(env, ['restore', 'job', jid, '--attach'], sessions);
    const end = await b.exit(40_000);
    assert.equal(end.code, 42, `stderr: ${end.stderr}`);
    assertRun(numbersIn(end.stdout), atDump + 1, 'the attached stream');
    assert.equal(lastNumber(log), atDump, 'nothing more went to the log');
    assert.equal(inspect(env, jid).exitCode, 42);
  });

  it('logged → restore job --attachable: attachable now; an attach gets all it wrote since the restore', async () => {
    const jid = `l2ab-${process.pid}`;
    const { log, atDump } = await loggedAndDumped(jid);
    env.ok(['restore', 'job', jid, '--attachable']);
    assert.equal(job(env, jid).log, '[Attachable]');
    assert.equal(inspect(env, jid).attachable, true);
    const a = session(env, ['job', 'attach', jid], sessions);
    const end = await a.exit(40_000);
    assert.equal(end.code, 42, `stderr: ${end.stderr}`);
    assertRun(numbersIn(end.stdout), atDump + 1, 'the attach stream');
    assert.equal(lastNumber(log), atDump, 'nothing more went to the log');
  });

  it('attachable → plain restore job: the output goes to /var/log/cedana-output-<JID>.log, unread output first', async () => {
    const jid = `ab2l-${process.pid}`;
    const log = `/var/log/cedana-output-${jid}.log`;
    logs.push(log);
    rmSync(log, { force: true });
    const { seen } = await attachableAndDumped(jid);
    restoredPid(env.ok(['restore', 'job', jid]));
    assert.equal(job(env, jid).log, log, 'ps shows its log');
    assert.equal(inspect(env, jid).attachable, false);
    await waitFor(() => inspect(env, jid).exitCode !== undefined, 40_000, 'the restored job to end');
    assert.equal(inspect(env, jid).exitCode, 42);
    assertRun(logNumbers(log), seen + 1, 'the log');
  });

  it('logged → restore --no-server: the output is the CLI’s, and so is the exit code', async () => {
    const jid = `l2ns-${process.pid}`;
    const { log, path, atDump } = await loggedAndDumped(jid);
    const r = env.cli(['restore', 'process', '--path', path, '--no-server'], { timeoutMs: 40_000 });
    assert.equal(r.code, 42, `stderr: ${r.stderr}`);
    assertRun(numbersIn(r.stdout), atDump + 1, 'the CLI’s stdout');
    assert.equal(lastNumber(log), atDump, 'nothing more went to the log');
  });

  it('attachable → restore --no-server: the output is the CLI’s, and so is the exit code', async () => {
    const jid = `ab2ns-${process.pid}`;
    const { seen, path } = await attachableAndDumped(jid);
    const r = env.cli(['restore', 'process', '--path', path, '--no-server'], { timeoutMs: 40_000 });
    assert.equal(r.code, 42, `stderr: ${r.stderr}`);
    const nums = numbersIn(r.stdout);
    // What the job wrote between the detach and the dump stayed with the daemon.
    assert.ok(nums[0] > seen, `the CLI's output starts at ${nums[0]}, after ${seen}`);
    assertRun(nums, nums[0], 'the CLI’s stdout');
  });
});
