/**
 * `job migrate J --to HOST`: moves a job of this host to another host that shares the job database.
 *
 *   claim the job (migrate:<to>) → dump it to storage both reach (or take its latest checkpoint when it is
 *   halted) → ask <to>'s daemon, at the address it recorded in the hosts table, to restore it → record the move.
 *
 * The claim keeps a second migrate or restore of the job out until this one is over (claims.ts). When the other
 * host cannot restore, the job stays released with its checkpoint kept, restorable on either host.
 */
import { CedanaError, ErrorCode, MigrateRequest } from '@cedana-ts/sdk';
import { connectDaemon } from '../client/client';
import { RestoreReq, type Checkpoint, type MigrateJobResp } from '../generated/daemon';
import { claimedError } from './claims';
import { dump } from './dump';
import { requireJob, requireStore } from './helpers';
import { statusOf } from './job-status';
import { checkpointView } from './job-view';
import type { Services } from './services';
import { validate } from './validate';

export async function migrateJob(s: Services, input: MigrateRequest): Promise<MigrateJobResp> {
  const req = validate(MigrateRequest, input, 'migrate');
  const store = requireStore(s);
  const job = await requireJob(s, req.jid);
  if (job.host !== s.host) {
    throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} belongs to host ${job.host}, not this one (${s.host})`, {
      hint: "run the migrate on that host's daemon",
    });
  }
  const to = await store.findHost(req.toHost);
  if (!to) {
    const known = (await store.listHosts()).map((h) => (h.name === h.id ? h.id : `${h.name} (${h.id})`));
    throw new CedanaError(ErrorCode.NotFound, `unknown host '${req.toHost}'`, { hint: `hosts sharing this job database: ${known.join(', ') || 'none'}` });
  }
  if (to.id === s.host) throw new CedanaError(ErrorCode.InvalidArgument, `job ${job.jid} is on host ${to.name} already`, { hint: 'name another host with --to' });
  const status = await statusOf(job, s.host);
  const running = !['halted', 'zombie', 'stale'].includes(status);
  if (!running && (await store.checkpointsOf(job.jid)).length === 0) {
    throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} is ${status} and has no checkpoint: there is nothing to move`, {
      hint: 'a job is moved while it runs, or from its latest checkpoint',
    });
  }

  await store.claimJob(job.jid, (row) => {
    if (!row) throw new CedanaError(ErrorCode.NotFound, `job ${job.jid} not found`);
    if (row.claim) throw claimedError(job.jid, row.claim);
    if (row.host !== s.host) throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} moved to host ${row.host} meanwhile`);
    return { claim: `migrate:${to.id}` };
  });
  const started = performance.now();
  try {
    let checkpoint: Checkpoint;
    if (running) {
      // A directory (compression none) cannot go to remote storage: a migration archives.
      const compression = req.compression ?? (s.config.checkpoint.compression === 'none' ? 'lz4' : s.config.checkpoint.compression);
      checkpoint = await dump(s, { jid: job.jid, dir: req.dir, compression, leaveRunning: false });
    } else {
      checkpoint = checkpointView((await store.checkpointsOf(job.jid))[0]);
      await store.updateJob(job.jid, { released: 1 });
    }
    const other = connectDaemon({ address: to.address, protocol: to.protocol === 'tcp' ? 'tcp' : 'unix' });
    let restored;
    try {
      restored = await other.restore(RestoreReq.fromPartial({ jid: job.jid }));
    } catch (err) {
      const e = err instanceof CedanaError ? err : new CedanaError(ErrorCode.Internal, String(err));
      throw new CedanaError(e.code, `host ${to.name} could not restore job ${job.jid}: ${e.message}`, {
        hint: `its checkpoint ${checkpoint.path} is kept: restore it with \`cedana restore job ${job.jid}\` on ${to.name} or here`,
        cause: err,
      });
    } finally {
      other.close();
    }
    const downtimeMs = performance.now() - started;
    await store.recordMove({ jid: job.jid, from_host: s.host, to_host: to.id, checkpoint: checkpoint.path, time: Date.now(), downtime_ms: Math.round(downtimeMs) });
    s.logger.info(`migrated job ${job.jid} to host ${to.name}`, { checkpoint: checkpoint.path, downtimeMs: Math.round(downtimeMs) });
    return { job: restored.job ? { ...restored.job, hostName: to.name } : undefined, checkpoint, downtimeMs };
  } finally {
    await store.updateJob(job.jid, { claim: null }).catch((err: Error) => s.logger.warn(`job ${job.jid}: releasing its claim: ${err.message}`));
  }
}
