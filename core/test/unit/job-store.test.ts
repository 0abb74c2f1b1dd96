/**
 * The job database on a real SQLite file: migrations, jobs, checkpoints and their order.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { JobStore } from '../../src/db/job-store';
import { migrationProvider } from '../../src/db/migrations';
import type { NewCheckpoint, NewJob } from '../../src/db/tables';

function job(jid: string, over: Partial<NewJob> = {}): NewJob {
  return {
    jid,
    type: 'process',
    pid: 1000,
    cmdline: JSON.stringify(['sleep', '100']),
    log: `/var/log/cedana-output-${jid}.log`,
    details: '{}',
    host: 'host-a',
    gpu: 0,
    created_at: 1_000,
    exit_code: null,
    exit_signal: null,
    ...over,
  };
}

function ckpt(id: string, jid: string | null, time: number, over: Partial<NewCheckpoint> = {}): NewCheckpoint {
  return { id, jid, type: 'process', path: `/ckpt/${id}.tar.gz`, time, size: 100, compression: 'gzip', ...over };
}

describe('JobStore', function () {
  let dir: string;
  let path: string;
  let store: JobStore;

  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'cedana-unit-db-'));
    path = join(dir, 'nested', 'cedana.db');
    store = await JobStore.open(path);
  });

  afterEach(async function () {
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('migrations', function () {
    it('create the schema in a new file (making its directory) and record themselves', async function () {
      await store.close();
      const db = new SQLite(path, { readonly: true });
      try {
        const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
        assert.ok(tables.includes('jobs'), tables.join());
        assert.ok(tables.includes('checkpoints'), tables.join());
        assert.equal(db.pragma('user_version', { simple: true }), 1);
        const applied = (db.prepare('SELECT name FROM kysely_migration').all() as { name: string }[]).map((r) => r.name);
        assert.deepEqual(applied, Object.keys(await migrationProvider.getMigrations()).sort());
        assert.deepEqual(applied.slice(0, 2), ['0001_jobs_and_checkpoints', '0002_checkpoint_stats']);
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        db.close();
      }
    });

    it('run once: reopening keeps the data', async function () {
      await store.insertJob(job('keep'));
      await store.close();
      store = await JobStore.open(path);
      assert.equal((await store.getJob('keep'))?.jid, 'keep');
      await store.close();
      const db = new SQLite(path, { readonly: true });
      try {
        assert.equal((db.prepare('SELECT count(*) AS n FROM kysely_migration').get() as { n: number }).n, Object.keys(await migrationProvider.getMigrations()).length);
      } finally {
        db.close();
      }
      store = await JobStore.open(path);
    });

    it('a file that is not a database is refused with its path', async function () {
      const bad = join(dir, 'not-a.db');
      writeFileSync(bad, 'this is not sqlite, just text that is long enough to have a header '.repeat(20));
      await assert.rejects(
        JobStore.open(bad),
        (err: unknown) => err instanceof CedanaError && err.code === ErrorCode.Unavailable && err.message.includes(bad) && /not a database/.test(err.message) && /db\.path/.test(err.fullMessage),
      );
    });

    it('a path that cannot be created is UNAVAILABLE and names the path', async function () {
      const blocker = join(dir, 'file');
      writeFileSync(blocker, '');
      await assert.rejects(JobStore.open(join(blocker, 'sub', 'x.db')), (err: unknown) => err instanceof CedanaError && err.code === ErrorCode.Unavailable && err.message.includes(blocker));
      await assert.rejects(JobStore.open(dir), (err: unknown) => err instanceof CedanaError && err.code === ErrorCode.Unavailable && err.message.includes(dir));
    });
  });

  describe('jobs', function () {
    it('insert, get, update, delete', async function () {
      await store.insertJob(job('a', { pid: 42, gpu: 1 }));
      const got = await store.getJob('a');
      assert.ok(got);
      assert.equal(got.pid, 42);
      assert.equal(got.gpu, 1);
      assert.deepEqual(JSON.parse(got.cmdline), ['sleep', '100']);
      assert.equal(got.exit_code, null);
      await store.updateJob('a', { pid: 43, exit_code: 0, exit_signal: null });
      assert.equal((await store.getJob('a'))?.pid, 43);
      assert.equal((await store.getJob('a'))?.exit_code, 0);
      assert.equal(await store.getJob('nope'), undefined);
      await store.deleteJob('a');
      assert.equal(await store.getJob('a'), undefined);
    });

    it('a second job with the same JID is refused', async function () {
      await store.insertJob(job('dup'));
      await assert.rejects(store.insertJob(job('dup', { pid: 2 })), /UNIQUE|PRIMARY/i);
      assert.equal((await store.getJob('dup'))?.pid, 1000);
    });

    it('list in creation order, all or some', async function () {
      await store.insertJob(job('c', { created_at: 3 }));
      await store.insertJob(job('a', { created_at: 1 }));
      await store.insertJob(job('b', { created_at: 2 }));
      assert.deepEqual((await store.listJobs()).map((j) => j.jid), ['a', 'b', 'c']);
      assert.deepEqual((await store.listJobs([])).map((j) => j.jid), ['a', 'b', 'c']);
      assert.deepEqual((await store.listJobs(['c', 'a', 'zzz'])).map((j) => j.jid), ['a', 'c']);
    });

    it('findJobByPid: the newest job of that PID on that host', async function () {
      await store.insertJob(job('old', { pid: 7, created_at: 1 }));
      await store.insertJob(job('new', { pid: 7, created_at: 2 }));
      await store.insertJob(job('elsewhere', { pid: 7, created_at: 3, host: 'host-b' }));
      assert.equal((await store.findJobByPid(7, 'host-a'))?.jid, 'new');
      assert.equal((await store.findJobByPid(7, 'host-b'))?.jid, 'elsewhere');
      assert.equal(await store.findJobByPid(8, 'host-a'), undefined);
    });
  });

  describe('checkpoints', function () {
    beforeEach(async function () {
      await store.insertJob(job('a'));
      await store.insertJob(job('b'));
    });

    it('checkpointsOf: newest first, and the later insert first when times are equal', async function () {
      await store.insertCheckpoint(ckpt('c1', 'a', 100));
      await store.insertCheckpoint(ckpt('c3', 'a', 300));
      await store.insertCheckpoint(ckpt('c2', 'a', 200));
      await store.insertCheckpoint(ckpt('same-1', 'a', 300));
      await store.insertCheckpoint(ckpt('b1', 'b', 999));
      assert.deepEqual((await store.checkpointsOf('a')).map((c) => c.id), ['same-1', 'c3', 'c2', 'c1']);
      assert.deepEqual((await store.checkpointsOf('b')).map((c) => c.id), ['b1']);
      assert.deepEqual(await store.checkpointsOf('nope'), []);
      const first = (await store.checkpointsOf('a'))[0];
      assert.equal(first.path, '/ckpt/same-1.tar.gz');
      assert.equal(first.compression, 'gzip');
      assert.equal(first.size, 100);
      assert.equal(typeof first.seq, 'number');
    });

    it('latestCheckpoints: the newest of each job asked for', async function () {
      await store.insertCheckpoint(ckpt('a-old', 'a', 1));
      await store.insertCheckpoint(ckpt('a-new', 'a', 2));
      await store.insertCheckpoint(ckpt('a-tie', 'a', 2));
      await store.insertCheckpoint(ckpt('b-only', 'b', 1));
      const latest = await store.latestCheckpoints(['a', 'b', 'c']);
      assert.equal(latest.get('a')?.id, 'a-tie');
      assert.equal(latest.get('b')?.id, 'b-only');
      assert.equal(latest.has('c'), false);
      assert.equal((await store.latestCheckpoints([])).size, 0);
      assert.equal((await store.latestCheckpoints(['b'])).has('a'), false);
    });

    it('a checkpoint of an unknown job is refused (foreign key); one of no job is kept', async function () {
      await assert.rejects(store.insertCheckpoint(ckpt('orphan', 'ghost', 1)), /FOREIGN KEY/i);
      await store.insertCheckpoint(ckpt('bare', null, 1));
      assert.deepEqual(await store.checkpointsOf('ghost'), []);
    });

    it('checkpoint ids are unique', async function () {
      await store.insertCheckpoint(ckpt('x', 'a', 1));
      await assert.rejects(store.insertCheckpoint(ckpt('x', 'b', 2)), /UNIQUE/i);
    });

    it('deleting a job deletes its checkpoint records, not others', async function () {
      await store.insertCheckpoint(ckpt('a1', 'a', 1));
      await store.insertCheckpoint(ckpt('b1', 'b', 1));
      await store.deleteJob('a');
      assert.deepEqual(await store.checkpointsOf('a'), []);
      assert.deepEqual((await store.checkpointsOf('b')).map((c) => c.id), ['b1']);
    });
  });
});
