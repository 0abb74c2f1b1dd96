/**
 * The services every pipeline works with, wired once (tsyringe) by the daemon or, for `--no-server`, by the CLI.
 * Without a daemon there is no job database: nothing is recorded.
 */
import type { Logger } from '@cedana-ts/sdk';
import type { Config } from '../config/schema';
import type { JobStore } from '../db/job-store';
import type { PluginHost } from '../plugins/host';
import type { Reaper } from '../proc/reaper';
import type { StorageRegistry } from '../storage/registry';
import type { ExitMonitor } from './exit-monitor';
import type { IoRegistry } from '../io/io-registry';
import type { JobLocks } from './job-locks';

export interface Services {
  config: Config;
  logger: Logger;
  /** This host's ID (host.id), recorded on its jobs and checkpoints. */
  host: string;
  /** This host's name (host.name), shown in `ps --all`. */
  hostName: string;
  plugins: PluginHost;
  storage: StorageRegistry;
  /** Null without a daemon. */
  store: JobStore | null;
  /** Reaps restored trees (children of the daemon, or of the CLI for --no-server) and orphans. */
  reaper: Reaper | null;
  exits: ExitMonitor;
  /** Stdio of attachable jobs. Null without a daemon. */
  io: IoRegistry | null;
  /** One dump/restore/kill/delete at a time per job. */
  locks: JobLocks;
  /** Aborted when the daemon is asked to stop: operations in flight give up safely (see stopping.ts). */
  stopping: AbortSignal;
}

export const ServicesToken = Symbol('Services');
