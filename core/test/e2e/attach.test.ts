/**
 * Attach: a job's stdin, stdout and stderr streamed through the daemon to a `cedana` command and back, its exit
 * code becoming the command's; Ctrl+C detaching without losing output; output kept until the first attach; one
 * attacher at a time; restores that continue in the same stream or log file; and the refusals.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, TestEnv, waitFor } from '../helpers/env';
import { assertCounts, counter, dumpedPath, isAlive, job, lastNumber, restoredPid, runPid, teardown } from '../helpers/e2e';
import { expectError, unusedPid } from '../helpers/bad-input';
import { firstGap, killSessions, numbersIn, session, type Session } from '../helpers/attach';

/** `cedana job inspect <jid> --json`. */
function inspect(env: TestEnv, jid: string): { status: string; exitCode?: number; exitSignal?: string; log: string; attachable: boolean } {
  return JSON.parse(env.ok(['job', 'inspect', jid, '--json'])) as { status: string; exitCode?: number; exitSignal?: string; log: string; attachable: boolean };
}

/**
 * Counts 0, 1, 2, … every 30 ms until a line arrives on stdin; then prints `got:<line>` and exits 5. (`read -t 0`
 * only looks: a `read -t 0.03` that times out halfway through a line would eat its start.)
 */
const COUNT_UNTIL_INPUT = ['bash', '-c', 'i=0; while :; do echo $i; i=$((i+1)); if read -t 0; then read -r l; echo "got:$l"; exit 5; fi; sleep 0.03; done'];

