/**
 * Starts and stops the tests' S3 server (s3-server-main.ts, s3rver) as a child process on 127.0.0.1, records the
 * requests it answers, and reads the bucket back through the real AWS SDK.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { TestServerProcess } from '@cedana-ts/sdk/testing';

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

export class S3TestServer extends TestServerProcess<S3Request> {
  protected readonly title = 's3 test server';

  private constructor(
    dir: string,
    readonly buckets: string[],
    private readonly failParts: number,
    private readonly failAborts = 0,
  ) {
    super(dir);
  }

  /**
   * Starts a server with `buckets` over a fresh directory; the first `failParts` UploadParts are answered 503,
   * the first `failAborts` AbortMultipartUploads 500.
   */
  static async start(buckets: string[] = ['ckpt'], opts: { failParts?: number; failAborts?: number } = {}): Promise<S3TestServer> {
    const server = new S3TestServer(mkdtempSync(join(tmpdir(), 'cedana-s3-')), buckets, opts.failParts ?? 0, opts.failAborts ?? 0);
    await server.launch(0);
    return server;
  }

  /** Host config that points the plugin at this server with the right key pair. */
  config(overrides: Record<string, unknown> = {}): { aws: Record<string, unknown> } {
    return { aws: { access_key_id: 'S3RVER', secret_access_key: 'S3RVER', region: 'us-east-1', endpoint: this.endpoint, ...overrides } };
  }

  /** Environment for a daemon that should use this server. */
  env(): NodeJS.ProcessEnv {
    return { CEDANA_AWS_ENDPOINT: this.endpoint, CEDANA_AWS_ACCESS_KEY_ID: 'S3RVER', CEDANA_AWS_SECRET_ACCESS_KEY: 'S3RVER', CEDANA_AWS_REGION: 'us-east-1' };
  }

  protected command(port: number): string[] {
    const main = join(__dirname, 's3-server-main.js');
    return [main, '--dir', this.dir, '--port', String(port), ...this.buckets.flatMap((b) => ['--bucket', b]), '--fail-parts', String(this.failParts), '--fail-aborts', String(this.failAborts)];
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
