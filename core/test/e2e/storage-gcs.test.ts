/**
 * `--dir gcs://…` end to end: a real daemon, with the real @google-cloud/storage client inside its GCS plugin,
 * dumps a counting job to the tests' GCS JSON API server over HTTP (the one fake: no GCS emulator installs here)
 * with a service-account key the server checks, and restores it, for every compression; `job checkpoints` shows
 * the remote checkpoint with its size; `job delete --checkpoints` deletes the object. GOOGLE_APPLICATION_CREDENTIALS
 * and STORAGE_EMULATOR_HOST are honoured as Google's tools honour them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extensionOf } from '../../src/archive/formats';
import { TestEnv, waitFor } from '../helpers/env';
import { assertCounts, counter, dumpedPath, isAlive, job, lastNumber, psJson, restoredPid, runPid, teardown } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { GcsTestServer, makeServiceAccount } from '../helpers/remote-storage';

// Every archive format the daemon writes (all but `none`, which is a directory).
const compressions = Object.entries(extensionOf).map(([compression, ext]) => ({ compression, ext }));

describe('e2e: gcs:// checkpoints', function () {
  this.timeout(60_000);
  let keys: string;
  let key: string;
  let server: GcsTestServer;
  let env: TestEnv | undefined;

  before(async () => {
    keys = mkdtempSync(join(tmpdir(), 'cedana-gcs-keys-'));
    key = makeServiceAccount(keys).path;
    server = await GcsTestServer.start({ trust: [key] });
  });
  after(async () => {
    await server.stop();
    rmSync(keys, { recursive: true, force: true });
  });
  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  async function startCounter(daemonEnv: NodeJS.ProcessEnv = { CEDANA_GCS_ENDPOINT: server.endpoint, CEDANA_GCS_CREDENTIALS_FILE: key }) {
    env = new TestEnv(daemonEnv);
    await env.startDaemon();
    const log = join(env.dir, 'counter.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'counter', '--log', log, '--', ...counter()]));
    await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');
    return { env, log, pid };
  }

  async function roundTrip(dir: string, compression: string, ext: string, daemonEnv?: NodeJS.ProcessEnv): Promise<string> {
    const { env, log, pid } = await startCounter(daemonEnv);
    const url = dumpedPath(env.ok(['dump', 'job', 'counter', '--dir', dir, '--compression', compression]));
    const atDump = lastNumber(log);
    assert.ok(url.startsWith(`${dir.replace(/\/$/, '')}/dump-process-counter-`) && url.endsWith(ext), `unexpected URL ${url}`);
    assert.ok(!isAlive(pid), 'the job still runs after the dump');

    const name = url.replace(/^gc?s:\/\/ckpt\//, '');
    const stored = server.objects().find((o) => o.name === name);
    assert.ok(stored && stored.size > 0, `no object ${name} on the server`);
    assert.equal(job(env, 'counter').latestCheckpoint?.size, stored.size);
    const listed = JSON.parse(env.ok(['job', 'checkpoints', 'counter', '--json'])) as { path: string; size: number }[];
    assert.deepEqual(listed.map((k) => [k.path, k.size]), [[url, stored.size]]);

    assert.equal(restoredPid(env.ok(['restore', 'job', 'counter'])), pid);
    await waitFor(() => lastNumber(log) >= atDump + 5, 10_000, 'the restored counter to count on');
    assertCounts(log);
    return url;
  }

  for (const c of compressions) {
    it(`dumps to gcs:// and restores from it with --compression ${c.compression}`, async () => {
      await roundTrip(`gcs://ckpt/run-${c.compression}-${Date.now()}/`, c.compression, c.ext);
    });
  }

  it('takes gs:// URLs, GOOGLE_APPLICATION_CREDENTIALS and STORAGE_EMULATOR_HOST', async () => {
    const url = await roundTrip(`gs://ckpt/from-env-${Date.now()}`, 'lz4', '.tar.lz4', { GOOGLE_APPLICATION_CREDENTIALS: key, STORAGE_EMULATOR_HOST: server.endpoint });
    assert.match(url, /^gs:\/\//);
  });

  it('job delete --checkpoints deletes the remote object', async () => {
    const { env } = await startCounter();
    const url = dumpedPath(env.ok(['dump', 'job', 'counter', '--dir', 'gcs://ckpt/deleted', '--compression', 'gzip']));
    const name = url.slice('gcs://ckpt/'.length);
    assert.ok(server.objects().some((o) => o.name === name));
    env.ok(['job', 'delete', 'counter', '--checkpoints']);
    assert.ok(!server.objects().some((o) => o.name === name), 'the object is still there');
    assert.deepEqual(psJson(env), []);
  });

  it('refuses --compression none for a gcs:// directory', async () => {
    const { env, pid } = await startCounter();
    expectError(env.cli(['dump', 'job', 'counter', '--dir', 'gcs://ckpt/none/', '--compression', 'none']), /--compression none writes a directory, which gcs:\/\/ storage cannot hold/);
    assert.ok(isAlive(pid));
  });
});
