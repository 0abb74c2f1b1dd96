/**
 * `freeze` / `unfreeze` and `query` end to end: a real daemon freezes real process trees (SIGSTOP/SIGCONT: this
 * machine's processes share the root freezer cgroup) and real runc containers (runc pause/resume, the container's
 * own freezer cgroup); a frozen job shows so in `ps` and can still be dumped (process) or is refused (runc).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { sleep, TestEnv, waitFor } from '../helpers/env';
import { assertCounts, counter, dumpedPath, job, killGroup, lastNumber, procState, restoredPid, runPid, teardown } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { boxCounter, runcBundle } from '@cedana-ts/sdk/testing';

/** The children of `pid` (from /proc/PID/task/PID/children). */
function childrenOf(pid: number): number[] {
  const r = spawnSync('cat', [`/proc/${pid}/task/${pid}/children`], { encoding: 'utf8' });
  return r.stdout.trim().split(/\s+/).filter(Boolean).map(Number);
}

/** The counter in `log` stands still for a while (frozen), with its last value. */
async function standsStill(log: string): Promise<number> {
  const at = lastNumber(log);
  await sleep(400);
  assert.equal(lastNumber(log), at, `the counter moved while frozen (${log})`);
  return at;
}

describe('e2e: freeze, unfreeze and query', function () {
  this.timeout(120_000);
  let env: TestEnv;
  let root: string;
  let bundle: string;
  const outside: ChildProcess[] = [];

  before(async () => {
    env = new TestEnv();
    root = join(env.dir, 'runc-root');
    env.env.CEDANA_RUNC_ROOT = root;
    bundle = runcBundle(join(env.dir, 'counter-bundle'), boxCounter());
    await env.startDaemon();
  });

  after(async () => {
    for (const c of outside) if (c.pid) killGroup(c.pid);
    await teardown(env);
  });

  describe('process', () => {
    it('freeze job stops its whole tree (SIGSTOP), ps shows it stopped; unfreeze lets it count on', async () => {
      const log = join(env.dir, 'fz.log');
      const pid = runPid(env.ok(['run', 'process', '--jid', 'fz', '--log', log, '--', ...counter()]));
      await waitFor(() => lastNumber(log) >= 3, 10_000, 'counting');
      assert.match(env.ok(['freeze', 'job', 'fz']), /^Froze job fz \(SIGSTOP to \d+ process(es)?\)$/m);
      assert.equal(procState(pid), 'T');
      // A child that had already exited (a zombie not yet reaped) cannot stop.
      for (const c of childrenOf(pid)) assert.ok(['T', 'Z'].includes(procState(c) ?? 'T'), `child ${c} stopped too`);
      assert.equal(job(env, 'fz').status, 'stop');
      assert.match(env.ok(['ps']), /fz\s+process\s+\d+\s+stop/);
      const at = await standsStill(log);
      assert.match(env.ok(['unfreeze', 'job', 'fz']), /^Unfroze job fz/m);
      await waitFor(() => lastNumber(log) >= at + 3, 10_000, 'counting again');
      assert.notEqual(job(env, 'fz').status, 'stop');
      assertCounts(log);
    });

    it('a frozen job can be dumped; its restore comes back stopped and unfreeze lets it count on', async () => {
      const log = join(env.dir, 'fzd.log');
      runPid(env.ok(['run', 'process', '--jid', 'fzd', '--log', log, '--', ...counter()]));
      await waitFor(() => lastNumber(log) >= 3, 10_000, 'counting');
      env.ok(['freeze', 'job', 'fzd']);
      const at = await standsStill(log);
      dumpedPath(env.ok(['dump', 'job', 'fzd']));
      const pid = restoredPid(env.ok(['restore', 'job', 'fzd']));
      // CRIU restores a stopped task stopped: it stays frozen until unfrozen.
      await waitFor(() => procState(pid) === 'T', 10_000, 'restored stopped');
      assert.equal(lastNumber(log), at);
      env.ok(['unfreeze', 'job', 'fzd']);
      await waitFor(() => lastNumber(log) >= at + 3, 10_000, 'counting after restore');
      assertCounts(log);
    });

    it('freeze process <PID> (not a job) stops the PID and its children; query --tree lists them; unfreeze', async () => {
      const child = spawn('bash', ['-c', 'sleep 300 & sleep 300 & wait'], { detached: true, stdio: 'ignore' });
      outside.push(child);
      const pid = child.pid!;
      await waitFor(() => childrenOf(pid).length === 2, 10_000, 'two children');
      const kids = childrenOf(pid);

      const q = env.ok(['query', 'process', String(pid), '--tree']);
      assert.match(q, /^\s*PID\s+STATUS\s+UID\s+GID\s+COMMAND\b/m);
      for (const p of [pid, ...kids]) assert.match(q, new RegExp(`^\\s*${p}\\s+sleep\\s+\\d+\\s+\\d+\\s+(bash|sleep)`, 'm'), `query lists ${p}`);
      assert.doesNotMatch(env.ok(['query', 'process', String(pid)]), new RegExp(`^\\s*${kids[0]}\\s`, 'm'), 'without --tree only the PID');

      assert.match(env.ok(['freeze', 'process', String(pid)]), new RegExp(`^Froze PID ${pid} \\(SIGSTOP to 3 processes\\)$`, 'm'));
      for (const p of [pid, ...kids]) assert.equal(procState(p), 'T', `${p} stopped`);
      const inspected = env.ok(['query', 'process', String(pid), '--inspect']);
      assert.match(inspected, new RegExp(`^pid: ${pid}$`, 'm'));
      assert.match(inspected, /^status: stop$/m);
      assert.match(inspected, /^cmdline: .*bash/m);

      env.ok(['unfreeze', 'process', String(pid)]);
      for (const p of [pid, ...kids]) await waitFor(() => procState(p) === 'S', 10_000, `${p} running again`);
    });

    it('job kill ends a frozen job without waiting out the grace period', async () => {
      const log = join(env.dir, 'fzk.log');
      const pid = runPid(env.ok(['run', 'process', '--jid', 'fzk', '--log', log, '--', ...counter()]));
      await waitFor(() => lastNumber(log) >= 1, 10_000, 'counting');
      env.ok(['freeze', 'job', 'fzk']);
      const t0 = Date.now();
      env.ok(['job', 'kill', 'fzk', '--grace', '30']);
      assert.ok(Date.now() - t0 < 20_000, `kill took ${Date.now() - t0} ms`);
      assert.ok(['halted', 'zombie'].includes(job(env, 'fzk').status), job(env, 'fzk').status);
      assert.equal(procState(pid) === 'T', false);
    });

    it('refuses bad input with one line', () => {
      expectError(env.cli(['freeze', 'process', 'abc']), /'abc' is not a PID/);
      expectError(env.cli(['freeze', 'job', 'no-such-job']), /no-such-job/);
      expectError(env.cli(['query', 'process', '0x1']), /'0x1' is not a PID/);
      expectError(env.cli(['freeze', 'vm', '1']), /Invalid values|vm/);
    });
  });

  describe('runc', () => {
    const containers: string[] = [];
    const runcState = (id: string) => {
      const r = spawnSync('runc', ['--root', root, 'state', id], { encoding: 'utf8' });
      return r.status === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : null;
    };

    after(() => {
      for (const id of containers) spawnSync('runc', ['--root', root, 'delete', '--force', id]);
    });

    it('freeze job pauses the container (runc pause): ps shows frozen, dump is refused, unfreeze resumes', async () => {
      containers.push('fr1');
      const log = join(env.dir, 'fr1.log');
      env.ok(['run', 'runc', '--bundle', bundle, '--id', 'fr1', '--jid', 'fr1', '--log', log]);
      await waitFor(() => lastNumber(log) >= 3, 10_000, 'counting');
      assert.match(env.ok(['freeze', 'job', 'fr1']), /^Froze job fr1 \(runc pause\)$/m);
      assert.equal(runcState('fr1')?.status, 'paused');
      assert.equal(job(env, 'fr1').status, 'frozen');
      assert.match(env.ok(['ps']), /fr1\s+runc\s+\d+\s+frozen/);
      const at = await standsStill(log);
      expectError(env.cli(['dump', 'job', 'fr1']), /paused/, /cedana unfreeze runc fr1/);
      expectError(env.cli(['freeze', 'job', 'fr1']), /is paused, not running/);
      assert.match(env.ok(['unfreeze', 'job', 'fr1']), /^Unfroze job fr1 \(runc resume\)$/m);
      assert.equal(runcState('fr1')?.status, 'running');
      await waitFor(() => lastNumber(log) >= at + 3, 10_000, 'counting again');
      expectError(env.cli(['unfreeze', 'job', 'fr1']), /is running, not paused/);
      assertCounts(log);
      // runc refuses to signal a paused container: kill thaws it first.
      env.ok(['freeze', 'job', 'fr1']);
      env.ok(['job', 'kill', 'fr1', '--signal', 'KILL']);
      await waitFor(() => ['halted', 'zombie'].includes(job(env, 'fr1').status), 10_000, 'killed');
    });

    it('freeze/unfreeze runc <ID> and query runc <ID> --tree for a container started outside cedana', async () => {
      containers.push('fr2');
      const r = spawnSync('runc', ['--root', root, 'run', '--detach', '--bundle', bundle, 'fr2'], { stdio: 'ignore' });
      assert.equal(r.status, 0, 'runc run --detach');
      const init = runcState('fr2')!.pid;
      const q = env.ok(['query', 'runc', 'fr2', '--tree', '--root', root]);
      assert.match(q, new RegExp(`^\\s*${init}\\s+\\S+\\s+0\\s+0\\s+`, 'm'));
      env.ok(['freeze', 'runc', 'fr2', '--root', root]);
      assert.equal(runcState('fr2')?.status, 'paused');
      assert.match(env.ok(['query', 'runc', 'fr2', '--root', root, '-i']), /^status: frozen$/m);
      env.ok(['unfreeze', 'runc', 'fr2', '--root', root]);
      assert.equal(runcState('fr2')?.status, 'running');
      expectError(env.cli(['query', 'runc', 'no-such', '--root', root]), /no runc container 'no-such'/);
    });
  });
});
