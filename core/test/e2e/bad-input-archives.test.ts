/**
 * Bad checkpoint files given to restore: real checkpoints cut short or with bytes flipped, and hand-made archives
 * whose entries would land outside the directory they are unpacked into. Each restore is refused with one clear
 * line; the file is left as it was; nothing is written outside; no job is recorded; no scratch directory is left.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { waitFor } from '../helpers/env';
import { envWithTmp, expectError, scratchLeft, sha256 } from '../helpers/bad-input';
import { counter, dumpedPath, isAlive, job, lastNumber, psJson, restoredPid, runPid, teardown } from '../helpers/e2e';

type Entry = { header: Parameters<tar.Pack['entry']>[0]; body?: string | Buffer };

/** A gzip-compressed tar of `entries`, made with tar-stream (which writes whatever it is told). */
async function evilTarGz(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  // Read while adding: an entry bigger than the stream's buffer completes only once it has been read.
  const read = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((res, rej) => pack.entry(e.header, e.body ?? '', (err) => (err ? rej(err) : res())));
  }
  pack.finalize();
  await read;
  return gzipSync(Buffer.concat(chunks));
}

/** Offset where the second entry of a plain tar starts: one header, then the first entry's data in 512-byte blocks. */
function secondEntryOffset(tarBytes: Buffer): number {
  const size = parseInt(tarBytes.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  return 512 + Math.ceil(size / 512) * 512;
}

describe('e2e: bad checkpoint files', function () {
  this.timeout(120_000);
  let env: ReturnType<typeof envWithTmp>;
  let log: string;
  let pid: number;
  const ckpt: Record<'gzip' | 'lz4' | 'tar', string> = { gzip: '', lz4: '', tar: '' };
  let bad: string;

  /** Restore of `path` is refused matching `patterns`; the file is unchanged; nothing recorded or left behind. */
  function refused(path: string, ...patterns: RegExp[]): string {
    const before = sha256(path);
    // Status as halted or not: a live counter flips between running and sleep.
    const snapshot = () => psJson(env).map((j) => `${j.jid}:${j.pid}:${j.status === 'halted' ? 'halted' : 'alive'}`);
    const jobs = snapshot();
    const message = expectError(env.cli(['restore', 'process', '--path', path]), ...patterns);
    assert.equal(sha256(path), before, 'the checkpoint file is unchanged');
    assert.deepEqual(snapshot(), jobs, 'no job recorded or changed');
    assert.deepEqual(scratchLeft(env.tmp), [], 'no scratch directory left');
    return message;
  }

  before(async function () {
    env = envWithTmp();
    await env.startDaemon();
    log = join(env.dir, 'src.log');
    pid = runPid(env.ok(['run', 'process', '--jid', 'src', '--log', log, '--', ...counter()]));
    await waitFor(() => lastNumber(log) >= 2, 10_000, 'the counter to start');
    const dir = join(env.dir, 'good');
    mkdirSync(dir);
    for (const compression of ['gzip', 'lz4', 'tar'] as const) {
      ckpt[compression] = dumpedPath(env.ok(['dump', 'job', 'src', '--leave-running', '--dir', dir, '--compression', compression, '--name', `src-${compression}`]));
    }
    bad = join(env.dir, 'bad');
    mkdirSync(bad);
  });

  after(async function () {
    await teardown(env, [pid]);
  });

  describe('damaged real checkpoints', function () {
    for (const compression of ['gzip', 'lz4', 'tar'] as const) {
      it(`a ${compression} checkpoint cut in half`, function () {
        const file = join(bad, `half-${compression}`);
        const full = readFileSync(ckpt[compression]);
        writeFileSync(file, full.subarray(0, Math.floor(full.length / 2)));
        refused(file, new RegExp(`${file} is truncated`), /use another one/);
      });
    }

    for (const compression of ['gzip', 'lz4'] as const) {
      it(`a ${compression} checkpoint with bytes flipped in the middle`, function () {
        const file = join(bad, `flipped-${compression}`);
        const buf = readFileSync(ckpt[compression]);
        const mid = Math.floor(buf.length / 2);
        for (let i = 0; i < 16; i++) buf[mid + i] ^= 0xa5;
        writeFileSync(file, buf);
        refused(file, new RegExp(`${file} is truncated or corrupted`), /use another one/);
      });
    }

    it('a tar checkpoint cut exactly where an entry ends', function () {
      const full = readFileSync(ckpt.tar);
      const file = join(bad, 'cut-at-entry.tar');
      writeFileSync(file, full.subarray(0, secondEntryOffset(full)));
      refused(file, new RegExp(`${file} is truncated`));
    });

    it('a checkpoint with only its first bytes (under one tar block)', function () {
      const file = join(bad, 'tiny.tar.gz');
      writeFileSync(file, readFileSync(ckpt.gzip).subarray(0, 100));
      refused(file, /truncated/);
    });

    it('the job goes on running through all of it', async function () {
      assert.equal(job(env, 'src').pid, pid);
      assert.ok(isAlive(pid));
      const n = lastNumber(log);
      await waitFor(() => lastNumber(log) > n, 10_000, 'the counter to go on');
    });

    it('restore job from its damaged latest checkpoint is refused; the job can still be restored from a good copy', async function () {
      env.ok(['job', 'kill', 'src', '--signal', 'KILL']);
      await waitFor(() => job(env, 'src').status === 'halted', 10_000, 'the job to end');
      const latest = job(env, 'src').latestCheckpoint!.path;
      assert.equal(latest, ckpt.tar);
      const good = join(env.dir, 'good-copy.tar');
      copyFileSync(latest, good);
      const full = readFileSync(latest);
      writeFileSync(latest, full.subarray(0, Math.floor(full.length / 2)));
      const before = sha256(latest);
      expectError(env.cli(['restore', 'job', 'src']), new RegExp(`${latest} is truncated`));
      assert.equal(sha256(latest), before);
      assert.equal(job(env, 'src').status, 'halted');
      assert.equal(job(env, 'src').pid, pid, 'the record is unchanged');
      assert.deepEqual(scratchLeft(env.tmp), []);

      pid = restoredPid(env.ok(['restore', 'job', 'src', '--path', good]));
      assert.ok(isAlive(pid));
      const n = lastNumber(log);
      await waitFor(() => lastNumber(log) > n, 10_000, 'the restored counter to go on');
    });
  });

  describe('archives with entries that would land outside', function () {
    const meta = JSON.stringify({ version: 1, type: 'process', runtimeVersion: '0.1.0', pid: 1, host: 'h', createdAt: 0, criu: {}, details: {} });
    const metaEntry: Entry = { header: { name: 'cedana.json' }, body: meta };

    async function evil(name: string, entries: Entry[]): Promise<string> {
      const file = join(bad, name);
      writeFileSync(file, await evilTarGz([metaEntry, ...entries]));
      return file;
    }

    it('../evil (and ../../evil)', async function () {
      const file = await evil('dotdot.tar.gz', [{ header: { name: '../evil' }, body: 'pwned' }]);
      refused(file, /unsafe archive entry '\.\.\/evil'/, /outside/);
      assert.equal(existsSync(join(env.tmp, 'evil')), false);
      const deeper = await evil('dotdot2.tar.gz', [{ header: { name: 'x/../../../evil' }, body: 'pwned' }]);
      refused(deeper, /unsafe archive entry/);
      assert.equal(existsSync(join(env.dir, 'evil')), false);
    });

    it('an absolute path', async function () {
      const target = join(env.dir, 'abs-evil');
      const file = await evil('absolute.tar.gz', [{ header: { name: target }, body: 'pwned' }]);
      refused(file, new RegExp(`unsafe archive entry '${target}'`));
      assert.equal(existsSync(target), false);
    });

    it('a symlink entry, and a file written through it', async function () {
      const outside = join(env.dir, 'outside');
      mkdirSync(outside);
      const file = await evil('symlink.tar.gz', [
        { header: { name: 'link', type: 'symlink', linkname: outside } },
        { header: { name: 'link/payload' }, body: 'pwned' },
      ]);
      refused(file, /unsafe archive entry 'link': symlink entries are not allowed/);
      assert.equal(existsSync(join(outside, 'payload')), false);
    });

    it('a hardlink entry to a file outside', async function () {
      const victim = join(env.dir, 'victim');
      writeFileSync(victim, 'original');
      const file = await evil('hardlink.tar.gz', [
        { header: { name: 'hard', type: 'link', linkname: victim } },
        { header: { name: 'hard' }, body: 'pwned' },
      ]);
      refused(file, /unsafe archive entry 'hard': link entries are not allowed/);
      assert.equal(readFileSync(victim, 'utf8'), 'original');
    });
  });
});
