/**
 * A restore needs the dumped process's old PID. When the dump killed a process whose parent has not reaped it
 * yet, a zombie holds that PID for a moment: the restore waits for it (a few seconds) instead of failing at once
 * in CRIU, and when the zombie stays, says what holds the PID.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { expectError } from '../helpers/bad-input';
import { dumpedPath, killGroup, lastNumber, procState, PYTHON, restoredPid, teardown, writeScript } from '../helpers/e2e';

/**
 * A parent that forks a counting child in a session of its own and reaps it only `reapAfter` seconds after the
 * file `go` appears (never, when negative). Returns the parent and the child's PID.
 */
async function parentOfCounter(env: TestEnv, name: string, reapAfter: number): Promise<{ parent: ChildProcess; child: number; log: string; go: string }> {
  const log = join(env.dir, `${name}.log`);
  const go = join(env.dir, `${name}.go`);
  const pidFile = join(env.dir, `${name}.pid`);
  const script = writeScript(
    env,
    `${name}.py`,
    [
      'import os, sys, time',
      'pid = os.fork()',
      'if pid == 0:',
      '    os.setsid()',
      `    out = open(${JSON.stringify(log)}, "a", buffering=1)`,
      '    fd = os.open("/dev/null", os.O_RDWR)',
      '    for n in (0, 1, 2): os.dup2(fd, n)',
      '    i = 0',
      '    while True:',
      '        out.write("%d\\n" % i)',
      '        i += 1',
      '        time.sleep(0.05)',
      `open(${JSON.stringify(pidFile)}, "w").write(str(pid))`,
      `while not os.path.exists(${JSON.stringify(go)}): time.sleep(0.05)`,
      `if ${reapAfter} < 0: time.sleep(3600)`,
      `time.sleep(${Math.max(reapAfter, 0)})`,
      'os.waitpid(pid, 0)',
      'time.sleep(3600)',
    ].join('\n'),
  );
  const parent = spawn(PYTHON, ['-u', script], { stdio: 'ignore', detached: true });
  const child = (await waitFor(() => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) || undefined : undefined), 10_000, 'the child to start')) as number;
  await waitFor(() => lastNumber(log) >= 2, 10_000, 'the child to count');
  return { parent, child, log, go };
}

describe('e2e: a restore whose PID a zombie holds', function () {
  this.timeout(120_000);
  let env: TestEnv;
  const pids: number[] = [];

  before(async function () {
    env = new TestEnv();
    await env.startDaemon();
  });

  after(async function () {
    await teardown(env, pids);
  });

  it('waits for the zombie to be reaped, then restores', async function () {
    const { parent, child, log, go } = await parentOfCounter(env, 'reaped', 3);
    pids.push(parent.pid!, child);
    const path = dumpedPath(env.ok(['dump', 'process', String(child), '--dir', env.dir, '--compression', 'none']));
    // The dump killed the child; its parent has not reaped it, so the PID is a zombie's now.
    await waitFor(() => procState(child) === 'Z', 10_000, 'the dumped child to be a zombie');
    writeFileSync(go, '');
    const pid = restoredPid(env.ok(['restore', 'process', '--path', path]));
    assert.equal(pid, child, 'restored under its old PID');
    const before = lastNumber(log);
    await waitFor(() => lastNumber(log) > before, 10_000, 'the restored counter to go on');
    killGroup(parent.pid!);
  });

  it('a zombie that stays: refused with what holds the PID, and the checkpoint stays', async function () {
    const { parent, child, go } = await parentOfCounter(env, 'kept', -1);
    pids.push(parent.pid!);
    const path = dumpedPath(env.ok(['dump', 'process', String(child), '--dir', env.dir, '--compression', 'none']));
    await waitFor(() => procState(child) === 'Z', 10_000, 'the dumped child to be a zombie');
    writeFileSync(go, '');
    const started = Date.now();
    expectError(env.cli(['restore', 'process', '--path', path]), new RegExp(`PID ${child}.*held by a zombie`));
    assert.ok(Date.now() - started >= 4_000, 'it waited for the zombie before giving up');
    assert.ok(existsSync(join(path, 'cedana.json')), 'the checkpoint is intact');
    killGroup(parent.pid!);
  });
});
