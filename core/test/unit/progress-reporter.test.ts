/**
 * The pipelines' progress reporter: a new phase is reported at once, byte counts at most every MIN_INTERVAL_MS
 * with the last count of a burst never lost, and nothing after the work is over.
 */
import assert from 'node:assert/strict';
import { MIN_INTERVAL_MS, ProgressReporter, reporterFor, type ProgressUpdate } from '../../src/pipeline/progress';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder() {
  const updates: ProgressUpdate[] = [];
  let done = 0;
  return { updates, doneCalls: () => done, sink: { update: (u: ProgressUpdate) => updates.push(u), done: () => void done++ } };
}

describe('progress reporter', () => {
  it('reports a phase at once and throttles byte counts, keeping the last one', async () => {
    const r = recorder();
    const p = new ProgressReporter(r.sink);
    p.phase('compress', 1000);
    assert.deepEqual(
      r.updates.map((u) => [u.phase, u.bytesDone, u.bytesTotal]),
      [['compress', 0, 1000]],
    );
    const started = performance.now();
    for (let i = 1; i <= 100; i++) {
      p.add(10);
      await sleep(3);
    }
    const spent = performance.now() - started;
    await sleep(MIN_INTERVAL_MS + 20);
    const counts = r.updates.slice(1);
    // At most one count per interval (and one more for the trailing count).
    assert.ok(counts.length <= Math.ceil(spent / MIN_INTERVAL_MS) + 1, `${counts.length} updates in ${spent.toFixed(0)} ms`);
    assert.ok(counts.length >= 2, `${counts.length} updates`);
    assert.equal(counts[counts.length - 1].bytesDone, 1000, 'the last count was not reported');
    for (let i = 1; i < r.updates.length; i++) {
      assert.ok(r.updates[i].bytesDone >= r.updates[i - 1].bytesDone);
      assert.ok(r.updates[i].elapsedMs - r.updates[i - 1].elapsedMs >= MIN_INTERVAL_MS - 5, 'two counts within one interval');
    }
    p.finish();
  });

  it('sends what is pending of a phase before the next phase, and never lowers a count', () => {
    const r = recorder();
    const p = new ProgressReporter(r.sink);
    p.phase('dump', undefined, 10);
    p.bytes(50);
    p.bytes(40);
    p.phase('dump', undefined, 60);
    p.phase('upload', 500);
    p.finish();
    assert.deepEqual(
      r.updates.map((u) => [u.phase, u.bytesDone, u.bytesTotal]),
      [
        ['dump', 10, undefined],
        ['dump', 60, undefined],
        ['upload', 0, 500],
      ],
    );
    assert.equal(r.doneCalls(), 1);
  });

  it('sends nothing once stopped', async () => {
    const r = recorder();
    const p = new ProgressReporter(r.sink);
    p.phase('download');
    p.bytes(5);
    p.stop();
    await sleep(MIN_INTERVAL_MS + 20);
    assert.equal(r.updates.length, 1);
    assert.equal(r.doneCalls(), 0);
  });

  it('is not made without a sink', () => {
    assert.equal(reporterFor(undefined), undefined);
    assert.ok(reporterFor({ update: () => undefined }) instanceof ProgressReporter);
  });
});
