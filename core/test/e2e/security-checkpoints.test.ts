/**
 * Checkpoints hold process memory: never readable by other users. A crash's leftovers (scratch image
 * directories, half-written archives) are removed at the next start — only those of daemons that no longer run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv } from '../helpers/env';
import { expectError } from '../helpers/bad-input';
import { counter, dumpedPath, runPid, teardown } from '../helpers/e2e';

/** Every path under `p` (and `p`) whose mode lets group or others in. */
function openToOthers(p: string): string[] {
  const st = statSync(p);
  const out = (st.mode & 0o077) !== 0 ? [`${p} ${(st.mode & 0o777).toString(8)}`] : [];
  if (st.isDirectory()) for (const e of readdirSync(p)) out.push(...openToOthers(join(p, e)));
  return out;
}

describe('e2e: checkpoints are private; crash leftovers are cleaned', function () {
  this.timeout(90_000);
  let env: TestEnv | undefined;
  const pids: number[] = [];

  afterEach(async () => {
    await teardown(env, pids.splice(0));
    env = undefined;
  });

  it('dumps (none, tar) are 0600 files in 0700 directories', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'c.log');
    pids.push(runPid(env.ok(['run', 'process', '--jid', 'c', '--log', log, '--', ...counter()])));
    for (const compression of ['none', 'tar']) {
      const path = dumpedPath(env.ok(['dump', 'job', 'c', '--compression', compression, '--leave-running', '--name', `c-${compression}`]));
      assert.deepEqual(openToOthers(path), [], `${compression} checkpoint readable by others`);
    }
    // A --dir that is a file is named as such.
    const file = join(env.dir, 'a-file');
    writeFileSync(file, '');
    expectError(env.cli(['dump', 'job', 'c', '--dir', file, '--compression', 'tar']), new RegExp(`^${file} is not a directory: choose a directory for --dir$`));
    expectError(env.cli(['dump', 'job', 'c', '--dir', file, '--compression', 'none']), new RegExp(`^${file} is not a directory`));
  });

  it('at start, removes the scratch dirs and partial checkpoints of dead daemons, and no others', async () => {
    env = new TestEnv();
    const ckpts = env.env.CEDANA_CHECKPOINT_DIR!;
    const deadPid = 4_000_000; // above pid_max: no such process
    const deadScratch = join(tmpdir(), `cedana-dump-${deadPid}-abc`);
    const liveScratch = join(tmpdir(), `cedana-dump-${process.pid}-abc`);
    for (const d of [deadScratch, liveScratch]) mkdirSync(join(d, 'img'), { recursive: true });
    const deadPartial = join(ckpts, `.dump-x.tar.partial-${deadPid}-1`);
    const livePartial = join(ckpts, `.dump-y.tar.partial-${process.pid}-1`);
    const deadPartialDir = join(ckpts, `.dump-z.partial-${deadPid}-Q1w2e3`);
    writeFileSync(deadPartial, 'x');
    writeFileSync(livePartial, 'y');
    mkdirSync(deadPartialDir);
    const kept = join(ckpts, 'dump-process-j-1.tar');
    writeFileSync(kept, 'a checkpoint');
    try {
      await env.startDaemon();
      assert.ok(!existsSync(deadScratch), 'a dead daemon’s scratch dir is left');
      assert.ok(!existsSync(deadPartial) && !existsSync(deadPartialDir), 'a dead daemon’s partial checkpoint is left');
      assert.ok(existsSync(liveScratch) && existsSync(livePartial), 'a running process’s dump in progress was removed');
      assert.ok(existsSync(kept));
    } finally {
      for (const d of [deadScratch, liveScratch]) rmSync(d, { recursive: true, force: true });
    }
  });
});
