/**
 * The progress line of `cedana dump` and `cedana restore` through a real pseudo-terminal (util-linux `script`):
 * on a terminal the phases and the rate are drawn on one line that is erased before the result line; with
 * stderr going to a file, or through pipes as in scripts, the output is exactly what it always was.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, TestEnv, waitFor, type CliResult } from '../helpers/env';
import { counter, dumpedPath, isAlive, job, lastNumber, logLines, restoredPid, runPid, teardown, writeScript, PYTHON } from '../helpers/e2e';
import { memoryCounterScript } from '../helpers/remote-storage';

const ERASE_LINE = '\r\x1b[K';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `cedana ARGS…` on a pseudo-terminal; `shellTail` is appended to the command line (a redirection). */
function onTerminal(env: TestEnv, args: string[], shellTail = ''): CliResult {
  const command = [process.execPath, CLI, ...args].map(quote).join(' ') + shellTail;
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { env: env.env, cwd: env.dir, encoding: 'utf8', timeout: 90_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The frames of the progress line drawn before `result`, without control sequences; asserts the line was erased. */
function framesBefore(out: string, result: string): string[] {
  const at = out.indexOf(result);
  assert.ok(at >= 0, `no ${JSON.stringify(result)} in ${JSON.stringify(out)}`);
  const before = out.slice(0, at);
  assert.ok(before.endsWith(ERASE_LINE), `the progress line was not erased before the result: ${JSON.stringify(before.slice(-80))}`);
  assert.ok(!before.includes('\n'), `the progress line scrolled: ${JSON.stringify(before)}`);
  return before
    .split('\r')
    .map((f) => f.replace(/\x1b\[K/g, ''))
    .filter(Boolean);
}

/** The phase each frame shows, each once, in order. */
const phases = (frames: string[]) => frames.map((f) => f.split(/\s+/)[0]).filter((p, i, all) => i === 0 || all[i - 1] !== p);

describe('e2e: progress line on a terminal', function () {
  this.timeout(120_000);
  let env: TestEnv | undefined;

  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  async function startMemoryJob(): Promise<{ env: TestEnv; log: string; pid: number }> {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'mem.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'mem', '--log', log, '--', PYTHON, writeScript(env, 'mem.py', memoryCounterScript(96))]));
    await waitFor(() => logLines(log).length >= 3, 30_000, 'the job to count');
    return { env, log, pid };
  }

  it('draws dump and restore progress in place and erases it before the result line', async () => {
    const { env, log, pid } = await startMemoryJob();
    // gzip takes long enough over 96 MiB for a rate to be measured.
    const dumped = onTerminal(env, ['dump', 'job', 'mem', '--compression', 'gzip']);
    assert.equal(dumped.code, 0, dumped.stdout);
    const frames = framesBefore(dumped.stdout, 'Dumped to ');
    assert.deepEqual(phases(frames), ['freeze', 'dump', 'compress']);
    assert.ok(frames.some((f) => /^dump\s+[\d.]+ MiB\s/.test(f)), frames.join('\n'));
    assert.ok(frames.some((f) => /^compress\s+[\d.]+ MiB \/ [\d.]+ MiB\s+\d+%\s+[\d.]+ MiB\/s\s+\d+:\d\d$/.test(f)), frames.join('\n'));
    const path = dumpedPath(dumped.stdout.slice(dumped.stdout.indexOf('Dumped to ')).replace(/\r/g, ''));
    assert.equal(job(env, 'mem').latestCheckpoint?.path, path);
    assert.ok(!isAlive(pid));

    const restored = onTerminal(env, ['restore', 'job', 'mem']);
    assert.equal(restored.code, 0, restored.stdout);
    assert.deepEqual(phases(framesBefore(restored.stdout, 'Restored successfully')), ['decompress', 'restore']);
    assert.equal(restoredPid(restored.stdout.slice(restored.stdout.indexOf('Restored successfully')).replace(/\r/g, '')), pid);
    const at = logLines(log).length;
    await waitFor(() => logLines(log).length > at + 3, 10_000, 'the restored job to count on');
  });

  it('prints nothing extra when stderr is not a terminal', async () => {
    const { env } = await startMemoryJob();
    // stdout on the terminal, stderr to a file.
    const errFile = join(env.dir, 'dump.err');
    const dumped = onTerminal(env, ['dump', 'job', 'mem', '--compression', 'lz4', '--name', 'quiet'], ` 2>${quote(errFile)}`);
    assert.equal(dumped.code, 0, dumped.stdout);
    assert.equal(dumped.stdout, `Dumped to ${join(env.env.CEDANA_CHECKPOINT_DIR!, 'quiet.tar.lz4')}\r\n`);
    assert.equal(readFileSync(errFile, 'utf8'), '');

    const restoreErr = join(env.dir, 'restore.err');
    const restored = onTerminal(env, ['restore', 'job', 'mem'], ` 2>${quote(restoreErr)}`);
    assert.equal(restored.code, 0, restored.stdout);
    assert.match(restored.stdout, /^Restored successfully, PID: \d+\r\n$/);
    assert.equal(readFileSync(restoreErr, 'utf8'), '');

    // Through pipes, as a script runs it: the same one line, and an empty stderr.
    const piped = env.cli(['dump', 'job', 'mem', '--compression', 'lz4', '--name', 'piped']);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, `Dumped to ${join(env.env.CEDANA_CHECKPOINT_DIR!, 'piped.tar.lz4')}\n`);
    assert.equal(piped.stderr, '');
  });

  it('keeps errors on a terminal on a line of their own', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const r = onTerminal(env, ['dump', 'job', 'nope']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.replace(ERASE_LINE, ''), 'Error: job nope not found: see `cedana ps` for the jobs there are\r\n');
  });

  it('draws the line for restore --no-server and erases it before the process runs', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'counter.log');
    // Counts to 59 (3 s), then exits 42.
    runPid(env.ok(['run', 'process', '--jid', 'finite', '--log', log, '--', ...counter({ until: 60, exitCode: 42 })]));
    await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');
    const path = dumpedPath(env.ok(['dump', 'job', 'finite', '--compression', 'gzip']));
    assert.equal(await env.stopDaemon(), 0);

    const r = onTerminal(env, ['restore', 'process', '--path', path, '--no-server']);
    assert.equal(r.code, 42, r.stdout);
    // The line is erased before the restored process's first line of output.
    const first = /\d+\r\n/.exec(r.stdout);
    assert.ok(first, `no output of the restored process: ${JSON.stringify(r.stdout)}`);
    assert.deepEqual(phases(framesBefore(r.stdout, first[0])), ['decompress', 'restore']);
    // The process writes to this terminal (a --no-server restore takes the command's stdio, as in Cedana).
    assert.match(r.stdout, /(^|\n)59\r?\n/, 'the restored counter finished on the terminal');
  });
});
