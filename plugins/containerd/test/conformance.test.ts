/**
 * The SDK's runtime conformance suite, run against this plugin with a real containerd (on a private socket,
 * root and state) and CRIU, on a busybox image imported into a namespace of the test's own.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest } from '@cedana-ts/sdk';
import { boxCounter, PrivateContainerd, runtimeSuite, testContext } from '@cedana-ts/sdk/testing';
import plugin from '../src';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const manifest = parseManifest(require('../../package.json'));

const IMAGE = 'docker.io/cedana/conformance-counter:1';
/** The shim keeps runc's state under /run/containerd/runc/<namespace>: a namespace of this run's own. */
const NS = `cedana-conformance-${randomBytes(3).toString('hex')}`;

let work = '';
let ctrd: PrivateContainerd | undefined;

runtimeSuite({ describe, it, before, after }, {
  manifest,
  setup: async () => {
    work = mkdtempSync(join(tmpdir(), 'cedana-containerd-conformance-'));
    ctrd = new PrivateContainerd(join(work, 'containerd'));
    await ctrd.start();
    // A counter printing a line every 100 ms: the job log grows while it runs. The container has a PID namespace
    // of its own, whose init (the shell) reaps the `sleep`s it starts, and the shim is its parent; a dump ends
    // the whole namespace, and a restore gives the container new host PIDs.
    ctrd.importBusybox(join(work, 'image'), IMAGE, boxCounter(), NS);
    const tmpDir = join(work, 'tmp');
    mkdirSync(tmpDir);
    return plugin.init(testContext(manifest, { config: { containerd: { address: ctrd.socket, namespace: NS } }, tmpDir }));
  },
  workload: () => ({ options: { image: IMAGE } }),
  manageTarget: async () => {
    // A container started with ctr itself, with no stdio (ctr's own would be gone once it exits).
    const id = 'conformance-target';
    ctrd!.ctr(['run', '--detach', '--null-io', IMAGE, id], NS);
    return {
      target: id,
      stop: async () => {
        const ctr = (args: string[]) => spawnSync('ctr', ['--address', ctrd!.socket, '--namespace', NS, ...args], { stdio: 'ignore' });
        ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
        ctr(['tasks', 'delete', '--force', id]);
        ctr(['containers', 'delete', id]);
      },
    };
  },
  teardown: async () => {
    await ctrd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  },
});
