/**
 * A 512 MiB checkpoint through remote storage with the daemon's memory measured: a job holding 512 MiB of
 * incompressible memory is dumped to s3:// (and gcs://) and restored from there, and the daemon's peak RSS
 * (VmHWM, reset before each phase) stays under MEMORY_BOUND_MIB while it streams — the archive is never held in
 * memory, only the parts or chunks in flight. The restored job's memory hashes as before.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, logLines, PYTHON, restoredPid, runPid, teardown, writeScript } from '../helpers/e2e';
import { daemonPid, GcsTestServer, makeServiceAccount, memoryCounterScript, peakRssMiB, resetPeakRss, S3TestServer } from '../helpers/remote-storage';

const MIB = 512;
/** The bound docs/storage.md states for the daemon's peak RSS during a remote dump or restore. */
const MEMORY_BOUND_MIB = 320;
/**
 * Plain tar, so that all 512 MiB stream through the storage plugin and nothing else holds memory: the lz4 codec
 * (lz4-napi) keeps about 500 MiB of native memory of its own, whatever the storage (see docs/storage.md).
 */
const COMPRESSION = 'tar';

interface Remote {
  scheme: string;
  env: NodeJS.ProcessEnv;
  size(url: string): Promise<number | null>;
  stop(): Promise<void>;
}

const remotes: Record<string, () => Promise<Remote>> = {
  s3: async () => {
    const server = await S3TestServer.start(['ckpt']);
    return { scheme: 's3', env: server.env(), size: (url) => server.sizeOf('ckpt', url.slice('s3://ckpt/'.length)), stop: () => server.stop() };
  },
  gcs: async () => {
    const keys = mkdtempSync(join(tmpdir(), 'cedana-gcs-keys-'));
    const key = makeServiceAccount(keys).path;
    const server = await GcsTestServer.start({ trust: [key] });
    return {
      scheme: 'gcs',
      env: { CEDANA_GCS_ENDPOINT: server.endpoint, CEDANA_GCS_CREDENTIALS_FILE: key },
      size: async (url) => server.objects().find((o) => `gcs://ckpt/${o.name}` === url)?.size ?? null,
      stop: async () => {
        await server.stop();
        rmSync(keys, { recursive: true, force: true });
      },
    };
  },
};

/** `env.ok` with room for a big checkpoint (the default CLI time-out is 60 s). */
function okSlow(env: TestEnv, args: string[]): string {
  const r = env.cli(args, { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `cedana ${args.join(' ')} exited ${r.code}: ${r.stderr}\ndaemon log tail: ${env.daemonLog.slice(-2000)}`);
  return r.stdout;
}

const expected = createHash('sha256')
  .update(createHash('shake256', { outputLength: MIB * 1024 * 1024 }).update('cedana-remote-storage').digest())
  .digest('hex');

for (const [name, start] of Object.entries(remotes)) {
  describe(`e2e: a ${MIB} MiB checkpoint through ${name}://`, function () {
    this.timeout(240_000);
    let remote: Remote;
    let env: TestEnv | undefined;

    before(async () => {
      remote = await start();
    });
    after(() => remote.stop());
    afterEach(async () => {
      await teardown(env);
      env = undefined;
    });

    it(`dumps and restores with the daemon's peak RSS under ${MEMORY_BOUND_MIB} MiB, memory intact`, async () => {
      env = new TestEnv(remote.env);
      await env.startDaemon();
      const daemon = daemonPid(env);
      const log = join(env.dir, 'job.log');
      const hashes = () => logLines(log).filter((l) => l.startsWith('sha256 ')).map((l) => l.slice(7));
      const pid = runPid(env.ok(['run', 'process', '--jid', 'big', '--log', log, '--', PYTHON, writeScript(env, 'big.py', memoryCounterScript(MIB))]));
      await waitFor(() => logLines(log).length > 0, 60_000, 'the job to fill its memory');
      process.kill(pid, 'SIGUSR1');
      await waitFor(() => hashes().length >= 1, 30_000, 'the first hash');
      assert.deepEqual(hashes(), [expected]);

      resetPeakRss(daemon);
      const before = peakRssMiB(daemon);
      let t = Date.now();
      const url = dumpedPath(okSlow(env, ['dump', 'job', 'big', '--dir', `${remote.scheme}://ckpt/big`, '--compression', COMPRESSION]));
      const dumpS = (Date.now() - t) / 1000;
      const dumpPeak = peakRssMiB(daemon);
      const size = await remote.size(url);
      assert.ok(size !== null && size >= MIB * 1024 * 1024, `the stored checkpoint has ${size} bytes`);

      resetPeakRss(daemon);
      t = Date.now();
      assert.equal(restoredPid(okSlow(env, ['restore', 'job', 'big'])), pid);
      const restoreS = (Date.now() - t) / 1000;
      const restorePeak = peakRssMiB(daemon);
      console.log(
        `      ${name}: ${(size / 2 ** 20).toFixed(0)} MiB checkpoint; daemon RSS ${before.toFixed(0)} MiB at rest, ` +
          `peak ${dumpPeak.toFixed(0)} MiB in dump (${dumpS.toFixed(1)} s), ${restorePeak.toFixed(0)} MiB in restore (${restoreS.toFixed(1)} s)`,
      );
      assert.ok(dumpPeak < MEMORY_BOUND_MIB, `the daemon peaked at ${dumpPeak.toFixed(0)} MiB during the dump`);
      assert.ok(restorePeak < MEMORY_BOUND_MIB, `the daemon peaked at ${restorePeak.toFixed(0)} MiB during the restore`);

      process.kill(pid, 'SIGUSR1');
      await waitFor(() => hashes().length >= 2, 30_000, 'the hash after the restore');
      assert.deepEqual(hashes(), [expected, expected], 'memory changed across the remote dump and restore');
    });
  });
}
