/**
 * Starts and stops the tests' GCS server (gcs-server-main.ts) as a child process on 127.0.0.1, records the requests
 * it answers, makes service-account key files for it, and reads its objects back from its directory.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServerProcess } from '@cedana-ts/sdk/testing';
import type { ObjectMeta, RequestLog } from './gcs-fake';

/** Writes a service-account key file (a fresh RSA key) into `dir`; returns its path and email. */
export function makeServiceAccount(dir: string, name = 'cedana-test'): { path: string; email: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const email = `${name}@cedana-test-project.iam.gserviceaccount.com`;
  const key = {
    type: 'service_account',
    project_id: 'cedana-test-project',
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: email,
    client_id: '1234567890',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(key, null, 2), { mode: 0o600 });
  return { path, email };
}

export interface GcsServerOptions {
  buckets?: string[];
  /** Key files whose tokens the server accepts; none: no credentials needed. */
  trust?: string[];
  /** Data chunks answered 503 first. */
  failChunks?: number;
}

export class GcsTestServer extends TestServerProcess<RequestLog> {
  protected readonly title = 'gcs test server';

  private constructor(
    dir: string,
    private readonly opts: Required<GcsServerOptions>,
  ) {
    super(dir);
  }

  static async start(opts: GcsServerOptions = {}): Promise<GcsTestServer> {
    const server = new GcsTestServer(mkdtempSync(join(tmpdir(), 'cedana-gcs-')), { buckets: ['ckpt'], trust: [], failChunks: 0, ...opts });
    await server.launch(0);
    return server;
  }

  get buckets(): string[] {
    return this.opts.buckets;
  }

  /** Host config that points the plugin at this server (with a key file when one is given). */
  config(overrides: Record<string, unknown> = {}): { gcs: Record<string, unknown> } {
    return { gcs: { endpoint: this.endpoint, ...overrides } };
  }

  protected command(port: number): string[] {
    const args = [join(__dirname, 'gcs-server-main.js'), '--dir', this.dir, '--port', String(port), '--fail-chunks', String(this.opts.failChunks)];
    for (const b of this.opts.buckets) args.push('--bucket', b);
    for (const t of this.opts.trust) args.push('--trust', t);
    return args;
  }

  protected override seen(): string {
    return this.requests.map((r) => r.kind).join(' ');
  }

  /** Every object of `bucket` with its size, from the server's directory. */
  objects(bucket = this.opts.buckets[0]): { name: string; size: number }[] {
    const dir = join(this.dir, 'objects', bucket, 'meta');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ObjectMeta)
      .map((m) => ({ name: m.name, size: Number(m.size) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Upload sessions the server still keeps (data received but not finalized). */
  openSessions(): string[] {
    return readdirSync(join(this.dir, 'sessions'));
  }
}
