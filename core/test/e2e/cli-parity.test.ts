/**
 * Cedana's CLI on real CRIU: `exec` with flags after the command, in-process `check`, and the CRIU flags of dump
 * and restore that this CLI added (--leave-stopped, --link-remap, --criu-opts) reaching CRIU. (--external is
 * accepted by CRIU silently when unused; the process plugin's unit test checks it reaches CRIU's command line.)
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { spawnSync } from 'node:child_process';
import { boxCounter, runcBundle } from '@cedana-ts/sdk/testing';
import { counter, dumpedPath, job, killGroup, lastNumber, logLines, procState } from '../helpers/e2e';
import { restoredPid, runPid, teardown } from '../helpers/e2e';

describe('e2e: Cedana CLI parity', function () {
  this.timeout(90_000);
  let env: TestEnv | undefined;
  const pids: number[] = [];

  afterEach(async () => {
    await teardown(env, pids.splice(0));
    env = undefined;
  });

  it('exec takes its flags after the command, as run process does', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'ex.log');
    pids.push(runPid(env.ok(['exec', 'echo', 'hello', '--jid', 'ex1', '--out', log])));
    assert.equal(job(env, 'ex1').jid, 'ex1');
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8') === 'hello\n', 10_000, 'the job to print');
  });

  it('check runs without a daemon, ends in one verdict line, and --full adds the CRIU features', () => {
    env = new TestEnv();
    const basic = env.cli(['check']);
    assert.equal(basic.code, 0, basic.stderr);
    assert.match(basic.stdout, /criu version\s+\d+\.\d+/);
    assert.doesNotMatch(basic.stdout, /criu pidfd_store/);
    assert.match(basic.stdout.trimEnd().split('\n').pop()!, /^(All good\.|Looks good, with \d+ warning\(s\)\.)$/);
    const full = env.cli(['check', '--full']);
    assert.match(full.stdout, /criu pidfd_store/);
    assert.match(full.stdout, /^RUNC$/m);
  });

  it('restore --leave-stopped leaves the restored process stopped; --link-remap and --criu-opts reach CRIU', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'c.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'ls1', '--log', log, '--', ...counter()]));
    pids.push(pid);
    await waitFor(() => lastNumber(log) >= 3, 10_000, 'the counter to count');
    const path = dumpedPath(env.ok(['dump', 'job', 'ls1', '--link-remap', '--criu-opts', '{"file_locks":true}']));
    assert.match(readFileSync(join(path, 'dump.log'), 'utf8'), /Will allow link remaps/, 'CRIU was given --link-remap');
    killGroup(pid);
    const restored = restoredPid(env.ok(['restore', 'job', 'ls1', '--path', path, '--leave-stopped']));
    pids.push(restored);
    await waitFor(() => procState(restored) === 'T', 10_000, 'the restored process to be stopped');
    const before = lastNumber(log);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(lastNumber(log), before, 'a stopped process does not count');
    // CRIU leaves every task of the tree stopped: the shell and its sleep.
    process.kill(-restored, 'SIGCONT');
    await waitFor(() => lastNumber(log) > before, 10_000, 'the counter to go on after SIGCONT');
  });

  it('restore --out sends the restored output to that file, and the job\'s log is that file now', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'before.log');
    const out = join(env.dir, 'after.log');
    pids.push(runPid(env.ok(['run', 'process', '--jid', 'out1', '--log', log, '--', ...counter()])));
    await waitFor(() => lastNumber(log) >= 3, 10_000, 'the counter to count');
    const path = dumpedPath(env.ok(['dump', 'job', 'out1']));
    const atDump = lastNumber(log);
    const refused = env.cli(['restore', 'job', 'out1', '--out', out, '--attach']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^Error: --out cannot be used with --attach or --attachable: /);
    pids.push(restoredPid(env.ok(['restore', 'job', 'out1', '--path', path, '-o', out])));
    await waitFor(() => lastNumber(out) >= atDump + 3, 10_000, 'the restored counter in the --out file');
    assert.equal(logLines(out)[0], String(atDump + 1), 'it carries on where it was dumped');
    assert.equal(lastNumber(log), atDump, 'nothing more in the old log');
    assert.equal(job(env, 'out1').log, out);
  });

  it('run runc takes runc\'s run flags (--detach, -b, --no-new-keyring, --no-subreaper) and dumps and restores', async () => {
    env = new TestEnv();
    const root = join(env.dir, 'runc-root');
    env.env.CEDANA_RUNC_ROOT = root;
    const bundle = runcBundle(join(env.dir, 'bundle'), boxCounter());
    await env.startDaemon();
    const log = join(env.dir, 'rc.log');
    try {
      env.ok(['run', 'runc', '-b', bundle, '--jid', 'rcflags', '--id', 'rcflags', '--log', log, '--detach', '--no-new-keyring', '--no-subreaper']);
      await waitFor(() => lastNumber(log) >= 3, 15_000, 'the container to count');
      const path = dumpedPath(env.ok(['dump', 'job', 'rcflags']));
      const refused = env.cli(['restore', 'job', 'rcflags', '--path', path, '--netns-eth0-ipv4-addr', '10.0.0.9']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^Error: --netns-eth0-ipv4-addr is not supported/);
      restoredPid(env.ok(['restore', 'job', 'rcflags', '--path', path, '-d', '--no-subreaper']));
      const at = lastNumber(log);
      await waitFor(() => lastNumber(log) > at + 2, 15_000, 'the restored container to count on');
    } finally {
      spawnSync('runc', ['--root', root, 'delete', '--force', 'rcflags']);
    }
  });
});
