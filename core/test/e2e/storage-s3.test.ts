/**
 * `--dir s3://…` end to end: a real daemon dumps a counting job to an S3-compatible server (s3rver over HTTP,
 * started by the test) and restores it from there, for every compression; `job checkpoints` shows the remote
 * checkpoint with its size; `job delete --checkpoints` deletes the object; `--compression none` is refused.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { extensionOf } from '../../src/archive/formats';
import { TestEnv, waitFor } from '../helpers/env';
import { assertCounts, counter, dumpedPath, isAlive, job, lastNumber, psJson, restoredPid, runPid, teardown } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { S3TestServer } from '../helpers/remote-storage';

// Every archive format the daemon writes (all but `none`, which is a directory).
const compressions = Object.entries(extensionOf).map(([compression, ext]) => ({ compression, ext }));

describe('e2e: s3:// checkpoints', function () {
  this.timeout(60_000);
  let server: S3TestServer;
  let env: TestEnv | undefined;

  before(async () => {
    server = await S3TestServer.start(['ckpt']);
  });
  after(async () => {
    await server.stop();
  });
  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  async function startCounter(): Promise<{ env: TestEnv; log: string; pid: number }> {
    env = new TestEnv(server.env());
    await env.startDaemon();
    const log = join(env.dir, 'counter.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'counter', '--log', log, '--', ...counter()]));
    await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');
    return { env, log, pid };
  }

  for (const c of compressions) {
    it(`dumps to s3:// and restores from it with --compression ${c.compression}`, async () => {
      const { env, log, pid } = await startCounter();
      const prefix = `run-${c.compression}-${Date.now()}`;
      const url = dumpedPath(env.ok(['dump', 'job', 'counter', '--dir', `s3://ckpt/${prefix}/`, '--compression', c.compression]));
      const atDump = lastNumber(log);
      assert.match(url, new RegExp(`^s3://ckpt/${prefix}/dump-process-counter-\\d+${c.ext.replace(/\./g, '\\.')}$`));
      assert.ok(!isAlive(pid), 'the job still runs after the dump');

      // The object is on the server, whole, and the job's record points at it with its size.
      const key = url.slice('s3://ckpt/'.length);
      const size = await server.sizeOf('ckpt', key);
      assert.ok(size && size > 0, `no object ${key} on the server`);
      const halted = job(env, 'counter');
      assert.equal(halted.status, 'halted');
      assert.equal(halted.latestCheckpoint?.path, url);
      assert.equal(halted.latestCheckpoint?.size, size);
      const listed = JSON.parse(env.ok(['job', 'checkpoints', 'counter', '--json'])) as { path: string; size: number }[];
      assert.deepEqual(listed.map((k) => [k.path, k.size]), [[url, size]]);
      assert.ok(env.ok(['job', 'checkpoints', 'counter']).includes(url), 'the table does not show the URL');

      assert.equal(restoredPid(env.ok(['restore', 'job', 'counter'])), pid);
      await waitFor(() => lastNumber(log) >= atDump + 5, 10_000, 'the restored counter to count on');
      assertCounts(log);
      assert.equal(psJson(env).length, 1);
    });
  }

  it('refuses --compression none for an s3:// directory, before the process is touched', async () => {
    const { env, log, pid } = await startCounter();
    expectError(env.cli(['dump', 'job', 'counter', '--dir', 's3://ckpt/none/', '--compression', 'none']), /--compression none writes a directory, which s3:\/\/ storage cannot hold/);
    assert.ok(isAlive(pid));
    const before = lastNumber(log);
    await waitFor(() => lastNumber(log) > before, 5_000, 'the counter to go on');
    assert.deepEqual((await server.objects()).filter((o) => o.key.startsWith('none/')), []);
  });

  it('job delete --checkpoints deletes the remote object', async () => {
    const { env } = await startCounter();
    const url = dumpedPath(env.ok(['dump', 'job', 'counter', '--dir', 's3://ckpt/deleted', '--compression', 'lz4']));
    const key = url.slice('s3://ckpt/'.length);
    assert.ok((await server.sizeOf('ckpt', key)) !== null);
    env.ok(['job', 'delete', 'counter', '--checkpoints']);
    assert.equal(await server.sizeOf('ckpt', key), null, 'the object is still there');
    assert.deepEqual(psJson(env), []);
  });

  it('a sharded checkpoint (dump --streams 2) goes to s3:// as objects, comes back, and job delete --checkpoints removes them all', async () => {
    const { env, log, pid } = await startCounter();
    const url = dumpedPath(env.ok(['dump', 'job', 'counter', '--dir', 's3://ckpt/sharded', '--compression', 'zstd', '--streams', '2']));
    const atDump = lastNumber(log);
    const prefix = `${url.slice('s3://ckpt/'.length)}/`;
    const stored = (await server.objects()).filter((o) => o.key.startsWith(prefix)).map((o) => o.key.slice(prefix.length));
    assert.deepEqual(stored.sort(), ['img-0.zst', 'img-1.zst', 'shards.json']);
    assert.equal(restoredPid(env.ok(['restore', 'job', 'counter'])), pid);
    await waitFor(() => lastNumber(log) >= atDump + 5, 10_000, 'the restored counter to count on');
    assertCounts(log);
    env.ok(['job', 'delete', 'counter', '--checkpoints']);
    assert.deepEqual((await server.objects()).filter((o) => o.key.startsWith(prefix)), [], 'shards left on the server');
  });

  it('restore of a missing s3:// checkpoint fails with NOT_FOUND and leaves no job', async () => {
    env = new TestEnv(server.env());
    await env.startDaemon();
    expectError(env.cli(['restore', 'process', '--path', 's3://ckpt/nothing/here.tar.lz4']), /s3:\/\/ckpt\/nothing\/here\.tar\.lz4 does not exist/);
    assert.deepEqual(psJson(env), []);
  });
});
