/**
 * The S3 storage: checkpoints at `s3://BUCKET/KEY` on Amazon S3 or any S3-compatible store.
 */
import { Agent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CedanaError, ErrorCode, type Logger, type Storage, type StoredObject, type Upload } from '@cedana-ts/sdk';
import { s3Error, type ErrorContext } from './errors';
import { MultipartUpload } from './multipart';
import { assertUsable, redactUrl, type S3Settings } from './settings';
import { parseS3Url, s3Url, type S3Location } from './url';

/** Attempts per request (the first and its retries, with the SDK's exponential backoff and jitter). */
export const MAX_ATTEMPTS = 4;

/** The S3 client for these settings: path-style addressing for custom endpoints, bounded connect and idle times. */
export function makeClient(s: S3Settings): S3Client {
  const agentOpts = { keepAlive: true, maxSockets: 16 };
  return new S3Client({
    region: s.region,
    endpoint: s.endpoint,
    // S3-compatible stores (MinIO, Ceph, s3rver…) are addressed by path; AWS itself by virtual host.
    forcePathStyle: s.endpoint !== undefined,
    credentials: s.credentials,
    maxAttempts: MAX_ATTEMPTS,
    retryMode: 'standard',
    // Parts carry a Content-MD5, which every S3-compatible store checks; the newer CRC trailers are not universal.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
      httpAgent: new HttpAgent(agentOpts),
      httpsAgent: new Agent(agentOpts),
    }),
  });
}

export class S3Storage implements Storage {
  readonly schemes = ['s3'] as const;
  private readonly client: S3Client;

  constructor(
    private readonly settings: S3Settings,
    private readonly logger: Logger,
  ) {
    this.client = makeClient(settings);
  }

  private context(op: string, url: string, loc: S3Location): ErrorContext {
    const s = this.settings;
    return { op, url, bucket: loc.bucket, endpoint: s.endpoint ? redactUrl(s.endpoint) : undefined, region: s.region, secrets: s.secrets };
  }

  /** Parses `url` and checks that the settings can work at all. */
  private locate(url: string, needKey: boolean): S3Location {
    assertUsable(this.settings);
    return parseS3Url(url, needKey);
  }

  async create(url: string): Promise<Upload> {
    const loc = this.locate(url, true);
    // A HEAD that is refused says nothing about why (it has no body), and write-only credentials may not read:
    // let the upload itself answer then.
    const existing = await this.stat(url).catch((err: CedanaError) => {
      if (err.code === ErrorCode.PermissionDenied) return null;
      throw err;
    });
    if (existing) throw new CedanaError(ErrorCode.AlreadyExists, `${url} exists already`, { hint: 'choose another --name' });
    const context = this.context('uploading', url, loc);
    let uploadId: string | undefined;
    try {
      const out = await this.client.send(
        new CreateMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, ContentType: 'application/octet-stream' }),
      );
      uploadId = out.UploadId;
    } catch (err) {
      throw s3Error(err, context);
    }
    if (!uploadId) throw new CedanaError(ErrorCode.Internal, `uploading ${url}: the server returned no upload id`);
    this.logger.debug('s3 multipart upload started', { url, partSize: this.settings.partSize });
    return new MultipartUpload({ client: this.client, bucket: loc.bucket, key: loc.key, uploadId, partSize: this.settings.partSize, context, logger: this.logger });
  }

  async open(url: string): Promise<Readable> {
    const loc = this.locate(url, true);
    const context = this.context('downloading', url, loc);
    let body: Readable;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
      body = out.Body as Readable;
    } catch (err) {
      throw s3Error(err, context);
    }
    // A connection lost mid-download surfaces as a CedanaError naming the server, not as a raw socket error.
    const out = new PassThrough();
    body.on('error', (err) => out.destroy(s3Error(err, context)));
    out.on('close', () => body.destroy());
    body.pipe(out);
    return out;
  }

  async stat(url: string): Promise<StoredObject | null> {
    const loc = this.locate(url, true);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
      return { url, size: out.ContentLength ?? 0, modified: out.LastModified ?? new Date(0) };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      // HEAD has no body, so a missing bucket looks like a missing key here; create() then names the bucket.
      if (e.name !== 'NoSuchBucket' && (e.$metadata?.httpStatusCode === 404 || e.name === 'NotFound' || e.name === 'NoSuchKey')) return null;
      throw s3Error(err, this.context('reading', url, loc));
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const loc = this.locate(prefix, false);
    const out: StoredObject[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.key || undefined, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          if (o.Key) out.push({ url: s3Url(loc.bucket, o.Key), size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw s3Error(err, this.context('listing', prefix, loc));
    }
    return out;
  }

  async delete(url: string): Promise<void> {
    const loc = this.locate(url, true);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket') return;
      throw s3Error(err, this.context('deleting', url, loc));
    }
  }

  /** Closes the client's connections. */
  close(): void {
    this.client.destroy();
  }
}
