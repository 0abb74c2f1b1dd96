/**
 * What the S3 plugin adds to the storage contract, against s3rver over HTTP: multipart streaming with bounded
 * memory, nothing visible before commit, aborted uploads dropped on the server, retries, and each failure (missing
 * bucket, denied credentials, unreachable endpoint, server killed mid-upload) as a clear error with no secret in it.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, type PluginInstance, type Storage } from '@cedana-ts/sdk';
import { deadPort, liveBuffers, memoryLogger, rejectsWithCode, testContext, writeRepeated, type MemoryLogger } from '@cedana-ts/sdk/testing';
import plugin from '../src/index';
import { S3TestServer, type S3Request } from './helpers/s3-server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../package.json') as Record<string, unknown>;

const MiB = 1 << 20;
const SECRET = 'wrong-secret-d41d8cd98f00b204';

async function init(config: unknown, logger: MemoryLogger = memoryLogger()): Promise<{ instance: PluginInstance; storage: Storage; logger: MemoryLogger }> {
  const instance = await plugin.init(testContext(pkg, { config, logger }));
  return { instance, storage: instance.storage!, logger };
}

/** Asserts that nothing the user or the log sees contains the secret. */
function assertNoSecret(err: { message: string; hint?: string }, logger: MemoryLogger): void {
  for (const text of [err.message, err.hint ?? '', ...logger.lines]) assert.ok(!text.includes(SECRET), `the secret leaked: ${text}`);
}

const isPart = (r: S3Request) => r.method === 'PUT' && r.query.includes('partNumber');

