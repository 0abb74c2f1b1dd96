/**
 * A lazily restored job (`restore --lazy`) runs before its memory is in. Its details say how that goes:
 * `lazyPages.state` is `filling`, then `complete` (with the time all pages were in) or `failed` (with why: the page
 * source was lost and the job was killed rather than left running with memory it never got back).
 */
import type { StartedJob } from '@cedana-ts/sdk';
import type { Services } from './services';
import { requireStore } from './helpers';

/** What a lazily restored job's details hold under `lazyPages`. */
export interface LazyPagesState {
  state: 'filling' | 'complete' | 'failed';
  /** From the restore request to the job running again. */
  runningMs: number;
  /** From the restore request to the last page in. */
  completeMs?: number;
  error?: string;
}

/** The details of a job that is running again after `runningMs`, its memory still filling. */
export function filling(details: Record<string, unknown>, runningMs: number): Record<string, unknown> {
  return { ...details, lazyPages: { state: 'filling', runningMs } satisfies LazyPagesState };
}

/** Records in job `jid` how its memory filling ended, once it has (requestAt: when the restore was asked for). */
export function trackPagesIn(s: Services, jid: string, started: StartedJob, requestAt: number): void {
  if (!started.pagesIn) return;
  const record = async (change: Partial<LazyPagesState>) => {
    const store = requireStore(s);
    const job = await store.getJob(jid);
    if (!job || job.pid !== started.pid) return;
    const details = JSON.parse(job.details || '{}') as Record<string, unknown>;
    const before = (details.lazyPages ?? {}) as LazyPagesState;
    await store.updateJob(jid, { details: JSON.stringify({ ...details, lazyPages: { ...before, ...change } }) });
  };
  started.pagesIn.then(
    () => record({ state: 'complete', completeMs: Date.now() - requestAt }),
    (err: Error) => {
      s.logger.error(`job ${jid}: ${err.message}`, { pid: started.pid });
      return record({ state: 'failed', completeMs: Date.now() - requestAt, error: err.message });
    },
  ).catch((err: Error) => s.logger.error(`job ${jid}: cannot record its lazy restore: ${err.message}`));
}
