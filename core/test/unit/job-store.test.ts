/**
 * The job database on a real SQLite file and on a real PostgreSQL 15 server: migrations, jobs, checkpoints and
 * their order, claims, hosts and moves. The same suite runs on both.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { JobStore } from '../../src/db/job-store';
import { migrationProvider, migrationProviderFor } from '../../src/db/migrations';
import { PostgresServer } from '../helpers/postgres';
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

describe('JobStore (SQLite)', function () {
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

    it("a database of a released version (0001, 0002) opens and migrates, keeping its rows", async function () {
      await store.close();
      const old = join(dir, 'released.db');
      const released = await migrationProvider.getMigrations();
      const k = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SQLite(old) }) });
      const { error } = await new Migrator({ db: k, provider: { getMigrations: async () => ({ '0001_jobs_and_checkpoints': released['0001_jobs_and_checkpoints'], '0002_checkpoint_stats': released['0002_checkpoint_stats'] }) } }).migrateToLatest();
      assert.equal(error, undefined);
      await sql`INSERT INTO jobs (jid, type, pid, host, created_at) VALUES ('old', 'process', 5, 'vm', 1764000000000)`.execute(k);
      await sql`INSERT INTO checkpoints (id, jid, type, path, time, size, compression) VALUES ('c', 'old', 'process', '/c.tar', 2, 3, 'tar')`.execute(k);
      await k.destroy();
      store = await JobStore.open(old);
      const got = await store.getJob('old');
      assert.equal(got?.created_at, 1764000000000);
      assert.equal(got?.released, 0);
      assert.equal((await store.checkpointsOf('old'))[0].host, null);
      assert.equal(await store.adoptJobs('vm', 'machine-1'), 1);
      assert.equal((await store.getJob('old'))?.host, 'machine-1');
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

});

/** What the suite needs of one dialect: a fresh store, and opening it again. */
interface Backend {
  name: string;
  before?(): Promise<void>;
  after?(): Promise<void>;
  fresh(): Promise<JobStore>;
  reopen(): Promise<JobStore>;
  dispose(): Promise<void>;
}

