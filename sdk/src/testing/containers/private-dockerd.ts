/**
 * dockerd on a private socket and data root, over a private containerd, for tests: no bridge, no iptables rules,
 * experimental (checkpoints need it); started and stopped by PID.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { busyboxRootfs, tarOf } from './busybox';
import { logTail, sleep, startLogged, stopProcess, waitForSocket, type StartedDaemon } from './started-daemon';

/**
 * A runc for dockerd (`--add-runtime`) that adds the annotation `org.criu.config` to every bundle it is given,
 * pointing at a CRIU config file with `tcp-established`. Docker's API has no option for established TCP, and
 * Docker 20.10 sets no annotations; runc reads CRIU options from that annotation's file (else from
 * /etc/criu/runc.conf, which a test must not touch). Everything else is the real runc. Returns the wrapper's path.
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

/** A private dockerd in `dir`, using the containerd at `containerdSocket` (see `PrivateContainerd`). */
export class PrivateDockerd {
  /** The Engine API socket, for a runtime's `address` setting. */
  readonly socket: string;
  private started?: StartedDaemon;

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
    const started = startLogged('dockerd', args, join(d, 'dockerd.log'));
    this.started = started;
    await waitForSocket(this.socket, started, 'dockerd');
    const deadline = Date.now() + 30_000;
    while ((await this.api('GET', '/_ping').catch(() => ({ status: 0, body: '' }))).status !== 200) {
      if (Date.now() > deadline) throw new Error(`dockerd does not answer: ${logTail(started)}`);
      await sleep(100);
    }
  }

  /** One Engine API call (API version 1.41). */
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

  /** Removes every container, stops dockerd and removes `dir` (the containerd under it is the caller's to stop). */
  async stop(): Promise<void> {
    // Containers first: dockerd leaves them running on its containerd otherwise.
    const list = this.started ? await this.api('GET', '/containers/json?all=1').catch(() => null) : null;
    for (const c of list && list.status === 200 ? (JSON.parse(list.body) as { Id: string }[]) : []) {
      await this.api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
    }
    await stopProcess(this.started?.child);
    spawnSync('umount', ['-R', join(this.dir, 'data')]);
    spawnSync('umount', ['-R', join(this.dir, 'exec')]);
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}
