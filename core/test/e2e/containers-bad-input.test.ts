/**
 * Bad input to the container runtimes, against real runc, containerd and dockerd: every refusal is one line
 * saying what is wrong, with a stable code behind it, and leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, lastNumber, teardown } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { boxCounter, ociImageTar, PrivateContainerd, PrivateDockerd, runcBundle } from '@cedana-ts/sdk/testing';

describe('container runtimes: bad input (e2e)', function () {
  this.timeout(180_000);
  let base: string;
  let ctrd: PrivateContainerd;
  let dockerd: PrivateDockerd;
  let env: TestEnv;
  let root: string;
  let bundle: string;
  const NS = 'cedana-bad-input';

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'cedana-bad-'));
    ctrd = new PrivateContainerd(join(base, 'ctrd'));
    await ctrd.start();
    ctrd.ctr(['image', 'import', ociImageTar(join(base, 'img'), 'docker.io/cedana/counter:1', boxCounter())], NS);
    dockerd = new PrivateDockerd(join(base, 'dockerd'), ctrd.socket);
    await dockerd.start();
    await dockerd.importBusybox(join(base, 'dimg'), 'cedana-counter:1', boxCounter());
    root = join(base, 'runc-root');
    bundle = runcBundle(join(base, 'bundle'), boxCounter());
    env = new TestEnv({ CEDANA_RUNC_ROOT: root, CEDANA_CONTAINERD_ADDRESS: ctrd.socket, CEDANA_CONTAINERD_NAMESPACE: NS, CEDANA_DOCKER_ADDRESS: dockerd.socket });
    await env.startDaemon();
  });

  after(async () => {
    spawnSync('runc', ['--root', root, 'delete', '--force', 'bad-created']);
    spawnSync('runc', ['--root', root, 'delete', '--force', 'bad-src']);
    await teardown(env);
    await dockerd?.stop();
    await ctrd?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  describe('an unknown container id', () => {
    it('runc: dump and manage say there is no such container', () => {
      expectError(env.cli(['dump', 'runc', 'no-such-box']), /^no runc container 'no-such-box'/, new RegExp(root));
      expectError(env.cli(['manage', 'runc', 'no-such-box']), /^no runc container 'no-such-box'/);
    });

    it('containerd: dump and manage say there is no such container, in which namespace', () => {
      expectError(env.cli(['dump', 'containerd', 'no-such-box']), new RegExp(`^no containerd container 'no-such-box' in namespace ${NS}`));
      expectError(env.cli(['manage', 'containerd', 'no-such-box', '--namespace', 'other']), /^no containerd container 'no-such-box' in namespace other/);
    });

    it('docker: dump and manage say there is no such container', () => {
      expectError(env.cli(['dump', 'docker', 'no-such-box']), /^no Docker container 'no-such-box'/);
      expectError(env.cli(['manage', 'docker', 'no-such-box']), /^no Docker container 'no-such-box'/);
    });

    it('containerd and docker: running an image that is not there says so', () => {
      expectError(env.cli(['run', 'containerd', '--image', 'docker.io/cedana/none:1', '--id', 'bad-img']), /^no image 'docker\.io\/cedana\/none:1' in containerd namespace/);
      expectError(env.cli(['run', 'docker', '--image', 'cedana-none:1', '--name', 'bad-img']), /docker create bad-img: .*(No such image|not found)/i);
    });
  });

  describe('a container that is not running', () => {
    it('runc: a created, unstarted container is refused', () => {
      const r = spawnSync('runc', ['--root', root, 'create', '--bundle', bundle, 'bad-created'], { stdio: 'ignore' });
      assert.equal(r.status, 0);
      expectError(env.cli(['dump', 'runc', 'bad-created']), /^runc container 'bad-created' is not running \(status: created\)/);
    });

    it('containerd: a container without a task is refused', () => {
      ctrd.ctr(['containers', 'create', 'docker.io/cedana/counter:1', 'bad-notask'], NS);
      expectError(env.cli(['dump', 'containerd', 'bad-notask']), /^containerd container 'bad-notask' is not running \(it has no task\)/);
    });

    it('docker: a created, unstarted container is refused', async () => {
      assert.equal((await dockerd.api('POST', '/containers/create?name=bad-created', { Image: 'cedana-counter:1', HostConfig: { NetworkMode: 'none' } })).status, 201);
      expectError(env.cli(['dump', 'docker', 'bad-created']), /^Docker container 'bad-created' is not running \(status: created\)/);
    });
  });

  describe('runc bundles', () => {
    it('a missing bundle directory is named', () => {
      expectError(env.cli(['run', 'runc', '--bundle', join(base, 'no-bundle'), '--id', 'bad-b']), new RegExp(`^bundle directory ${join(base, 'no-bundle')} does not exist`));
    });

    it('a bundle without config.json is refused', () => {
      const empty = join(base, 'empty-bundle');
      mkdirSync(empty, { recursive: true });
      expectError(env.cli(['run', 'runc', '--bundle', empty, '--id', 'bad-c']), /has no config\.json/);
    });

    it('run runc without --bundle, and unknown flags, are refused', () => {
      expectError(env.cli(['run', 'runc', '--id', 'x']), /^run runc needs --bundle DIR/);
      expectError(env.cli(['run', 'runc', '--bundle', bundle, '--bogus', '1']), /unknown option --bogus/);
      expectError(env.cli(['run', 'docker', '--name', 'x']), /^run docker needs --image REF/);
      expectError(env.cli(['run', 'containerd', '--id', 'x']), /^run containerd needs --image REF/);
    });

    it('restoring into a missing bundle directory is refused, and the checkpoint stays', async () => {
      const log = join(env.dir, 'bad-src.log');
      env.ok(['run', 'runc', '--bundle', bundle, '--id', 'bad-src', '--jid', 'bad-src', '--log', log]);
      await waitFor(() => lastNumber(log) >= 2, 10_000, 'counting');
      const path = dumpedPath(env.ok(['dump', 'job', 'bad-src', '--compression', 'tar']));
      expectError(env.cli(['restore', 'runc', '--path', path, '--id', 'bad-src-2', '--bundle', join(base, 'gone')]), /^bundle directory .*gone does not exist/);
      expectError(env.cli(['restore', 'runc', '--path', path, '--id', 'bad-src-2', '--bundle', 'relative/dir']), /--bundle relative\/dir is not an absolute path/);
      // The checkpoint of one runtime restored with another: refused, naming the runtime that made it.
      expectError(env.cli(['restore', 'docker', '--path', path]), /was made by the runc runtime, not docker/, /use cedana restore runc/);
      expectError(env.cli(['restore', 'containerd', '--path', path]), /was made by the runc runtime, not containerd/);
      env.ok(['restore', 'job', 'bad-src']);
    });
  });

  describe('an unreachable runtime socket', () => {
    let other: TestEnv;
    const dead = () => join(other.dir, 'dead');

    before(async () => {
      other = new TestEnv();
      other.env.CEDANA_CONTAINERD_ADDRESS = join(other.dir, 'dead', 'containerd.sock');
      other.env.CEDANA_DOCKER_ADDRESS = join(other.dir, 'dead', 'docker.sock');
      await other.startDaemon();
    });

    after(async () => {
      await teardown(other);
    });

    it('containerd: the error names the socket', () => {
      expectError(other.cli(['run', 'containerd', '--image', 'x:1', '--id', 'x']), new RegExp(`^cannot reach containerd at ${dead()}/containerd\\.sock`), /start containerd/);
      expectError(other.cli(['dump', 'containerd', 'x']), new RegExp(`cannot reach containerd at ${dead()}/containerd\\.sock`));
    });

    it('docker: the error names the socket', () => {
      expectError(other.cli(['run', 'docker', '--image', 'x:1', '--name', 'x']), new RegExp(`^cannot reach the Docker daemon at ${dead()}/docker\\.sock`), /start dockerd/);
      expectError(other.cli(['dump', 'docker', 'x']), new RegExp(`cannot reach the Docker daemon at ${dead()}/docker\\.sock`));
    });

    it('daemon check warns about both sockets, naming them; the daemon keeps serving', () => {
      const r = other.cli(['daemon', 'check']);
      assert.match(r.stdout, /CONTAINERD[\s\S]*containerd socket\s+\S*dead\/containerd\.sock\s+•\s+cannot reach containerd/);
      assert.match(r.stdout, /DOCKER[\s\S]*docker socket\s+\S*dead\/docker\.sock\s+•\s+cannot reach the Docker daemon/);
      assert.doesNotMatch(r.stdout, /(containerd|docker) socket.*✖/);
      other.ok(['ps']);
    });
  });

  it('a runtime that is not installed is skipped with the reason, and the daemon still starts', async () => {
    // PATH keeps CRIU (/usr/local/sbin) but has no runc, containerd or dockerd (/bin is /usr/bin here); the sockets lead nowhere.
    const bare = new TestEnv({ PATH: '/usr/local/sbin', CEDANA_CONTAINERD_ADDRESS: '/nonexistent/containerd.sock', CEDANA_DOCKER_ADDRESS: '/nonexistent/docker.sock' });
    try {
      await bare.startDaemon();
      const features = JSON.parse(bare.ok(['plugin', 'features', '--json'])) as { plugins: { id: string; status: string; reason: string }[] };
      const byId = new Map(features.plugins.map((p) => [p.id, p]));
      assert.equal(byId.get('runc')?.status, 'skipped');
      assert.match(byId.get('runc')!.reason, /runc not found/);
      assert.equal(byId.get('containerd')?.status, 'skipped');
      assert.match(byId.get('containerd')!.reason, /containerd is not installed/);
      assert.equal(byId.get('docker')?.status, 'skipped');
      assert.match(byId.get('docker')!.reason, /Docker is not installed/);
      expectError(bare.cli(['run', 'runc', '--bundle', bundle]), /the runc plugin is skipped: runc not found/);
      const check = bare.cli(['daemon', 'check']);
      assert.match(check.stdout, /RUNC[\s\S]*skipped/);
    } finally {
      await teardown(bare);
    }
  });

  it('daemon check reports each runtime with its version', () => {
    const out = env.ok(['daemon', 'check']);
    assert.match(out, /RUNC[\s\S]*runc version\s+1\.\d+/);
    assert.match(out, /CONTAINERD[\s\S]*containerd version\s+1\.\d+/);
    assert.match(out, /DOCKER[\s\S]*docker version\s+\d+\.\d+/);
    const features = JSON.parse(env.ok(['plugin', 'features', '--json'])) as { features: { feature: string; plugins: Record<string, string> }[] };
    const dump = features.features.find((f) => f.feature === 'dump');
    assert.ok(dump, JSON.stringify(features));
    for (const p of ['@cedana-ts/plugin-runc', '@cedana-ts/plugin-containerd', '@cedana-ts/plugin-docker']) assert.notEqual(dump.plugins[p], 'none', `${p} dumps`);
  });
});