describe('e2e: attach', function () {
  this.timeout(60_000);
  let env: TestEnv;
  const sessions: Session[] = [];
  const cleanupFiles: string[] = [];

  before(async () => {
    env = new TestEnv();
    await env.startDaemon();
  });

  afterEach(() => {
    killSessions(sessions);
    env.cli(['job', 'kill', '--all', '--signal', 'KILL']);
    for (const f of cleanupFiles.splice(0)) rmSync(f, { force: true });
  });

  after(async () => {
    killSessions(sessions);
    await teardown(env);
  });

  it('run --attach: typed input reaches the job, its stdout and stderr come back, its exit code is the CLI’s', async () => {
    const script = 'echo ready; while read -r l; do [ "$l" = quit ] && exit 7; echo "out:$l"; echo "err:$l" >&2; done; exit 1';
    const s = session(env, ['run', 'process', '--jid', 'rt', '--attach', '--', 'bash', '-c', script], sessions);
    await s.waitOut(/^ready$/m);
    const running = job(env, 'rt');
    assert.equal(running.log, '[Attachable]', 'ps LOG column of an attached job');
    assert.ok(isAlive(running.pid));

    s.type('hello world\n');
    await s.waitOut(/^out:hello world$/m);
    await waitFor(() => s.stderr.includes('err:hello world\n'), 10_000, 'the job’s stderr');
    s.type('quit\n');
    const end = await s.exit();
    assert.equal(end.code, 7, `exit code of the CLI; stderr: ${end.stderr}`);
    assert.equal(end.stdout, 'ready\nout:hello world\n', 'stdout holds the job’s output and nothing else');
    assert.equal(end.stderr, 'err:hello world\n', 'stderr holds the job’s stderr and nothing else');

    const info = inspect(env, 'rt');
    assert.equal(info.status, 'halted');
    assert.equal(info.exitCode, 7);
    assert.equal(info.exitSignal, undefined);
    assert.equal(job(env, 'rt').log, '', 'a job that ended is no longer shown [Attachable]');
  });

  it('carries binary input to its end (EOF) and a large output back, byte for byte', async () => {
    const data = randomBytes(1024 * 1024);
    const file = join(env.dir, 'blob');
    writeFileSync(file, randomBytes(600 * 1024));
    const s = session(env, ['run', 'process', '--jid', 'bytes', '--attach', '--', 'bash', '-c', `sha256sum; base64 -w 100 ${file}`], sessions);
    s.type(data);
    s.endInput();
    const end = await s.exit(30_000);
    assert.equal(end.code, 0, `stderr: ${end.stderr}`);
    const expected = `${createHash('sha256').update(data).digest('hex')}  -\n${readFileSync(file).toString('base64').replace(/(.{100})/g, '$1\n').replace(/\n?$/, '\n')}`;
    assert.equal(end.stdout.length, expected.length, 'output length');
    assert.ok(end.stdout === expected, 'output differs from the job’s');
  });

  it('run --attach loses nothing of a job that writes fast from its first instant', async () => {
    // Far more than the backlog holds (8 MiB) before the attach can begin: the job must wait, not lose output.
    const s = session(env, ['run', 'process', '--jid', 'flood', '--attach', '--', 'head', '-c', '40000000', '/dev/zero'], sessions);
    const end = await s.exit(60_000);
    assert.equal(end.code, 0, end.stderr);
    assert.equal(end.stdout.length, 40_000_000);
  });

  it('a job killed by a signal: the CLI exits 128+N and inspect shows the signal', async () => {
    const s = session(env, ['run', 'process', '--jid', 'sig', '--attach', '--', 'bash', '-c', 'echo ready; kill -KILL $$'], sessions);
    const end = await s.exit();
    assert.equal(end.stdout, 'ready\n');
    assert.equal(end.code, 137);
    const info = inspect(env, 'sig');
    assert.equal(info.exitSignal, 'SIGKILL');
    assert.equal(info.exitCode, undefined);
  });

  it('--attachable: output written before anyone attached is kept from the start; attach <PID> gets it', async () => {
    const marker = join(env.dir, 'later.printed');
    // ~290 KB: more than a FIFO holds, so the daemon must have read it into its backlog for the job to go on.
    const pid = runPid(env.ok(['run', 'process', '--jid', 'later', '--attachable', '--', 'bash', '-c', `seq 0 49999; touch ${marker}; read -r x; echo "bye $x"; exit 3`]));
    await waitFor(() => existsSync(marker), 10_000, 'the job to write its output');
    const listed = job(env, 'later');
    assert.equal(listed.log, '[Attachable]');
    assert.equal(inspect(env, 'later').attachable, true);

    const s = session(env, ['attach', String(pid)], sessions);
    await s.waitOut(/^49999$/m, 15_000);
    const nums = numbersIn(s.stdout);
    assert.equal(nums[0], 0, 'the first attacher sees the output from its start');
    assert.equal(nums.length, 50_000, 'every line');
    assert.equal(firstGap(nums), -1, `a gap at line ${firstGap(nums)}`);
    s.type('now\n');
    const end = await s.exit();
    assert.match(end.stdout, /\nbye now\n$/);
    assert.equal(end.code, 3);
  });

  it('attaching to a job that has ended gives the output nobody read, then its exit code', async () => {
    env.ok(['run', 'process', '--jid', 'short', '--attachable', '--', 'bash', '-c', 'echo early; echo oops >&2; exit 4']);
    await waitFor(() => inspect(env, 'short').exitCode === 4, 10_000, 'the job to end');
    const s = session(env, ['job', 'attach', 'short'], sessions);
    const end = await s.exit();
    assert.equal(end.stdout, 'early\n');
    assert.equal(end.stderr, 'oops\n');
    assert.equal(end.code, 4);
  });

  it('Ctrl+C detaches, the job runs on, and a new attach gets everything written meanwhile', async () => {
    // As fast as bash can print: output is always on its way when Ctrl+C comes.
    const pid = runPid(env.ok(['run', 'process', '--jid', 'det', '--attachable', '--', 'bash', '-c', 'i=0; while :; do echo $i; i=$((i+1)); done']));
    const a = session(env, ['job', 'attach', 'det'], sessions);
    await a.waitOut((o) => o.length > 100_000);
    // Fill the way from the job to us (we stop reading), then Ctrl+C: what was on its way must still come.
    a.child.stdout!.pause();
    await waitFor(() => readFileSync(`/proc/${pid}/wchan`, 'utf8').includes('pipe_write'), 10_000, 'the job to wait on its output');
    a.child.kill('SIGINT');
    a.child.stdout!.resume();
    const first = await a.exit();
    assert.equal(first.code, 0, 'detaching is not a failure');
    assert.match(first.stderr, /Detached from job det; it keeps running/);
    assert.ok(isAlive(pid), 'the job runs on after the detach');
    assert.notEqual(job(env, 'det').status, 'halted');
    const seenA = numbersIn(first.stdout);

    await sleep(300); // output nobody is attached to read
    const b = session(env, ['job', 'attach', 'det'], sessions);
    const lastA = seenA[seenA.length - 1];
    await b.waitOut((o) => o.length > 100_000 && numbersIn(o.slice(-100)).some((n) => n > lastA + 20_000));
    const second = await b.interrupt();
    const all = [...seenA, ...numbersIn(second.stdout)];
    assert.equal(all[0], 0);
    assert.equal(firstGap(all), -1, `lost or repeated output at ${firstGap(all)}: …${all.slice(Math.max(0, firstGap(all) - 3), firstGap(all) + 3).join(' ')}… (first attach ended at ${seenA[seenA.length - 1]})`);
  });

  it('a slow attacher holds the job back, as a slow terminal would, and loses nothing', async () => {
    const pid = runPid(env.ok(['run', 'process', '--jid', 'slow', '--attachable', '--', 'bash', '-c', 'i=0; while :; do echo $i; i=$((i+1)); done']));
    const s = session(env, ['job', 'attach', 'slow'], sessions);
    await s.waitOut((o) => o.length > 50_000);
    s.child.stdout!.pause(); // we stop reading what the attach command prints
    const wchan = () => readFileSync(`/proc/${pid}/wchan`, 'utf8');
    await waitFor(() => wchan().includes('pipe_write'), 10_000, 'the job to wait on its output');
    // Held there: a waiting job may be let through for an instant as the pipes move, so most looks, not all.
    const looks: string[] = [];
    for (let i = 0; i < 6; i++) {
      await sleep(200);
      looks.push(wchan());
    }
    const waiting = looks.filter((w) => w.includes('pipe_write')).length;
    assert.ok(waiting >= 4, `the job ran on while its attacher read nothing (its output piles up somewhere): ${looks.join(' ')}`);
    const before = s.stdout.length;
    s.child.stdout!.resume();
    await s.waitOut((o) => o.length > before + 200_000);
    const nums = numbersIn((await s.interrupt()).stdout);
    assert.equal(nums[0], 0);
    assert.equal(firstGap(nums), -1, `output lost at ${firstGap(nums)}`);
  });

  it('one attacher at a time: a second one is refused and the first keeps its stream', async () => {
    const pid = runPid(env.ok(['run', 'process', '--jid', 'solo', '--attachable', '--', ...counter({ periodMs: 20 })]));
    const a = session(env, ['job', 'attach', 'solo'], sessions);
    await a.waitOut((o) => numbersIn(o).length >= 5);

    expectError(env.cli(['job', 'attach', 'solo']), /job solo already has an attacher/);
    expectError(env.cli(['attach', String(pid)]), /job solo already has an attacher/);

    const before = numbersIn(a.stdout).length;
    await a.waitOut((o) => numbersIn(o).length >= before + 10);
    const endA = await a.interrupt();
    assert.equal(firstGap(numbersIn(endA.stdout)), -1, 'the first attacher lost output');

    // Once the first one has gone, the next may attach.
    const b = session(env, ['job', 'attach', 'solo'], sessions);
    await b.waitOut(/^\d+$/m);
    await b.interrupt();
  });

  it('restore job --attach: the restored job’s output continues in the attach stream; its exit code is the CLI’s', async () => {
    const pid = runPid(env.ok(['run', 'process', '--jid', 'rj', '--attachable', '--', ...COUNT_UNTIL_INPUT]));
    const a = session(env, ['job', 'attach', 'rj'], sessions);
    await a.waitOut((o) => numbersIn(o).length >= 10);
    const seenA = numbersIn((await a.interrupt()).stdout);

    dumpedPath(env.ok(['dump', 'job', 'rj']));
    assert.equal(job(env, 'rj').status, 'halted');
    assert.equal(inspect(env, 'rj').exitCode, undefined, 'a dump is not an exit');

    const b = session(env, ['restore', 'job', 'rj', '--attach'], sessions);
    await b.waitOut((o) => numbersIn(o).some((n) => n > seenA[seenA.length - 1] + 20), 20_000);
    assert.equal(job(env, 'rj').pid, pid, 'restored under its PID');
    assert.equal(job(env, 'rj').log, '[Attachable]');
    b.type('stop\n');
    const end = await b.exit();
    assert.match(end.stdout, /\ngot:stop\n$/);
    assert.equal(end.code, 5, `stderr: ${end.stderr}`);
    const all = [...seenA, ...numbersIn(end.stdout)];
    assert.equal(all[0], 0);
    assert.equal(firstGap(all), -1, `output lost or repeated across the dump at ${firstGap(all)}`);
    assert.equal(inspect(env, 'rj').exitCode, 5, 'the restored job’s exit code is recorded');
  });

  it('restore process --path P --attach: a new job that continues the stream of the checkpointed one', async () => {
    runPid(env.ok(['run', 'process', '--jid', 'src', '--attachable', '--', ...COUNT_UNTIL_INPUT]));
    const a = session(env, ['job', 'attach', 'src'], sessions);
    await a.waitOut((o) => numbersIn(o).length >= 10);
    const seenA = numbersIn((await a.interrupt()).stdout);
    const path = dumpedPath(env.ok(['dump', 'job', 'src', '--compression', 'tar']));

    const b = session(env, ['restore', 'process', '--path', path, '--attach'], sessions);
    await b.waitOut((o) => numbersIn(o).some((n) => n > seenA[seenA.length - 1] + 20), 20_000);
    const jobs = JSON.parse(env.ok(['ps', '--json'])) as { jid: string; status: string; log: string }[];
    const fresh = jobs.find((j) => j.jid !== 'src' && j.log === '[Attachable]' && j.status !== 'halted');
    assert.ok(fresh, `no new attachable job in ${JSON.stringify(jobs)}`);
    b.type('stop\n');
    const end = await b.exit();
    assert.equal(end.code, 5, `stderr: ${end.stderr}`);
    const nums = numbersIn(end.stdout);
    // The new job's stream starts where the old job's first attacher left off, or earlier (what nobody read).
    assert.ok(nums[0] <= seenA[seenA.length - 1] + 1, `the new stream starts at ${nums[0]}, after ${seenA[seenA.length - 1]}`);
    assert.equal(firstGap(nums), -1, `output lost in the restored stream at ${firstGap(nums)}: …${nums.slice(Math.max(0, firstGap(nums) - 3), firstGap(nums) + 3).join(' ')}…`);
    assert.equal(inspect(env, fresh.jid).exitCode, 5);
  });

  it('a job that logged to a file keeps logging to it after restore (job, and process --path)', async () => {
    const jid = `logged-${process.pid}`;
    const log = `/var/log/cedana-output-${jid}.log`;
    cleanupFiles.push(log);
    const pid = runPid(env.ok(['run', 'process', '--jid', jid, '--', ...counter()]));
    await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');
    assert.equal(job(env, jid).log, log, 'the default log file');
    dumpedPath(env.ok(['dump', 'job', jid]));

    assert.ok(!isAlive(pid));
    const atDump = lastNumber(log);
    assert.equal(restoredPid(env.ok(['restore', 'job', jid])), pid);
    await waitFor(() => lastNumber(log) >= atDump + 5, 10_000, 'the restored counter to log on');
    assertCounts(log);
    assert.equal(job(env, jid).log, log);

    // Again, as a new job from the checkpoint file alone.
    const path = dumpedPath(env.ok(['dump', 'job', jid, '--compression', 'tar']));
    env.ok(['job', 'delete', jid]);
    assert.ok(existsSync(path), 'delete without --checkpoints keeps the checkpoint');
    const atSecond = lastNumber(log);
    const again = restoredPid(env.ok(['restore', 'process', '--path', path]));
    assert.equal(again, pid);
    await waitFor(() => lastNumber(log) >= atSecond + 5, 10_000, 'the counter restored from --path to log on');
    const nums = assertCounts(log);
    assert.ok(nums.length > atSecond + 5);
    const restoredJob = (JSON.parse(env.ok(['ps', '--json'])) as { pid: number; log: string; status: string }[]).find((j) => j.pid === pid && j.status !== 'halted');
    assert.ok(restoredJob, 'the restored process is a job');
    assert.equal(restoredJob.log, log, 'and shows its log');
  });

  describe('refusals', () => {
    it('attach to a job that does not exist, or a PID that is no job', () => {
      expectError(env.cli(['job', 'attach', 'nosuch']), /job nosuch not found/);
      const pid = unusedPid();
      expectError(env.cli(['attach', String(pid)]), new RegExp(`PID ${pid} is not a job`));
    });

    it('attach to something that is not a PID', () => {
      expectError(env.cli(['attach', 'abc']), /'abc' is not a PID/);
      expectError(env.cli(['attach', '-5']), /is not a PID/);
    });

    it('attach to a job that was not run attachable names its log', async () => {
      const log = join(env.dir, 'plain.log');
      runPid(env.ok(['run', 'process', '--jid', 'plain', '--log', log, '--', ...counter()]));
      expectError(env.cli(['job', 'attach', 'plain']), /job plain is not attachable/, new RegExp(`its output goes to ${log}`));
      const pid = job(env, 'plain').pid;
      expectError(env.cli(['attach', String(pid)]), /job plain is not attachable/);
    });

    it('attach to an attachable job that is checkpointed (not running) says how to restore it', async () => {
      runPid(env.ok(['run', 'process', '--jid', 'parked', '--attachable', '--', ...counter()]));
      await sleep(200);
      dumpedPath(env.ok(['dump', 'job', 'parked']));
      expectError(env.cli(['job', 'attach', 'parked'], { timeoutMs: 10_000 }), /job parked is not running \(status: halted\)/, /restore job/);
    });

    it('--attach or --attachable with --log', () => {
      expectError(env.cli(['run', 'process', '--attach', '--log', join(env.dir, 'x.log'), '--', 'true']), /attach/, /log/);
      expectError(env.cli(['run', 'process', '--attachable', '--log', join(env.dir, 'x.log'), '--', 'true']), /attachable/, /log/);
    });
  });
});
