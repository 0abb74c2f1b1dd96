/**
 * Records how each job's process ended, except when a dump ended it: a checkpoint is not an exit.
 */
import type { ExitStatus, Logger } from '@cedana-ts/sdk';
import type { JobStore } from '../db/job-store';

/** One tracked process. */
interface Tracked {
  /** A dump ended it. */
  dumped: boolean;
}

export class ExitMonitor {
  /** The process each PID is tracked as now (a restore brings a new process back under an old PID). */
  private readonly current = new Map<number, Tracked>();
  /** PIDs being dumped, with the process being dumped: its end is the checkpoint's doing. */
  private readonly dumping = new Map<number, Tracked | undefined>();

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
    const tracked: Tracked = { dumped: false };
    this.current.set(pid, tracked);
    exited
      .then(async (status) => {
        if (this.current.get(pid) === tracked) this.current.delete(pid);
        if (tracked.dumped || this.dumping.get(pid) === tracked) return;
        const job = await store.getJob(jid);
        if (!job || job.pid !== pid) return;
        await store.updateJob(jid, { exit_code: status.code, exit_signal: status.signal });
        this.logger.info(`job ${jid} exited`, { pid, ...status });
        this.onExit(jid, status);
      })
      .catch((err: Error) => this.logger.warn(`recording exit of job ${jid}: ${err.message}`));
  }

  /** Marks `pid` as being dumped until {@link dumpEnded} is called. */
  dumpStarted(pid: number): void {
    this.dumping.set(pid, this.current.get(pid));
  }

  /**
   * Ends the mark after a dump. When the dump ended the process, its exit (whenever Node reports it) is not
   * recorded — but that of a process restored under the same PID afterwards is. When it still runs (failure,
   * leave-running) its exit counts again.
   */
  dumpEnded(pid: number, processEnded: boolean): void {
    const dumped = this.dumping.get(pid);
    this.dumping.delete(pid);
    if (processEnded && dumped) dumped.dumped = true;
  }
}
