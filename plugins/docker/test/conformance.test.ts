/**
 * The SDK's runtime conformance suite, run against this plugin with a real dockerd (experimental, on a private
 * socket and data root, over a private containerd) and CRIU, on a busybox image imported into it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest } from '@cedana-ts/sdk';
import { boxCounter, PrivateContainerd, PrivateDockerd, runtimeSuite, testContext } from '@cedana-ts/sdk/testing';
import plugin from '../src';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const manifest = parseManifest(require('../../package.json'));

const IMAGE = 'cedana-conformance-counter:1';

let work = '';
let ctrd: PrivateContainerd | undefined;
let dockerd: PrivateDockerd | undefined;

runtimeSuite({ describe, it, before, after }, {
  manifest,
  timeoutMs: 90_000,
  setup: async () => {
    work = mkdtempSync(join(tmpdir(), 'cedana-docker-conformance-'));
    ctrd = new PrivateContainerd(join(work, 'containerd'));
    await ctrd.start();
    dockerd = new PrivateDockerd(join(work, 'dockerd'), ctrd.socket);
    await dockerd.start();
    // A counter printing a line every 100 ms: the job log grows while it runs. The container has a PID namespace
    // of its own, whose init (the shell) reaps the `sleep`s it starts, and containerd's shim is its parent; a
    // dump ends the whole namespace, and a restore gives the container new host PIDs.
    await dockerd.importBusybox(join(work, 'image'), IMAGE, boxCounter());
    const tmpDir = join(work, 'tmp');
    mkdirSync(tmpDir);
    return plugin.init(testContext(manifest, { config: { docker: { address: dockerd.socket } }, tmpDir }));
  },
  // No network but loopback: the private dockerd has no bridge.
  workload: () => ({ options: { image: IMAGE, network: 'none' } }),
  manageTarget: async () => {
    // A container made and started through the Engine API itself.
    const name = 'conformance-target';
    const created = await dockerd!.api('POST', `/containers/create?name=${name}`, { Image: IMAGE, HostConfig: { NetworkMode: 'none' } });
    assert.equal(created.status, 201, `docker create ${name}: ${created.body}`);
    const started = await dockerd!.api('POST', `/containers/${name}/start`);
    assert.equal(started.status, 204, `docker start ${name}: ${started.body}`);
    return {
      target: name,
      stop: async () => {
        await dockerd!.api('DELETE', `/containers/${name}?force=1`);
      },
    };
  },
  teardown: async () => {
    await dockerd?.stop();
    await ctrd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  },
});
