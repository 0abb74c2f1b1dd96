/**
 * Daemon start-up: jobs outlive the daemon, so each recorded job is looked at again. Running attachable jobs get
 * their stdio reopened (output written meanwhile waits in their FIFOs); a job whose process died while no daemon
 * watched shows `halted` (its exit code is unknown); jobs of other hosts show `remote`.
 */
import { statusOf } from './job-status';
import { ioDirOf } from './attach';
import type { Services } from './services';

export async function reconcileJobs(s: Services): Promise<void> {
  if (!s.store) return;
  const counts: Record<string, number> = {};
  for (const job of await s.store.listJobs(undefined, s.host)) {
    const status = await statusOf(job, s.host);
    counts[status] = (counts[status] ?? 0) + 1;
    const dir = ioDirOf(job.details);
    if (dir && s.io && !['halted', 'zombie', 'stale', 'remote'].includes(status)) {
      try {
        s.io.open(job.jid, dir).holdStdin(job.pid);
        // Not our child, so its exit code is lost; but its attacher must still hear that it ended.
        if (s.reaper) s.exits.track(job.jid, job.pid, s.reaper.watch(job.pid));
      } catch (err) {
        s.logger.warn(`job ${job.jid}: cannot reopen its stdio: ${(err as Error).message}`);
      }
    }
  }
  const summary = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ');
  if (summary) s.logger.info(`jobs on record: ${summary}`);
}
