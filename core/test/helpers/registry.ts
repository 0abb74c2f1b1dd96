/**
 * A real npm-compatible registry for the tests: verdaccio (a devDependency of core), run on 127.0.0.1 with no
 * uplinks, so it serves only what the tests publish to it. Publishing speaks the registry's own protocol (the
 * PUT that `npm publish` sends), with a user the helper creates.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { readPackage } from '../../src/plugins/packages/tarball';
import { sleep } from './env';

/** verdaccio's command (its package exports no bin path, so it is found from its package.json). */
function verdaccioBin(): string {
  return join(dirname(require.resolve('verdaccio/package.json')), 'bin', 'verdaccio');
}

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export class TestRegistry {
  private child?: ChildProcess;
  private token = '';
  log = '';
  url = '';

  constructor(readonly dir: string) {}

  /** Where verdaccio keeps a published tarball. */
  tarballPath(name: string, version: string): string {
    return join(this.dir, 'storage', name, `${name.split('/').pop()}-${version}.tgz`);
  }

  async start(): Promise<void> {
    const port = await freePort();
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(
      join(this.dir, 'config.yaml'),
      [
        'storage: ./storage',
        'auth:',
        '  htpasswd:',
        '    file: ./htpasswd',
        '    max_users: 10',
        'uplinks: {}',
        'packages:',
        "  '**':",
        '    access: $all',
        '    publish: $authenticated',
        'log: { type: stdout, format: pretty, level: warn }',
        '',
      ].join('\n'),
    );
    this.url = `http://127.0.0.1:${port}/`;
    const child = spawn(process.execPath, ['--no-warnings', verdaccioBin(), '-c', join(this.dir, 'config.yaml'), '-l', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`verdaccio exited ${child.exitCode}: ${this.log}`);
      const ok = await fetch(`${this.url}-/ping`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`verdaccio did not start: ${this.log}`);
      await sleep(100);
    }
    const res = await fetch(`${this.url}-/user/org.couchdb.user:tester`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'tester', password: 'tester-password-1' }),
    });
    const body = (await res.json()) as { token?: string };
    if (!body.token) throw new Error(`verdaccio gave no token: ${JSON.stringify(body)}`);
    this.token = body.token;
  }

  /** Publishes a packed tarball, as `npm publish x.tgz` does. */
  async publish(tgzPath: string): Promise<{ name: string; version: string }> {
    const data = readFileSync(tgzPath);
    const pkg = (await readPackage(data, tgzPath)).pkg as { name: string; version: string };
    const file = `${pkg.name}-${pkg.version}.tgz`;
    const doc = {
      _id: pkg.name,
      name: pkg.name,
      'dist-tags': { latest: pkg.version },
      versions: {
        [pkg.version]: {
          ...pkg,
          _id: `${pkg.name}@${pkg.version}`,
          dist: {
            integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
            shasum: createHash('sha1').update(data).digest('hex'),
            tarball: `${this.url}${pkg.name}/-/${file}`,
          },
        },
      },
      _attachments: { [file]: { content_type: 'application/octet-stream', data: data.toString('base64'), length: data.length } },
    };
    const res = await fetch(`${this.url}${pkg.name.replace('/', '%2f')}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify(doc),
    });
    if (!res.ok) throw new Error(`publish of ${pkg.name}@${pkg.version} failed: ${res.status} ${await res.text()}`);
    return pkg;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}
