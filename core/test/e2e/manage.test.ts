/**
 * `manage process`: a process the daemon did not start becomes a job (by PID, pid file or name), shown with its
 * state and log like any job, checkpointed and restored like one; `--upcoming` waits for it to appear, and
 * `--timeout` ends the wait with a clear error; refusals for PIDs that are managed already or gone.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, TestEnv, waitFor } from '../helpers/env';
import { assertCounts, dumpedPath, isAlive, job, killGroup, lastNumber, psJson, PY_COUNTER, PYTHON, restoredPid, teardown } from '../helpers/e2e';
import { expectError, unusedPid } from '../helpers/bad-input';
import { killSessions, session, type Session } from '../helpers/attach';

/** Prints 0, 1, 2, … every 50 ms, in one process. */

/** `Managing process PID <n>` → n. */
function managedPid(stdout: string): number {
  const m = /^Managing process PID (\d+)\n$/.exec(stdout);
  assert.ok(m, `unexpected manage output: ${JSON.stringify(stdout)}`);
  return Number(m[1]);
}

describe('e2e: manage', function () {
  this.timeout(60_000);
  let env: TestEnv;
  const started: ChildProcess[] = [];
  const sessions: Session[] = [];

  /** A process this test starts outside the daemon, in a session of its own, its output going to `log`. */
  function outsider(args: string[], opts: { log?: string; argv0?: string } = {}): number {
    const fd = opts.log ? openSync(opts.log, 'a') : 'ignore';
    const child = spawn(args[0], args.slice(1), { detached: true, stdio: ['ignore', fd, fd], argv0: opts.argv0 });
    if (typeof fd === 'number') closeSync(fd);
    child.unref();
    started.push(child);
    return child.pid!;
  }

  /** A process name no other test or process uses. */
  const uniqueName = (what: string) => `cdn-${what}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

  before(async () => {
    env = new TestEnv();
    await env.startDaemon();
  });

  afterEach(() => {
    killSessions(sessions);
    for (const c of started.splice(0)) killGroup(c.pid!);
    env.cli(['job', 'delete', '--all']);
  });

  after(async () => {
    await teardown(env);
  });

  it('manage process <PID>: shown with its state and log, dumped and restored like any job', async () => {
    const log = join(env.dir, 'outsider.log');
    // One process, no children: a child orphaned by the dump would go to this VM's PID 1, which never reaps it,
    // and its zombie would keep the PID (as its session id) from being restored. The daemon reaps the orphans of
    // the jobs it starts; this one it did not start.
    const pid = outsider(PY_COUNTER, { log });
    await waitFor(() => lastNumber(log) >= 3, 10_000, 'the outsider to count');

    assert.equal(managedPid(env.ok(['manage', 'process', String(pid), '--jid', 'm1'])), pid);
    const managed = job(env, 'm1');
    assert.equal(managed.pid, pid);
    assert.equal(managed.type, 'process');
    assert.ok(['sleep', 'running'].includes(managed.status), `status ${managed.status}`);
    assert.deepEqual(managed.cmdline, PY_COUNTER);
    assert.equal(managed.log, log, 'the LOG column shows where its output goes');

    dumpedPath(env.ok(['dump', 'job', 'm1']));
    // Its parent is this test, which reaps it once its event loop runs again: a zombie until then.
    await waitFor(() => job(env, 'm1').status === 'halted', 10_000, 'the dumped outsider to be reaped');
    const atDump = lastNumber(log);
    assert.equal(restoredPid(env.ok(['restore', 'job', 'm1'])), pid);
    await waitFor(() => lastNumber(log) >= atDump + 5, 10_000, 'the restored outsider to count on');
    assertCounts(log);

    // Restored, it is the daemon's child: its end is recorded.
    env.ok(['job', 'kill', 'm1']);
    await waitFor(() => (JSON.parse(env.ok(['job', 'inspect', 'm1', '--json'])) as { exited: boolean }).exited, 10_000, 'the exit to be recorded');
    assert.equal((JSON.parse(env.ok(['job', 'inspect', 'm1', '--json'])) as { exitSignal?: string }).exitSignal, 'SIGTERM');
  });

  it('a managed process that ends shows halted', async () => {
    const pid = outsider(['sleep', '300']);
    managedPid(env.ok(['manage', 'process', String(pid), '--jid', 'm2']));
    assert.notEqual(job(env, 'm2').status, 'halted');
    killGroup(pid);
    await waitFor(() => job(env, 'm2').status === 'halted', 10_000, 'the job to show halted');
  });

  it('finds the process by pid file and by name', async () => {
    const byFile = outsider(['sleep', '300']);
    const pidFile = join(env.dir, 'sleeper.pid');
    writeFileSync(pidFile, `${byFile}\n`);
    assert.equal(managedPid(env.ok(['manage', 'process', pidFile, '--jid', 'byfile'])), byFile);

    const name = uniqueName('named');
    const byName = outsider(['sleep', '300'], { argv0: name });
    assert.equal(managedPid(env.ok(['manage', 'process', name, '--jid', 'byname'])), byName);
    assert.equal(job(env, 'byname').pid, byName);
  });

  it('--upcoming NAME waits until the process appears, then manages it', async () => {
    const name = uniqueName('upcoming');
    const waiting = session(env, ['manage', 'process', '--upcoming', name, '--jid', 'up'], sessions);
    await sleep(1_000);
    assert.ok(waiting.running, `manage --upcoming ended before the process appeared: ${waiting.stderr}`);
    assert.ok(!psJson(env).some((j) => j.jid === 'up'), 'a job before the process exists');

    const pid = outsider(['sleep', '300'], { argv0: name });
    const end = await waiting.exit(10_000);
    assert.equal(end.code, 0, end.stderr);
    assert.equal(managedPid(end.stdout), pid);
    assert.equal(job(env, 'up').pid, pid);
    assert.ok(Date.now() - waiting.startedAt >= 1_000);
  });

  it('--upcoming PIDFILE waits for a pid file that names a live process', async () => {
    const pidFile = join(env.dir, 'later.pid');
    const waiting = session(env, ['manage', 'process', '--upcoming', pidFile, '--jid', 'upfile'], sessions);
    await sleep(600);
    writeFileSync(pidFile, `${unusedPid()}\n`); // a stale pid file: still waiting
    await sleep(600);
    assert.ok(waiting.running, `manage --upcoming ended on a pid file of a dead process: ${waiting.stdout}${waiting.stderr}`);
    const pid = outsider(['sleep', '300']);
    writeFileSync(pidFile, `${pid}\n`);
    const end = await waiting.exit(10_000);
    assert.equal(end.code, 0, end.stderr);
    assert.equal(managedPid(end.stdout), pid);
  });

  it('--timeout ends the wait with a clear error, and manages nothing', async () => {
    const name = uniqueName('never');
    const t0 = Date.now();
    expectError(env.cli(['manage', 'process', '--upcoming', name, '--timeout', '1']), new RegExp(`${name} did not appear within 1 s`), /--timeout/);
    const ms = Date.now() - t0;
    assert.ok(ms >= 1_000, `gave up after ${ms} ms`);
    assert.ok(ms < 8_000, `took ${ms} ms`);
    assert.deepEqual(psJson(env), []);
    expectError(env.cli(['manage', 'process', '--upcoming', name, '--timeout', '0']), /timeout must be positive/);
    expectError(env.cli(['manage', 'process', '--upcoming', name, '--timeout', '-3']), /timeout must be positive/);
  });

  describe('refusals', () => {
    it('a PID that is managed already, with or without --upcoming', async () => {
      const name = uniqueName('twice');
      const pid = outsider(['sleep', '300'], { argv0: name });
      managedPid(env.ok(['manage', 'process', String(pid), '--jid', 'first']));
      expectError(env.cli(['manage', 'process', String(pid)]), new RegExp(`PID ${pid} is managed already, as job first`));
      const t0 = Date.now();
      expectError(env.cli(['manage', 'process', '--upcoming', name, '--timeout', '30']), new RegExp(`PID ${pid} is managed already, as job first`));
      assert.ok(Date.now() - t0 < 10_000, '--upcoming waited for a process that is there, and managed already');
      assert.deepEqual(psJson(env).map((j) => j.jid), ['first']);
    });

    it('a PID that is gone, and a pid file of a gone process', async () => {
      const r = spawnSync('bash', ['-c', 'sleep 0 & echo $!; wait'], { encoding: 'utf8' });
      const gone = Number(r.stdout.trim());
      assert.ok(gone > 0 && !isAlive(gone));
      expectError(env.cli(['manage', 'process', String(gone)]), new RegExp(`no process with PID ${gone}`));
      const pidFile = join(env.dir, 'gone.pid');
      writeFileSync(pidFile, `${gone}\n`);
      expectError(env.cli(['manage', 'process', pidFile]), new RegExp(`no live process in pid file ${pidFile}`));
      writeFileSync(pidFile, 'not a pid\n');
      expectError(env.cli(['manage', 'process', pidFile]), new RegExp(`pid file ${pidFile} does not hold a PID`));
      assert.deepEqual(psJson(env), []);
    });
  });
});
