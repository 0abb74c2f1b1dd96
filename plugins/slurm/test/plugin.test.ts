/**
 * The plugin against a real Slurm (SlurmTestCluster): init and health name the version and the controller;
 * manage finds a running batch job's script process, not slurmstepd; a dump's refusals; skipped without Slurm.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest, PluginSkipped } from '@cedana-ts/sdk';
import { rejectsWithCode, SlurmTestCluster, testContext } from '@cedana-ts/sdk/testing';
import plugin from '../src';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const manifest = parseManifest(require('../../package.json'));

describe('slurm plugin on a real Slurm', function () {
  this.timeout(120_000);
  let cluster: SlurmTestCluster;
  let work = '';
  const saved = process.env.SLURM_CONF;

  before(async () => {
    cluster = await SlurmTestCluster.start();
    process.env.SLURM_CONF = cluster.env.SLURM_CONF;
    work = mkdtempSync(join(tmpdir(), 'cedana-slurm-plugin-'));
  });
  after(() => {
    process.env.SLURM_CONF = saved;
    cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('reports the Slurm version and the controller it reaches', async () => {
    const inst = await plugin.init(testContext(manifest, { tmpDir: work }));
    assert.match(inst.info!.slurm, /^\d+\.\d+/);
    const health = await inst.health!();
    const ctl = health.find((h) => h.name === 'slurm controller');
    assert.equal(ctl?.level, 'ok', JSON.stringify(health));
  });

  it('manages a running batch job by its batch script process', async () => {
    const inst = await plugin.init(testContext(manifest, { tmpDir: work }));
    const script = join(work, 'loop.sh');
    writeFileSync(script, '#!/bin/bash\nwhile true; do sleep 0.2; done\n', { mode: 0o755 });
    const id = cluster.sbatch(['--output=/dev/null', '-w', 'n2', script]);
    await cluster.waitState(id, ['RUNNING']);
    const started = await inst.runtime!.manage({ jid: 'j', target: id, options: {} });
    assert.match(readFileSync(`/proc/${started.pid}/cmdline`, 'utf8'), /slurm_script/);
    assert.equal(started.details.slurmJobId, id);
    assert.equal(started.details.node, 'n2');
    cluster.cmd('scancel', [id]);
    await cluster.waitState(id, ['CANCELLED']);
    await rejectsWithCode(inst.runtime!.manage({ jid: 'j', target: id, options: {} }), 'FAILED_PRECONDITION');
  });

  it('is skipped, with the reason, where scontrol is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(plugin.init(testContext(manifest, { tmpDir: work })), (e: Error) => e instanceof PluginSkipped && /Slurm is not installed/.test(e.message));
    } finally {
      process.env.PATH = path;
    }
  });
});
