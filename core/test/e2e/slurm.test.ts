/**
 * The slurm runtime end to end, on a real Slurm (munged, slurmctld and two slurmd started by the test in a
 * private state dir): a counting batch job is managed and dumped (the Slurm job ends), `restore` submits a new
 * Slurm job on the other node whose batch step restores the tree, and the counter goes on in the same output
 * file; the same through s3://.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SlurmTestCluster } from '@cedana-ts/sdk/testing';
import { TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, job as jobJson, teardown, type JobJson } from '../helpers/e2e';
import { S3TestServer } from '../helpers/remote-storage';

/** A batch script that prints 0, 1, 2… five times a second. */
export const COUNTER_SCRIPT = '#!/bin/bash\ni=0\nwhile true; do echo $i; i=$((i+1)); sleep 0.2; done\n';

export function numbers(path: string): number[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
}

/** The numbers count up by one, with no restart from 0. */
export function assertCountsOn(path: string): void {
  const n = numbers(path);
  for (let i = 1; i < n.length; i++) assert.equal(n[i], n[i - 1] + 1, `${path} does not count on at line ${i}: ${n.slice(Math.max(0, i - 3), i + 3).join(',')}`);
}

export function slurmJobIdOf(stdout: string): string {
  const m = /^Slurm job ID: (\d+)$/m.exec(stdout);
  assert.ok(m, `restore did not print the Slurm job ID: ${stdout}`);
  return m[1];
}

const job = (env: TestEnv, jid: string) => jobJson(env, jid) as JobJson & { detailsJson?: string };

describe('e2e: slurm', function () {
  this.timeout(180_000);
  let cluster: SlurmTestCluster;
  let s3: S3TestServer;
  let env: TestEnv | undefined;

  before(async () => {
    cluster = await SlurmTestCluster.start();
    s3 = await S3TestServer.start(['ckpt']);
  });
  after(async () => {
    await s3?.stop();
    cluster?.stop();
  });
  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  async function counting(): Promise<{ env: TestEnv; id: string; out: string }> {
    env = new TestEnv({ ...cluster.env, ...s3.env() });
    await env.startDaemon();
    const script = join(env.dir, 'count.sh');
    writeFileSync(script, COUNTER_SCRIPT, { mode: 0o755 });
    const out = join(env.dir, 'count.out');
    const id = cluster.sbatch(['--job-name=count', '-w', 'n1', `--output=${out}`, script]);
    await cluster.waitState(id, ['RUNNING']);
    await waitFor(() => numbers(out).length >= 5, 20_000, 'the batch job to count');
    return { env, id, out };
  }

  async function dumpAndRestore(dirOf: (env: TestEnv) => string, extra: string[] = []): Promise<void> {
    const { env, id, out } = await counting();
    const dir = dirOf(env);
    env.ok(['manage', 'slurm', id, '--jid', 'count']);
    const managed = job(env, 'count');
    assert.equal(managed.type, 'slurm');
    assert.equal((JSON.parse(managed.detailsJson ?? '{}') as { slurmJobId?: string }).slurmJobId, id);

    const path = dumpedPath(env.ok(['dump', 'job', 'count', '--dir', dir, ...extra]));
    assert.ok(path.startsWith(dir.replace(/\/$/, '')), path);
    const state = await cluster.waitState(id, ['FAILED', 'CANCELLED', 'COMPLETED']);
    assert.notEqual(state, 'RUNNING');
    const atDump = numbers(out);
    assert.ok(atDump.length >= 5);

    const restored = env.ok(['restore', 'job', 'count', '--nodelist', 'n2']);
    const newId = slurmJobIdOf(restored);
    assert.notEqual(newId, id);
    assert.equal(await cluster.waitState(newId, ['RUNNING']), 'RUNNING');
    assert.equal(cluster.jobField(newId, 'NodeList'), 'n2');
    await waitFor(() => numbers(out).length >= atDump.length + 10, 30_000, 'the counter to go on in the new job');
    assertCountsOn(out);
    const after = job(env, 'count');
    assert.equal(after.type, 'slurm');
    assert.equal((JSON.parse(after.detailsJson ?? '{}') as { slurmJobId?: string }).slurmJobId, newId);
    assert.match(env.ok(['ps']), /count\s+slurm/);
  }

  it('dumps a counting batch job, which ends, and restores it as a new job on the other node that counts on', async () => {
    await dumpAndRestore((e) => join(e.dir, 'checkpoints'));
  });

  it('the same through s3://', async () => {
    await dumpAndRestore(() => `s3://ckpt/slurm-${Date.now()}/`, ['--compression', 'lz4']);
  });
});
