/**
 * run → dump job → restore job of a counter, for every compression: the checkpoint is recorded and has the
 * right format, and the restored process goes on counting from where it was stopped.
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, TestEnv, waitFor } from '../helpers/env';
import { assertCounts, counter, dumpedPath, isAlive, job, lastNumber, psJson, restoredPid, runPid, teardown } from '../helpers/e2e';

function head(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

interface Case {
  compression: string;
  /** How the checkpoint's name ends ('' for the image directory of `none`). */
  ext: string;
  /** Checks the first bytes of the archive. */
  magic?: (b: Buffer) => boolean;
}

const cases: Case[] = [
  { compression: 'none', ext: '' },
  { compression: 'tar', ext: '.tar', magic: (b) => b.subarray(257, 262).toString('latin1') === 'ustar' },
  { compression: 'gzip', ext: '.tar.gz', magic: (b) => b[0] === 0x1f && b[1] === 0x8b },
  { compression: 'lz4', ext: '.tar.lz4', magic: (b) => b.readUInt32LE(0) === 0x184d2204 },
  { compression: 'zlib', ext: '.tar.zlib', magic: (b) => b[0] === 0x78 && ((b[0] << 8) | b[1]) % 31 === 0 },
];

describe('e2e: run → dump → restore', function () {
  this.timeout(60_000);
  let env: TestEnv | undefined;

  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  for (const c of cases) {
    it(`round-trips a counting job with --compression ${c.compression}`, async () => {
      env = new TestEnv();
      await env.startDaemon();
      const log = join(env.dir, 'counter.log');
      const pid = runPid(env.ok(['run', 'process', '--jid', 'counter', '--log', log, '--', ...counter()]));
      await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');

      const path = dumpedPath(env.ok(['dump', 'job', 'counter', '--compression', c.compression]));
      const atDump = lastNumber(log);

      // The job is stopped and its checkpoint recorded.
      const halted = job(env, 'counter');
      assert.equal(halted.status, 'halted');
      assert.equal(halted.pid, pid);
      assert.ok(!isAlive(pid), `PID ${pid} still runs after the dump`);
      assert.ok(halted.latestCheckpoint, 'ps shows no checkpoint');
      assert.equal(halted.latestCheckpoint.path, path);
      assert.equal(halted.latestCheckpoint.compression, c.compression);
      assert.ok(halted.latestCheckpoint.size > 0, `checkpoint size ${halted.latestCheckpoint.size}`);

      // The checkpoint is where the output says, in the checkpoint dir, in the format asked for.
      assert.equal(join(path, '..'), env.env.CEDANA_CHECKPOINT_DIR);
      assert.ok(existsSync(path), `${path} does not exist`);
      if (c.compression === 'none') {
        assert.ok(statSync(path).isDirectory(), `${path} is not a directory`);
        const files = readdirSync(path);
        assert.ok(files.includes('cedana.json'), `no metadata in ${files.join(' ')}`);
        assert.ok(files.includes('pstree.img'), `no CRIU images in ${files.join(' ')}`);
      } else {
        assert.ok(path.endsWith(c.ext), `${path} does not end with ${c.ext}`);
        assert.ok(!path.endsWith(`${c.ext}${c.ext}`), `${path}: doubled extension`);
        const st = statSync(path);
        assert.ok(st.isFile(), `${path} is not a file`);
        assert.equal(st.size, halted.latestCheckpoint.size);
        assert.ok(c.magic!(head(path, 512)), `${path} does not start like a ${c.compression} archive: ${head(path, 16).toString('hex')}`);
      }

      const listed = env.ok(['job', 'checkpoints', 'counter']);
      assert.ok(listed.includes(path), `job checkpoints does not list ${path}:\n${listed}`);
      const listedJson = JSON.parse(env.ok(['job', 'checkpoints', 'counter', '--json'])) as { path: string; size: number }[];
      assert.deepEqual(listedJson.map((k) => k.path), [path]);

      // Stopped means stopped: nothing more is written while it is checkpointed.
      await sleep(300);
      assert.equal(lastNumber(log), atDump, 'the counter went on counting after the dump');

      const restored = restoredPid(env.ok(['restore', 'job', 'counter']));
      assert.equal(restored, pid, 'restore puts the process back under its PID');
      const running = job(env, 'counter');
      assert.equal(running.pid, pid);
      assert.ok(!['halted', 'zombie', 'stale'].includes(running.status), `status after restore: ${running.status}`);
      assert.ok(isAlive(pid), `PID ${pid} is not running after the restore`);
      assert.equal(psJson(env).length, 1, 'restore job made a new job');

      await waitFor(() => lastNumber(log) >= atDump + 5, 10_000, 'the restored counter to count on');
      // 0, 1, …, atDump, atDump + 1, …: it went on from where it was, without restarting from 0.
      const nums = assertCounts(log);
      assert.ok(nums.length > atDump + 5);
    });
  }
});
