/**
 * A streamed GCS resumable upload, finalized only on commit.
 *
 * The session is opened by @google-cloud/storage (which authenticates, and so checks bucket and credentials); the
 * chunks are sent here, to the session URI, which needs no credentials. The client library's own chunked upload
 * keeps more of what it sent the longer the upload runs (measured: 89 MiB held for a 384 MiB object in 1 MiB
 * chunks), so it cannot promise a bound; this one holds at most two chunks — one on the wire, kept until the server
 * confirms it, and one filling — whatever the object's size.
 *
 * Protocol (Google's "resumable uploads"): every chunk but the last is a multiple of 256 KiB and says
 * `Content-Range: bytes A-B/*`; the server answers 308 with the range it has. The last request names the total size
 * (`bytes A-B/TOTAL`, or `bytes *\/TOTAL` with no data) and carries the CRC32C of the whole object in X-Goog-Hash:
 * only then does the object exist, so that request is sent by commit(). A failed request is retried with backoff
 * after asking the server how much it has (`bytes *\/*`).
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { CRC32C } from '@google-cloud/storage';
import { CedanaError, ErrorCode, type Logger, type Upload } from '@cedana-ts/sdk';
import { gcsError, type ErrorContext } from './errors';

/** Retries of one request, after the first try. */
export const CHUNK_RETRIES = 3;
/** How long one request may take before it is abandoned (and retried). */
const REQUEST_TIMEOUT_MS = 120_000;

/** What the upload needs to know. */
export interface ResumableSpec {
  /** The session URI, from `createResumableUpload`. */
  uri: string;
  /** Bytes per chunk: a multiple of 256 KiB. */
  chunkSize: number;
  context: ErrorContext;
  logger: Logger;
  /** Removes the object again, when the one the server made does not match what was sent. */
  discard(): Promise<void>;
}

/** Object metadata, as the JSON API returns it on the last request. */
interface ObjectMeta {
  size?: string;
  crc32c?: string;
}

/** A failure worth another try: the network, or the server saying it is busy or broken. */
class Retryable extends Error {}

/** Delay before retry `n` (0-based): 1 s, 2 s, 4 s… plus up to 1 s of jitter, at most 8 s. */
function backoffMs(n: number): number {
  return Math.min(2 ** n * 1000, 8000) + Math.floor(Math.random() * 1000);
}

export class ResumableUpload implements Upload {
  readonly stream: Writable;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the server has confirmed. */
  private offset = 0;
  private size = 0;
  private readonly crc = new CRC32C();
  private sending: Promise<void> = Promise.resolve();
  private failure?: CedanaError;
  private readonly cancel = new AbortController();
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(private readonly spec: ResumableSpec) {
    this.stream = new Writable({
      write: (chunk: Buffer, _enc, cb) => this.accept(chunk).then(() => cb(), cb),
      // The data has ended, not the upload: the last chunk stays here until commit.
      final: (cb) => this.sending.then(() => cb(this.failure), cb),
      destroy: (err, cb) => {
        if (this.state === 'open' && err) this.cancel.abort();
        cb(err);
      },
    });
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Buffers `chunk`; sends a chunk once one is full, after the previous one is confirmed. */
  private async accept(chunk: Buffer): Promise<void> {
    this.throwIfFailed();
    this.crc.update(chunk);
    this.size += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= this.spec.chunkSize) {
      await this.sending;
      this.throwIfFailed();
      const data = this.take(this.spec.chunkSize);
      this.sending = this.put(data).then(
        () => undefined,
        (err: unknown) => {
          this.failure ??= gcsError(err, this.spec.context);
        },
      );
    }
  }

