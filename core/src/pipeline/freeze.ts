/**
 * `freeze` / `unfreeze`: stop a job, process or container where it is, and let it go on.
 *
 *   resolve target (as a dump does) → the runtime's own way when it has one (runc pause, containerd task pause)
 *   → else the cgroup freezer of a cgroup that holds only its process tree → else SIGSTOP/SIGCONT of the tree.
 *
 * A frozen job is listed with status `frozen` (cgroup) or `stop` (signals). A dump of it still works: CRIU
 * seizes stopped tasks and restores them as they were; a paused runc container is refused with a hint.
 */
import { z } from 'zod';
import { CedanaError, ErrorCode, type JobRef } from '@cedana-ts/sdk';
import { cgroupFrozen, ownFreezer, processTree, setFrozen } from '../proc/freezer';
import { processState } from '../proc/procfs';
import { resolveTarget, type Target } from './dump';
import { runtimeOptions } from './helpers';
import type { Services } from './services';
import { validate } from './validate';

const FreezeRequest = z
  .object({
    jid: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    target: z.string().min(1).optional(),
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((r) => r.jid || (r.type && r.target), { message: 'name a job (jid), or a type and its target' });

export interface FreezeResult {
  messages: string[];
  method: 'runtime' | 'cgroup' | 'signal';
  pid: number;
  jid: string;
}

async function signalTree(pids: number[], signal: NodeJS.Signals): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPERM') throw new CedanaError(ErrorCode.PermissionDenied, `cannot send ${signal} to PID ${pid}`);
      // ESRCH: it ended meanwhile.
    }
  }
  if (signal !== 'SIGSTOP') return;
  // SIGSTOP is asynchronous: wait until each is stopped (or gone), so a dump or query right after sees them so.
  const deadline = Date.now() + 10_000;
  for (const pid of pids) {
    for (;;) {
      const state = await processState(pid);
      if (state === null || state === 'stop' || state === 'zombie' || state === 'halted') break;
      if (Date.now() >= deadline) throw new CedanaError(ErrorCode.Internal, `PID ${pid} did not stop (state: ${state})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Freezes (`frozen` true) or thaws the target. */
export async function setJobFrozen(s: Services, input: unknown, frozen: boolean): Promise<FreezeResult> {
  const req = validate(FreezeRequest, input, frozen ? 'freeze' : 'unfreeze');
  const first = await resolveTarget(s, req);
  return s.locks.run(first.jid, async () => {
    const t = first.jid ? await resolveTarget(s, req) : first;
    const runtime = s.plugins.runtime(t.type);
    // A container named by its id (not a job): the runtime's options (runc --root…) tell where it lives.
    if (!t.jid) t.ref.details = { ...runtimeOptions(runtime, req.options), ...t.ref.details };
    return applyFreeze(s, t, frozen);
  });
}

/** Freezes or thaws a resolved target; the caller holds its job's lock. */
async function applyFreeze(s: Services, t: Target, frozen: boolean): Promise<FreezeResult> {
  const runtime = s.plugins.runtime(t.type);
  const what = t.jid ? `job ${t.jid}` : t.type === 'process' ? `PID ${t.ref.pid}` : `${t.type} ${String(t.ref.details.target)}`;
  const verb = frozen ? 'Froze' : 'Unfroze';
  const done = (method: FreezeResult['method'], how: string): FreezeResult => ({ messages: [`${verb} ${what} (${how})`], method, pid: t.ref.pid, jid: t.jid ?? '' });
  const own = frozen ? runtime.freeze : runtime.unfreeze;
  if (own) {
    await own.call(runtime, t.ref);
    return done('runtime', `${t.type} ${frozen ? 'pause' : 'resume'}`);
  }
  if (t.ref.pid <= 0) throw new CedanaError(ErrorCode.Unsupported, `the ${t.type} runtime cannot freeze ${what}`);
  const state = await processState(t.ref.pid);
  if (state === null || state === 'zombie' || state === 'halted') throw new CedanaError(ErrorCode.NotFound, `${what} is not running`);
  const tree = await processTree(t.ref.pid);
  const cgroup = await ownFreezer(tree);
  if (cgroup) {
    await setFrozen(cgroup, frozen);
    return done('cgroup', `cgroup ${cgroup.path}`);
  }
  let all = tree;
  if (frozen) {
    // A process that forks while its tree is being stopped leaves a child nobody listed: stop again until none is new.
    for (let round = 0; round < 10; round++) {
      await signalTree(all, 'SIGSTOP');
      const fresh = (await processTree(t.ref.pid)).filter((p) => !all.includes(p));
      if (fresh.length === 0) break;
      all = [...all, ...fresh];
    }
  } else {
    await signalTree([...tree].reverse(), 'SIGCONT');
  }
  return done('signal', `${frozen ? 'SIGSTOP' : 'SIGCONT'} to ${all.length} process${all.length === 1 ? '' : 'es'}`);
}

/**
 * Thaws a job that is frozen (its cgroup, or stopped by SIGSTOP), so that a kill reaches it: a frozen task acts
 * on no signal, and runtimes refuse to signal a paused container. The caller holds the job's lock.
 */
export async function thawIfFrozen(s: Services, type: string, ref: JobRef): Promise<void> {
  if ((await processState(ref.pid)) !== 'stop' && !(await cgroupFrozen(ref.pid))) return;
  await applyFreeze(s, { type, jid: ref.jid, ref }, false);
}
