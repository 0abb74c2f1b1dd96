/**
 * The progress line of `cedana dump` and `cedana restore` on a terminal: one line on stderr, redrawn in place
 * (phase, bytes done / total, rate, elapsed time), and erased before the command prints its result. Scripts,
 * whose stderr is not a terminal, get no line at all.
 */

/** The part of a terminal stream (process.stderr) the line needs. */
export interface TerminalStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** One progress report, as the daemon sends it. */
export interface ProgressView {
  phase: string;
  bytesDone: number;
  bytesTotal?: number;
  elapsedMs: number;
}

/** Back to the start of the line, and erase it. */
export const ERASE_LINE = '\r\x1b[K';
const MIB = 1024 * 1024;
/** A rate measured over less time than this is noise, and not shown. */
const MIN_RATE_WINDOW_MS = 100;

const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;

function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export interface ProgressLineOptions {
  /** The clock, for the elapsed time between reports. */
  now?: () => number;
  /** Redraw this often while no report comes, so the elapsed time moves on; 0: only on reports. */
  tickMs?: number;
}

export class ProgressLine {
  private last?: ProgressView;
  private receivedAt = 0;
  /** The first report of the current phase: the rate is measured from there. */
  private phaseStart?: ProgressView;
  private drawn = false;
  private shown = '';
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly tickMs: number;

  constructor(
    private readonly out: TerminalStream,
    opts: ProgressLineOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.tickMs = opts.tickMs ?? 500;
  }

  /** Draws `p` over the line drawn before. */
  update(p: ProgressView): void {
    if (p.phase !== this.phaseStart?.phase) this.phaseStart = p;
    this.last = p;
    this.receivedAt = this.now();
    this.draw();
    if (this.tickMs > 0 && !this.timer) this.timer = setInterval(() => this.draw(), this.tickMs).unref();
  }

  /** Erases the line (when one was drawn) and stops redrawing. */
  clear(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.out.write(ERASE_LINE);
    this.drawn = false;
  }

  /** The text of the line for the last report. */
  text(): string {
    const p = this.last;
    if (!p) return '';
    const parts = [p.phase.padEnd(10)];
    if (p.bytesTotal !== undefined && p.bytesTotal > 0) {
      parts.push(`${mib(p.bytesDone)} / ${mib(p.bytesTotal)}`, `${Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100))}%`);
    } else if (p.bytesDone > 0) {
      parts.push(mib(p.bytesDone));
    }
    const start = this.phaseStart!;
    const seconds = (p.elapsedMs - start.elapsedMs) / 1000;
    if (seconds * 1000 >= MIN_RATE_WINDOW_MS && p.bytesDone > start.bytesDone) parts.push(`${((p.bytesDone - start.bytesDone) / MIB / seconds).toFixed(1)} MiB/s`);
    parts.push(clock(p.elapsedMs + (this.now() - this.receivedAt)));
    return parts.join('  ');
  }

  private draw(): void {
    // One column short of the width: a line that fills it would wrap, and `\r` would then redraw the next line.
    const width = Math.max(10, (this.out.columns || 80) - 1);
    const text = this.text().slice(0, width);
    if (this.drawn && text === this.shown) return;
    this.out.write(`\r${text}\x1b[K`);
    this.shown = text;
    this.drawn = true;
  }
}

/** A progress line on `out` when it is a terminal; none otherwise (scripts see exactly what they saw before). */
export function progressLineFor(out: TerminalStream): ProgressLine | undefined {
  return out.isTTY ? new ProgressLine(out) : undefined;
}