describe('s3 storage against s3rver', function () {
  this.timeout(60_000);
  let server: S3TestServer;
  const instances: PluginInstance[] = [];

  beforeEach(async () => {
    server = await S3TestServer.start(['ckpt']);
  });
  afterEach(async () => {
    for (const i of instances.splice(0)) await i.close?.();
    await server.stop();
  });

  async function storageFor(config: unknown, logger?: MemoryLogger) {
    const made = await init(config, logger);
    instances.push(made.instance);
    return made;
  }

  it('streams in parts of aws.part_size_mib with bounded memory, and shows the object only after commit', async () => {
    const { storage } = await storageFor(server.config({ part_size_mib: 5 }));
    const url = 's3://ckpt/big/one.tar.lz4';
    const upload = await storage.create(url);
    const before = liveBuffers();
    const { peak, samples } = await writeRepeated(upload.stream, Buffer.alloc(256 * 1024, 7), 96 * MiB);
    // 2 parts on the wire and 1 filling most of the time; at an instant, answered parts the HTTP stack has not
    // let go of yet: measured 10–35 MiB, whatever the object's size (48 to 384 MiB). Far below the 96 MiB sent.
    assert.ok(samples >= 5, `memory was sampled only ${samples} times`);
    assert.ok(peak - before < 8 * 5 * MiB, `upload held ${((peak - before) / MiB).toFixed(1)} MiB`);
    await server.waitForRequest(() => server.requests.filter(isPart).length >= 20);
    const parts = server.requests.filter(isPart);
    assert.equal(parts.length, Math.floor(96 / 5) + 1, 'one UploadPart per 5 MiB, the last one short');
    assert.ok(parts.every((p) => p.status === 200));
    assert.deepEqual(await server.objects(), [], 'an object is visible before commit');
    assert.equal(await storage.stat(url), null);
    assert.deepEqual(await upload.commit(), { size: 96 * MiB });
    assert.deepEqual(await server.objects(), [{ key: 'big/one.tar.lz4', size: 96 * MiB }]);
    assert.deepEqual((await storage.list('s3://ckpt/big/')).map((o) => [o.url, o.size]), [[url, 96 * MiB]]);
  });

  it('aborts the multipart upload on the server, so no part stays behind', async () => {
    const { storage } = await storageFor(server.config({ part_size_mib: 5 }));
    const upload = await storage.create('s3://ckpt/aborted.tar');
    await writeRepeated(upload.stream, Buffer.alloc(MiB, 1), 12 * MiB, false);
    await server.waitForRequest(isPart);
    await upload.abort();
    // A part still arriving may make one abort fail (as on S3); the upload then aborts again until ListParts
    // says it is gone.
    await server.waitForRequest((r) => r.method === 'GET' && r.query.includes('uploadId') && r.status === 404, 10_000);
    const aborts = server.requests.filter((r) => r.method === 'DELETE' && r.query.includes('uploadId'));
    assert.ok(aborts.some((r) => r.status === 204), `AbortMultipartUpload statuses: ${aborts.map((r) => r.status).join(' ')}`);
    const uploads = join(server.dir, 'ckpt');
    assert.ok(!readdirSync(uploads).some((n) => n.includes('uploads') && readdirSync(join(uploads, n)).length > 0), 'parts left on the server');
    assert.deepEqual(await server.objects(), []);
  });

  it('aborts again until the server lets the upload go, when aborts fail', async () => {
    await server.stop();
    server = await S3TestServer.start(['ckpt'], { failAborts: 4 });
    const { storage } = await storageFor(server.config({ part_size_mib: 5 }));
    const upload = await storage.create('s3://ckpt/stubborn.tar');
    await writeRepeated(upload.stream, Buffer.alloc(MiB, 2), 6 * MiB, false);
    await server.waitForRequest(isPart);
    await upload.abort();
    await server.waitForRequest((r) => r.method === 'GET' && r.query.includes('uploadId') && r.status === 404, 10_000);
    const statuses = server.requests.filter((r) => r.method === 'DELETE' && r.query.includes('uploadId')).map((r) => r.status);
    assert.deepEqual(statuses, [500, 500, 500, 500, 204]);
    const uploads = join(server.dir, 'ckpt');
    assert.ok(!readdirSync(uploads).some((n) => n.includes('uploads') && readdirSync(join(uploads, n)).length > 0), 'parts left on the server');
  });

  it('retries a part that the server answers with 503, with backoff, and the object is whole', async () => {
    await server.stop();
    server = await S3TestServer.start(['ckpt'], { failParts: 2 });
    const { storage } = await storageFor(server.config({ part_size_mib: 5 }));
    const upload = await storage.create('s3://ckpt/retried.tar');
    await writeRepeated(upload.stream, Buffer.alloc(MiB, 3), 7 * MiB);
    assert.equal((await upload.commit()).size, 7 * MiB);
    await server.waitForRequest(() => server.requests.filter(isPart).length >= 4);
    const statuses = server.requests.filter(isPart).map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 503).length, 2, `part statuses: ${statuses.join(' ')}`);
    assert.equal(statuses.filter((s) => s === 200).length, 2, `part statuses: ${statuses.join(' ')}`);
    assert.equal(await server.sizeOf('ckpt', 'retried.tar'), 7 * MiB);
  });

  it('refuses a second object under the same URL', async () => {
    const { storage } = await storageFor(server.config());
    const first = await storage.create('s3://ckpt/same.tar');
    first.stream.end(Buffer.from('x'));
    await new Promise((r) => first.stream.once('finish', r));
    await first.commit();
    const err = await rejectsWithCode(storage.create('s3://ckpt/same.tar'), 'create over an object', ErrorCode.AlreadyExists);
    assert.match(err.message, /s3:\/\/ckpt\/same\.tar exists already/);
  });

  it('a missing bucket: NOT_FOUND naming the bucket, before any byte is written', async () => {
    const { storage } = await storageFor(server.config());
    const err = await rejectsWithCode(storage.create('s3://no-such-bucket/x.tar'), 'create in a missing bucket', ErrorCode.NotFound);
    assert.match(err.message, /bucket 'no-such-bucket' does not exist at http:\/\/127\.0\.0\.1:\d+/);
    await rejectsWithCode(storage.open('s3://no-such-bucket/x.tar'), 'open in a missing bucket', ErrorCode.NotFound);
  });

  it('a wrong secret: PERMISSION_DENIED (SignatureDoesNotMatch), and the secret appears nowhere', async () => {
    const logger = memoryLogger();
    const { storage } = await storageFor(server.config({ secret_access_key: SECRET }), logger);
    const err = await rejectsWithCode(storage.create('s3://ckpt/x.tar'), 'create with a wrong secret', ErrorCode.PermissionDenied);
    assert.match(err.message, /SignatureDoesNotMatch/);
    assert.match(err.hint ?? '', /aws\.secret_access_key/);
    assertNoSecret(err, logger);
    assert.deepEqual(await server.objects(), []);
  });

  it('an unknown access key: PERMISSION_DENIED (InvalidAccessKeyId)', async () => {
    const logger = memoryLogger();
    const { storage } = await storageFor(server.config({ access_key_id: SECRET }), logger);
    const err = await rejectsWithCode(storage.list('s3://ckpt/'), 'list with an unknown key', ErrorCode.PermissionDenied);
    assert.match(err.message, /InvalidAccessKeyId/);
    assertNoSecret(err, logger);
  });

  it('an incomplete key pair: the plugin loads, reports it in health, and every request says what is missing', async () => {
    const { instance, storage } = await storageFor({ aws: { access_key_id: 'only-the-id' } });
    const health = await instance.health!();
    assert.equal(health[0].level, 'error');
    assert.match(health[0].message ?? '', /aws\.secret_access_key/);
    const err = await rejectsWithCode(storage.create('s3://ckpt/x.tar'), 'create with half a key pair', ErrorCode.InvalidArgument);
    assert.match(err.message, /aws\.secret_access_key \(AWS_SECRET_ACCESS_KEY\) is not set/);
  });

  it('an unreachable endpoint: UNAVAILABLE naming it, after the retries, within seconds', async () => {
    const port = await deadPort();
    const { storage } = await storageFor(server.config({ endpoint: `http://127.0.0.1:${port}` }));
    const start = Date.now();
    const err = await rejectsWithCode(storage.create('s3://ckpt/x.tar'), 'create at a dead endpoint', ErrorCode.Unavailable);
    assert.match(err.message, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED`));
    assert.ok(Date.now() - start < 15_000, `took ${Date.now() - start} ms`);
  });

  it('the server killed mid-upload: the stream fails with UNAVAILABLE, abort is harmless, no object appears', async () => {
    const logger = memoryLogger();
    const { storage } = await storageFor(server.config({ part_size_mib: 5 }), logger);
    const upload = await storage.create('s3://ckpt/cut.tar');
    const failed = new Promise<Error>((resolve) => upload.stream.once('error', resolve));
    const writing = writeRepeated(upload.stream, Buffer.alloc(MiB, 9), 64 * MiB).catch((e: Error) => e);
    await server.waitForRequest(isPart);
    await server.kill();
    const err = (await failed) as Error & { code?: string };
    assert.equal(err.code, ErrorCode.Unavailable, `stream error: ${err.message}`);
    assert.match(err.message, /uploading s3:\/\/ckpt\/cut\.tar: cannot reach http:\/\/127\.0\.0\.1:\d+ \((ECONNREFUSED|ECONNRESET|connection closed)/);
    await writing;
    await rejectsWithCode(upload.commit(), 'commit of a failed upload');
    await upload.abort();
    assert.ok(logger.lines.some((l) => /could not abort the multipart upload/.test(l)), 'the failed abort is not logged');
    await server.restart();
    assert.deepEqual(await server.objects(), [], 'a partial object is visible');
    assert.equal(await storage.stat('s3://ckpt/cut.tar'), null);
    assert.ok(existsSync(server.dir));
  });
});
