/**
 * Versioned schema migrations of the job database. Append new ones; never edit a released one.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

const migrations: Record<string, Migration> = {
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
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('exit_signal', 'text')
        .execute();
      await db.schema
        .createTable('checkpoints')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('jid', 'text', (c) => c.references('jobs.jid').onDelete('set null'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('time', 'integer', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('compression', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('checkpoints_by_job').on('checkpoints').columns(['jid', 'time']).execute();
      await sql`PRAGMA user_version = 1`.execute(db);
    },
  },
  '0002_checkpoint_stats': {
    async up(db: Kysely<unknown>) {
      // JSON of the CheckpointStats message; null for checkpoints made before it existed.
      await db.schema.alterTable('checkpoints').addColumn('stats', 'text').execute();
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
        .addColumn('started_at', 'integer', (c) => c.notNull())
        .execute();
      // What start-up recovery found for the job (shown by ps and job inspect), and when a dump of it was lost.
      await db.schema.alterTable('jobs').addColumn('notice', 'text').execute();
      await db.schema.alterTable('jobs').addColumn('lost_dump_at', 'integer').execute();
    },
  },
};

/** Serves the migrations above to kysely's Migrator. */
export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