  /** The first `n` pending bytes as one buffer. */
  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = all.length > n ? [Buffer.from(all.subarray(n))] : [];
    this.pendingBytes = all.length - n;
    return all.subarray(0, n);
  }

  /**
   * Sends `data`, which starts at the confirmed offset, until the server has all of it; with `total`, as the last
   * request, which makes the object. Returns the object's metadata then.
   */
  private async put(data: Buffer, total?: number): Promise<ObjectMeta | undefined> {
    let rest = data;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request(rest, total);
      } catch (err) {
        if (!(err instanceof Retryable) || this.cancel.signal.aborted) throw err;
        if (attempt >= CHUNK_RETRIES) {
          const cause = (err.cause ?? err) as { code?: unknown };
          const status = typeof cause.code === 'number' ? ` status: ${cause.code}` : '';
          throw new Error(`Retry limit exceeded -${status} ${err.message}`, { cause });
        }
        this.spec.logger.debug('gcs chunk failed, retrying', { url: this.spec.context.url, attempt: attempt + 1, error: String(err.message) });
        await sleep(backoffMs(attempt), undefined, { signal: this.cancel.signal });
        // The server may have kept part of what was sent: resume from what it has.
        const had = this.offset;
        const have = await this.askOffset().catch(() => had);
        if (have > had) {
          rest = rest.subarray(Math.min(have - had, rest.length));
          this.offset = have;
        }
      }
    }
  }

  /** One PUT of `data` at the confirmed offset. Resolves once the server has all of it. */
  private async request(data: Buffer, total?: number): Promise<ObjectMeta | undefined> {
    const start = this.offset;
    const range = data.length === 0 ? `bytes */${total}` : `bytes ${start}-${start + data.length - 1}/${total ?? '*'}`;
    const headers: Record<string, string> = { 'content-range': range, 'content-type': 'application/octet-stream' };
    if (total !== undefined) headers['x-goog-hash'] = `crc32c=${this.crc.toString()}`;
    const res = await this.fetch({ method: 'PUT', headers, body: data });
    if (res.status === 308) {
      const have = rangeEnd(res.range) + 1;
      this.offset = have;
      if (have < start + data.length) throw new Retryable(`the server kept ${have - start} of ${data.length} bytes`);
      if (total !== undefined) throw new CedanaError(ErrorCode.Internal, `${this.spec.context.url}: the server did not finish the upload`);
      return undefined;
    }
    const text = res.text;
    if (res.status >= 200 && res.status < 300) {
      if (total === undefined) throw new CedanaError(ErrorCode.Internal, `${this.spec.context.url}: the server finished the upload before its end`);
      this.offset = total;
      return JSON.parse(text || '{}') as ObjectMeta;
    }
    const err = Object.assign(new Error(text.split('\n')[0].slice(0, 200) || `HTTP ${res.status}`), { code: res.status });
    if (res.status === 408 || res.status === 429 || res.status >= 500) throw new Retryable(err.message, { cause: err });
    throw err;
  }

  /** How many bytes the server has (a status query). */
  private async askOffset(): Promise<number> {
    const res = await this.fetch({ method: 'PUT', headers: { 'content-range': 'bytes */*' }, body: Buffer.alloc(0) });
    if (res.status !== 308) throw new Error(`status query answered ${res.status}`);
    return rangeEnd(res.range) + 1;
  }

  /** One request to the session URI; a network failure is retryable. */
  private async fetch(init: { method: string; headers: Record<string, string>; body: Buffer }): Promise<SessionResponse> {
    try {
      return await send(this.spec.uri, init, AbortSignal.any([this.cancel.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]));
    } catch (err) {
      if (this.cancel.signal.aborted) throw err;
      throw new Retryable(String((err as Error).message), { cause: err });
    }
  }

  async commit(): Promise<{ size: number }> {
    if (this.state !== 'open') throw new CedanaError(ErrorCode.Internal, `upload of ${this.spec.context.url} was ${this.state} already`);
    this.throwIfFailed();
    if (!this.stream.writableFinished) throw new CedanaError(ErrorCode.Internal, `upload of ${this.spec.context.url} committed before its stream finished`);
    await this.sending;
    this.throwIfFailed();
    let meta: ObjectMeta | undefined;
    try {
      meta = await this.put(this.take(this.pendingBytes), this.size);
    } catch (err) {
      throw gcsError(err, { ...this.spec.context, op: 'finishing the upload of' });
    }
    if (Number(meta?.size) !== this.size || (meta?.crc32c !== undefined && meta.crc32c !== this.crc.toString())) {
      await this.spec.discard().catch(() => undefined);
      throw new CedanaError(ErrorCode.CorruptCheckpoint, `${this.spec.context.url}: the stored object does not match what was sent (size or CRC32C) and was deleted`, {
        hint: 'try again; check the network path to the server',
      });
    }
    this.state = 'committed';
    return { size: this.size };
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.cancel.abort();
    this.stream.destroy();
    await this.sending;
    this.pending = [];
    // Cancelling the session (DELETE on its URI) frees what the server kept; an unfinalized session never becomes
    // an object, and GCS drops it after a week anyway.
    try {
      await send(this.spec.uri, { method: 'DELETE', headers: {}, body: Buffer.alloc(0) }, AbortSignal.timeout(10_000));
    } catch (err) {
      const e = gcsError(err, { ...this.spec.context, op: 'cancelling the upload of' });
      this.spec.logger.warn(`could not cancel the resumable upload: ${e.message}`, { url: this.spec.context.url });
    }
  }
}

/** What the session URI answered. */
interface SessionResponse {
  status: number;
  /** The Range header of a 308. */
  range?: string;
  text: string;
}

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * One HTTP request with node:http. (fetch() copies a Buffer body before sending it: one more chunk in memory.)
 */
function send(uri: string, init: { method: string; headers: Record<string, string>; body: Buffer }, signal: AbortSignal): Promise<SessionResponse> {
  const url = new URL(uri);
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      url,
      { method: init.method, headers: { ...init.headers, 'content-length': String(init.body.length) }, agent: secure ? agents.https : agents.http, signal },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const range = res.headers.range;
          resolve({ status: res.statusCode ?? 0, range: typeof range === 'string' ? range : undefined, text: Buffer.concat(parts).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The last byte index of a `Range: bytes=0-N` header, or -1 when there is none (the server has nothing). */
function rangeEnd(header: string | undefined): number {
  const m = /bytes=\d+-(\d+)/.exec(header ?? '');
  return m ? Number(m[1]) : -1;
}
