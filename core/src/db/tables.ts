/**
 * Row types of the job database, as kysely sees them.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface JobTable {
  jid: string;
  type: string;
  pid: number;
  /** JSON array of the command line at run/manage time, to tell a reused PID apart. */
  cmdline: string;
  log: string;
  /** JSON object from the runtime. */
  details: string;
  host: string;
  gpu: number;
  created_at: number;
  exit_code: number | null;
  exit_signal: string | null;
  /** What start-up recovery found about the job's last dump, for ps and job inspect; null when nothing. */
  notice?: string | null;
  /** When a dump of the job was lost with the daemon (the process gone, no complete images); null otherwise. */
  lost_dump_at?: number | null;
}

/** A dump in progress (see migration 0601). */
export interface DumpJournalTable {
  id: string;
  jid: string;
  pid: number;
  type: string;
  /** The checkpoint's final path or URL. */
  dest: string;
  compression: string;
  /** Where CRIU writes the images (for `none`: the partial directory renamed into place). */
  images_dir: string;
  /** opened (destination opened, nothing frozen yet) → dumped (images complete, metadata known) → archived. */
  phase: 'opened' | 'dumped' | 'archived';
  /** JSON CheckpointMetadata, from `dumped` on. */
  meta: string | null;
  started_at: number;
}

export interface CheckpointTable {
  id: string;
  jid: string | null;
  type: string;
  path: string;
  time: number;
  size: number;
  compression: string;
  /** JSON of the dump's CheckpointStats, or null (older checkpoints). */
  stats: string | null;
  seq: Generated<number>;
}

export interface Database {
  jobs: JobTable;
  checkpoints: CheckpointTable;
  dump_journal: DumpJournalTable;
}

export type JobRow = Selectable<JobTable>;
export type NewJob = Insertable<JobTable>;
export type JobUpdate = Updateable<JobTable>;
export type CheckpointRow = Selectable<CheckpointTable>;
export type NewCheckpoint = Insertable<CheckpointTable>;
export type DumpJournalRow = Selectable<DumpJournalTable>;
