/**
 * A streamed GCS resumable upload that is finalized only on commit. @google-cloud/storage sends the data in chunks
 * of a fixed size (each kept until the server has it, so a failed chunk is retried), but it sends the last chunk —
 * the one that names the total size and so makes the object appear — only once its stream ends. This wrapper
 * lets the bytes through and holds back that end until {@link ResumableUpload.commit}. Memory held: about one
 * chunk in the client plus the streams' small buffers, whatever the object's size.
 */
import { Writable } from 'node:stream';
import type { File } from '@google-cloud/storage';
import { CedanaError, ErrorCode, type Logger, type Upload } from '@cedana-ts/sdk';
import { gcsError, type ErrorContext } from './errors';

/** What the upload needs to know. */
export interface ResumableSpec {
  file: File;
  /** The session URI, from `createResumableUpload` (which already checked bucket and credentials). */
  uri: string;
  chunkSize: number;
  context: ErrorContext;
  logger: Logger;
}

export class ResumableUpload implements Upload {
  readonly stream: Writable;
  private readonly inner: Writable;
  private readonly uploaded: Promise<void>;
  private failure?: CedanaError;
  private size = 0;
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(private readonly spec: ResumableSpec) {
    this.inner = spec.file.createWriteStream({
      uri: spec.uri,
      resumable: true,
      chunkSize: spec.chunkSize,
      validation: 'crc32c',
      // Only if no object is there yet: never overwrites, and makes every chunk safe to retry.
      preconditionOpts: { ifGenerationMatch: 0 },
      metadata: { contentType: 'application/octet-stream' },
    });
    this.uploaded = new Promise<void>((resolve, reject) => {
      this.inner.once('finish', resolve);
      this.inner.once('error', (err) => {
        this.failure ??= gcsError(err, spec.context);
        reject(this.failure);
        if (!this.stream.destroyed && !this.stream.writableFinished) this.stream.destroy(this.failure);
      });
    });
    this.uploaded.catch(() => undefined); // reported through the stream or commit()
    this.stream = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (this.failure) return cb(this.failure);
        this.size += chunk.length;
        this.inner.write(chunk, (err) => cb(err ? (this.failure ?? gcsError(err, spec.context)) : undefined));
      },
      // The end of the data is not the end of the upload: the final chunk goes on commit.
      final: (cb) => cb(this.failure),
    });
  }

  async commit(): Promise<{ size: number }> {
    if (this.state !== 'open') throw new CedanaError(ErrorCode.Internal, `upload of ${this.spec.context.url} was ${this.state} already`);
    if (this.failure) throw this.failure;
    if (!this.stream.writableFinished) throw new CedanaError(ErrorCode.Internal, `upload of ${this.spec.context.url} committed before its stream finished`);
    this.inner.end();
    await this.uploaded.catch((err: unknown) => {
      throw gcsError(err, { ...this.spec.context, op: 'finishing the upload of' });
    });
    this.state = 'committed';
    return { size: this.size };
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.failure ??= new CedanaError(ErrorCode.Internal, `upload of ${this.spec.context.url} was aborted`);
    this.inner.destroy();
    this.stream.destroy();
    // Cancelling the session (DELETE on its URI, which needs no credentials) frees what the server kept; an
    // unfinalized session never becomes an object, and GCS drops it after a week anyway.
    try {
      const res = await fetch(this.spec.uri, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
    } catch (err) {
      const e = gcsError(err, { ...this.spec.context, op: 'cancelling the upload of' });
      this.spec.logger.warn(`could not cancel the resumable upload: ${e.message}`, { url: this.spec.context.url });
    }
  }
}