function sqliteBackend(): Backend {
  let dir = '';
  return {
    name: 'SQLite',
    async fresh() {
      dir = mkdtempSync(join(tmpdir(), 'cedana-unit-db-'));
      return JobStore.open(join(dir, 'cedana.db'));
    },
    reopen: () => JobStore.open(join(dir, 'cedana.db')),
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const server = new PostgresServer();
let dbCount = 0;

function postgresBackend(): Backend {
  let name = '';
  return {
    name: 'PostgreSQL',
    before: () => server.start(),
    after: () => server.cleanup(),
    async fresh() {
      name = `store_${process.pid}_${++dbCount}`;
      await server.createDatabase(name);
      return JobStore.connect({ remote: true, url: server.url(name), path: '' });
    },
    reopen: () => JobStore.connect({ remote: true, url: server.url(name), path: '' }),
    dispose: () => server.dropDatabase(name),
  };
}

for (const backend of [sqliteBackend(), postgresBackend()]) {
describe(`JobStore suite on ${backend.name}`, function () {
  let store: JobStore;

  before(async function () {
    await backend.before?.();
  });
  after(async function () {
    await backend.after?.();
  });
  beforeEach(async function () {
    store = await backend.fresh();
  });
  afterEach(async function () {
    await store.close().catch(() => undefined);
    await backend.dispose();
  });

  it('migrations run once: reopening keeps the data and applies nothing twice', async function () {
    await store.insertJob(job('keep', { created_at: 1_764_000_000_000 }));
    await store.close();
    store = await backend.reopen();
    const got = await store.getJob('keep');
    assert.equal(got?.jid, 'keep');
    // Millisecond times pass 2^31 and come back as numbers, not strings.
    assert.equal(got?.created_at, 1_764_000_000_000);
    assert.equal(got?.released, 0);
    assert.equal(got?.claim, null);
  });

  it('a schema newer than this daemon knows is refused with what to do', async function () {
    await store.close();
    const names = Object.keys(await migrationProviderFor(store.dialect).getMigrations());
    store = await backend.reopen();
    // A newer version's migration, as it would have recorded itself.
    await sql`INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_from_the_future', '2030-01-01T00:00:00.000Z')`.execute((store as unknown as { db: Kysely<unknown> }).db);
    await store.close();
    await assert.rejects(backend.reopen(), (err: unknown) => {
      assert.ok(err instanceof CedanaError, String(err));
      assert.equal(err.code, ErrorCode.FailedPrecondition);
      assert.match(err.message, /newer schema \(9999_from_the_future\)/);
      assert.ok(err.message.includes(names[names.length - 1]), err.message);
      assert.match(err.fullMessage, /upgrade cedana/);
      return true;
    });
    store = await backend.fresh();
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
      await assert.rejects(store.insertJob(job('dup', { pid: 2 })), /UNIQUE|PRIMARY|duplicate key/i);
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

    it('listing: every job in creation order with its newest checkpoint, of one host or of all', async function () {
      await store.insertCheckpoint(ckpt('a-old', 'a', 1));
      await store.insertCheckpoint(ckpt('a-new', 'a', 2));
      await store.insertCheckpoint(ckpt('a-tie', 'a', 2));
      await store.insertJob(job('elsewhere', { host: 'host-b', created_at: Date.now() + 1000 }));
      await store.insertCheckpoint(ckpt('e1', 'elsewhere', 5));
      await store.insertCheckpoint(ckpt('e0', 'elsewhere', 1));
      const summary = (l: Awaited<ReturnType<JobStore['listing']>>) => l.map(({ job, latest }) => `${job.jid}=${latest?.id ?? '-'}`);
      assert.deepEqual(summary(await store.listing('host-a')), ['a=a-tie', 'b=-']);
      assert.deepEqual(summary(await store.listing()), ['a=a-tie', 'b=-', 'elsewhere=e1']);
      assert.deepEqual(summary(await store.listing('host-c')), []);
      const [{ job: a, latest }] = await store.listing('host-a');
      // The rows are whole: a job's own columns, and the checkpoint's (none of them leaks into the other).
      assert.equal(a.host, 'host-a');
      assert.equal(a.type, 'process');
      assert.equal(latest?.jid, 'a');
      assert.equal(latest?.path, '/ckpt/a-tie.tar.gz');
      assert.equal(typeof latest?.seq, 'number');
      assert.equal((a as unknown as Record<string, unknown>).c_id, undefined);
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

  describe('hosts, claims and moves', function () {
    it('hosts: upsert refreshes, found by ID or by name', async function () {
      await store.upsertHost({ id: 'id-a', name: 'alpha', address: '/run/a.sock', protocol: 'unix', seen_at: 1 });
      await store.upsertHost({ id: 'id-b', name: 'beta', address: '/run/b.sock', protocol: 'unix', seen_at: 1 });
      await store.upsertHost({ id: 'id-a', name: 'alpha', address: '/run/a2.sock', protocol: 'unix', seen_at: 1_764_000_000_000 });
      assert.equal((await store.findHost('id-a'))?.address, '/run/a2.sock');
      assert.equal((await store.findHost('id-a'))?.seen_at, 1_764_000_000_000);
      assert.equal((await store.findHost('beta'))?.id, 'id-b');
      assert.equal(await store.findHost('gamma'), undefined);
      assert.deepEqual((await store.listHosts()).map((h) => h.id), ['id-a', 'id-b']);
    });

    it("listJobs of one host leaves out the others'", async function () {
      await store.insertJob(job('mine', { host: 'host-a', created_at: 1 }));
      await store.insertJob(job('theirs', { host: 'host-b', created_at: 2 }));
      assert.deepEqual((await store.listJobs(undefined, 'host-a')).map((j) => j.jid), ['mine']);
      assert.deepEqual((await store.listJobs()).map((j) => j.jid), ['mine', 'theirs']);
    });

    it('claimJob: of many concurrent claims exactly one passes; a refusal changes nothing', async function () {
      await store.insertJob(job('c'));
      const tries = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          store.claimJob('c', (row) => {
            if (row?.claim) throw new CedanaError(ErrorCode.FailedPrecondition, `claimed by ${row.claim}`);
            return { claim: `migrate:h${i}` };
          }),
        ),
      );
      assert.equal(tries.filter((t) => t.status === 'fulfilled').length, 1, JSON.stringify(tries.map((t) => t.status)));
      const winner = (tries.find((t) => t.status === 'fulfilled') as PromiseFulfilledResult<{ claim: string | null }>).value.claim;
      assert.equal((await store.getJob('c'))?.claim, winner);
      for (const t of tries) if (t.status === 'rejected') assert.match(String((t.reason as Error).message), /claimed by migrate:h\d/);
    });

    it('claimJob from two connections (two daemons) on one job: exactly one passes', async function () {
      await store.insertJob(job('two'));
      const other = await backend.reopen();
      try {
        const claim = (s: JobStore, who: string) =>
          s.claimJob('two', (row) => {
            if (row?.claim) throw new CedanaError(ErrorCode.FailedPrecondition, 'taken');
            return { claim: who };
          });
        const tries = await Promise.allSettled([claim(store, 'a'), claim(other, 'b'), claim(store, 'a2'), claim(other, 'b2')]);
        assert.equal(tries.filter((t) => t.status === 'fulfilled').length, 1);
      } finally {
        await other.close();
      }
    });

    it('moves are kept in order and go with the job', async function () {
      await store.insertJob(job('m'));
      await store.recordMove({ jid: 'm', from_host: 'a', to_host: 'b', checkpoint: 's3://x/1', time: 1_764_000_000_000, downtime_ms: 900 });
      await store.recordMove({ jid: 'm', from_host: 'b', to_host: 'a', checkpoint: 's3://x/2', time: 1_764_000_000_001, downtime_ms: 800 });
      assert.deepEqual((await store.movesOf('m')).map((m) => `${m.from_host}>${m.to_host}`), ['a>b', 'b>a']);
      assert.equal((await store.movesOf('m'))[0].time, 1_764_000_000_000);
      await store.deleteJob('m');
      assert.deepEqual(await store.movesOf('m'), []);
    });

    it('checkpoints record their host', async function () {
      await store.insertJob(job('h'));
      await store.insertCheckpoint(ckpt('h1', 'h', 1, { host: 'host-a' }));
      assert.equal((await store.checkpointsOf('h'))[0].host, 'host-a');
    });
  });
});
}
