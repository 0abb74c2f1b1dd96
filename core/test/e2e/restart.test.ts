/**
 * Daemon restarts: jobs and checkpoints live in the database and jobs outlive the daemon. A daemon killed with
 * SIGKILL (or stopped) and started again finds each job as the system has it — running ones still running, their
 * output kept for the next attacher, dead ones halted — and can dump, restore and attach to them. Statuses
 * `stale` and `remote` are made by editing the database while the daemon is down (the only way to get a reused
 * PID or another host's job on one machine): a stale or remote job's PID is never signalled.
 *
 * When a daemon dies, its jobs go to the nearest child subreaper, normally an init that reaps them when they end.
 * This VM's PID 1 never reaps: the zombie of a job dumped after the restart would keep its PID, so that it could
 * not be restored. So here this test process stands in for such an init (subreaper, reaping what it adopts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sleep, TestEnv, waitFor } from '../helpers/env';
import { allProcesses, assertCounts, counter, dumpedPath, isAlive, job, killGroup, lastNumber, psJson, restoredPid, runPid, teardown, type JobJson } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { ioDir, killSessions, session, writeFifo, type Session } from '../helpers/attach';
import { loadLibc } from '../../src/proc/libc';
import { Reaper } from '../../src/proc/reaper';

/** Starts the daemon again and waits until it answers (a SIGKILLed daemon leaves its socket file behind). */
async function restart(env: TestEnv): Promise<void> {
  await env.startDaemon();
  await waitFor(() => env.cli(['ps']).code === 0, 20_000, 'the restarted daemon to answer');
}

/** Changes a job's row while no daemon runs. */
function editJob(env: TestEnv, jid: string, set: { pid?: number; host?: string }): void {
  const db = new Database(env.env.CEDANA_DB_PATH!);
  try {
    if (set.pid !== undefined) db.prepare('UPDATE jobs SET pid = ? WHERE jid = ?').run(set.pid, jid);
    if (set.host !== undefined) db.prepare('UPDATE jobs SET host = ? WHERE jid = ?').run(set.host, jid);
  } finally {
    db.close();
  }
}

/** True when no process (zombies included) has `pid` as its PID, process group or session. */
function pidFree(pid: number): boolean {
  return !existsSync(`/proc/${pid}`) && !allProcesses().some((p) => p.pgrp === pid || p.session === pid);
}

/** A job that echoes each line it reads as `echo:<line>`, and exits 6 on `quit`. */
const ECHO = ['bash', '-c', 'echo ready; while read -r l; do [ "$l" = quit ] && exit 6; echo "echo:$l"; done'];

