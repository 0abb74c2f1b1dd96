/**
 * The container fixtures of `@cedana-ts/sdk/testing` that need no container runtime: finding a static busybox,
 * the rootfs made of it, and the OCI image layout. (The runtimes' conformance tests use the rest against real
 * runc, containerd and dockerd.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boxCounter, busyboxRootfs, ociImageTar, staticBusybox } from '../src/testing';

describe('sdk/testing: container fixtures', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cedana-sdk-fixtures-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds a statically linked busybox on PATH, and refuses a missing or dynamically linked one', () => {
    assert.match(staticBusybox(), /\/busybox$/);
    assert.throws(() => staticBusybox(dir), /no busybox on PATH/);
    // node itself is dynamically linked: as "busybox" it must be refused.
    symlinkSync(process.execPath, join(dir, 'busybox'));
    assert.throws(() => staticBusybox(dir), /busybox is dynamically linked/);
  });

  it('makes a rootfs whose shell runs the counter workload', () => {
    const rootfs = busyboxRootfs(join(dir, 'rootfs'));
    assert.equal(statSync(join(rootfs, 'bin', 'busybox')).mode & 0o777, 0o755);
    assert.ok(lstatSync(join(rootfs, 'bin', 'sh')).isSymbolicLink());
    assert.equal(readlinkSync(join(rootfs, 'bin', 'sleep')), 'busybox');
    assert.match(readFileSync(join(rootfs, 'etc', 'passwd'), 'utf8'), /^root:x:0:0:/);
    // The counter, cut short, run by the rootfs's own shell.
    const [sh, flag, script] = boxCounter(10);
    const r = spawnSync(join(rootfs, 'bin', sh), [flag, script.replace('while true', 'while [ $i -lt 3 ]')], { encoding: 'utf8', env: { PATH: join(rootfs, 'bin') } });
    assert.equal(r.stdout, '0\n1\n2\n', r.stderr);
  });

  it('writes an OCI image layout tarball naming the image and its command', () => {
    const tar = ociImageTar(dir, 'docker.io/acme/counter:1', ['sh', '-c', 'echo hi']);
    const layout = join(dir, 'unpacked');
    mkdirSync(layout);
    assert.equal(spawnSync('tar', ['-C', layout, '-xf', tar]).status, 0);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'docker.io/acme/counter:1');
    const blob = (digest: string) => readFileSync(join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
    const manifest = JSON.parse(blob(index.manifests[0].digest).toString()) as { config: { digest: string }; layers: { digest: string }[] };
    const config = JSON.parse(blob(manifest.config.digest).toString()) as { os: string; config: { Cmd: string[] } };
    assert.equal(config.os, 'linux');
    assert.deepEqual(config.config.Cmd, ['sh', '-c', 'echo hi']);
    assert.equal(manifest.layers.length, 1);
  });
});
