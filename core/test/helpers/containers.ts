/**
 * Helpers for the container runtime tests: a busybox root filesystem, runc bundles, OCI and Docker images made
 * from it (no registry is reachable), and containerd and dockerd started on private sockets and state
 * directories — stopped again by PID, so the tests touch nothing else on the machine.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync, openSync, closeSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sleep } from './env';

/** busybox from Debian's busybox-static: one static binary, so the rootfs needs nothing else. */
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'sleep', 'echo', 'cat', 'nc', 'ip', 'ls', 'ps', 'true', 'seq', 'grep', 'head', 'tail', 'kill', 'wc'];

/** Makes `dir` a busybox root filesystem. */
export function busyboxRootfs(dir: string): string {
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  spawnSync('chmod', ['755', join(dir, 'bin', 'busybox')]);
  for (const a of APPLETS) if (!existsSync(join(dir, 'bin', a))) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  return dir;
}

/** A shell counter for busybox: 0, 1, 2, … one line every `periodMs`. */
export function boxCounter(periodMs = 100): string[] {
  return ['sh', '-c', `i=0; while true; do echo $i; i=$((i+1)); sleep ${(periodMs / 1000).toFixed(2)}; done`];
}

/**
 * A shell script for busybox holding an established loopback TCP connection: a server answers each line with
 * the line, a client sends a counter over the one connection and prints each answer (`echo <n>`).
 */
export function boxTcpPair(port = 5555): string[] {
  const server = `nc -l -p ${port} -e cat &`;
  const client = `i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done | nc 127.0.0.1 ${port} | while read l; do echo "echo $l"; done`;
  return ['sh', '-c', `ip link set lo up; ${server} sleep 0.3; ${client}`];
}

/**
 * A network namespace that outlives the containers joining it, with lo up: what a pod sandbox or CNI provides.
 * runc restores a container's own network namespace empty (it does not manage network devices), so a
 * connection survives a restore only in a namespace like this one.
 */
export class NetnsHolder {
  private constructor(private readonly child: ChildProcess) {}

  /** The namespace's path, for config.json. */
  get path(): string {
    return `/proc/${this.child.pid}/ns/net`;
  }

