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
}

export type JobRow = Selectable<JobTable>;
export type NewJob = Insertable<JobTable>;
export type JobUpdate = Updateable<JobTable>;
export type CheckpointRow = Selectable<CheckpointTable>;
export type NewCheckpoint = Insertable<CheckpointTable>;
