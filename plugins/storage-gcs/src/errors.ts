/**
 * Turns what @google-cloud/storage, gaxios and google-auth-library throw into CedanaErrors with one-line
 * messages, built from statuses and error codes: the server's text is quoted only when nothing else is known,
 * cut to one line, and never the request (whose headers carry the credentials).
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** What was being done when an error happened, for the message. */
export interface ErrorContext {
  /** `uploading`, `downloading`, `listing`, … */
  op: string;
  url: string;
  bucket: string;
  /** A custom endpoint, or undefined for Google's. */
  endpoint?: string;
  /** What a 404 means here: the bucket is missing, or the object. */
  notFound: 'bucket' | 'object';
}

const NETWORK = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|ECONNABORTED|UND_ERR_SOCKET)\b|socket hang up|other side closed/;

interface GoogleLike {
  code?: unknown;
  status?: unknown;
  message?: unknown;
  response?: { status?: unknown };
  errors?: { reason?: unknown }[];
  cause?: unknown;
}

/** Messages of `err` and its causes, one per line, for pattern matching only. */
function messages(err: unknown, depth = 0): string {
  if (!err || typeof err !== 'object' || depth > 4) return '';
  const e = err as GoogleLike;
  return `${typeof e.code === 'string' ? e.code : ''} ${String(e.message ?? '')}\n${messages(e.cause, depth + 1)}`;
}

/** The HTTP status behind `err`, when there is one. */
function httpStatus(err: GoogleLike): number | undefined {
  for (const v of [err.code, err.status, err.response?.status]) {
    const n = typeof v === 'string' && /^\d{3}$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && n >= 100 && n < 600) return n;
  }
  const m = /status: (\d{3})\b/.exec(String(err.message ?? ''));
  return m ? Number(m[1]) : undefined;
}

function where(c: ErrorContext): string {
  return c.endpoint ? c.endpoint.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1***@') : 'Google Cloud Storage';
}

/** The CedanaError for a GCS failure during `c.op` on `c.url`. CedanaErrors pass through. */
export function gcsError(err: unknown, c: ErrorContext): CedanaError {
  if (err instanceof CedanaError) return err;
  const e = (err && typeof err === 'object' ? err : { message: String(err) }) as GoogleLike;
  const text = messages(e);
  const status = httpStatus(e);
  const retried = /Retry (limit|total time limit) exceeded/.test(text) ? ', after retries' : '';
  const opts = (hint: string) => ({ hint, cause: err });
  const reason = e.errors?.find((x) => typeof x.reason === 'string')?.reason as string | undefined;
  const net = NETWORK.exec(text);
  if (net && status === undefined) {
    return new CedanaError(ErrorCode.Unavailable, `${c.op} ${c.url}: cannot reach ${where(c)} (${net[1] ?? 'connection closed'}${retried})`, opts('check gcs.endpoint (or STORAGE_EMULATOR_HOST) and that the server is up'));
  }
  if (/Could not load the default credentials|Unable to detect a Project Id/i.test(text)) {
    return new CedanaError(ErrorCode.PermissionDenied, `${c.op} ${c.url}: no Google credentials found`, opts('set gcs.credentials_file or GOOGLE_APPLICATION_CREDENTIALS to a service-account key file'));
  }
  if (e.code === 'FILE_NO_UPLOAD' || /checksum mismatch|UPLOAD_MISMATCH/i.test(text)) {
    return new CedanaError(ErrorCode.CorruptCheckpoint, `${c.op} ${c.url}: the stored object failed its CRC32C check and was dropped`, opts('try again; check the network path to the server'));
  }
  switch (status) {
    case 401:
      return new CedanaError(ErrorCode.PermissionDenied, `${c.op} ${c.url}: ${where(c)} refused the credentials (HTTP 401${reason ? `, ${reason}` : ''})`, opts('check gcs.credentials_file or GOOGLE_APPLICATION_CREDENTIALS'));
    case 403:
      return new CedanaError(ErrorCode.PermissionDenied, `${c.op} ${c.url}: access denied (HTTP 403${reason ? `, ${reason}` : ''})`, opts('grant the service account access to the bucket (roles/storage.objectAdmin)'));
    case 404:
      return c.notFound === 'bucket'
        ? new CedanaError(ErrorCode.NotFound, `${c.op} ${c.url}: bucket '${c.bucket}' does not exist at ${where(c)}`, opts('create the bucket, or fix the URL or gcs.endpoint'))
        : new CedanaError(ErrorCode.NotFound, `${c.url} does not exist`, opts('see `cedana job checkpoints` for the checkpoints there are'));
    case 409:
    case 412:
      return new CedanaError(ErrorCode.AlreadyExists, `${c.url} exists already`, opts('choose another --name'));
  }
  if (status !== undefined && (status === 408 || status === 429 || status >= 500)) {
    return new CedanaError(ErrorCode.Unavailable, `${c.op} ${c.url}: ${where(c)} failed (HTTP ${status}${retried})`, opts('try again later'));
  }
  const detail = String(e.message ?? err).split('\n')[0].slice(0, 200);
  return new CedanaError(ErrorCode.Internal, `${c.op} ${c.url}: GCS request failed (${status ? `HTTP ${status}: ` : ''}${detail})`, opts('see the daemon log'));
}