  static async start(): Promise<NetnsHolder> {
    const child = spawn('unshare', ['--net', 'sleep', 'infinity'], { stdio: 'ignore' });
    const own = spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout.trim();
    await waitUntil(() => {
      const r = spawnSync('readlink', [`/proc/${child.pid}/ns/net`], { encoding: 'utf8' });
      return r.status === 0 && r.stdout.trim() !== own;
    }, 'the network namespace holder');
    const up = spawnSync('nsenter', [`--net=/proc/${child.pid}/ns/net`, 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
    assert.equal(up.status, 0, `ip link set lo up: ${up.stderr}`);
    return new NetnsHolder(child);
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

async function waitUntil(fn: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A runc bundle in `dir`: a busybox rootfs and a config.json from `runc spec` running `args`, in the network
 * namespace at `netns` when given.
 */
export function runcBundle(dir: string, args: string[], netns?: string): string {
  mkdirSync(dir, { recursive: true });
  busyboxRootfs(join(dir, 'rootfs'));
  const r = spawnSync('runc', ['spec'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `runc spec: ${r.stderr}`);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { process: { terminal: boolean; args: string[] }; root: { readonly: boolean } };
  config.process.terminal = false;
  config.process.args = args;
  if (netns) {
    const linux = (config as unknown as { linux: { namespaces: { type: string; path?: string }[] } }).linux;
    linux.namespaces = linux.namespaces.map((n) => (n.type === 'network' ? { type: 'network', path: netns } : n));
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

/** A tar of `dir`'s contents (paths relative to it). */
function tarOf(dir: string): Buffer {
  const r = spawnSync('tar', ['-C', dir, '--numeric-owner', '-cf', '-', '.'], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `tar: ${r.stderr?.toString()}`);
  return r.stdout;
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * An OCI image layout tarball of a busybox rootfs whose command is `cmd`, named `name` (the
 * `io.containerd.image.name` annotation that `ctr image import` reads).
 */
export function ociImageTar(workDir: string, name: string, cmd: string[]): string {
  const rootfs = busyboxRootfs(join(workDir, 'oci-rootfs'));
  const layerTar = tarOf(rootfs);
  const layer = gzipSync(layerTar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: cmd, Env: ['PATH=/bin'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [sha(layerTar)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'io.containerd.image.name': name } },
    ],
  };
  const layout = join(workDir, 'oci-layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  for (const blob of [layer, config, manifest]) writeFileSync(join(layout, 'blobs', 'sha256', sha(blob).slice(7)), blob);
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  const out = join(workDir, 'image.tar');
  writeFileSync(out, tarOf(layout));
  return out;
}

/** A daemon process started by a test. */
interface Started {
  child: ChildProcess;
  log: string;
}

function startLogged(bin: string, args: string[], logPath: string, env: NodeJS.ProcessEnv = process.env): Started {
  const fd = openSync(logPath, 'a');
  // Its own session, so a test's Ctrl+C does not reach it before the teardown stops it.
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: true, env });
  closeSync(fd);
  return { child, log: logPath };
}

async function waitForSocket(path: string, started: Started, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(path)) {
    if (started.child.exitCode !== null) throw new Error(`${what} exited ${started.child.exitCode}: ${readFileSync(started.log, 'utf8').slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start: ${readFileSync(started.log, 'utf8').slice(-2000)}`);
    await sleep(50);
  }
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Kills the shim processes a private containerd started (they outlive it by design). */
function killShims(stateDir: string): void {
  const r = spawnSync('pgrep', ['-f', `containerd-shim-runc-v2 .*-address ${stateDir}`], { encoding: 'utf8' });
  for (const pid of r.stdout.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** containerd on a private socket, root and state, optionally with a CRIU config for every checkpoint. */
export class PrivateContainerd {
  readonly socket: string;
  private started?: Started;

  constructor(readonly dir: string) {
    this.socket = join(dir, 'containerd.sock');
  }

  async start(env: NodeJS.ProcessEnv = process.env): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const d = this.dir;
    const config = [
      'version = 2',
      `root = "${d}/root"`,
      `state = "${d}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = "${this.socket}"`,
      '[ttrpc]',
      `  address = "${this.socket}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${d}/opt"`,
    ].join('\n');
    writeFileSync(join(d, 'config.toml'), `${config}\n`);
    this.started = startLogged('containerd', ['--config', join(d, 'config.toml')], join(d, 'containerd.log'), env);
    await waitForSocket(this.socket, this.started, 'containerd');
  }

  /** Runs `ctr` against this containerd. */
  ctr(args: string[], namespace = 'default'): string {
    const r = spawnSync('ctr', ['--address', this.socket, '--namespace', namespace, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `ctr ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** Kills and deletes every task in every namespace. */
  killTasks(): void {
    const ns = spawnSync('ctr', ['--address', this.socket, 'namespaces', 'ls', '-q'], { encoding: 'utf8' }).stdout ?? '';
    for (const n of ns.split('\n').filter(Boolean)) {
      const tasks = spawnSync('ctr', ['--address', this.socket, '-n', n, 'tasks', 'ls', '-q'], { encoding: 'utf8' }).stdout ?? '';
      for (const t of tasks.split('\n').filter(Boolean)) {
        spawnSync('ctr', ['--address', this.socket, '-n', n, 'tasks', 'kill', '-a', '-s', 'SIGKILL', t]);
        spawnSync('ctr', ['--address', this.socket, '-n', n, 'tasks', 'delete', '-f', t]);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.started && this.started.child.exitCode === null) this.killTasks();
    const namespaces = this.started ? (spawnSync('ctr', ['--address', this.socket, 'namespaces', 'ls', '-q'], { encoding: 'utf8' }).stdout ?? '') : '';
    await stopProcess(this.started?.child);
    killShims(this.dir);
    // The shim's runc state lives under /run/containerd/runc/<namespace>: drop the directories left empty.
    for (const n of namespaces.split('\n').filter(Boolean)) spawnSync('rmdir', [join('/run/containerd/runc', n)]);
    // Likewise the shims' socket directory; rmdir leaves anything a system containerd still uses.
    spawnSync('rmdir', ['/run/containerd/runc', '/run/containerd/s', '/run/containerd']);
    spawnSync('umount', ['-R', join(this.dir, 'state')]);
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * A runc for dockerd (`--add-runtime`) that adds the annotation `org.criu.config` to every bundle it is given,
 * pointing at a CRIU config file with `tcp-established`. Docker's API has no option for established TCP, and
 * Docker 20.10 sets no annotations; runc reads CRIU options from that annotation's file (else from
 * /etc/criu/runc.conf, which a test must not touch). Everything else is the real runc.
 */
export function runcWithCriuConfig(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'criu-runc.conf');
  writeFileSync(conf, 'tcp-established\n');
  const wrapper = join(dir, 'runc-criu-config');
  const patch = `const f=process.argv[1],c=JSON.parse(require('fs').readFileSync(f,'utf8'));c.annotations={...c.annotations,'org.criu.config':${JSON.stringify(conf)}};require('fs').writeFileSync(f,JSON.stringify(c))`;
  writeFileSync(
    wrapper,
    [
      '#!/bin/bash',
      'prev=""',
      'for a in "$@"; do',
      `  if [ "$prev" = "--bundle" ] || [ "$prev" = "-b" ]; then [ -f "$a/config.json" ] && ${JSON.stringify(process.execPath)} -e ${JSON.stringify(patch)} "$a/config.json"; fi`,
      '  prev="$a"',
      'done',
      'exec runc "$@"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return wrapper;
}

/** Result of a Docker Engine API call. */
export interface DockerReply {
  status: number;
  body: string;
}

/** dockerd on a private socket and data root, using a private containerd, with no bridge and no iptables rules. */
export class PrivateDockerd {
  readonly socket: string;
  private started?: Started;

  constructor(
    readonly dir: string,
    private readonly containerdSocket: string,
  ) {
    this.socket = join(dir, 'docker.sock');
  }

  /** Starts dockerd; with `runtime`, containers run with that runc binary (see {@link runcWithCriuConfig}). */
  async start(runtime?: string): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const d = this.dir;
    const args = [
      ...(runtime ? ['--add-runtime', `cedana-test=${runtime}`, '--default-runtime', 'cedana-test'] : []),
      '--data-root', join(d, 'data'),
      '--exec-root', join(d, 'exec'),
      '-H', `unix://${this.socket}`,
      '--pidfile', join(d, 'docker.pid'),
      '--containerd', this.containerdSocket,
      '--experimental',
      '--bridge', 'none',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-masq=false',
      '--userland-proxy=false',
    ];
    this.started = startLogged('dockerd', args, join(d, 'dockerd.log'));
    await waitForSocket(this.socket, this.started, 'dockerd');
    const deadline = Date.now() + 30_000;
    while ((await this.api('GET', '/_ping').catch(() => ({ status: 0, body: '' }))).status !== 200) {
      if (Date.now() > deadline) throw new Error(`dockerd does not answer: ${readFileSync(this.started.log, 'utf8').slice(-2000)}`);
      await sleep(100);
    }
  }

  /** One Engine API call. */
  api(method: string, path: string, body?: Buffer | object, contentType = 'application/json'): Promise<DockerReply> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      const req = request({ socketPath: this.socket, method, path: `/v1.41${path}`, headers: data ? { 'Content-Type': contentType, 'Content-Length': data.length } : {} }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  /** Imports a busybox rootfs as image `ref` with command `cmd` (what `docker import -c 'CMD …'` does). */
  async importBusybox(workDir: string, ref: string, cmd: string[]): Promise<void> {
    const rootfs = busyboxRootfs(join(workDir, 'docker-rootfs'));
    const [repo, tag] = ref.split(':');
    const changes = encodeURIComponent(`CMD ${JSON.stringify(cmd)}`);
    const r = await this.api('POST', `/images/create?fromSrc=-&repo=${repo}&tag=${tag ?? 'latest'}&changes=${changes}`, tarOf(rootfs), 'application/x-tar');
    assert.equal(r.status, 200, `docker import: ${r.body}`);
  }

  async stop(): Promise<void> {
    // Containers first: dockerd leaves them running on its containerd otherwise.
    const list = await this.api('GET', '/containers/json?all=1').catch(() => null);
    for (const c of list && list.status === 200 ? (JSON.parse(list.body) as { Id: string }[]) : []) {
      await this.api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
    }
    await stopProcess(this.started?.child);
    spawnSync('umount', ['-R', join(this.dir, 'data')]);
    spawnSync('umount', ['-R', join(this.dir, 'exec')]);
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}
