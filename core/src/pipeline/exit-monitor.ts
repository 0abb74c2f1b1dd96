/**
 * Records how each job's process ended, except when a dump ended it: a checkpoint is not an exit.
 */
import type { ExitStatus, Logger } from '@cedana-ts/sdk';
import type { JobStore } from '../db/job-store';

export class ExitMonitor {
  /** PIDs being dumped: their end is the checkpoint's doing. */
  private readonly dumping = new Set<number>();

  constructor(
    private readonly store: JobStore | null,
    private readonly logger: Logger,
    /** Told of every recorded exit (the job's attacher hears of it this way). */
    private readonly onExit: (jid: string, status: ExitStatus) => void = () => undefined,
  ) {}

  /** Records the exit of `pid` on job `jid` when `exited` settles, if the job still has that PID. */
  track(jid: string, pid: number, exited: Promise<ExitStatus> | undefined): void {
    if (!exited || !this.store) return;
    const store = this.store;
    exited
      .then(async (status) => {
        if (this.dumping.has(pid)) return;
        const job = await store.getJob(jid);
        if (!job || job.pid !== pid) return;
        await store.updateJob(jid, { exit_code: status.code, exit_signal: status.signal });
        this.logger.info(`job ${jid} exited`, { pid, ...status });
        this.onExit(jid, status);
      })
      .catch((err: Error) => this.logger.warn(`recording exit of job ${jid}: ${err.message}`));
  }

  /** Marks `pid` as being dumped until {@link done} is called. */
  dumpStarted(pid: number): void {
    this.dumping.add(pid);
  }

  /** Ends the mark after a dump; when the process still runs (failure, leave-running) its exit counts again. */
  dumpEnded(pid: number, processEnded: boolean): void {
    if (!processEnded) this.dumping.delete(pid);
    else setTimeout(() => this.dumping.delete(pid), 5_000).unref();
  }
}
