/**
 * containerd on a private socket, root and state directory, for tests: started and stopped by PID, so a test
 * touches nothing else on the machine (a system containerd included).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ociImageTar } from './oci-image';
import { startLogged, stopProcess, waitForSocket, type StartedDaemon } from './started-daemon';

/** Kills the shim processes a private containerd started (they outlive it by design). */
function killShims(stateDir: string): void {
  const r = spawnSync('pgrep', ['-f', `containerd-shim-runc-v2 .*-address ${stateDir}`], { encoding: 'utf8' });
  for (const pid of (r.stdout ?? '').split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/**
 * A private containerd in `dir`. The runc shim keeps its state under /run/containerd/runc/<namespace> whatever
 * containerd's own state directory: use a namespace of the test's own.
 */
export class PrivateContainerd {
  /** The gRPC socket, for a runtime's `address` setting. */
  readonly socket: string;
  private started?: StartedDaemon;

  constructor(readonly dir: string) {
    this.socket = join(dir, 'containerd.sock');
  }

  /** Starts containerd (with `env`, e.g. a PATH naming another runc) and waits for its socket. */
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

  /** Runs `ctr` against this containerd; returns its stdout (fails the test when ctr fails). */
  ctr(args: string[], namespace = 'default'): string {
    const r = spawnSync('ctr', ['--address', this.socket, '--namespace', namespace, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `ctr ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** Imports a busybox image named `name` (e.g. `docker.io/acme/counter:1`) running `cmd` into `namespace`. */
  importBusybox(workDir: string, name: string, cmd: string[], namespace = 'default'): void {
    this.ctr(['image', 'import', ociImageTar(workDir, name, cmd)], namespace);
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

  /** Ends every task, containerd and its shims, and removes `dir`. */
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
