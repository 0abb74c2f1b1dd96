/**
 * The CLI's progress line, drawn on a stand-in terminal stream (isTTY, columns, write): phase, bytes, rate and
 * elapsed time redrawn in place, never wider than the terminal, and erased at the end.
 */
import assert from 'node:assert/strict';
import { ERASE_LINE, ProgressLine, progressLineFor, type TerminalStream } from '../../src/cli/progress-line';

const MIB = 1024 * 1024;

class FakeTerminal implements TerminalStream {
  readonly isTTY = true;
  written = '';
  constructor(readonly columns = 80) {}
  write(text: string): boolean {
    this.written += text;
    return true;
  }
  /** What each redraw showed, without the control sequences. */
  frames(): string[] {
    return this.written
      .split('\r')
      .filter(Boolean)
      .map((f) => f.replace(/\x1b\[K/g, ''))
      .filter(Boolean);
  }
}

describe('progress line', () => {
  it('shows the phase, bytes, percentage, rate and elapsed time, and ends with the line erased', () => {
    const tty = new FakeTerminal();
    let now = 1_000;
    const line = new ProgressLine(tty, { now: () => now, tickMs: 0 });
    line.update({ phase: 'freeze', bytesDone: 0, elapsedMs: 10 });
    line.update({ phase: 'dump', bytesDone: 0, elapsedMs: 300 });
    now += 2_000;
    line.update({ phase: 'dump', bytesDone: 64 * MIB, elapsedMs: 2_300 });
    line.update({ phase: 'compress', bytesDone: 0, bytesTotal: 100 * MIB, elapsedMs: 2_300 });
    now += 500;
    line.update({ phase: 'compress', bytesDone: 50 * MIB, bytesTotal: 100 * MIB, elapsedMs: 2_800 });
    line.clear();

    const frames = tty.frames();
    assert.equal(frames.length, 5, JSON.stringify(frames));
    assert.match(frames[0], /^freeze\s+0:00$/);
    // 64 MiB in the 2 s since the dump phase began.
    assert.match(frames[2], /^dump\s+64\.0 MiB\s+32\.0 MiB\/s\s+0:02$/);
    // The rate starts again with each phase: 50 MiB in 0.5 s.
    assert.match(frames[4], /^compress\s+50\.0 MiB \/ 100\.0 MiB\s+50%\s+100\.0 MiB\/s\s+0:02$/);
    // Every frame redraws the same line, and the line is erased at the end.
    assert.ok(tty.written.startsWith('\r'));
    assert.ok(!tty.written.includes('\n'), 'the line must not scroll');
    assert.ok(tty.written.endsWith(ERASE_LINE), JSON.stringify(tty.written.slice(-20)));
  });

  it('moves the elapsed time on between reports', () => {
    const tty = new FakeTerminal();
    let now = 0;
    const line = new ProgressLine(tty, { now: () => now, tickMs: 0 });
    line.update({ phase: 'restore', bytesDone: 0, elapsedMs: 1_000 });
    now = 65_000;
    assert.equal(line.text().trim().split(/\s+/).pop(), '1:06');
    line.clear();
  });

  it('never draws wider than the terminal', () => {
    const tty = new FakeTerminal(30);
    const line = new ProgressLine(tty, { tickMs: 0 });
    line.update({ phase: 'upload', bytesDone: 0, bytesTotal: 4096 * MIB, elapsedMs: 0 });
    line.update({ phase: 'upload', bytesDone: 1234 * MIB, bytesTotal: 4096 * MIB, elapsedMs: 9_000 });
    line.clear();
    for (const f of tty.frames()) assert.ok(f.length <= 29, `${JSON.stringify(f)} is ${f.length} wide`);
    assert.ok(tty.frames()[1].startsWith('upload'));
  });

  it('shows no rate measured over too short a time', () => {
    const tty = new FakeTerminal();
    const line = new ProgressLine(tty, { now: () => 0, tickMs: 0 });
    line.update({ phase: 'dump', bytesDone: 0, elapsedMs: 500 });
    line.update({ phase: 'dump', bytesDone: 400 * MIB, elapsedMs: 501 });
    assert.match(line.text(), /^dump\s+400\.0 MiB\s+0:00$/);
    line.clear();
  });

  it('redraws on a timer, only when the text changes, until cleared', async () => {
    const tty = new FakeTerminal();
    // Each reading of the clock is a second later, so each redraw shows another elapsed time.
    let now = 0;
    const line = new ProgressLine(tty, { now: () => (now += 1000), tickMs: 20 });
    line.update({ phase: 'restore', bytesDone: 0, elapsedMs: 0 });
    await new Promise((r) => setTimeout(r, 120));
    line.clear();
    const drawn = tty.frames().length;
    assert.ok(drawn >= 3, `${drawn} frames`);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(tty.frames().length, drawn, 'it drew after clear()');
    assert.ok(tty.written.endsWith(ERASE_LINE));
    assert.equal(new Set(tty.frames()).size, drawn, 'a frame was drawn twice');

    // With the clock standing still, ticks draw nothing new.
    const still = new FakeTerminal();
    const quiet = new ProgressLine(still, { now: () => 0, tickMs: 20 });
    quiet.update({ phase: 'restore', bytesDone: 0, elapsedMs: 0 });
    await new Promise((r) => setTimeout(r, 100));
    quiet.clear();
    assert.deepEqual(still.frames(), ['restore     0:00']);
  });

  it('writes nothing when cleared before any report', () => {
    const tty = new FakeTerminal();
    new ProgressLine(tty, { tickMs: 0 }).clear();
    assert.equal(tty.written, '');
  });

  it('is only made for a terminal', () => {
    assert.ok(progressLineFor(new FakeTerminal()) instanceof ProgressLine);
    assert.equal(progressLineFor({ isTTY: false, write: () => true }), undefined);
    assert.equal(progressLineFor({ write: () => true }), undefined);
  });
});
