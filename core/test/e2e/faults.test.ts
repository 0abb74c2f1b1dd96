/**
 * Fault injection against a real daemon and real CRIU: destinations that cannot be written (read-only, /proc, a
 * full disk), checkpoints corrupted, truncated or with a file renamed, and — in the files beside this one — the
 * daemon killed at each phase of a dump, concurrent requests on one job and many jobs at once. Whatever happens
 * the daemon stays up, the process keeps running, and no damaged checkpoint is restored.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../helpers/env';
import { envWithTmp, expectError, scratchLeft } from '../helpers/bad-input';
import { dumpedPath, isAlive, job, lastNumber, PY_COUNTER, runPid, teardown } from '../helpers/e2e';

/** Flips one byte of `path` at `offset`. */
function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  b[0] ^= 0xff;
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
}

/** Where the data of `name` starts inside an uncompressed tar file. */
function tarDataOffset(path: string, name: string): number {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(512);
    for (let at = 0; readSync(fd, header, 0, 512, at) === 512; ) {
      const entry = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      if (!entry) break;
      const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
      if (entry === name) return at + 512;
      at += 512 + Math.ceil(size / 512) * 512;
    }
  } finally {
    closeSync(fd);
  }
  throw new Error(`${name} not in ${path}`);
}

describe('e2e: faults', function () {
  this.timeout(180_000);
  let env: ReturnType<typeof envWithTmp>;
  const pids: number[] = [];
  let log: string;
  let pid: number;

  before(async function () {
    env = envWithTmp();
    await env.startDaemon();
    log = join(env.dir, 'py.log');
    pid = runPid(env.ok(['run', 'process', '--jid', 'py', '--log', log, '--', ...PY_COUNTER]));
    pids.push(pid);
    await waitFor(() => lastNumber(log) >= 2, 10_000, 'the counter to start');
  });

  after(async function () {
    await teardown(env, pids);
  });

  /** The daemon answers, the job has its PID and its output goes on. */
  async function stillRunning(): Promise<void> {
    assert.equal(env.daemonPid !== undefined && isAlive(env.daemonPid), true, `daemon alive\n${env.daemonLog.slice(-2000)}`);
    const j = job(env, 'py');
    assert.equal(j.pid, pid, 'same PID');
    assert.ok(isAlive(pid), 'alive');
    const before = lastNumber(log);
    await waitFor(() => lastNumber(log) > before, 10_000, 'the job to go on');
  }

  /** Dumps the job; returns the checkpoint's path. */
  function roundTrip(args: string[]): string {
    return dumpedPath(env.ok(['dump', 'job', 'py', ...args]));
  }

  describe('destinations that cannot be written', function () {
    for (const compression of ['tar', 'lz4', 'none']) {
      it(`dump job --dir /proc (--compression ${compression}) fails cleanly; the daemon and the job live on`, async function () {
        expectError(env.cli(['dump', 'job', 'py', '--dir', '/proc', '--compression', compression]), /cannot write a checkpoint into \/proc/, /writable --dir/);
        await stillRunning();
      });
    }

    it('a read-only --dir (a read-only tmpfs) fails cleanly', async function () {
      const ro = join(env.dir, 'ro');
      mkdirSync(ro);
      assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]).status, 0, 'mount a read-only tmpfs');
      try {
        for (const compression of ['gzip', 'none']) {
          expectError(env.cli(['dump', 'job', 'py', '--dir', ro, '--compression', compression]), /cannot write a checkpoint into .*EROFS/);
          await stillRunning();
        }
      } finally {
        spawnSync('umount', [ro]);
      }
    });

    it('a full disk (a 256 KiB tmpfs) fails after CRIU and the process is restored from its images', async function () {
      const small = join(env.dir, 'small');
      mkdirSync(small);
      assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]).status, 0, 'mount a small tmpfs');
      try {
        const before = JSON.parse(env.ok(['job', 'checkpoints', 'py', '--json'])) as unknown[];
        expectError(env.cli(['dump', 'job', 'py', '--dir', small, '--compression', 'tar']), /ENOSPC|no space/i, /restored and keeps running/);
        const j = job(env, 'py');
        assert.ok(isAlive(j.pid), 'restored');
        pid = j.pid;
        pids.push(pid);
        const b = lastNumber(log);
        await waitFor(() => lastNumber(log) > b, 10_000, 'the job to go on');
        assert.deepEqual(readdirSync(small), [], 'no partial file left');
        assert.equal((JSON.parse(env.ok(['job', 'checkpoints', 'py', '--json'])) as unknown[]).length, before.length, 'no checkpoint recorded');
      } finally {
        spawnSync('umount', [small]);
      }
      assert.deepEqual(scratchLeft(env.tmp), []);
    });
  });

  describe('damaged checkpoints are refused with one line and left as they are', function () {
    /** Dumps the job and waits for its process to be gone: the job is halted, this checkpoint its latest. */
    async function dumpHalted(args: string[]): Promise<string> {
      const path = roundTrip(args);
      await waitFor(() => !isAlive(pid), 10_000, 'the dumped process to be gone');
      return path;
    }

    async function restoreOk(): Promise<void> {
      env.ok(['restore', 'job', 'py']);
      pid = job(env, 'py').pid;
      pids.push(pid);
      await stillRunning();
    }

    it('tar: a flipped byte in pages-1.img', async function () {
      const path = await dumpHalted(['--compression', 'tar']);
      const size = statSync(path).size;
      flipByte(path, tarDataOffset(path, 'pages-1.img') + 100);
      expectError(env.cli(['restore', 'job', 'py']), /is corrupted: pages-1\.img does not match its checksum/);
      assert.equal(statSync(path).size, size, 'checkpoint left as it was');
      flipByte(path, tarDataOffset(path, 'pages-1.img') + 100);
      await restoreOk();
    });

    it('none: a flipped byte, a truncated file and a renamed file in the image directory', async function () {
      const path = await dumpHalted(['--compression', 'none']);
      const pages = join(path, 'pages-1.img');
      flipByte(pages, 10);
      expectError(env.cli(['restore', 'job', 'py']), /is corrupted: pages-1\.img does not match its checksum/);
      flipByte(pages, 10);
      renameSync(pages, join(path, 'pages-9.img'));
      expectError(env.cli(['restore', 'job', 'py']), /is corrupted: pages-1\.img is missing/);
      renameSync(join(path, 'pages-9.img'), pages);
      const full = statSync(pages).size;
      const fd = openSync(pages, 'r');
      const saved = Buffer.alloc(4096);
      readSync(fd, saved, 0, 4096, full - 4096);
      closeSync(fd);
      truncateSync(pages, full - 4096);
      expectError(env.cli(['restore', 'job', 'py']), new RegExp(`is corrupted: pages-1\\.img has ${full - 4096} bytes, the checkpoint recorded ${full}`));
      const w = openSync(pages, 'r+');
      writeSync(w, saved, 0, 4096, full - 4096);
      closeSync(w);
      await restoreOk();
    });

    it('lz4: a truncated archive', async function () {
      const path = await dumpHalted(['--compression', 'lz4']);
      truncateSync(path, Math.floor(statSync(path).size / 2));
      expectError(env.cli(['restore', 'job', 'py']), /truncated|corrupted/);
      assert.ok(isAlive(env.daemonPid!), 'daemon alive');
    });
  });
});
