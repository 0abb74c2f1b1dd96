/**
 * `restore --lazy`: the job runs again before its memory is in, CRIU's lazy-pages daemon filling it through
 * userfaultfd. A job holding random bytes prints their sha256 when asked (SIGUSR1); after a lazy restore the sum is
 * the one from before the dump, and the job's details say when all pages were in. When the page source goes away
 * first, the job is killed and its details say why, rather than running on with zero-filled memory.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, sleep, TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, isAlive, job, PYTHON, restoredPid, runPid, teardown } from '../helpers/e2e';

/** Holds `mib` MiB of random bytes; prints `sum <sha256>` at start and on every SIGUSR1. */
function memoryJob(mib: number): string[] {
  const script = [
    'import hashlib, os, signal, sys, time',
    `b = bytearray(os.urandom(${mib} << 20))`,
    'def s(*_):',
    "    print('sum', hashlib.sha256(b).hexdigest(), flush=True)",
    'signal.signal(signal.SIGUSR1, s)',
    's()',
    'while True:',
    '    time.sleep(0.05)',
  ].join('\n');
  return [PYTHON, '-u', '-c', script];
}

function sums(log: string): string[] {
  return existsSync(log) ? [...readFileSync(log, 'utf8').matchAll(/^sum ([0-9a-f]{64})$/gm)].map((m) => m[1]) : [];
}

interface LazyPages {
  state: string;
  runningMs: number;
  completeMs?: number;
  error?: string;
}

function lazyPagesOf(env: TestEnv, jid: string): LazyPages | undefined {
  const view = JSON.parse(env.ok(['job', 'inspect', jid, '--json'])) as { details: { lazyPages?: LazyPages } };
  return view.details.lazyPages;
}

/** The daemon's `criu lazy-pages` children. */
function lazyPagesDaemons(daemonPid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (ppid === daemonPid && cmd.includes('lazy-pages')) found.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe('e2e: restore --lazy', function () {
  this.timeout(120_000);
  let env: TestEnv | undefined;

  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  for (const compression of ['none', 'lz4']) {
    it(`restores a job holding 256 MiB with --lazy (--compression ${compression}); its memory checksum matches`, async () => {
      env = new TestEnv();
      await env.startDaemon();
      const log = join(env.dir, 'mem.log');
      const pid = runPid(env.ok(['run', 'process', '--jid', 'mem', '--log', log, '--', ...memoryJob(256)]));
      await waitFor(() => sums(log).length >= 1, 60_000, 'the job to fill its memory');
      const before = sums(log)[0];

      const path = dumpedPath(env.ok(['dump', 'job', 'mem', '--compression', compression]));
      assert.ok(!isAlive(pid), 'the job still runs after the dump');

      assert.equal(restoredPid(env.ok(['restore', 'job', 'mem', '--lazy'])), pid);
      const lazy = lazyPagesOf(env, 'mem');
      assert.ok(lazy, 'the job has no lazyPages details after restore --lazy');
      assert.ok(['filling', 'complete'].includes(lazy.state), `lazyPages.state: ${lazy.state}`);
      assert.ok(lazy.runningMs > 0, `runningMs ${lazy.runningMs}`);

      // Its memory is what it was: the sum over all of it, read while or after it fills.
      process.kill(pid, 'SIGUSR1');
      await waitFor(() => sums(log).length >= 2, 60_000, 'the restored job to print its sum');
      assert.equal(sums(log)[1], before, 'the memory of the lazily restored job differs from before the dump');

      await waitFor(() => lazyPagesOf(env!, 'mem')?.state === 'complete', 60_000, 'all pages to be in');
      const done = lazyPagesOf(env, 'mem')!;
      assert.ok(done.completeMs! >= done.runningMs, `completeMs ${done.completeMs} < runningMs ${done.runningMs}`);
      assert.ok(isAlive(pid), 'the job stopped after its pages were in');
      assert.deepEqual(lazyPagesDaemons(env.daemonPid!), [], 'criu lazy-pages still runs after all pages are in');
      // A checkpoint is only read: the image directory is as it was, and the scratch copy of an archive is gone.
      if (compression === 'none') assert.ok(readdirSync(path).includes('pages-1.img'), 'the checkpoint lost its pages');
      assert.ok(existsSync(path), `${path} is gone`);
    });
  }

  it('fails a lazy restore whose page source goes away, and leaves no job running', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'mem.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'mem', '--log', log, '--', ...memoryJob(1024)]));
    await waitFor(() => sums(log).length >= 1, 90_000, 'the job to fill its memory');
    env.ok(['dump', 'job', 'mem', '--compression', 'none']);

    // The lazy-pages daemon is killed as soon as the restored PID exists, with most of 1 GiB still to serve.
    const cli = spawn(process.execPath, [CLI, 'restore', 'job', 'mem', '--lazy'], { env: env.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => cli.once('close', resolve));
    let killed = 0;
    while (cli.exitCode === null && killed === 0) {
      const daemons = existsSync(`/proc/${pid}`) ? lazyPagesDaemons(env.daemonPid!) : [];
      for (const d of daemons) {
        process.kill(d, 'SIGKILL');
        killed++;
      }
      await sleep(2);
    }
    const code = await exited;
    assert.ok(killed > 0, 'the restore ended before the test could cut its page source');
    if (code !== 0) {
      // Cut before CRIU handed the memory over: the restore itself fails, with CRIU's reason.
      assert.match(stderr, /restore/i);
    } else {
      // Cut while filling: the job is killed and its details say why.
      await waitFor(() => lazyPagesOf(env!, 'mem')?.state === 'failed', 30_000, 'the lazy restore to be marked failed');
      assert.match(lazyPagesOf(env, 'mem')!.error ?? '', /lost its page source/);
    }
    await waitFor(() => !isAlive(pid), 10_000, 'the job to be gone');
    assert.notEqual(job(env, 'mem').status, 'running');
  });
});
