/**
 * `--no-server`: run and restore in the foreground, as children of the CLI, without a daemon; the CLI's exit code
 * is the process's.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, TestEnv, waitFor } from '../helpers/env';
import { counter, dumpedPath, isAlive, lastNumber, runPid, teardown } from '../helpers/e2e';

/** The parent PID of `pid`, or null. */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

describe('e2e: --no-server', function () {
  this.timeout(60_000);
  let env: TestEnv | undefined;
  const pids: number[] = [];
  let running: ChildProcess | undefined;

  afterEach(async () => {
    if (running?.exitCode === null) running.kill('SIGKILL');
    running = undefined;
    await teardown(env, pids.splice(0));
    env = undefined;
  });

  it('run --no-server runs the command in the foreground, without a daemon, and exits with its code', async () => {
    env = new TestEnv();
    const r = env.cli(['run', '--no-server', 'process', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    assert.equal(r.code, 7, `stderr: ${r.stderr}`);
    assert.equal(r.stdout, 'out\n', 'the command does not write to the caller’s stdout');
    assert.equal(r.stderr, 'err\n', 'the command does not write to the caller’s stderr');
    assert.ok(!existsSync(env.socket), 'a daemon socket appeared');
    assert.ok(!existsSync(env.env.CEDANA_DB_PATH!), '--no-server created the job database');
  });

  it('restore --no-server brings a checkpoint back as a child of the CLI and exits with its code', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'counter.log');
    // Counts to 59 (3 s), then exits 42.
    const pid = runPid(env.ok(['run', 'process', '--jid', 'finite', '--log', log, '--', ...counter({ until: 60, exitCode: 42 })]));
    pids.push(pid);
    await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');
    const path = dumpedPath(env.ok(['dump', 'job', 'finite', '--compression', 'lz4']));
    const atDump = lastNumber(log);
    assert.ok(atDump < 50, `the counter ran too far (${atDump}) before the dump`);

    // No daemon from here on.
    assert.equal(await env.stopDaemon(), 0);
    assert.ok(!existsSync(env.socket));
    const tmp = join(env.dir, 'tmp');
    mkdirSync(tmp);

    const pidFile = join(env.dir, 'restored.pid');
    const cli = spawn(process.execPath, [CLI, 'restore', 'process', '--path', path, '--no-server', '--pid-file', pidFile], {
      env: { ...env.env, TMPDIR: tmp },
      cwd: env.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running = cli;
    let output = '';
    cli.stdout.on('data', (d: Buffer) => (output += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));

    // As in Cedana, a --no-server restore gives the process this command's own stdout (see docs/attach.md).
    const printed = () => output.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
    await waitFor(() => printed().some((n) => n > atDump) || cli.exitCode !== null, 10_000, 'the restored counter to count');
    assert.equal(cli.exitCode, null, `the CLI exited ${cli.exitCode} before the process ended: ${output}`);
    assert.equal(parentOf(pid), cli.pid, 'the restored process is not a child of the CLI');
    await waitFor(() => existsSync(pidFile), 5_000, '--pid-file written');
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(pid), '--pid-file holds the restored PID');
    assert.equal(await exited, 42, `restore exited with another code than the process's: ${output}`);
    assert.ok(!isAlive(pid), `PID ${pid} still runs after the CLI returned`);
    const nums = printed();
    assert.deepEqual(nums, Array.from({ length: nums.length }, (_, i) => nums[0] + i), `the restored counter skipped: ${nums.join(' ')}`);
    assert.ok(nums[0] <= atDump + 1, `the restored counter started at ${nums[0]}, after the dump at ${atDump}`);
    assert.equal(nums[nums.length - 1], 59, 'the restored counter did not count to the end');
    // The restore's scratch directories (unpacked images, CRIU's work dir) are gone.
    assert.deepEqual(readdirSync(tmp), []);
  });
});
