/**
 * runc containers whose stdio lies outside cedana's hands, on real runc and CRIU 4.2: containers started by hand
 * with their output in a host file (all-digit ids too), and an attached run whose attacher had no input.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, TestEnv, waitFor } from '../helpers/env';
import {
  assertHostFileCounts,
  digitsId,
  dumpedPath,
  hostFileLast,
  removeContainer,
  restoredPid,
  runcState as stateOf,
  runcToFile,
  teardown,
} from '../helpers/e2e';
import { boxCounter, runcBundle } from '@cedana-ts/sdk/testing';

describe('runc containers with stdio outside cedana (e2e)', function () {
  this.timeout(120_000);
  let env: TestEnv;
  let root: string;
  let bundle: string;
  const containers: string[] = [];
  const pids: number[] = [];

  const runcState = (id: string) => stateOf(root, id);

  before(async () => {
    env = new TestEnv();
    root = join(env.dir, 'runc-root');
    env.env.CEDANA_RUNC_ROOT = root;
    bundle = runcBundle(join(env.dir, 'bundle'), boxCounter());
    await env.startDaemon();
  });

  after(async () => {
    for (const id of containers) removeContainer(root, id);
    await teardown(env, pids);
  });

  it('dumps a detached container writing to a host file, with an all-digit id, and restores it writing on there', async () => {
    const id = digitsId();
    const out = join(env.dir, 'digits.out');
    containers.push(id);
    runcToFile(root, bundle, id, out, 'detached');
    await waitFor(() => hostFileLast(out) >= 3, 10_000, 'the container counting into the host file');
    const dumped = env.ok(['dump', 'runc', id]);
    const path = dumpedPath(dumped);
    assert.ok(path.includes(id), `the checkpoint is named for the container, not a PID: ${path}`);
    assert.ok(!env.daemonLog.includes(`dumped PID ${Number(id)}`), 'the id was never read as a number');
    assert.equal(runcState(id), null, 'the checkpoint stopped the container');
    const atDump = hostFileLast(out);
    const pid = restoredPid(env.ok(['restore', 'runc', '--id', id, '--path', path, '--bundle', bundle]));
    assert.equal(runcState(id)?.pid, pid);
    await waitFor(() => hostFileLast(out) >= atDump + 3, 10_000, 'the restored container counting on in the host file');
    assertHostFileCounts(out);
  });

  it('dumps and restores a container run in the foreground with its output redirected to a host file', async () => {
    const id = `rc-fg-${digitsId()}`;
    const out = join(env.dir, 'fg.out');
    containers.push(id);
    pids.push(runcToFile(root, bundle, id, out, 'foreground')!);
    await waitFor(() => runcState(id)?.status === 'running' && hostFileLast(out) >= 2, 10_000, 'the container running');
    const path = dumpedPath(env.ok(['dump', 'runc', id]));
    assert.equal(runcState(id), null);
    const pid = restoredPid(env.ok(['restore', 'runc', '--id', id, '--path', path, '--bundle', bundle]));
    assert.equal(runcState(id)?.pid, pid);
    assert.equal(runcState(id)?.status, 'running');
  });

  it('restores an attached run whose attacher had no input, and the daemon still stops on SIGTERM', async () => {
    const pidFile = join(env.dir, 'attached.pid');
    const jid = `rc-att-${digitsId()}`;
    containers.push(jid);
    // As `cedana run … --attach &` from a script: the attacher's stdin is /dev/null, so the job's input ends.
    const attach = spawn(process.execPath, [CLI, 'run', 'runc', '--bundle', bundle, '--jid', jid, '--pid-file', pidFile, '--attach'], {
      env: env.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pids.push(attach.pid!);
    let seen = '';
    attach.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    await waitFor(() => /^3$/m.test(seen), 15_000, 'the attached output');
    assert.ok(statSync(pidFile).size > 0, 'the pid file is written');
    env.ok(['dump', 'job', jid]);
    const r = env.cli(['restore', 'job', jid, '--attachable'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `restore job returned: ${r.stdout}${r.stderr}`);
    assert.equal(runcState(jid)?.status, 'running');
    attach.kill('SIGINT');
    env.ok(['job', 'kill', jid, '--signal', 'KILL']);
    const stopped = env.stopDaemon('SIGTERM');
    const timer = new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 15_000).unref());
    assert.notEqual(await Promise.race([stopped.then(() => 'stopped'), timer]), 'still running', 'the daemon stops on SIGTERM');
  });
});
