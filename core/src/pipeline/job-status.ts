/**
 * A recorded job's status, derived from the live system. Besides its PID, a job records the start time of its
 * process (`startTime` in its details, set whenever the job gets a process: run, manage, restore), so that a job
 * whose process exec'd another program (`bash -c 'python3 app.py'` does) is still itself, and a PID reused by
 * another process is `stale`.
 */
import type { JobRow } from '../db/tables';
import { jobStatus, processStartTime } from '../proc/procfs';

/** The job's status: see {@link jobStatus}. */
export function statusOf(job: Pick<JobRow, 'pid' | 'host' | 'cmdline' | 'details'>, host: string, live?: ReadonlySet<number>): Promise<string> {
  const details = JSON.parse(job.details) as { startTime?: unknown };
  const startTime = typeof details.startTime === 'number' ? details.startTime : undefined;
  return jobStatus({ pid: job.pid, host: job.host, cmdline: JSON.parse(job.cmdline) as string[], startTime }, host, live);
}

/** `details` with the start time of `pid`, to record with it. */
export async function withStartTime(details: Record<string, unknown>, pid: number): Promise<Record<string, unknown>> {
  const startTime = await processStartTime(pid);
  const { startTime: _old, ...rest } = details;
  return startTime === null ? rest : { ...rest, startTime };
}