describe('e2e: daemon restart', function () {
  this.timeout(90_000);
  let env: TestEnv;
  const sessions: Session[] = [];
  const pids: number[] = [];
  let init: Reaper;

  before(() => {
    init = new Reaper(100);
  });

  after(() => {
    init.stop();
    loadLibc().prctl(36 /* PR_SET_CHILD_SUBREAPER */, 0, 0, 0, 0);
  });

  beforeEach(async () => {
    env = new TestEnv();
    await env.startDaemon();
  });

  afterEach(async () => {
    killSessions(sessions);
    await teardown(env, pids.splice(0));
  });

  it('after SIGKILL: running jobs run on, dead ones are halted, output written meanwhile reaches the next attacher', async () => {
    const log = join(env.dir, 'logged.log');
    const logged = runPid(env.ok(['run', 'process', '--jid', 'logged', '--log', log, '--', ...counter()]));
    const talk = runPid(env.ok(['run', 'process', '--jid', 'talk', '--attachable', '--', ...ECHO]));
    const parkedLog = join(env.dir, 'parked.log');
    runPid(env.ok(['run', 'process', '--jid', 'parked', '--log', parkedLog, '--', ...counter()]));
    const doomed = runPid(env.ok(['run', 'process', '--jid', 'doomed', '--log', join(env.dir, 'doomed.log'), '--', 'sleep', '300']));
    runPid(env.ok(['run', 'process', '--jid', 'done', '--log', join(env.dir, 'done.log'), '--', 'bash', '-c', 'exit 3']));
    runPid(env.ok(['run', 'process', '--jid', 'fifo', '--attachable', '--', ...counter()]));
    pids.push(logged, talk, doomed);
    await waitFor(() => lastNumber(parkedLog) >= 3, 10_000, 'parked to count');
    const checkpoint = dumpedPath(env.ok(['dump', 'job', 'parked']));
    dumpedPath(env.ok(['dump', 'job', 'fifo']));
    const a = session(env, ['job', 'attach', 'talk'], sessions);
    await a.waitOut(/^ready$/m);
    a.type('one\n');
    await a.waitOut(/^echo:one$/m);
    await a.interrupt();
    await waitFor(() => (JSON.parse(env.ok(['job', 'inspect', 'done', '--json'])) as { exitCode?: number }).exitCode === 3, 10_000, 'done to end');

    await env.stopDaemon('SIGKILL');
    assert.ok(isAlive(logged) && isAlive(talk) && isAlive(doomed), 'a job died with the daemon');
    killGroup(doomed);
    await waitFor(() => !isAlive(doomed), 10_000, 'doomed to die');
    // Typed while no daemon runs (straight into the job's stdin FIFO): the job answers into a FIFO nobody reads.
    writeFifo(join(ioDir(env, 'talk'), 'stdin'), 'while-down\n');
    const countedBefore = lastNumber(log);
    await waitFor(() => lastNumber(log) > countedBefore + 3, 10_000, 'logged to count on without a daemon');

    await restart(env);
    await waitFor(() => /jobs on record: .*halted/.test(env.daemonLog), 10_000, 'the daemon to log what it found');
    const byJid = new Map(psJson(env).map((j) => [j.jid, j]));
    assert.deepEqual([...byJid.keys()].sort(), ['done', 'doomed', 'fifo', 'logged', 'parked', 'talk']);
    assert.equal(byJid.get('logged')!.pid, logged);
    assert.ok(!['halted', 'stale', 'zombie'].includes(byJid.get('logged')!.status), `logged: ${byJid.get('logged')!.status}`);
    assert.equal(byJid.get('logged')!.log, log);
    assert.equal(byJid.get('talk')!.log, '[Attachable]');
    assert.equal(byJid.get('doomed')!.status, 'halted');
    assert.equal(byJid.get('parked')!.status, 'halted');
    assert.equal(byJid.get('parked')!.latestCheckpoint?.path, checkpoint);
    const done = JSON.parse(env.ok(['job', 'inspect', 'done', '--json'])) as { status: string; exitCode?: number };
    assert.equal(done.status, 'halted');
    assert.equal(done.exitCode, 3, 'the exit code recorded before the restart is kept');

    // The attachable job: what it wrote while the daemon was down comes first; then it answers as before.
    const b = session(env, ['job', 'attach', 'talk'], sessions);
    await b.waitOut(/^echo:while-down$/m);
    assert.equal(b.stdout, 'echo:while-down\n');
    b.type('two\n');
    await b.waitOut(/^echo:two$/m);
    // It ends: not the new daemon's child, so its exit code is unknown — but the attacher is told it ended.
    b.type('quit\n');
    const end = await b.exit();
    assert.equal(end.code, 1, `stderr: ${end.stderr}`);
    assert.match(end.stderr, /job talk ended; its exit code is unknown/);

    // A job that ran through the restart can be dumped and restored, and logs on in its file.
    dumpedPath(env.ok(['dump', 'job', 'logged']));
    // Its zombies (its own, and its child's, which keeps its PID as session id) belong to the init (see above),
    // which must reap them before its PID can be restored.
    await waitFor(() => pidFree(logged), 10_000, 'the init to reap the dumped job');
    const atDump = lastNumber(log);
    assert.equal(restoredPid(env.ok(['restore', 'job', 'logged'])), logged);
    await waitFor(() => lastNumber(log) >= atDump + 5, 10_000, 'logged to count on after its restore');
    assertCounts(log);

    // A checkpoint from before the restart restores.
    const atPark = lastNumber(parkedLog);
    restoredPid(env.ok(['restore', 'job', 'parked']));
    await waitFor(() => lastNumber(parkedLog) >= atPark + 5, 10_000, 'parked to count on');
    assertCounts(parkedLog);

    // Deleting an attachable job that was not running when the daemon started removes its FIFOs too.
    assert.ok(existsSync(ioDir(env, 'fifo')));
    env.ok(['job', 'delete', 'fifo']);
    assert.ok(!existsSync(ioDir(env, 'fifo')), 'the FIFOs of a deleted job are left');
  });

  it('stopping the daemon ends attach sessions but not their jobs; a new daemon serves them again', async () => {
    const talk = runPid(env.ok(['run', 'process', '--jid', 'talk', '--attachable', '--', ...ECHO]));
    pids.push(talk);
    const a = session(env, ['job', 'attach', 'talk'], sessions);
    await a.waitOut(/^ready$/m);

    const t0 = Date.now();
    const code = await env.stopDaemon('SIGTERM');
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 10_000, 'the daemon waited for the attach session to end');
    const end = await a.exit();
    assert.equal(end.code, 1);
    assert.match(end.stderr, /^Error: the daemon is stopping; the job runs on: attach again once the daemon is back\n$/);
    assert.ok(isAlive(talk), 'the job died with the daemon');

    await restart(env);
    const b = session(env, ['attach', String(talk)], sessions);
    b.type('again\n');
    await b.waitOut(/^echo:again$/m);
    await b.interrupt();
  });

  it('a PID taken by another process is stale, another host’s job is remote: neither is signalled', async () => {
    const a = runPid(env.ok(['run', 'process', '--jid', 'a', '--log', join(env.dir, 'a.log'), '--', ...counter()]));
    const b = runPid(env.ok(['run', 'process', '--jid', 'b', '--attachable', '--', ...counter()]));
    const innocent = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    innocent.unref();
    pids.push(a, b, innocent.pid!);
    await env.stopDaemon('SIGTERM');
    editJob(env, 'a', { pid: innocent.pid! });
    editJob(env, 'b', { host: 'another-host' });
    await restart(env);

    assert.equal(job(env, 'a').status, 'stale');
    // Another host's job is left out of ps, and shown by ps --all (remote, with its host).
    assert.deepEqual(psJson(env).map((j) => j.jid), ['a']);
    const remote = (JSON.parse(env.ok(['ps', '--all', '--json'])) as JobJson[]).find((j) => j.jid === 'b');
    assert.equal(remote?.status, 'remote');
    assert.equal(remote?.log, '', 'a remote job is not attachable here');
    assert.match(env.ok(['ps']), /^a\s+process\s+\d+\s+stale\s/m);
    assert.doesNotMatch(env.ok(['ps']), /^b\s/m);
    assert.match(env.ok(['ps', '--all']), /^b\s+process\s+\d+\s+remote\s+another-host\s/m);

    expectError(env.cli(['dump', 'job', 'a']), /job a is not running \(status: stale\)/);
    expectError(env.cli(['dump', 'job', 'b']), /job b belongs to host another-host, not this one/);
    expectError(env.cli(['job', 'kill', 'a']), /job a is not running \(status: stale\)/);
    expectError(env.cli(['job', 'attach', 'b']), /job b is not running \(status: remote\)/);
    assert.equal(env.ok(['job', 'kill', '--all']), '', 'kill --all killed a stale or remote job');
    env.ok(['job', 'delete', 'a']);
    await sleep(300);
    assert.ok(isAlive(innocent.pid!), 'the process that took over a stale job’s PID was signalled');
    assert.ok(isAlive(b), 'a remote job’s PID was signalled');
    assert.deepEqual(psJson(env).map((j) => j.jid), []);
    assert.deepEqual((JSON.parse(env.ok(['ps', '--all', '--json'])) as JobJson[]).map((j) => j.jid), ['b']);
  });
});
