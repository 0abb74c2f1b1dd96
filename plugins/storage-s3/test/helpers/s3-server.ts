/**
 * Starts and stops the tests' S3 server (s3-server-main.ts, s3rver) as a child process on 127.0.0.1, records the
 * requests it answers, and reads the bucket back through the real AWS SDK.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** The key pair s3rver accepts. */
export const S3RVER_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** One request the server answered (or dropped). */
export interface S3Request {
  method: string;
  path: string;
  query: string[];
  status: number;
  finished: boolean;
}

export class S3TestServer {
  readonly requests: S3Request[] = [];
  private child?: ChildProcess;
  port = 0;

  private constructor(
    readonly dir: string,
    readonly buckets: string[],
    private readonly failParts: number,
    private readonly failAborts = 0,
  ) {}

  /**
   * Starts a server with `buckets` over a fresh directory; the first `failParts` UploadParts are answered 503,
   * the first `failAborts` AbortMultipartUploads 500.
   */
  static async start(buckets: string[] = ['ckpt'], opts: { failParts?: number; failAborts?: number } = {}): Promise<S3TestServer> {
    const server = new S3TestServer(mkdtempSync(join(tmpdir(), 'cedana-s3-')), buckets, opts.failParts ?? 0, opts.failAborts ?? 0);
    await server.launch(0);
    return server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Host config that points the plugin at this server with the right key pair. */
  config(overrides: Record<string, unknown> = {}): { aws: Record<string, unknown> } {
    return { aws: { access_key_id: 'S3RVER', secret_access_key: 'S3RVER', region: 'us-east-1', endpoint: this.endpoint, ...overrides } };
  }

  /** Environment for a daemon that should use this server. */
  env(): NodeJS.ProcessEnv {
    return { CEDANA_AWS_ENDPOINT: this.endpoint, CEDANA_AWS_ACCESS_KEY_ID: 'S3RVER', CEDANA_AWS_SECRET_ACCESS_KEY: 'S3RVER', CEDANA_AWS_REGION: 'us-east-1' };
  }

  private async launch(port: number): Promise<void> {
    const main = join(__dirname, 's3-server-main.js');
    const args = [main, '--dir', this.dir, '--port', String(port), ...this.buckets.flatMap((b) => ['--bucket', b]), '--fail-parts', String(this.failParts), '--fail-aborts', String(this.failAborts)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout! });
    this.port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`s3 test server exited ${code}: ${stderr}`)));
      lines.on('line', (line) => {
        if (!line.startsWith('{')) return;
        const msg = JSON.parse(line) as { listening?: number } & S3Request;
        if (msg.listening !== undefined) resolve(msg.listening);
        else this.requests.push(msg);
      });
    });
  }

  /** Waits until a request matching `pred` has been answered. */
  async waitForRequest(pred: (r: S3Request) => boolean, ms = 30_000): Promise<S3Request> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.requests.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching request within ${ms} ms (saw ${this.requests.length})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** SIGKILLs the server: open connections are cut. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts the server again on the same port and directory (after {@link kill}). */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch(this.port);
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private client(): S3Client {
    return new S3Client({ region: 'us-east-1', endpoint: this.endpoint, forcePathStyle: true, credentials: S3RVER_KEY });
  }

  /** Every object in `bucket` with its size, read through the AWS SDK. */
  async objects(bucket = this.buckets[0]): Promise<{ key: string; size: number }[]> {
    const client = this.client();
    try {
      const out = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      return (out.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0 }));
    } finally {
      client.destroy();
    }
  }

  /** The size of one object, or null when there is none. */
  async sizeOf(bucket: string, key: string): Promise<number | null> {
    const client = this.client();
    try {
      return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength ?? 0;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
      throw err;
    } finally {
      client.destroy();
    }
  }
}
