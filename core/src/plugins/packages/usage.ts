/**
 * Which running jobs use a runtime plugin: read from the job database and /proc, so the answer holds whether or
 * not a daemon runs (jobs outlive the daemon).
 */
import { existsSync } from 'node:fs';
import type { Config } from '../../config/schema';
import { hostIdentity } from '../../daemon/host-identity';
import { JobStore } from '../../db/job-store';
import { jobStatus } from '../../proc/procfs';

const notRunning = new Set(['halted', 'zombie', 'stale', 'remote']);

/** JIDs of this host's jobs of `type` whose process still runs. */
export async function runningJobsOfType(cfg: Pick<Config, 'db' | 'host'>, type: string): Promise<string[]> {
  if (!cfg.db.remote && cfg.db.path !== ':memory:' && !existsSync(cfg.db.path)) return [];
  const store = await JobStore.connect(cfg.db);
  const host = hostIdentity(cfg).id;
  try {
    const out: string[] = [];
    for (const job of await store.listJobs(undefined, host)) {
      if (job.type !== type) continue;
      const status = await jobStatus({ pid: job.pid, host: job.host, cmdline: JSON.parse(job.cmdline) as string[] }, host);
      if (!notRunning.has(status)) out.push(job.jid);
    }
    return out;
  } finally {
    await store.close();
  }
}
