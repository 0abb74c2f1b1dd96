/**
 * The daemon: its socket, stopping on SIGTERM, jobs that outlive it, `daemon check`, the `ps` table, and the
 * defaults of `run` (job name, log path).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { counter, isAlive, job, killGroup, lastNumber, psJson, runPid, teardown } from '../helpers/e2e';

describe('e2e: daemon', function () {
  this.timeout(60_000);
  let env: TestEnv | undefined;
  const pids: number[] = [];
  const files: string[] = [];

  afterEach(async () => {
    await teardown(env, pids.splice(0));
    for (const f of files.splice(0)) rmSync(f, { force: true });
    env = undefined;
  });

  it('listens on a socket only root may use, and SIGTERM stops it and removes the socket', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const st = statSync(env.socket);
    assert.ok(st.isSocket(), `${env.socket} is not a socket`);
    assert.equal(st.mode & 0o777, 0o600, `socket mode ${(st.mode & 0o777).toString(8)}`);
    assert.equal(st.uid, 0);
    // It replaced itself (same PID) with a Node whose young generation is small: the idle daemon is lighter.
    const cmdline = readFileSync(`/proc/${env.daemonPid}/cmdline`, 'utf8').split('\0');
    assert.equal(cmdline[1], '--max-semi-space-size=2', `daemon command line: ${cmdline.join(' ')}`);
    assert.deepEqual(cmdline.slice(-3, -1), ['daemon', 'start']);

    assert.equal(await env.stopDaemon('SIGTERM'), 0, `daemon log:\n${env.daemonLog}`);
    assert.ok(!existsSync(env.socket), 'the socket is left behind');
    const r = env.cli(['ps']);
    assert.notEqual(r.code, 0, 'ps worked with the daemon stopped');
  });

  it('leaves a job it started running when it stops', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'counter.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'survivor', '--log', log, '--', ...counter()]));
    pids.push(pid);
    await waitFor(() => lastNumber(log) >= 3, 10_000, 'the counter to count');

    assert.equal(await env.stopDaemon('SIGTERM'), 0);
    const atStop = lastNumber(log);
    assert.ok(isAlive(pid), `job PID ${pid} died with the daemon`);
    await waitFor(() => lastNumber(log) >= atStop + 5, 10_000, 'the job to go on counting without the daemon');
    assert.ok(isAlive(pid));

    // A new daemon on the same database still sees it running.
    await env.startDaemon();
    const seen = job(env, 'survivor');
    assert.equal(seen.pid, pid);
    assert.ok(!['halted', 'zombie', 'stale'].includes(seen.status), `status with the new daemon: ${seen.status}`);
  });

  it('daemon check reports CRIU 4.2, no errors, and the GPU plugin skipped (not a warning) on a machine without one', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const r = env.cli(['daemon', 'check']);
    assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stdout, /criu version\s+4\.2\.\d+/);
    assert.match(r.stdout, /criu check\s+available/);
    // Runtimes installed here but not started (containerd, dockerd) are warnings; skipped plugins (no GPU) are not.
    assert.match(r.stdout.trim().split('\n').pop()!, /^(All good\.|Looks good, with \d+ warning\(s\)\.)$/);
    assert.doesNotMatch(r.stdout, /✖/);
    assert.match(r.stdout, /^CUDA$[\s\S]*?plugin\s+\S+ skipped\s+–/m);
  });

  it('prints the ps table with Cedana’s headers', async () => {
    env = new TestEnv();
    await env.startDaemon();
    assert.equal(env.ok(['ps']).trim(), 'No jobs found');
    const log = join(env.dir, 'counter.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'tabled', '--log', log, '--', ...counter()]));
    const lines = env.ok(['ps']).split('\n');
    assert.deepEqual(lines[0].trim().split(/\s+/), ['JOB', 'TYPE', 'PID', 'STATUS', 'GPU', 'CHECKPOINT', 'SIZE', 'LOG']);
    const row = lines[1].trim().split(/\s+/);
    assert.deepEqual([row[0], row[1], row[2], row[4], row[row.length - 1]], ['tabled', 'process', String(pid), 'no', log]);
  });

  it('names a job adjective_surname<digit> and logs to /var/log/cedana-output-<jid>.log by default', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const pid = runPid(env.ok(['run', 'process', '--', 'bash', '-c', 'echo hello from the job; while :; do sleep 0.1; done']));
    pids.push(pid);
    const jobs = psJson(env);
    assert.equal(jobs.length, 1);
    const [only] = jobs;
    files.push(only.log);
    assert.equal(only.pid, pid);
    assert.match(only.jid, /^[a-z]+_[a-z]+\d$/);
    assert.equal(only.log, `/var/log/cedana-output-${only.jid}.log`);
    await waitFor(() => existsSync(only.log) && readFileSync(only.log, 'utf8').includes('hello from the job'), 10_000, 'the job’s output in its default log');
    killGroup(pid);
  });
});
