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
  /** 1: checkpointed and stopped, so any host may restore it; 0: its host runs it. */
  released: Generated<number>;
  /** The operation holding the job (`migrate:<host>`, `restore:<host>`), or null. */
  claim: Generated<string | null>;
  /** What start-up recovery found about the job's last dump, for ps and job inspect; null when nothing. */
  notice?: string | null;
  /** When a dump of the job was lost with the daemon (the process gone, no complete images); null otherwise. */
  lost_dump_at?: number | null;
}

export interface HostTable {
  id: string;
  name: string;
  /** Where other daemons reach this one. */
  address: string;
  protocol: string;
  seen_at: number;
}

export interface JobMoveTable {
  seq: Generated<number>;
  jid: string;
  from_host: string;
  to_host: string;
  checkpoint: string;
  time: number;
  downtime_ms: number;
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
  /** The host that made it; null for checkpoints made before hosts were recorded. */
  host?: string | null;
  seq: Generated<number>;
}

export interface Database {
  jobs: JobTable;
  checkpoints: CheckpointTable;
  hosts: HostTable;
  job_moves: JobMoveTable;
  dump_journal: DumpJournalTable;
}

export type JobRow = Selectable<JobTable>;
export type NewJob = Insertable<JobTable>;
export type JobUpdate = Updateable<JobTable>;
export type CheckpointRow = Selectable<CheckpointTable>;
export type NewCheckpoint = Insertable<CheckpointTable>;
export type HostRow = Selectable<HostTable>;
export type JobMoveRow = Selectable<JobMoveTable>;
export type DumpJournalRow = Selectable<DumpJournalTable>;
