/**
 * Migration through remote storage: one daemon dumps a job to s3:// (or gcs://), a second daemon with its own
 * database and socket — as on another host — restores it from there with `restore process --path URL`, knowing
 * nothing of the job, and the job counts on from where it was stopped.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { assertCounts, counter, dumpedPath, isAlive, job, lastNumber, psJson, restoredPid, runPid, teardown } from '../helpers/e2e';
import { GcsTestServer, makeServiceAccount, S3TestServer } from '../helpers/remote-storage';

interface Remote {
  scheme: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

const remotes: Record<string, () => Promise<Remote>> = {
  s3: async () => {
    const server = await S3TestServer.start(['ckpt']);
    return { scheme: 's3', env: server.env(), stop: () => server.stop() };
  },
  gcs: async () => {
    const keys = mkdtempSync(join(tmpdir(), 'cedana-gcs-keys-'));
    const key = makeServiceAccount(keys).path;
    const server = await GcsTestServer.start({ trust: [key] });
    return {
      scheme: 'gcs',
      env: { CEDANA_GCS_ENDPOINT: server.endpoint, CEDANA_GCS_CREDENTIALS_FILE: key },
      stop: async () => {
        await server.stop();
        rmSync(keys, { recursive: true, force: true });
      },
    };
  },
};

for (const [name, start] of Object.entries(remotes)) {
  describe(`e2e: migration through ${name}://`, function () {
    this.timeout(60_000);
    let remote: Remote;
    let source: TestEnv | undefined;
    let target: TestEnv | undefined;

    before(async () => {
      remote = await start();
    });
    after(() => remote.stop());
    afterEach(async () => {
      await teardown(target);
      await teardown(source);
      source = target = undefined;
    });

    it('a job dumped by one daemon is restored by another, which has never seen it, and counts on', async () => {
      source = new TestEnv(remote.env);
      target = new TestEnv(remote.env);
      await source.startDaemon();
      await target.startDaemon();
      assert.notEqual(source.socket, target.socket);
      assert.notEqual(source.env.CEDANA_DB_PATH, target.env.CEDANA_DB_PATH);

      const log = join(source.dir, 'counter.log');
      const pid = runPid(source.ok(['run', 'process', '--jid', 'mig', '--log', log, '--', ...counter()]));
      await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');
      // The process comes back under its old PID, so it must be stopped here first (dump without --leave-running).
      const url = dumpedPath(source.ok(['dump', 'job', 'mig', '--dir', `${remote.scheme}://ckpt/migration-${Date.now()}`, '--compression', 'lz4']));
      const atDump = lastNumber(log);
      assert.ok(url.startsWith(`${remote.scheme}://`));
      assert.equal(job(source, 'mig').status, 'halted');
      assert.ok(!isAlive(pid));
      assert.deepEqual(psJson(target), [], 'the second daemon knows the job already');

      assert.equal(restoredPid(target.ok(['restore', 'process', '--path', url])), pid);
      const moved = job(target, 'mig');
      assert.equal(moved.pid, pid);
      assert.ok(!['halted', 'zombie', 'stale'].includes(moved.status), `status on the second daemon: ${moved.status}`);
      await waitFor(() => lastNumber(log) >= atDump + 5, 10_000, 'the migrated counter to count on');
      assertCounts(log);
      // The first daemon still has its record, of a job that is no longer its to run.
      assert.equal(job(source, 'mig').latestCheckpoint?.path, url);
    });
  });
}
