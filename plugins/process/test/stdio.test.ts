import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inheritArgs, inheritKey, stdioOf } from '../src/stdio';

describe('restored stdio (stdio.ts)', () => {
  it('names fds 0-2 of a live process as /proc does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stdio-test-'));
    const log = join(dir, 'out.log');
    const fd = openSync(log, 'a');
    const child = spawn('sleep', ['5'], { stdio: ['ignore', fd, 'pipe'] });
    try {
      await new Promise((r) => child.once('spawn', r));
      const [stdin, stdout, stderr] = await stdioOf(child.pid!);
      assert.equal(stdin, '/dev/null');
      assert.equal(stdout, log);
      assert.match(stderr, /^(pipe|socket):\[\d+\]$/);
    } finally {
      child.kill('SIGKILL');
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keys resources as CRIU images name them, and leaves terminals alone', () => {
    assert.equal(inheritKey('pipe:[4242]'), 'pipe:[4242]');
    assert.equal(inheritKey('/var/log/x.log'), 'var/log/x.log');
    assert.equal(inheritKey('/tmp/gone.log (deleted)'), 'tmp/gone.log');
    assert.equal(inheritKey('/dev/pts/3'), undefined);
    assert.equal(inheritKey(''), undefined);
  });

  it('hands each dumped resource once, as CRIU fds 3, 4, …', () => {
    const r = inheritArgs(['/dev/null', '/var/log/j.log', '/var/log/j.log'], { stdin: 10, stdout: 11, stderr: 12 });
    assert.deepEqual(r.args, ['--inherit-fd', 'fd[3]:dev/null', '--inherit-fd', 'fd[4]:var/log/j.log']);
    assert.deepEqual(r.fds, [10, 11]);
    // No stdin given: the dumped stdin stays; a checkpoint without the record hands nothing.
    assert.deepEqual(inheritArgs(['pipe:[1]', 'pipe:[2]', 'pipe:[3]'], { stdout: 5, stderr: 6 }).args, ['--inherit-fd', 'fd[3]:pipe:[2]', '--inherit-fd', 'fd[4]:pipe:[3]']);
    assert.deepEqual(inheritArgs(undefined, { stdin: 1, stdout: 2, stderr: 3 }), { args: [], fds: [] });
  });
});
