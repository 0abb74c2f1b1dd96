/**
 * `manage`: start managing something already running (a PID, a container) as a job.
 */
import { CedanaError, ErrorCode, ManageRequest } from '@cedana-ts/sdk';
import type { Job } from '../generated/daemon';
import { requireStore, runtimeOptions } from './helpers';
import { jobView } from './job-view';
import { withStartTime } from './job-status';
import { randomJobName } from './names';
import type { Services } from './services';
import { validate } from './validate';
import { requireGpu } from './gpu';
import { unmanageableReason } from '../proc/procfs';

const once = <T>(fn: () => Promise<T>): Promise<T> => fn();

/** Retries `fn` while it fails with NOT_FOUND, until `timeoutSeconds` pass. */
async function waitForTarget<T>(fn: () => Promise<T>, timeoutSeconds: number, target: string): Promise<T> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof CedanaError) || err.code !== ErrorCode.NotFound) throw err;
      if (Date.now() >= deadline) {
        throw new CedanaError(ErrorCode.NotFound, `${target} did not appear within ${timeoutSeconds} s`, { hint: 'start it, or wait longer with --timeout' });
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function manageJob(s: Services, input: ManageRequest): Promise<Job> {
  const req = validate(ManageRequest, input, 'manage');
  const store = requireStore(s);
  const runtime = s.plugins.runtime(req.type);
  const options = runtimeOptions(runtime, req.options);
  if (req.gpuEnabled) requireGpu(s, 'a GPU job (--gpu-enabled)');
  if (req.jid && (await store.getJob(req.jid))) throw new CedanaError(ErrorCode.AlreadyExists, `job ${req.jid} exists already`, { hint: 'choose another --jid' });
  const started = await (req.upcoming ? waitForTarget : once)(() => runtime.manage({ jid: req.jid ?? '', target: req.target, options }), req.timeoutSeconds, req.target);
  const refused = await unmanageableReason(started.pid);
  if (refused) throw new CedanaError(ErrorCode.InvalidArgument, `refusing to manage PID ${started.pid}: ${refused}`, { hint: 'manage the process you mean to checkpoint' });
  const existing = await store.findJobByPid(started.pid, s.host);
  if (existing) {
    const view = await jobView(existing, s.host);
    if (view.status !== 'halted' && view.status !== 'stale') {
      throw new CedanaError(ErrorCode.AlreadyExists, `PID ${started.pid} is managed already, as job ${existing.jid}`);
    }
  }
  let jid = req.jid;
  while (!jid || (await store.getJob(jid))) jid = randomJobName();
  const cmdline = Array.isArray(started.details.cmdline) ? (started.details.cmdline as string[]) : [];
  started.details = await withStartTime(started.details, started.pid);
  await store.insertJob({
    jid,
    type: req.type,
    pid: started.pid,
    cmdline: JSON.stringify(cmdline),
    log: typeof started.details.log === 'string' ? started.details.log : '',
    details: JSON.stringify(started.details),
    host: s.host,
    gpu: req.gpuEnabled ? 1 : 0,
    created_at: Date.now(),
    exit_code: null,
    exit_signal: null,
  });
  s.exits.track(jid, started.pid, started.exited);
  return jobView((await store.getJob(jid))!, s.host);
}
