/**
 * Versioned schema migrations of the job database, the same list for SQLite and PostgreSQL. Append new ones;
 * never edit a released one. Where the two dialects differ (an auto-numbered key, 64-bit integers, SQLite's
 * user_version), a migration asks which one it runs on; on SQLite each statement is what released versions ran,
 * so their databases migrate as before.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

function migrationsFor(dialect: Dialect): Record<string, Migration> {
  const pg = dialect === 'postgres';
  // Millisecond times and byte sizes pass 2^31: PostgreSQL's integer is 32-bit, SQLite's is 64-bit already.
  const big = pg ? 'bigint' : 'integer';
  return {
    '0001_jobs_and_checkpoints': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('jobs')
          .addColumn('jid', 'text', (c) => c.primaryKey())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('pid', 'integer', (c) => c.notNull())
          .addColumn('cmdline', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('log', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('host', 'text', (c) => c.notNull())
          .addColumn('gpu', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', big, (c) => c.notNull())
          .addColumn('exit_code', 'integer')
          .addColumn('exit_signal', 'text')
          .execute();
        await db.schema
          .createTable('checkpoints')
          .addColumn('seq', pg ? 'bigserial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('id', 'text', (c) => c.notNull().unique())
          .addColumn('jid', 'text', (c) => c.references('jobs.jid').onDelete('set null'))
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('path', 'text', (c) => c.notNull())
          .addColumn('time', big, (c) => c.notNull())
          .addColumn('size', big, (c) => c.notNull())
          .addColumn('compression', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('checkpoints_by_job').on('checkpoints').columns(['jid', 'time']).execute();
        if (!pg) await sql`PRAGMA user_version = 1`.execute(db);
      },
    },
    '0002_checkpoint_stats': {
      async up(db: Kysely<unknown>) {
        // JSON of the CheckpointStats message; null for checkpoints made before it existed.
        await db.schema.alterTable('checkpoints').addColumn('stats', 'text').execute();
      },
    },
    '0400_hosts_and_moves': {
      async up(db: Kysely<unknown>) {
        // Every daemon that uses this database, and where the others reach it (job migrate --to).
        await db.schema
          .createTable('hosts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('protocol', 'text', (c) => c.notNull())
          .addColumn('seen_at', 'bigint', (c) => c.notNull())
          .execute();
        // 1: the job was checkpointed and stopped, so any host may restore it; 0: its host runs it.
        await db.schema.alterTable('jobs').addColumn('released', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        // The operation that holds the job ('migrate:<host>', 'restore:<host>'); null: none.
        await db.schema.alterTable('jobs').addColumn('claim', 'text').execute();
        await db.schema.alterTable('checkpoints').addColumn('host', 'text').execute();
        await db.schema.createIndex('jobs_by_host').on('jobs').columns(['host', 'created_at']).execute();
        // Where each job went: the record its old host keeps.
        await db.schema
          .createTable('job_moves')
          .addColumn('seq', pg ? 'bigserial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('jid', 'text', (c) => c.notNull())
          .addColumn('from_host', 'text', (c) => c.notNull())
          .addColumn('to_host', 'text', (c) => c.notNull())
          .addColumn('checkpoint', 'text', (c) => c.notNull())
          .addColumn('time', 'bigint', (c) => c.notNull())
          .addColumn('downtime_ms', 'integer', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('job_moves_by_job').on('job_moves').columns(['jid', 'seq']).execute();
      },
    },
    '0601_dump_journal': {
      async up(db: Kysely<unknown>) {
        // A dump in progress, written before the freeze, so that a daemon killed mid-dump finds it at start-up.
        await db.schema
          .createTable('dump_journal')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('jid', 'text', (c) => c.notNull())
          .addColumn('pid', 'integer', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('dest', 'text', (c) => c.notNull())
          .addColumn('compression', 'text', (c) => c.notNull())
          .addColumn('images_dir', 'text', (c) => c.notNull())
          .addColumn('phase', 'text', (c) => c.notNull())
          .addColumn('meta', 'text')
          .addColumn('started_at', big, (c) => c.notNull())
          .execute();
        // What start-up recovery found for the job (shown by ps and job inspect), and when a dump of it was lost.
        await db.schema.alterTable('jobs').addColumn('notice', 'text').execute();
        await db.schema.alterTable('jobs').addColumn('lost_dump_at', big).execute();
      },
    },
    '0700_checkpoints_latest': {
      async up(db: Kysely<unknown>) {
        // The newest checkpoint of a job in one index probe (ps lists each job with it): (jid, time) left the
        // tie-break on seq to a sort. Replaces checkpoints_by_job, whose columns lead this one.
        await db.schema.createIndex('checkpoints_latest').on('checkpoints').columns(['jid', 'time', 'seq']).execute();
        await db.schema.dropIndex('checkpoints_by_job').execute();
      },
    },
  };
}

/** Serves the migrations above to kysely's Migrator, as written for `dialect`. */
export function migrationProviderFor(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      return migrationsFor(dialect);
    },
  };
}

/** The SQLite list (what released versions ran). */
export const migrationProvider: MigrationProvider = migrationProviderFor('sqlite');
