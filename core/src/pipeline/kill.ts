/**
 * Stopping a job: TERM, then KILL if it has not ended within the grace period — the whole process group, and
 * waiting until it is gone, so that a restore right after finds its PIDs free. A frozen job is thawed first.
 */
import { CedanaError, ErrorCode, type JobRef } from '@cedana-ts/sdk';
import { groupMembers, processState } from '../proc/procfs';
import { thawIfFrozen } from './freeze';
import type { Services } from './services';

const POLL_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** True once `pid` is gone (or a zombie) and, when it led a group, no member of that group lives. */
async function ended(pid: number, group: boolean): Promise<boolean> {
  const state = await processState(pid);
  if (state !== null && state !== 'zombie' && state !== 'halted') return false;
  return !group || (await groupMembers(pid)).length === 0;
}

async function waitEnded(s: Services, pid: number, group: boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    await s.reaper?.sweep();
    if (await ended(pid, group)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * Sends `signal` (when given) or stops the job gracefully: TERM, `graceMs`, then KILL. Resolves when it is gone
 * (for the graceful stop) or at once after the signal.
 */
export async function stopJob(s: Services, type: string, ref: JobRef, signal: NodeJS.Signals | undefined, graceMs: number): Promise<void> {
  const runtime = s.plugins.runtime(type);
  await thawIfFrozen(s, type, ref);
  const group = (await groupMembers(ref.pid)).includes(ref.pid);
  if (signal) return runtime.kill(ref, signal);
  await runtime.kill(ref, 'SIGTERM');
  if (await waitEnded(s, ref.pid, group, graceMs)) return;
  await runtime.kill(ref, 'SIGKILL').catch(() => undefined);
  if (group) s.reaper?.expectOrphans(await groupMembers(ref.pid));
  if (!(await waitEnded(s, ref.pid, group, 5_000))) {
    throw new CedanaError(ErrorCode.Internal, `job ${ref.jid} (PID ${ref.pid}) did not end after SIGKILL`);
  }
}
