/**
 * The SDK's runtime conformance suite, run against this plugin with the real runc and CRIU, on a busybox bundle
 * and a runc root of the test's own.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest } from '@cedana-ts/sdk';
import { boxCounter, runcBundle, runtimeSuite, testContext } from '@cedana-ts/sdk/testing';
import plugin from '../src';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const manifest = parseManifest(require('../../package.json'));

let work = '';
let root = '';
let bundle = '';

function runc(args: string[]): string {
  return spawnSync('runc', ['--root', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).stdout ?? '';
}

runtimeSuite({ describe, it, before, after }, {
  manifest,
  setup: () => {
    work = mkdtempSync(join(tmpdir(), 'cedana-runc-conformance-'));
    root = join(work, 'runc-root');
    // A counter printing a line every 100 ms: the job log grows while it runs. The container has a PID namespace
    // of its own, whose init (the shell) reaps the `sleep`s it starts; a dump ends the whole namespace, and a
    // restore gives the container new host PIDs. So no zombie outside can hold a PID the restore needs.
    bundle = runcBundle(join(work, 'bundle'), boxCounter());
    const tmpDir = join(work, 'tmp');
    mkdirSync(tmpDir);
    return plugin.init(testContext(manifest, { config: { runc: { root } }, tmpDir }));
  },
  workload: () => ({ options: { bundle } }),
  manageTarget: async () => {
    // A container started with runc itself. Its stdio is runc's, no pipe of ours (spawnSync would wait for the
    // container to close it); runc's own errors go to a log file.
    const id = 'conformance-target';
    const log = join(work, 'target-runc.log');
    const r = spawnSync('runc', ['--root', root, '--log', log, 'run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`runc run ${id} exited ${r.status}: ${readFileSync(log, 'utf8').slice(-1000)}`);
    return {
      target: id,
      stop: async () => {
        runc(['delete', '--force', id]);
      },
    };
  },
  teardown: async () => {
    if (!work) return;
    for (const id of runc(['list', '--quiet']).split('\n').filter(Boolean)) runc(['delete', '--force', id]);
    rmSync(work, { recursive: true, force: true });
  },
});
