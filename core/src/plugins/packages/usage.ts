/**
 * Which running jobs use a runtime plugin: read from the job database and /proc, so the answer holds whether or
 * not a daemon runs (jobs outlive the daemon).
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { JobStore } from '../../db/job-store';
import { jobStatus } from '../../proc/procfs';

const notRunning = new Set(['halted', 'zombie', 'stale', 'remote']);

/** JIDs of this host's jobs of `type` whose process still runs. */
export async function runningJobsOfType(dbPath: string, type: string): Promise<string[]> {
  if (dbPath !== ':memory:' && !existsSync(dbPath)) return [];
  const store = await JobStore.open(dbPath);
  try {
    const out: string[] = [];
    for (const job of await store.listJobs()) {
      if (job.type !== type) continue;
      const status = await jobStatus({ pid: job.pid, host: job.host, cmdline: JSON.parse(job.cmdline) as string[] }, hostname());
      if (!notRunning.has(status)) out.push(job.jid);
    }
    return out;
  } finally {
    await store.close();
  }
}
