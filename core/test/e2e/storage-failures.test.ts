/**
 * Remote storage failures end to end, for s3:// (s3rver) and gcs:// (the GCS JSON API test server): an unreachable
 * endpoint, a missing bucket, refused credentials, and the server killed mid-upload. Each ends in a one-line error
 * that says what is wrong and quotes no secret; the job keeps running — untouched when the destination fails to
 * open, restored from the local images when the upload breaks after CRIU stopped it — and no checkpoint is
 * recorded or left on the server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { assertCounts, isAlive, job, lastNumber, PYTHON, runPid, teardown, writeScript } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { cliAsync, GcsTestServer, makeServiceAccount, memoryCounterScript, S3TestServer } from '../helpers/remote-storage';

const SECRET = 'not-the-secret-7f3a9c1e55';

/** What the tests need from one kind of remote storage. */
interface Backend {
  scheme: 's3' | 'gcs';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Daemon environment that works; `tweak` changes the endpoint or credentials. */
  env(tweak?: 'dead-endpoint' | 'denied'): Promise<NodeJS.ProcessEnv>;
  /** Names of the objects the server holds. */
  objects(): Promise<string[]>;
  /** Resolves once the server has taken the first part or chunk of an upload. */
  uploading(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Text that must not appear in any output: the secret or key material. */
  secret(): string;
  denied: RegExp;
}

async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

function s3Backend(): Backend {
  let server: S3TestServer;
  return {
    scheme: 's3',
    async start() {
      server = await S3TestServer.start(['ckpt']);
    },
    stop: () => server.stop(),
    async env(tweak) {
      const env: NodeJS.ProcessEnv = { ...server.env(), CEDANA_AWS_PART_SIZE_MIB: '5' };
      if (tweak === 'dead-endpoint') env.CEDANA_AWS_ENDPOINT = `http://127.0.0.1:${await deadPort()}`;
      if (tweak === 'denied') env.CEDANA_AWS_SECRET_ACCESS_KEY = SECRET;
      return env;
    },
    objects: async () => (await server.objects()).map((o) => o.key),
    uploading: async () => void (await server.waitForRequest((r) => r.method === 'PUT' && r.query.includes('partNumber') && r.status === 200)),
    kill: () => server.kill(),
    restart: () => server.restart(),
    secret: () => SECRET,
    denied: /SignatureDoesNotMatch/,
  };
}

function gcsBackend(): Backend {
  let server: GcsTestServer;
  let keys: string;
  let key: string;
  let stranger: string;
  return {
    scheme: 'gcs',
    async start() {
      keys = mkdtempSync(join(tmpdir(), 'cedana-gcs-keys-'));
      key = makeServiceAccount(keys).path;
      stranger = makeServiceAccount(keys, 'stranger').path;
      server = await GcsTestServer.start({ trust: [key] });
    },
    async stop() {
      await server.stop();
      rmSync(keys, { recursive: true, force: true });
    },
    async env(tweak) {
      const env: NodeJS.ProcessEnv = { CEDANA_GCS_ENDPOINT: server.endpoint, CEDANA_GCS_CREDENTIALS_FILE: key, CEDANA_GCS_CHUNK_SIZE_MIB: '1' };
      if (tweak === 'dead-endpoint') env.CEDANA_GCS_ENDPOINT = `http://127.0.0.1:${await deadPort()}`;
      if (tweak === 'denied') env.CEDANA_GCS_CREDENTIALS_FILE = stranger;
      return env;
    },
    objects: async () => server.objects().map((o) => o.name),
    uploading: async () => void (await server.waitForRequest((r) => r.kind === 'chunk' && r.status === 308)),
    kill: () => server.kill(),
    restart: () => server.restart(),
    secret: () => (JSON.parse(readFileSync(stranger, 'utf8')) as { private_key: string }).private_key.split('\n')[1],
    denied: /refused the credentials \(HTTP 401/,
  };
}

for (const backend of [s3Backend(), gcsBackend()]) {
  describe(`e2e: ${backend.scheme}:// failures`, function () {
    this.timeout(90_000);
    let env: TestEnv | undefined;

    before(() => backend.start());
    after(() => backend.stop());
    afterEach(async () => {
      await teardown(env);
      env = undefined;
    });

    /** A daemon with `daemonEnv` and a job `job` that counts (holding `mib` MiB of memory when given). */
    async function counting(daemonEnv: NodeJS.ProcessEnv, mib = 0): Promise<{ env: TestEnv; log: string; pid: number }> {
      env = new TestEnv(daemonEnv);
      await env.startDaemon();
      const log = join(env.dir, 'job.log');
      const script = writeScript(env, 'job.py', memoryCounterScript(mib));
      const pid = runPid(env.ok(['run', 'process', '--jid', 'job', '--log', log, '--', PYTHON, script]));
      await waitFor(() => lastNumber(log) >= 3, 30_000, 'the job to count');
      return { env, log, pid };
    }

    /** The job runs on under `pid`, counting on from where it was, with no checkpoint recorded. */
    async function keepsRunning(env: TestEnv, log: string, pid: number): Promise<void> {
      const j = job(env, 'job');
      assert.equal(j.pid, pid);
      assert.ok(!['halted', 'zombie', 'stale'].includes(j.status), `job status ${j.status}`);
      assert.ok(isAlive(pid), `PID ${pid} is gone`);
      const now = lastNumber(log);
      await waitFor(() => lastNumber(log) >= now + 3, 10_000, 'the job to count on');
      assertCounts(log);
      assert.equal(j.latestCheckpoint, undefined, 'a checkpoint was recorded');
      assert.deepEqual(JSON.parse(env.ok(['job', 'checkpoints', 'job', '--json'])), []);
    }

    it('an unreachable endpoint: UNAVAILABLE, and the job is not touched', async () => {
      const { env, log, pid } = await counting(await backend.env('dead-endpoint'));
      const msg = expectError(env.cli(['dump', 'job', 'job', '--dir', `${backend.scheme}://ckpt/dead`, '--compression', 'lz4'], { timeoutMs: 90_000 }), /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED/);
      assert.match(msg, new RegExp(`${backend.scheme}://ckpt/dead/`));
      await keepsRunning(env, log, pid);
    });

    it('restore --path of an archive names the archive, not a shard manifest', async () => {
      env = new TestEnv(await backend.env('dead-endpoint'));
      await env.startDaemon();
      const url = `${backend.scheme}://ckpt/dead/x.tar.gz`;
      const msg = expectError(env.cli(['restore', 'process', '--path', url], { timeoutMs: 90_000 }), /cannot reach http:\/\/127\.0\.0\.1:\d+/);
      assert.ok(msg.includes(url) && !msg.includes('shards.json'), msg);
    });

    it('a missing bucket: NOT_FOUND naming it, and the job is not touched', async () => {
      const { env, log, pid } = await counting(await backend.env());
      expectError(env.cli(['dump', 'job', 'job', '--dir', `${backend.scheme}://no-such-bucket/x`, '--compression', 'lz4']), /bucket 'no-such-bucket' does not exist at http:\/\/127\.0\.0\.1:\d+/);
      await keepsRunning(env, log, pid);
      assert.deepEqual(await backend.objects(), []);
    });

    it('refused credentials: PERMISSION_DENIED, no secret in any output, and the job is not touched', async () => {
      const { env, log, pid } = await counting(await backend.env('denied'));
      const r = env.cli(['dump', 'job', 'job', '--dir', `${backend.scheme}://ckpt/denied`, '--compression', 'lz4']);
      expectError(r, backend.denied);
      for (const text of [r.stderr, r.stdout, env.daemonLog]) assert.ok(!text.includes(backend.secret()), 'the secret appears in the output or the daemon log');
      await keepsRunning(env, log, pid);
      assert.deepEqual(await backend.objects(), []);
    });

    it('the server killed mid-upload: the job is restored from the local images and runs on; nothing is recorded or stored', async () => {
      const { env, log, pid } = await counting(await backend.env(), 96);
      const dumping = cliAsync(env, ['dump', 'job', 'job', '--dir', `${backend.scheme}://ckpt/cut`, '--compression', 'gzip']);
      await backend.uploading();
      await backend.kill();
      const r = await dumping;
      expectError(r, /writing the checkpoint failed \(.*cannot reach.*\); the process was restored and keeps running/);
      await keepsRunning(env, log, pid);
      await backend.restart();
      assert.deepEqual(await backend.objects(), [], 'a partial object was left on the server');
    });
  });
}
