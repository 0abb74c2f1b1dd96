/**
 * `freeze` / `unfreeze` / `query` of containerd containers end to end: a real daemon pauses and resumes the task
 * through a real containerd (private socket, root and state; its own namespace), whose shim freezes the
 * container's cgroup.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, TestEnv, waitFor } from '../helpers/env';
import { assertCounts, job, lastNumber, teardown } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { boxCounter, ociImageTar, PrivateContainerd } from '@cedana-ts/sdk/testing';

const COUNTER = 'docker.io/cedana/counter:1';
const NS = `cedana-fz-${randomBytes(3).toString('hex')}`;

describe('e2e: freeze and query of containerd containers', function () {
  this.timeout(180_000);
  let base: string;
  let ctrd: PrivateContainerd;
  let env: TestEnv;

  const taskStatus = (id: string) =>
    ctrd
      .ctr(['tasks', 'ls'], NS)
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .find(([tid]) => tid === id)?.[2];

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'cedana-fzcd-'));
    ctrd = new PrivateContainerd(join(base, 'ctrd'));
    await ctrd.start();
    ctrd.ctr(['image', 'import', ociImageTar(join(base, 'img'), COUNTER, boxCounter())], NS);
    env = new TestEnv({ CEDANA_CONTAINERD_ADDRESS: ctrd.socket, CEDANA_CONTAINERD_NAMESPACE: NS });
    await env.startDaemon();
  });

  after(async () => {
    await teardown(env);
    await ctrd?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('freeze job pauses the task: ps shows frozen, query says frozen; unfreeze resumes it counting', async () => {
    const log = join(env.dir, 'cdf.log');
    env.ok(['run', 'containerd', '--image', COUNTER, '--id', 'cdf', '--jid', 'cdf', '--log', log]);
    await waitFor(() => lastNumber(log) >= 3, 15_000, 'counting');
    assert.match(env.ok(['freeze', 'job', 'cdf']), /^Froze job cdf \(containerd pause\)$/m);
    assert.equal(taskStatus('cdf'), 'PAUSED');
    assert.equal(job(env, 'cdf').status, 'frozen');
    const at = lastNumber(log);
    await sleep(400);
    assert.equal(lastNumber(log), at, 'nothing counts while frozen');
    assert.match(env.ok(['query', 'containerd', 'cdf', '--namespace', NS, '--inspect']), /^status: frozen$/m);
    expectError(env.cli(['freeze', 'containerd', 'cdf', '--namespace', NS]), /is paused, not running/);
    assert.match(env.ok(['unfreeze', 'containerd', 'cdf', '--namespace', NS]), /^Unfroze job cdf \(containerd resume\)$/m);
    assert.equal(taskStatus('cdf'), 'RUNNING');
    await waitFor(() => lastNumber(log) >= at + 3, 15_000, 'counting again');
    assertCounts(log);
    expectError(env.cli(['query', 'containerd', 'nope', '--namespace', NS]), /no containerd container 'nope'/);
  });
});
