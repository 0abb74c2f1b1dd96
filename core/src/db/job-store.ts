/**
 * The job database: jobs and their checkpoints in SQLite, through kysely.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { migrationProvider } from './migrations';
import type { CheckpointRow, Database, DumpJournalRow, JobRow, JobUpdate, NewCheckpoint, NewJob } from './tables';

export class JobStore {
  private constructor(private readonly db: Kysely<Database>) {}

  /** Opens (creating if needed) the database at `path` and brings its schema up to date. */
  static async open(path: string): Promise<JobStore> {
    let sqlite: SQLite.Database | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      sqlite = new SQLite(path);
      // The first statement reads the file: a file that is no database fails here, not in the constructor.
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('foreign_keys = ON');
      sqlite.pragma('busy_timeout = 5000');
    } catch (err) {
      sqlite?.close();
      throw new CedanaError(ErrorCode.Unavailable, `cannot open job database ${path}: ${(err as Error).message}`, { hint: 'check db.path' });
    }
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    if (error) {
      await db.destroy();
      throw new CedanaError(ErrorCode.Internal, `job database ${path} migration failed: ${(error as Error).message}`, { cause: error });
    }
    return new JobStore(db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async insertJob(job: NewJob): Promise<void> {
    await this.db.insertInto('jobs').values(job).execute();
  }

  async updateJob(jid: string, update: JobUpdate): Promise<void> {
    await this.db.updateTable('jobs').set(update).where('jid', '=', jid).execute();
  }

  async getJob(jid: string): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('jid', '=', jid).executeTakeFirst();
  }

  async findJobByPid(pid: number, host: string): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('pid', '=', pid).where('host', '=', host).orderBy('created_at', 'desc').executeTakeFirst();
  }

  async listJobs(jids?: string[]): Promise<JobRow[]> {
    let q = this.db.selectFrom('jobs').selectAll();
    if (jids && jids.length > 0) q = q.where('jid', 'in', jids);
    return q.orderBy('created_at', 'asc').execute();
  }

  async deleteJob(jid: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('checkpoints').where('jid', '=', jid).execute();
      await tx.deleteFrom('jobs').where('jid', '=', jid).execute();
    });
  }

  async insertCheckpoint(ckpt: NewCheckpoint): Promise<void> {
    await this.db.insertInto('checkpoints').values(ckpt).execute();
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

  /** Checkpoints of one job, newest first. */
  async checkpointsOf(jid: string): Promise<CheckpointRow[]> {
    return this.db.selectFrom('checkpoints').selectAll().where('jid', '=', jid).orderBy('time', 'desc').orderBy('seq', 'desc').execute();
  }

  /** The newest checkpoint of each of the given jobs. */
  async latestCheckpoints(jids: string[]): Promise<Map<string, CheckpointRow>> {
    const out = new Map<string, CheckpointRow>();
    if (jids.length === 0) return out;
    const rows = await this.db.selectFrom('checkpoints').selectAll().where('jid', 'in', jids).orderBy('time', 'asc').orderBy('seq', 'asc').execute();
    for (const row of rows) if (row.jid) out.set(row.jid, row);
    return out;
  }
}
