/**
 * Turns what the AWS SDK throws into CedanaErrors with one-line messages. Messages are built from error codes,
 * never from the server's text or the request, so no credential can leak into them; anything quoted is scrubbed.
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** What was being done when an error happened, for the message. */
export interface ErrorContext {
  /** `upload`, `download`, `list`, … */
  op: string;
  url: string;
  bucket: string;
  /** Where requests go, for "cannot reach" messages (AWS when undefined). */
  endpoint?: string;
  region: string;
  secrets: readonly string[];
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

interface AwsLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  cause?: unknown;
}

/** Replaces every secret in `text` by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

/** The network error code (ECONNREFUSED…) of `err` or of one of its causes. */
function networkCode(err: AwsLike | undefined, depth = 0): string | undefined {
  if (!err || depth > 4) return undefined;
  if (err.code && NETWORK_CODES.has(err.code)) return err.code;
  if (err.name === 'TimeoutError') return 'timed out';
  if (/socket hang up/i.test(err.message ?? '')) return 'connection closed';
  return networkCode(err.cause as AwsLike | undefined, depth + 1);
}

function where(c: ErrorContext): string {
  return c.endpoint ? c.endpoint.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1***@') : `AWS S3 (region ${c.region})`;
}

/** The CedanaError for an AWS SDK failure during `c.op` on `c.url`. CedanaErrors pass through. */
export function s3Error(err: unknown, c: ErrorContext): CedanaError {
  if (err instanceof CedanaError) return err;
  const e = (err ?? {}) as AwsLike;
  const name = e.name && e.name !== 'Error' ? e.name : (e.Code ?? 'Error');
  const status = e.$metadata?.httpStatusCode;
  const tries = e.$metadata?.attempts && e.$metadata.attempts > 1 ? ` after ${e.$metadata.attempts} attempts` : '';
  const opts = (hint: string) => ({ hint, cause: err });
  const net = networkCode(e);
  if (net) {
    return new CedanaError(ErrorCode.Unavailable, `${c.op} ${c.url}: cannot reach ${where(c)} (${net}${tries})`, opts('check aws.endpoint and that the server is up'));
  }
  switch (name) {
    case 'NoSuchBucket':
      return new CedanaError(ErrorCode.NotFound, `${c.op} ${c.url}: bucket '${c.bucket}' does not exist at ${where(c)}`, opts('create the bucket, or fix the URL, aws.endpoint or aws.region'));
    case 'NoSuchKey':
    case 'NotFound':
      return new CedanaError(ErrorCode.NotFound, `${c.url} does not exist`, opts('see `cedana job checkpoints` for the checkpoints there are'));
    case 'InvalidAccessKeyId':
      return new CedanaError(ErrorCode.PermissionDenied, `${c.op} ${c.url}: ${where(c)} does not know the access key (InvalidAccessKeyId)`, opts('check aws.access_key_id or AWS_ACCESS_KEY_ID'));
    case 'SignatureDoesNotMatch':
      return new CedanaError(ErrorCode.PermissionDenied, `${c.op} ${c.url}: ${where(c)} refused the request signature (SignatureDoesNotMatch)`, opts('check aws.secret_access_key or AWS_SECRET_ACCESS_KEY'));
    case 'ExpiredToken':
    case 'InvalidToken':
    case 'TokenRefreshRequired':
      return new CedanaError(ErrorCode.PermissionDenied, `${c.op} ${c.url}: the session token was refused (${name})`, opts('renew the temporary credentials (aws.session_token or AWS_SESSION_TOKEN)'));
    case 'AccessDenied':
    case 'AllAccessDisabled':
    case 'Forbidden':
      return new CedanaError(ErrorCode.PermissionDenied, `${c.op} ${c.url}: access denied (${name})`, opts('check the credentials and the bucket policy'));
    case 'CredentialsProviderError':
      return new CedanaError(ErrorCode.PermissionDenied, `${c.op} ${c.url}: no AWS credentials found`, opts('set aws.access_key_id and aws.secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)'));
    case 'AbortError':
      return new CedanaError(ErrorCode.Unavailable, `${c.op} ${c.url}: cancelled`, opts('try again'));
  }
  if (status === 403) return new CedanaError(ErrorCode.PermissionDenied, `${c.op} ${c.url}: access denied (HTTP 403)`, opts('check the credentials and the bucket policy'));
  if (status === 404) return new CedanaError(ErrorCode.NotFound, `${c.url} does not exist`, opts('check the URL'));
  if (status !== undefined && status >= 500) {
    return new CedanaError(ErrorCode.Unavailable, `${c.op} ${c.url}: ${where(c)} failed (${name}, HTTP ${status}${tries})`, opts('try again later'));
  }
  const detail = scrub((e.message ?? String(err)).split('\n')[0], c.secrets).slice(0, 200);
  return new CedanaError(ErrorCode.Internal, `${c.op} ${c.url}: S3 request failed (${name}${status ? `, HTTP ${status}` : ''}: ${detail})`, opts('see the daemon log'));
}
