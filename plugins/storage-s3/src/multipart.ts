/**
 * A streamed S3 multipart upload. Bytes written to {@link MultipartUpload.stream} are cut into parts of a fixed
 * size and sent as they fill, at most {@link PARTS_IN_FLIGHT} at a time; a writer that outruns the network waits
 * (stream backpressure). So the memory one upload holds is a small multiple of the part size — the parts on the
 * wire and the one filling, plus, at an instant, answered parts the HTTP stack has not let go of yet — whatever
 * the object's size. The object appears only when {@link MultipartUpload.commit} completes the upload; abort
 * cancels the requests in flight and aborts the upload, so S3 drops the parts.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CedanaError, ErrorCode, type Logger, type Upload } from '@cedana-ts/sdk';
import { s3Error, type ErrorContext } from './errors';

/** How many parts may be on the wire at once. */
export const PARTS_IN_FLIGHT = 2;
/** S3's limit on the number of parts of one upload. */
export const MAX_PARTS = 10_000;

/** How often abort asks S3 to drop the upload before it gives up and leaves the parts to a lifecycle rule. */
const ABORT_ATTEMPTS = 4;

/** What the upload needs to know. */
export interface MultipartSpec {
  client: S3Client;
  bucket: string;
  key: string;
  uploadId: string;
  partSize: number;
  context: ErrorContext;
  logger: Logger;
}

export class MultipartUpload implements Upload {
  readonly stream: Writable;
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private nextPart = 1;
  private size = 0;
  private readonly done: { PartNumber: number; ETag: string }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure?: CedanaError;
  private readonly cancel = new AbortController();
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(private readonly spec: MultipartSpec) {
    this.stream = new Writable({
      write: (chunk: Buffer, _enc, cb) => this.accept(chunk).then(() => cb(), cb),
      final: (cb) => this.flush().then(() => cb(), cb),
      destroy: (err, cb) => {
        this.cancel.abort();
        cb(err);
      },
    });
  }

  /** Buffers `chunk`, sends every part that is full, and waits while too many parts are on the wire. */
  private async accept(chunk: Buffer): Promise<void> {
    this.throwIfFailed();
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= this.spec.partSize) {
      await this.roomForPart();
      this.send(this.take(this.spec.partSize));
    }
  }

  /** Sends the last part (S3 needs at least one, even empty) and waits for every part. */
  private async flush(): Promise<void> {
    this.throwIfFailed();
    if (this.pendingBytes > 0 || this.nextPart === 1) {
      await this.roomForPart();
      this.send(this.take(this.pendingBytes));
    }
    await Promise.all([...this.inFlight]);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private async roomForPart(): Promise<void> {
    while (this.inFlight.size >= PARTS_IN_FLIGHT) {
      await Promise.race(this.inFlight);
      this.throwIfFailed();
    }
  }

  /** The first `n` pending bytes as one buffer. */
  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending.length = 0;
    const part = all.subarray(0, n);
    if (all.length > n) this.pending.push(Buffer.from(all.subarray(n)));
    this.pendingBytes = all.length - n;
    return part;
  }

  private send(body: Buffer): void {
    const partNumber = this.nextPart++;
    if (partNumber > MAX_PARTS) {
      this.failure = new CedanaError(ErrorCode.FailedPrecondition, `${this.spec.context.url}: the checkpoint needs more than ${MAX_PARTS} parts of ${this.spec.partSize >> 20} MiB`, {
        hint: 'raise aws.part_size_mib',
      });
      throw this.failure;
    }
    this.size += body.length;
    const md5 = createHash('md5').update(body).digest('base64');
    const { client, bucket, key, uploadId } = this.spec;
    const p = client
      .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentMD5: md5 }), { abortSignal: this.cancel.signal })
      .then((out) => {
        this.done.push({ PartNumber: partNumber, ETag: out.ETag ?? '' });
      })
      .catch((err: unknown) => {
        this.failure ??= s3Error(err, this.spec.context);
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  async commit(): Promise<{ size: number }> {
    if (this.state !== 'open') throw new CedanaError(ErrorCode.Internal, `upload of ${this.spec.context.url} was ${this.state} already`);
    if (!this.stream.writableFinished) {
      throw this.failure ?? new CedanaError(ErrorCode.Internal, `upload of ${this.spec.context.url} committed before its stream finished`);
    }
    const { client, bucket, key, uploadId } = this.spec;
    const parts = [...this.done].sort((a, b) => a.PartNumber - b.PartNumber);
    try {
      await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      throw s3Error(err, { ...this.spec.context, op: 'completing the upload of' });
    }
    this.state = 'committed';
    return { size: this.size };
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.stream.destroy();
    await Promise.allSettled([...this.inFlight]);
    // A part the server was still receiving when its request was cancelled may land after an abort, or make the
    // abort fail; S3's advice is to abort until listing the parts says the upload is gone.
    let last: CedanaError | undefined;
    for (let attempt = 1; attempt <= ABORT_ATTEMPTS; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      try {
        await this.sendAbort();
        if (await this.uploadGone()) return;
        last = undefined;
      } catch (err) {
        last = s3Error(err, { ...this.spec.context, op: 'aborting the upload of' });
      }
    }
    // The object never became visible; only the parts may stay behind until a lifecycle rule removes them.
    const why = last ? last.message : 'parts were still listed after the last abort';
    this.spec.logger.warn(`could not abort the multipart upload: ${why}`, { url: this.spec.context.url });
  }

  private async sendAbort(): Promise<void> {
    const { client, bucket, key, uploadId } = this.spec;
    try {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    } catch (err) {
      if (isNoSuchUpload(err)) return;
      throw err;
    }
  }

  /** Whether S3 no longer knows the upload (or holds no part of it). */
  private async uploadGone(): Promise<boolean> {
    const { client, bucket, key, uploadId } = this.spec;
    try {
      const out = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
      return (out.Parts ?? []).length === 0;
    } catch (err) {
      if (isNoSuchUpload(err)) return true;
      throw err;
    }
  }
}

function isNoSuchUpload(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchUpload' || e.$metadata?.httpStatusCode === 404;
}
