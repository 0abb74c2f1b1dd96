/**
 * A process with 256 MiB of written memory comes back with the same memory: it hashes its buffer before the
 * dump and again, on SIGUSR1, after the restore.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, isAlive, job, logLines, PYTHON, restoredPid, runPid, teardown, writeScript } from '../helpers/e2e';

const SIZE = 256 * 1024 * 1024;
const SEED = 'cedana-e2e-memory';

/** Fills SIZE bytes with a deterministic pseudo-random pattern, prints its sha256, and again on each SIGUSR1. */
const MEMORY_SCRIPT = `
import hashlib, signal, time
buf = hashlib.shake_256(b"${SEED}").digest(${SIZE})
def report(*_):
    print("sha256 " + hashlib.sha256(buf).hexdigest(), flush=True)
signal.signal(signal.SIGUSR1, report)
report()
while True:
    time.sleep(3600)
`;

describe('e2e: memory', function () {
  this.timeout(90_000);
  let env: TestEnv | undefined;

  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  it('restores 256 MiB of written memory unchanged (lz4)', async () => {
    const expected = createHash('sha256')
      .update(createHash('shake256', { outputLength: SIZE }).update(SEED).digest())
      .digest('hex');
    env = new TestEnv();
    await env.startDaemon();
    const script = writeScript(env, 'memory.py', MEMORY_SCRIPT);
    const log = join(env.dir, 'memory.log');
    const hashes = () => logLines(log).filter((l) => l.startsWith('sha256 ')).map((l) => l.slice(7));

    const pid = runPid(env.ok(['run', 'process', '--jid', 'mem', '--log', log, '--', PYTHON, script]));
    await waitFor(() => hashes().length >= 1, 30_000, 'the first hash');
    assert.deepEqual(hashes(), [expected], 'the process does not hold the pattern');

    const path = dumpedPath(env.ok(['dump', 'job', 'mem', '--compression', 'lz4']));
    assert.ok(path.endsWith('.tar.lz4'));
    // Random bytes do not compress: the archive holds at least the buffer.
    assert.ok(statSync(path).size >= SIZE, `checkpoint is only ${statSync(path).size} bytes`);
    assert.equal(job(env, 'mem').status, 'halted');

    assert.equal(restoredPid(env.ok(['restore', 'job', 'mem'])), pid);
    assert.ok(isAlive(pid));
    process.kill(pid, 'SIGUSR1');
    await waitFor(() => hashes().length >= 2, 30_000, 'the hash after the restore');
    assert.deepEqual(hashes(), [expected, expected], 'memory changed across dump and restore');
  });
});
