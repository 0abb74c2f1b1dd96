/**
 * Job commands: list, kill, delete, checkpoints.
 */
import { CedanaError, DeleteRequest, ErrorCode, KillRequest, type JobRef } from '@cedana-ts/sdk';
import type { Checkpoint, Job } from '../generated/daemon';
import type { JobRow } from '../db/tables';
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

export async function listJobs(s: Services, jids: string[] = []): Promise<Job[]> {
  const store = requireStore(s);
  const rows = await store.listJobs(jids);
  const latest = await store.latestCheckpoints(rows.map((r) => r.jid));
  // Listed after the rows: a job recorded before the listing has its process in it, if it has one.
  const live = await livePids();
  return Promise.all(rows.map((r) => jobView(r, s.host, latest.get(r.jid), live)));
}

/** The jobs a kill/delete request names: all of them with --all, else each JID (which must exist). */
async function selected(s: Services, jids: string[], all: boolean): Promise<JobRow[]> {
  const store = requireStore(s);
  if (all) return store.listJobs();
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
  if (schemeOf(path) !== 'file') {
    const under = await storage.list(`${path.replace(/\/+$/, '')}/`).catch((err: CedanaError) => {
      if (err.code === ErrorCode.NotFound) return [];
      throw err;
    });
    for (const o of under) await storage.delete(o.url);
  }
  await storage.delete(path);
}

export async function listCheckpoints(s: Services, jid: string): Promise<Checkpoint[]> {
  await requireJob(s, jid);
  return (await requireStore(s).checkpointsOf(jid)).map(checkpointView);
}
