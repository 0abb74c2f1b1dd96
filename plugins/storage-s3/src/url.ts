/**
 * s3:// URLs: `s3://BUCKET/KEY` for an object, `s3://BUCKET/PREFIX` for a listing.
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** A bucket and a key (or key prefix) inside it. */
export interface S3Location {
  bucket: string;
  key: string;
}

// S3's rules for new bucket names, plus the dots and capitals older buckets may have.
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;

/** Splits `s3://bucket/key`; `needKey` refuses a URL that names no object. */
export function parseS3Url(url: string, needKey: boolean): S3Location {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(url);
  if (!m || !BUCKET.test(m[1])) {
    throw new CedanaError(ErrorCode.InvalidArgument, `'${url}' is not an s3:// URL with a bucket name`, { hint: 'write s3://BUCKET/PREFIX' });
  }
  if (needKey && (m[2] === '' || m[2].endsWith('/'))) {
    throw new CedanaError(ErrorCode.InvalidArgument, `'${url}' names a bucket or folder, not an object`, { hint: 'write s3://BUCKET/PATH/NAME.tar.lz4' });
  }
  return { bucket: m[1], key: m[2] };
}

/** The URL of `key` in `bucket`. */
export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
