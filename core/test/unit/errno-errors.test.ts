/**
 * Raw file-system errors become one line saying what is wrong with which path, and what to do.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, toCedanaError } from '@cedana-ts/sdk';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('did not throw');
}

describe('errno errors', function () {
  it('ENOENT, EISDIR, EACCES-like codes name the path and say what to do', function () {
    const dir = mkdtempSync(join(tmpdir(), 'cedana-errno-'));
    try {
      const enoent = toCedanaError(thrown(() => openSync(join(dir, 'absent'), 'r')));
      assert.equal(enoent.code, ErrorCode.NotFound);
      assert.equal(enoent.fullMessage, `${join(dir, 'absent')} does not exist: check the path`);
      const eisdir = toCedanaError(thrown(() => openSync(dir, 'w')));
      assert.equal(eisdir.code, ErrorCode.InvalidArgument);
      assert.equal(eisdir.fullMessage, `${dir} is a directory: give the path of a file`);
      const erofs = toCedanaError(Object.assign(new Error('EROFS: read-only file system, open \'/ro/x\''), { code: 'EROFS', path: '/ro/x' }));
      assert.equal(erofs.code, ErrorCode.PermissionDenied);
      assert.equal(erofs.fullMessage, '/ro/x is on a read-only file system: choose a writable directory');
      const eacces = toCedanaError(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', path: '/x' }));
      assert.match(eacces.fullMessage, /^permission denied on \/x: check its owner and mode/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
