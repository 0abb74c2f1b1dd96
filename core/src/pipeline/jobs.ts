/**
 * Job commands: list, kill, delete, checkpoints.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, DeleteRequest, ErrorCode, KillRequest, METADATA_FILE, SHARD_MANIFEST, type JobRef } from '@cedana-ts/sdk';
import { localPath } from '../storage/local';
import type { Checkpoint, Job } from '../generated/daemon';
import type { CheckpointRow, JobRow } from '../db/tables';
import { requireJob, requireStore } from './helpers';
import { checkpointView, jobView } from './job-view';
import type { Services } from './services';
import { validate } from './validate';
import { stopJob } from './kill';
import { ioDirOf } from './attach';
import { schemeOf } from '../storage/registry';
import { livePids } from '../proc/procfs';

function refOf(job: JobRow): JobRef {
  return { jid: job.jid, pid: job.pid, details: JSON.parse(job.details) as Record<string, unknown> };
}

const notRunning = new Set(['halted', 'zombie', 'stale', 'remote']);

/**
 * This host's jobs; with `remote` (ps --all), every host's. Jobs named by JID are shown whichever host has them,
 * with their moves between hosts.
 */
export async function listJobs(s: Services, jids: string[] = [], remote = false): Promise<Job[]> {
  const store = requireStore(s);
  const host = remote || jids.length > 0 ? undefined : s.host;
  // Side by side: on PostgreSQL each query has its own connection. A job recorded between them shows without
  // its latest checkpoint until the next listing.
  const [listed, hosts] = await Promise.all([jids.length > 0 ? namedJobs(s, jids) : store.listing(host), store.listHosts()]);
  const names = new Map(hosts.map((h) => [h.id, h.name]));
  names.set(s.host, s.hostName);
  // Listed after the rows: a job recorded before the listing has its process in it, if it has one.
  const live = await livePids();
  const jobs = await Promise.all(listed.map(({ job, latest }) => jobView(job, s.host, latest, live, names)));
  if (jids.length > 0) {
    for (const job of jobs) {
      const moves = (await store.movesOf(job.jid)).map((m) => ({ fromHost: m.from_host, toHost: m.to_host, checkpoint: m.checkpoint, time: m.time, downtimeMs: m.downtime_ms }));
      if (moves.length > 0) job.moves = { moves };
    }
  }
  return jobs;
}

/** The jobs named, whichever host has them, each with its newest checkpoint. */
async function namedJobs(s: Services, jids: string[]): Promise<{ job: JobRow; latest?: CheckpointRow }[]> {
  const store = requireStore(s);
  const rows = await store.listJobs(jids);
  const latest = await store.latestCheckpoints(rows.map((r) => r.jid));
  return rows.map((job) => ({ job, latest: latest.get(job.jid) }));
}

/** The jobs a kill/delete request names: all of them with --all, else each JID (which must exist). */
async function selected(s: Services, jids: string[], all: boolean): Promise<JobRow[]> {
  const store = requireStore(s);
  if (all) return store.listJobs(undefined, s.host);
  if (jids.length === 0) throw new CedanaError(ErrorCode.InvalidArgument, 'name at least one JID, or use --all');
  return Promise.all(jids.map((jid) => requireJob(s, jid)));
}

export async function killJobs(s: Services, input: unknown): Promise<string[]> {
  const req = validate(KillRequest, input, 'kill');
  const killed: string[] = [];
  for (const listed of await selected(s, req.jids, req.all)) {
    await s.locks.run(listed.jid, async () => {
      // Read again under the lock: a dump or restore that held it may have changed the job's PID.
      const job = (await requireStore(s).getJob(listed.jid)) ?? listed;
      const view = await jobView(job, s.host);
      if (notRunning.has(view.status)) {
        if (req.all) return;
        throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} is not running (status: ${view.status})`);
      }
      await stopJob(s, job.type, refOf(job), req.signal as NodeJS.Signals | undefined, req.graceSeconds * 1000);
      killed.push(job.jid);
    });
  }
  return killed;
}

export async function deleteJobs(s: Services, input: { jids?: string[]; all?: boolean; checkpoints?: boolean }): Promise<string[]> {
  const req = validate(DeleteRequest, input, 'delete');
  const store = requireStore(s);
  const deleted: string[] = [];
  for (const listed of await selected(s, req.jids, req.all)) {
    await s.locks.run(listed.jid, async () => {
      const job = await store.getJob(listed.jid);
      if (!job) return;
      const view = await jobView(job, s.host);
      if (!notRunning.has(view.status)) {
        await stopJob(s, job.type, refOf(job), undefined, 3_000).catch((err: Error) => s.logger.warn(`killing job ${job.jid}: ${err.message}`));
      }
      if (input.checkpoints) {
        for (const c of await store.checkpointsOf(job.jid)) await deleteCheckpoint(s, c.path);
      }
      s.io?.remove(job.jid, ioDirOf(job.details));
      await store.deleteJob(job.jid);
      deleted.push(job.jid);
    });
  }
  return deleted;
}

/**
 * Deletes a checkpoint: a file or directory, an object, or — a sharded checkpoint in a storage (dump --streams) —
 * every object under its URL.
 */
async function deleteCheckpoint(s: Services, path: string): Promise<void> {
  const storage = s.storage.for(path);
  if (schemeOf(path) === 'file' && !(await isLocalCheckpoint(localPath(path)))) {
    s.logger.warn(`not deleting ${path}: it is not a checkpoint (a symlink, or a directory without ${METADATA_FILE} or ${SHARD_MANIFEST})`);
    return;
  }
  if (schemeOf(path) !== 'file') {
    const under = await storage.list(`${path.replace(/\/+$/, '')}/`).catch((err: CedanaError) => {
      if (err.code === ErrorCode.NotFound) return [];
      throw err;
    });
    for (const o of under) await storage.delete(o.url);
  }
  await storage.delete(path);
}

/**
 * True when `path` is something a dump wrote: an archive file, or a directory holding a checkpoint's metadata or
 * shard manifest. The paths come from the job database, so a recorded path is never trusted to be one: a
 * symlink, or a directory like /etc, is left alone.
 */
async function isLocalCheckpoint(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => null);
  if (!st) return true; // gone already: deleting it is a no-op
  if (st.isFile()) return true;
  if (!st.isDirectory()) return false;
  for (const marker of [METADATA_FILE, SHARD_MANIFEST]) if ((await lstat(join(path, marker)).catch(() => null))?.isFile()) return true;
  return false;
}

export async function listCheckpoints(s: Services, jid: string): Promise<Checkpoint[]> {
  await requireJob(s, jid);
  return (await requireStore(s).checkpointsOf(jid)).map(checkpointView);
}
