/**
 * The job database: jobs, their checkpoints, the hosts that share it and where jobs moved, through kysely —
 * in a SQLite file (the default) or in a shared PostgreSQL database (`db.remote`, docs/fleet.md).
 */
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { ensurePrivateFile, ensureStateDir } from '../security/private-files';
import { migrationProviderFor, type Dialect } from './migrations';
import { openFailure, queryFailure, redactUrl } from './db-errors';
import type { CheckpointRow, Database, DumpJournalRow, HostRow, JobMoveRow, JobRow, JobUpdate, NewCheckpoint, NewJob } from './tables';

/** What {@link JobStore.connect} needs: the `db` section of the config. */
export interface DbSettings {
  remote: boolean;
  path: string;
  url: string;
}

/** PostgreSQL's bigint (OID 20) as a number: times, sizes and counts here stay far below 2^53. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

export class JobStore {
  private constructor(
    private readonly db: Kysely<Database>,
    /** Which database engine holds the jobs. */
    readonly dialect: Dialect,
    /** The database, for messages (a PostgreSQL URL without its password). */
    readonly where: string,
  ) {}

  /** The store `db` names: the PostgreSQL database at `db.url` when `db.remote`, else the SQLite file. */
  static async connect(db: DbSettings): Promise<JobStore> {
    if (db.remote && !db.url) {
      throw new CedanaError(ErrorCode.InvalidArgument, 'db.remote is true but db.url is empty', { hint: 'set db.url (or CEDANA_DB_URL) to a postgres:// URL, or db.remote to false for the local SQLite file' });
    }
    return db.remote ? JobStore.openPostgres(db.url) : JobStore.open(db.path);
  }

  /**
   * Opens (creating if needed) the SQLite database at `path` and brings its schema up to date. Its directory must be
   * root's (or a sticky shared one like /tmp), and the file and its WAL companions root's own regular files,
   * 0600, never symlinks (security/private-files.ts): a database planted by another user is refused.
   */
  static async open(path: string): Promise<JobStore> {
    let sqlite: SQLite.Database | undefined;
    try {
      if (path !== ':memory:') {
        ensureStateDir(dirname(path));
        for (const f of [path, `${path}-wal`, `${path}-shm`]) ensurePrivateFile(f);
      }
      sqlite = new SQLite(path);
      // The first statement reads the file: a file that is no database fails here, not in the constructor.
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('foreign_keys = ON');
      sqlite.pragma('busy_timeout = 5000');
    } catch (err) {
      sqlite?.close();
      const hint = err instanceof CedanaError && err.hint ? err.hint : 'check db.path';
      throw new CedanaError(ErrorCode.Unavailable, `cannot open job database ${path}: ${(err as Error).message}`, { hint });
    }
    return JobStore.migrated(new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }), 'sqlite', path);
  }

  /** Connects to the PostgreSQL database at `url` and brings its schema up to date. */
  static async openPostgres(url: string): Promise<JobStore> {
    const where = redactUrl(url);
    let pool: pg.Pool;
    try {
      pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 10_000, max: 8, types: pgTypes });
    } catch (err) {
      throw new CedanaError(ErrorCode.InvalidArgument, `db.url ${where} is not a usable PostgreSQL URL: ${(err as Error).message}`, { hint: 'postgres://user:password@host:port/database' });
    }
    // A connection that drops while idle is reported here; without a listener it would end the daemon.
    pool.on('error', () => undefined);
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw openFailure(err, where);
    }
    return JobStore.migrated(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), 'postgres', where);
  }

  private static async migrated(db: Kysely<Database>, dialect: Dialect, where: string): Promise<JobStore> {
    const provider = migrationProviderFor(dialect);
    const { error } = await new Migrator({ db, provider }).migrateToLatest();
    if (error) {
      await db.destroy();
      const known = Object.keys(await provider.getMigrations());
      const missing = /previously executed migration (\S+) is missing/.exec((error as Error).message)?.[1];
      if (missing && !known.includes(missing)) {
        throw new CedanaError(ErrorCode.FailedPrecondition, `job database ${where} has a newer schema (${missing}) than this daemon knows (up to ${known[known.length - 1]})`, {
          hint: 'upgrade cedana on this host, or point db.path / db.url at another database',
        });
      }
      if (error instanceof CedanaError) throw error;
      throw new CedanaError(ErrorCode.Internal, `job database ${where} migration failed: ${(error as Error).message}`, { cause: error });
    }
    return new JobStore(db, dialect, where);
  }

  /** Runs a query; a lost connection becomes UNAVAILABLE with its reason. */
  private async q<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw queryFailure(err, this.where);
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async insertJob(job: NewJob): Promise<void> {
    await this.q(() => this.db.insertInto('jobs').values(job).execute());
  }

  async updateJob(jid: string, update: JobUpdate): Promise<void> {
    await this.q(() => this.db.updateTable('jobs').set(update).where('jid', '=', jid).execute());
  }

  async getJob(jid: string): Promise<JobRow | undefined> {
    return this.q(() => this.db.selectFrom('jobs').selectAll().where('jid', '=', jid).executeTakeFirst());
  }

  async findJobByPid(pid: number, host: string): Promise<JobRow | undefined> {
    return this.q(() => this.db.selectFrom('jobs').selectAll().where('pid', '=', pid).where('host', '=', host).orderBy('created_at', 'desc').executeTakeFirst());
  }

  /** Jobs in creation order: those named (all when none are), of one host when `host` is given. */
  async listJobs(jids?: string[], host?: string): Promise<JobRow[]> {
    let q = this.db.selectFrom('jobs').selectAll();
    if (jids && jids.length > 0) q = q.where('jid', 'in', jids);
    if (host !== undefined) q = q.where('host', '=', host);
    return this.q(() => q.orderBy('created_at', 'asc').orderBy('jid', 'asc').execute());
  }

  async deleteJob(jid: string): Promise<void> {
    await this.q(() =>
      this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('checkpoints').where('jid', '=', jid).execute();
        await tx.deleteFrom('job_moves').where('jid', '=', jid).execute();
        await tx.deleteFrom('jobs').where('jid', '=', jid).execute();
      }),
    );
  }

  /**
   * Changes job `jid` only if `decide`, shown the row under a lock, allows it: `decide` returns the update, or
   * throws to refuse. The row is locked (SELECT … FOR UPDATE on PostgreSQL; SQLite's write transaction holds
   * the whole file) from the read to the write, so two claims of one job never both pass.
   */
  async claimJob(jid: string, decide: (row: JobRow | undefined) => JobUpdate): Promise<JobRow> {
    return this.q(() =>
      this.db.transaction().execute(async (tx: Transaction<Database>) => {
        let sel = tx.selectFrom('jobs').selectAll().where('jid', '=', jid);
        if (this.dialect === 'postgres') sel = sel.forUpdate();
        // SQLite: take the write lock first (BEGIN is deferred), so a second claim waits for this one.
        else await tx.updateTable('jobs').set({ claim: (eb) => eb.ref('claim') }).where('jid', '=', jid).execute();
        const row = await sel.executeTakeFirst();
        const update = decide(row);
        if (Object.keys(update).length > 0) await tx.updateTable('jobs').set(update).where('jid', '=', jid).execute();
        return { ...row!, ...update } as JobRow;
      }),
    ).catch((err: unknown) => {
      throw err instanceof CedanaError ? err : queryFailure(err, this.where);
    });
  }

  async insertCheckpoint(ckpt: NewCheckpoint): Promise<void> {
    await this.q(() => this.db.insertInto('checkpoints').values(ckpt).execute());
  }

  async journalDump(row: DumpJournalRow): Promise<void> {
    await this.db.insertInto('dump_journal').values(row).execute();
  }

  async advanceDump(id: string, phase: DumpJournalRow['phase'], meta?: string): Promise<void> {
    await this.db.updateTable('dump_journal').set(meta === undefined ? { phase } : { phase, meta }).where('id', '=', id).execute();
  }

  async endDump(id: string): Promise<void> {
    await this.db.deleteFrom('dump_journal').where('id', '=', id).execute();
  }

  /** Dumps journaled and never ended: those a daemon was killed in. */
  async journaledDumps(): Promise<DumpJournalRow[]> {
    return this.db.selectFrom('dump_journal').selectAll().orderBy('started_at', 'asc').execute();
  }

  /** The checkpoint with this ID, or undefined. */
  async checkpointById(id: string): Promise<CheckpointRow | undefined> {
    return this.q(() => this.db.selectFrom('checkpoints').selectAll().where('id', '=', id).executeTakeFirst());
  }

  /** Checkpoints of one job, newest first. */
  async checkpointsOf(jid: string): Promise<CheckpointRow[]> {
    return this.q(() => this.db.selectFrom('checkpoints').selectAll().where('jid', '=', jid).orderBy('time', 'desc').orderBy('seq', 'desc').execute());
  }

  /** The newest checkpoint of each of the given jobs. */
  async latestCheckpoints(jids: string[]): Promise<Map<string, CheckpointRow>> {
    const out = new Map<string, CheckpointRow>();
    if (jids.length === 0) return out;
    // In chunks: PostgreSQL takes at most 65,535 parameters in one statement.
    for (let i = 0; i < jids.length; i += 10_000) {
      const chunk = jids.slice(i, i + 10_000);
      const rows = await this.q(() => this.db.selectFrom('checkpoints').selectAll().where('jid', 'in', chunk).orderBy('time', 'asc').orderBy('seq', 'asc').execute());
      for (const row of rows) if (row.jid) out.set(row.jid, row);
    }
    return out;
  }

  /**
   * Jobs in creation order (those of `host` when given), each with its newest checkpoint, in one statement: a
   * correlated probe of the checkpoints_latest index per job, which both engines run without sorting the
   * checkpoints (10,000 jobs travel once, not as a list of parameters back to the database).
   */
  async listing(host?: string): Promise<{ job: JobRow; latest?: CheckpointRow }[]> {
    const ck = ['seq', 'id', 'jid', 'type', 'path', 'time', 'size', 'compression', 'stats', 'host'] as const;
    let q = this.db
      .selectFrom('jobs')
      .leftJoin('checkpoints as c', (join) =>
        join.on('c.seq', '=', (eb) =>
          eb.selectFrom('checkpoints as l').select('l.seq').whereRef('l.jid', '=', 'jobs.jid').orderBy('l.time', 'desc').orderBy('l.seq', 'desc').limit(1),
        ),
      )
      .selectAll('jobs')
      .select(ck.map((k) => `c.${k} as c_${k}` as const));
    if (host !== undefined) q = q.where('jobs.host', '=', host);
    const rows = await this.q(() => q.orderBy('jobs.created_at', 'asc').orderBy('jobs.jid', 'asc').execute());
    return rows.map((row) => {
      const r = row as Record<string, unknown>;
      const latest = r.c_seq === null || r.c_seq === undefined ? undefined : (Object.fromEntries(ck.map((k) => [k, r[`c_${k}`]])) as CheckpointRow);
      for (const k of ck) delete r[`c_${k}`];
      return { job: r as JobRow, latest };
    });
  }

  /** Records (or refreshes) a host that uses this database. */
  async upsertHost(host: HostRow): Promise<void> {
    const { id, ...rest } = host;
    await this.q(() => this.db.insertInto('hosts').values(host).onConflict((oc) => oc.column('id').doUpdateSet(rest)).execute());
  }

  /** The host whose ID — else whose name — is `idOrName`. */
  async findHost(idOrName: string): Promise<HostRow | undefined> {
    const byId = await this.q(() => this.db.selectFrom('hosts').selectAll().where('id', '=', idOrName).executeTakeFirst());
    if (byId) return byId;
    const byName = await this.q(() => this.db.selectFrom('hosts').selectAll().where('name', '=', idOrName).execute());
    if (byName.length > 1) {
      throw new CedanaError(ErrorCode.InvalidArgument, `${byName.length} hosts are named ${idOrName}`, { hint: `name one by its ID: ${byName.map((h) => h.id).join(', ')}` });
    }
    return byName[0];
  }

  async listHosts(): Promise<HostRow[]> {
    return this.q(() => this.db.selectFrom('hosts').selectAll().orderBy('name').execute());
  }

  async recordMove(move: Omit<JobMoveRow, 'seq'>): Promise<void> {
    await this.q(() => this.db.insertInto('job_moves').values(move).execute());
  }

  /** Where job `jid` went, oldest move first. */
  async movesOf(jid: string): Promise<JobMoveRow[]> {
    return this.q(() => this.db.selectFrom('job_moves').selectAll().where('jid', '=', jid).orderBy('seq', 'asc').execute());
  }

  /** Re-labels jobs recorded under `from` (an older host identity of this host) as `to`. */
  async adoptJobs(from: string, to: string): Promise<number> {
    if (from === to) return 0;
    const res = await this.q(() => this.db.updateTable('jobs').set({ host: to }).where('host', '=', from).executeTakeFirst());
    return Number(res.numUpdatedRows);
  }
}
