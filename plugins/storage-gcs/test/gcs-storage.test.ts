/**
 * What the GCS plugin adds to the storage contract, with the real @google-cloud/storage client against the tests'
 * GCS JSON API server over HTTP: chunked resumable uploads with bounded memory, finalized only on commit; cancelled
 * sessions; retries; and each failure (missing bucket, refused credentials, unreachable endpoint, server killed
 * mid-upload) as a clear error that quotes no key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, type PluginInstance, type Storage } from '@cedana-ts/sdk';
import { deadPort, liveBuffers, memoryLogger, rejectsWithCode, testContext, writeRepeated, type MemoryLogger } from '@cedana-ts/sdk/testing';
import plugin from '../src/index';
import { GcsTestServer, makeServiceAccount } from './helpers/gcs-server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../package.json') as Record<string, unknown>;

const MiB = 1 << 20;

describe('gcs storage against the GCS JSON API test server', function () {
  this.timeout(60_000);
  let keys: string;
  let account: { path: string; email: string };
  let server: GcsTestServer;
  const instances: PluginInstance[] = [];

  before(() => {
    keys = mkdtempSync(join(tmpdir(), 'cedana-gcs-keys-'));
    account = makeServiceAccount(keys);
  });
  after(() => rmSync(keys, { recursive: true, force: true }));
  beforeEach(async () => {
    server = await GcsTestServer.start({ trust: [account.path] });
  });
  afterEach(async () => {
    for (const i of instances.splice(0)) await i.close?.();
    await server.stop();
  });

  async function storageFor(config: unknown, logger: MemoryLogger = memoryLogger()): Promise<{ instance: PluginInstance; storage: Storage; logger: MemoryLogger }> {
    const instance = await plugin.init(testContext(pkg, { config, logger }));
    instances.push(instance);
    return { instance, storage: instance.storage!, logger };
  }

  /** Asserts that no part of the service account's private key appears in what the user or the log sees. */
  function assertNoKey(err: { message: string; hint?: string }, logger: MemoryLogger): void {
    const key = (JSON.parse(readFileSync(account.path, 'utf8')) as { private_key: string }).private_key;
    const probe = key.split('\n')[1];
    for (const text of [err.message, err.hint ?? '', ...logger.lines]) {
      assert.ok(!text.includes(probe) && !text.includes('PRIVATE KEY'), `key material leaked: ${text}`);
    }
  }

  it('uploads in chunks of gcs.chunk_size_mib with bounded memory, and finalizes only on commit', async () => {
    const { storage } = await storageFor(server.config({ credentials_file: account.path, chunk_size_mib: 1 }));
    const url = 'gcs://ckpt/big/one.tar.lz4';
    const upload = await storage.create(url);
    const before = liveBuffers();
    const { peak, samples } = await writeRepeated(upload.stream, Buffer.alloc(256 * 1024, 5), 48 * MiB);
    assert.ok(samples >= 5, `memory was sampled only ${samples} times`);
    // One chunk on the wire (kept until confirmed), one filling, and the streams' buffers: measured 5–9 MiB,
    // whatever the object's size (48 to 384 MiB). The client library's own chunked upload held 89 MiB for 384 MiB.
    assert.ok(peak - before < 12 * MiB, `upload held ${((peak - before) / MiB).toFixed(1)} MiB`);
    await server.waitForRequest(() => server.requests.filter((r) => r.kind === 'chunk').length >= 47);
    assert.deepEqual(server.objects(), [], 'the object is visible before commit');
    assert.equal(await storage.stat(url), null);
    assert.ok(!server.requests.some((r) => r.kind === 'finalize'), 'finalized before commit');
    assert.deepEqual(await upload.commit(), { size: 48 * MiB });
    assert.equal((await server.waitForRequest((r) => r.kind === 'finalize')).status, 200);
    assert.deepEqual(server.objects(), [{ name: 'big/one.tar.lz4', size: 48 * MiB }]);
    assert.deepEqual((await storage.list('gcs://ckpt/big/')).map((o) => [o.url, o.size]), [[url, 48 * MiB]]);
  });

  it('serves gs:// URLs too', async () => {
    const { storage } = await storageFor(server.config({ credentials_file: account.path }));
    const upload = await storage.create('gs://ckpt/gs.tar');
    await writeRepeated(upload.stream, Buffer.from('hello'), 5);
    await upload.commit();
    assert.deepEqual((await storage.list('gs://ckpt/')).map((o) => o.url), ['gs://ckpt/gs.tar']);
    assert.deepEqual((await storage.list('gcs://ckpt/')).map((o) => o.url), ['gcs://ckpt/gs.tar']);
  });

  it('abort cancels the upload session on the server', async () => {
    const { storage } = await storageFor(server.config({ credentials_file: account.path, chunk_size_mib: 1 }));
    const upload = await storage.create('gcs://ckpt/aborted.tar');
    await writeRepeated(upload.stream, Buffer.alloc(MiB, 1), 4 * MiB, false);
    await server.waitForRequest((r) => r.kind === 'chunk');
    assert.equal(server.openSessions().length, 1);
    await upload.abort();
    assert.equal((await server.waitForRequest((r) => r.kind === 'cancel')).status, 499);
    assert.deepEqual(server.openSessions(), [], 'the session kept its data');
    assert.deepEqual(server.objects(), []);
  });

  it('retries chunks the server answers with 503, with backoff, and the object is whole', async () => {
    await server.stop();
    server = await GcsTestServer.start({ trust: [account.path], failChunks: 2 });
    const { storage } = await storageFor(server.config({ credentials_file: account.path, chunk_size_mib: 1 }));
    const upload = await storage.create('gcs://ckpt/retried.tar');
    await writeRepeated(upload.stream, Buffer.alloc(MiB, 3), 4 * MiB);
    assert.equal((await upload.commit()).size, 4 * MiB);
    const chunks = server.requests.filter((r) => r.kind === 'chunk' || r.kind === 'finalize').map((r) => r.status);
    assert.equal(chunks.filter((s) => s === 503).length, 2, `chunk statuses: ${chunks.join(' ')}`);
    assert.deepEqual(server.objects(), [{ name: 'retried.tar', size: 4 * MiB }]);
  });

  it('refuses a second object under the same URL', async () => {
    const { storage } = await storageFor(server.config({ credentials_file: account.path }));
    const upload = await storage.create('gcs://ckpt/same.tar');
    await writeRepeated(upload.stream, Buffer.from('x'), 1);
    await upload.commit();
    const err = await rejectsWithCode(storage.create('gcs://ckpt/same.tar'), 'create over an object', ErrorCode.AlreadyExists);
    assert.match(err.message, /gcs:\/\/ckpt\/same\.tar exists already/);
  });

  it('a missing bucket: NOT_FOUND naming the bucket, before any byte is written', async () => {
    const { storage } = await storageFor(server.config({ credentials_file: account.path }));
    const err = await rejectsWithCode(storage.create('gcs://no-such-bucket/x.tar'), 'create in a missing bucket', ErrorCode.NotFound);
    assert.match(err.message, /bucket 'no-such-bucket' does not exist at http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(!server.requests.some((r) => r.kind === 'chunk'));
  });

  it('a key the server does not trust: PERMISSION_DENIED (HTTP 401), and no key material anywhere', async () => {
    const stranger = makeServiceAccount(keys, 'stranger');
    const logger = memoryLogger();
    const { storage } = await storageFor(server.config({ credentials_file: stranger.path }), logger);
    const err = await rejectsWithCode(storage.create('gcs://ckpt/x.tar'), 'create with an untrusted key', ErrorCode.PermissionDenied);
    assert.match(err.message, /refused the credentials \(HTTP 401/);
    assert.match(err.hint ?? '', /gcs\.credentials_file/);
    assertNoKey(err, logger);
    assert.deepEqual(server.objects(), []);
  });

  it('no credentials for a server that wants them: PERMISSION_DENIED', async () => {
    const { storage } = await storageFor(server.config());
    await rejectsWithCode(storage.list('gcs://ckpt/'), 'list without credentials', ErrorCode.PermissionDenied);
  });

  it('an unreadable key file: the plugin loads, health and every request say so, without the content', async () => {
    const { instance, storage } = await storageFor(server.config({ credentials_file: join(keys, 'missing.json') }));
    const health = await instance.health!();
    assert.equal(health[0].level, 'error');
    assert.match(health[0].message ?? '', /gcs\.credentials_file .*missing\.json cannot be read \(ENOENT\)/);
    await rejectsWithCode(storage.create('gcs://ckpt/x.tar'), 'create with a missing key file', ErrorCode.InvalidArgument);
  });

  it('honours GOOGLE_APPLICATION_CREDENTIALS and STORAGE_EMULATOR_HOST', async () => {
    const saved = { a: process.env.GOOGLE_APPLICATION_CREDENTIALS, b: process.env.STORAGE_EMULATOR_HOST };
    process.env.GOOGLE_APPLICATION_CREDENTIALS = account.path;
    process.env.STORAGE_EMULATOR_HOST = server.endpoint;
    try {
      const { instance, storage } = await storageFor({});
      assert.match(JSON.stringify(instance.info), /GOOGLE_APPLICATION_CREDENTIALS/);
      const upload = await storage.create('gcs://ckpt/from-env.tar');
      await writeRepeated(upload.stream, Buffer.alloc(1000, 2), 1000);
      await upload.commit();
      assert.deepEqual(server.objects(), [{ name: 'from-env.tar', size: 1000 }]);
    } finally {
      for (const [k, v] of [['GOOGLE_APPLICATION_CREDENTIALS', saved.a], ['STORAGE_EMULATOR_HOST', saved.b]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('an unreachable endpoint: UNAVAILABLE naming it, after the retries', async () => {
    const port = await deadPort();
    const { storage } = await storageFor({ gcs: { endpoint: `http://127.0.0.1:${port}`, credentials_file: account.path } });
    const start = Date.now();
    const err = await rejectsWithCode(storage.create('gcs://ckpt/x.tar'), 'create at a dead endpoint', ErrorCode.Unavailable);
    assert.match(err.message, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED`));
    assert.ok(Date.now() - start < 45_000, `took ${Date.now() - start} ms`);
  });

  it('the server killed mid-upload: the stream fails with UNAVAILABLE, abort is harmless, no object appears', async () => {
    const logger = memoryLogger();
    const { storage } = await storageFor(server.config({ credentials_file: account.path, chunk_size_mib: 1 }), logger);
    const upload = await storage.create('gcs://ckpt/cut.tar');
    const failed = new Promise<Error>((resolve) => upload.stream.once('error', resolve));
    const writing = writeRepeated(upload.stream, Buffer.alloc(MiB, 9), 64 * MiB);
    await server.waitForRequest((r) => r.kind === 'chunk');
    await server.kill();
    const err = (await failed) as Error & { code?: string };
    assert.equal(err.code, ErrorCode.Unavailable, `stream error: ${err.message}`);
    assert.match(err.message, /uploading gcs:\/\/ckpt\/cut\.tar: cannot reach http:\/\/127\.0\.0\.1:\d+ \((ECONNREFUSED|ECONNRESET)[^)]*, after retries\)/);
    await writing;
    await rejectsWithCode(upload.commit(), 'commit of a failed upload');
    await upload.abort();
    assert.ok(logger.lines.some((l) => /could not cancel the resumable upload/.test(l)), 'the failed cancel is not logged');
    await server.restart();
    assert.deepEqual(server.objects(), [], 'a partial object is visible');
    assert.equal(await storage.stat('gcs://ckpt/cut.tar'), null);
  });
});
