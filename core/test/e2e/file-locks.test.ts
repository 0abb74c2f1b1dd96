/**
 * File locks are found the way established TCP is: a process holding an OFD lock (fcntl F_OFD_SETLK, as SQLite
 * can) is dumped by a plain `dump job`, and holds its lock again after the restore.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, job, lastNumber, PYTHON, runPid, teardown, writeScript } from '../helpers/e2e';

/** True when some fd of `pid` holds a lock (its fdinfo has a `lock:` line). */
function holdsLock(pid: number): boolean {
  return readdirSync(`/proc/${pid}/fdinfo`).some((fd) => {
    try {
      return /^lock:/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    } catch {
      return false;
    }
  });
}

describe('e2e: file locks', function () {
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

  it('a process holding an OFD lock dumps with a plain dump job and restores with its lock', async function () {
    const locked = join(env.dir, 'locked.db');
    const script = writeScript(
      env,
      'ofd.py',
      [
        'import fcntl, os, struct, time',
        `fd = os.open(${JSON.stringify(locked)}, os.O_RDWR | os.O_CREAT, 0o600)`,
        // struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks)
        'fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))',
        'i = 0',
        'while True:',
        '    print(i, flush=True)',
        '    i += 1',
        '    time.sleep(0.05)',
      ].join('\n'),
    );
    const log = join(env.dir, 'ofd.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'ofd', '--log', log, '--', PYTHON, '-u', script]));
    pids.push(pid);
    await waitFor(() => lastNumber(log) >= 2, 20_000, 'the locker to start');
    assert.ok(holdsLock(pid), 'the lock is held');
    dumpedPath(env.ok(['dump', 'job', 'ofd']));
    env.ok(['restore', 'job', 'ofd']);
    const restored = job(env, 'ofd').pid;
    pids.push(restored);
    const before = lastNumber(log);
    await waitFor(() => lastNumber(log) > before, 10_000, 'the restored locker to go on');
    assert.ok(holdsLock(restored), 'the lock is held again after the restore');
  });
});
