/**
 * `attach`: connect a caller to an attachable job's stdio (whatever the transport: the gRPC stream today).
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { Attacher, Attachment } from '../io/job-io';
import { statusOf } from './job-status';
import { requireIo, requireJob, requireStore } from './helpers';
import type { Services } from './services';

/** The job's FIFO directory, when it is attachable. */
export function ioDirOf(details: string | Record<string, unknown>): string | undefined {
  const d = (typeof details === 'string' ? JSON.parse(details) : details) as { io?: { dir?: unknown } };
  return typeof d.io?.dir === 'string' ? d.io.dir : undefined;
}

/** Attaches `sink` to the job named by `jid` or `pid`. */
export async function attachJob(s: Services, target: { jid?: string; pid?: number }, sink: Attacher): Promise<{ jid: string; attachment: Attachment }> {
  const io = requireIo(s);
  let jid = target.jid;
  if (!jid) {
    if (!target.pid) throw new CedanaError(ErrorCode.InvalidArgument, 'name a job or a PID to attach to');
    const job = await requireStore(s).findJobByPid(target.pid, s.host);
    if (!job) throw new CedanaError(ErrorCode.NotFound, `PID ${target.pid} is not a job`, { hint: 'see `cedana ps`' });
    jid = job.jid;
  }
  const job = await requireJob(s, jid);
  const dir = ioDirOf(job.details);
  if (!dir) {
    throw new CedanaError(ErrorCode.FailedPrecondition, `job ${jid} is not attachable`, {
      hint: job.log ? `its output goes to ${job.log}; run jobs with --attach or --attachable to attach to them` : 'run jobs with --attach or --attachable to attach to them',
    });
  }
  let jobIo = io.get(jid);
  // A job that ended here still has output to give, and its exit code; one that is checkpointed has neither.
  if (!jobIo?.hasEnded) {
    const status = await statusOf(job, s.host);
    if (['halted', 'zombie', 'stale', 'remote'].includes(status)) {
      throw new CedanaError(ErrorCode.FailedPrecondition, `job ${jid} is not running (status: ${status})`, { hint: 'restore it with `cedana restore job --attach`' });
    }
    jobIo ??= io.open(jid, dir);
  }
  return { jid, attachment: jobIo.attach(jid, sink) };
}
