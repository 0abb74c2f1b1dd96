/**
 * Progress of a long dump or restore: the sink a caller passes to the pipeline, and the reporter the pipeline
 * feeds. The reporter throttles what reaches the sink (a new phase at once, byte counts at most every
 * {@link MIN_INTERVAL_MS}), so a caller can forward every update without flooding its reader.
 *
 * A pipeline called without a sink builds no reporter: nothing is counted and nothing is polled.
 */

/** Dump phases, in order: CRIU stopping the tree, CRIU writing images, archiving to local disk or remote storage. */
export type DumpPhase = 'freeze' | 'dump' | 'compress' | 'upload';
/** Restore phases, in order: reading the archive from remote storage or local disk, then CRIU. */
export type RestorePhase = 'download' | 'decompress' | 'restore';

export interface ProgressUpdate {
  phase: DumpPhase | RestorePhase;
  /** Bytes handled so far in this phase (0 in phases that count nothing). */
  bytesDone: number;
  /** What bytesDone counts up to, when it is known. */
  bytesTotal?: number;
  /** Milliseconds since the request started. */
  elapsedMs: number;
}

/** Where progress goes. */
export interface ProgressSink {
  update(p: ProgressUpdate): void;
  /**
   * The work the updates describe is over (a restored process is running): no more updates follow. Called once,
   * on success only; a `--no-server` restore clears its progress line here, before the process writes anything.
   */
  done?(): void;
}

export const MIN_INTERVAL_MS = 100;

/** Turns a pipeline's phase changes and byte counts into throttled updates for a sink. */
export class ProgressReporter {
  private readonly started = performance.now();
  private current?: { phase: ProgressUpdate['phase']; done: number; total?: number };
  private lastSent = -Infinity;
  private dirty = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly sink: ProgressSink) {}

  /**
   * Enters `phase` with `done` bytes done already; reported at once, after what was pending of the last phase.
   * When already in `phase`, only updates its total and count.
   */
  phase(phase: ProgressUpdate['phase'], total?: number, done = 0): void {
    if (this.current?.phase === phase) {
      if (total !== undefined) this.current.total = total;
      this.bytes(done);
      return;
    }
    this.flush();
    this.current = { phase, done, total };
    this.send();
  }

  /** Sets the bytes done in the current phase (never lower than before). */
  bytes(done: number): void {
    const cur = this.current;
    if (!cur || done <= cur.done) return;
    cur.done = done;
    this.dirty = true;
    const wait = this.lastSent + MIN_INTERVAL_MS - performance.now();
    if (wait <= 0) return this.send();
    // The last count of a burst is sent too, once the interval has passed.
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (this.dirty) this.send();
    }, wait).unref();
  }

  /** Adds `n` bytes to the current phase's count. */
  add(n: number): void {
    if (this.current) this.bytes(this.current.done + n);
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.dirty) this.send();
  }

  /** Sends what is pending, then tells the sink no more updates follow. */
  finish(): void {
    this.flush();
    this.stop();
    this.sink.done?.();
  }

  /** Stops the pending timer without sending (the request failed). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
  }

  private send(): void {
    const cur = this.current;
    if (!cur) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
    this.lastSent = performance.now();
    this.sink.update({ phase: cur.phase, bytesDone: cur.done, ...(cur.total !== undefined ? { bytesTotal: cur.total } : {}), elapsedMs: this.lastSent - this.started });
  }
}

/** A reporter for `sink`, or none when there is no sink. */
export function reporterFor(sink: ProgressSink | undefined): ProgressReporter | undefined {
  return sink ? new ProgressReporter(sink) : undefined;
}
