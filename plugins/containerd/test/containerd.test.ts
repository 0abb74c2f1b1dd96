/**
 * The containerd plugin's own parts: chain ids, the spec it generates, options, the runc shim's option messages,
 * the errors of an unreachable containerd, and init. (Containers through a real containerd are tested end to end
 * in core/test/e2e/containerd.test.ts.)
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CedanaError, ErrorCode, parseManifest } from '@cedana-ts/sdk';
import { daemonDownSuite, testContext } from '@cedana-ts/sdk/testing';
import plugin from '../src/index';
import { Containerd } from '../src/client';
import { CheckpointOptions, Options } from '../src/generated/runc';
import { chainId } from '../src/image';
import { containerdSettings, containerId, ContainerdOptions, networkOf, refuseGpus, withEnv } from '../src/options';
import { buildSpec, specAny, specOf, SPEC_TYPE_URL } from '../src/spec';
import { checkpointOptions, restoreOptions, taskOptions } from '../src/tasks';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const image = { name: 'busybox:1', config: { Cmd: ['sh'], Env: ['PATH=/bin'], WorkingDir: '/work' }, chainId: sha('x') };

describe('containerd plugin', () => {
  describe('chainId', () => {
    it('is the diff id of a single layer, and chains the rest as the OCI image spec says', () => {
      const [a, b, c] = [sha('a'), sha('b'), sha('c')];
      assert.equal(chainId([a]), a);
      const ab = sha(`${a} ${b}`);
      assert.equal(chainId([a, b]), ab);
      assert.equal(chainId([a, b, c]), sha(`${ab} ${c}`));
    });
  });

  describe('buildSpec', () => {
    it('runs the image’s command, environment and directory in the namespace’s cgroup', () => {
      const spec = buildSpec({ id: 'c1', namespace: 'k8s.io', image, args: [], network: { kind: 'private' } });
      assert.deepEqual(spec.process.args, ['sh']);
      assert.deepEqual(spec.process.env, ['PATH=/bin']);
      assert.equal(spec.process.cwd, '/work');
      assert.equal(spec.linux.cgroupsPath, '/k8s.io/c1');
      assert.equal(spec.root.path, 'rootfs');
      assert.deepEqual(spec.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
    });

    it('lets the command line replace the image’s command', () => {
      assert.deepEqual(buildSpec({ id: 'c', namespace: 'n', image, args: ['echo', 'hi'], network: { kind: 'private' } }).process.args, ['echo', 'hi']);
    });

    it('joins a given network namespace, or the host’s', () => {
      const joined = buildSpec({ id: 'c', namespace: 'n', image, args: [], network: { kind: 'path', path: '/proc/1/ns/net' } });
      assert.deepEqual(joined.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/proc/1/ns/net' });
      const host = buildSpec({ id: 'c', namespace: 'n', image, args: [], network: { kind: 'host' } });
      assert.equal(host.linux.namespaces.find((n) => n.type === 'network'), undefined);
    });

    it('travels as JSON in an Any, the way containerd stores it', () => {
      const spec = buildSpec({ id: 'c', namespace: 'n', image, args: [], network: { kind: 'private' } });
      const any = specAny(spec);
      assert.equal(any.typeUrl, SPEC_TYPE_URL);
      assert.deepEqual(specOf(any), spec);
    });
  });

  describe('options', () => {
    it('accepts the documented flags and refuses others', () => {
      assert.deepEqual(ContainerdOptions.parse({ image: 'x:1', id: 'c1', namespace: 'k8s.io', network: 'host' }), { image: 'x:1', id: 'c1', namespace: 'k8s.io', network: 'host' });
      assert.equal(ContainerdOptions.safeParse({ bundle: '/b' }).success, false);
    });

    it('refuses ids containerd would refuse', () => {
      assert.throws(() => containerId('a..b'), (e: CedanaError) => e.code === ErrorCode.InvalidArgument);
      assert.equal(containerId('cd-1.x'), 'cd-1.x');
    });

    it('reads --network', () => {
      assert.deepEqual(networkOf(undefined), { kind: 'private' });
      assert.deepEqual(networkOf('host'), { kind: 'host' });
      assert.deepEqual(networkOf('/var/run/netns/x'), { kind: 'path', path: '/var/run/netns/x' });
      assert.throws(() => networkOf('bridge'), /use private, host, or the absolute path/);
    });

    it('reads containerd.address and containerd.namespace, with defaults', () => {
      assert.deepEqual(containerdSettings({ containerd: { address: 'unix:///x.sock', namespace: 'k8s.io' } }), { address: '/x.sock', namespace: 'k8s.io' });
      assert.deepEqual(containerdSettings({}), { address: '/run/containerd/containerd.sock', namespace: 'default' });
    });
  });

  describe('runc shim options', () => {
    it('encodes checkpoint options under containerd’s type URL', () => {
      const any = checkpointOptions({ exit: true, openTcp: true, imagePath: '/img', workPath: '/work' });
      assert.equal(any.typeUrl, 'containerd.runc.v1.CheckpointOptions');
      const back = CheckpointOptions.decode(any.value);
      assert.equal(back.exit, true);
      assert.equal(back.openTcp, true);
      assert.equal(back.fileLocks, false);
      assert.equal(back.imagePath, '/img');
    });

    it('encodes the restore path in the task options', () => {
      const any = restoreOptions('/img', '/work');
      assert.equal(any.typeUrl, 'containerd.runc.v1.Options');
      assert.deepEqual(Options.decode(any.value), { criuImagePath: '/img', criuWorkPath: '/work', noPivotRoot: false });
    });

    it('encodes --no-pivot as the shim’s NoPivotRoot, at a run and at a restore', () => {
      assert.equal(Options.decode(taskOptions({ noPivotRoot: true }).value).noPivotRoot, true);
      assert.equal(Options.decode(restoreOptions('/img', '/work', true).value).noPivotRoot, true);
    });
  });

  describe('options', () => {
    it('--env: repeatable and comma-separated, NAME=VALUE each; a name given again replaces the image’s', () => {
      const o = ContainerdOptions.parse({ env: ['A=1,B=2', 'C=x=y'] });
      assert.deepEqual(o.env, ['A=1', 'B=2', 'C=x=y']);
      assert.deepEqual(withEnv(['PATH=/bin', 'A=0'], o.env), ['PATH=/bin', 'A=1', 'B=2', 'C=x=y']);
      assert.throws(() => ContainerdOptions.parse({ env: 'NOVALUE' }), /--env takes NAME=VALUE/);
    });

    it('--gpus is refused in one line', () => {
      assert.throws(() => refuseGpus(ContainerdOptions.parse({ gpus: '0' })), /--gpus is not supported for containerd/);
      refuseGpus(ContainerdOptions.parse({}));
    });
  });

  describe('a containerd that is not there', () => {
    it('answers UNAVAILABLE naming the socket, with what to do', async () => {
      const ctr = new Containerd('/nonexistent/containerd.sock');
      try {
        await assert.rejects(ctr.version(), (e: CedanaError) => {
          assert.equal(e.code, ErrorCode.Unavailable);
          assert.match(e.message, /^cannot reach containerd at \/nonexistent\/containerd\.sock/);
          assert.match(e.hint ?? '', /start containerd/);
          return true;
        });
      } finally {
        ctr.close();
      }
    });
  });
});

// eslint-disable-next-line @typescript-eslint/no-require-imports
const manifest = parseManifest(require('../../package.json'));

daemonDownSuite({ describe, it, before, after }, {
  manifest,
  name: 'containerd',
  init: (socket) => plugin.init(testContext(manifest, { config: { containerd: { address: socket } } })),
  notInstalled: /containerd is not installed/,
});
