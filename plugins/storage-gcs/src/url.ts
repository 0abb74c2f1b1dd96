/**
 * gcs:// URLs (gs:// too, as gsutil writes them): `gcs://BUCKET/NAME` for an object, `gcs://BUCKET/PREFIX` for a
 * listing.
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** A bucket and an object name (or name prefix) inside it, and the scheme the URL was written with. */
export interface GcsLocation {
  scheme: 'gcs' | 'gs';
  bucket: string;
  name: string;
}

// Google's bucket naming rules: 3–63 characters (222 with dots), lower case, digits, '-', '_' and '.'.
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

/** Splits `gcs://bucket/name`; `needName` refuses a URL that names no object. */
export function parseGcsUrl(url: string, needName: boolean): GcsLocation {
  const m = /^(gcs|gs):\/\/([^/]*)\/?(.*)$/i.exec(url);
  if (!m || !BUCKET.test(m[2])) {
    throw new CedanaError(ErrorCode.InvalidArgument, `'${url}' is not a gcs:// URL with a bucket name`, { hint: 'write gcs://BUCKET/PREFIX (lower-case bucket)' });
  }
  if (needName && (m[3] === '' || m[3].endsWith('/'))) {
    throw new CedanaError(ErrorCode.InvalidArgument, `'${url}' names a bucket or folder, not an object`, { hint: 'write gcs://BUCKET/PATH/NAME.tar.lz4' });
  }
  return { scheme: m[1].toLowerCase() as 'gcs' | 'gs', bucket: m[2], name: m[3] };
}

/** The URL of `name` in `bucket`, in `scheme`. */
export function gcsUrl(scheme: string, bucket: string, name: string): string {
  return `${scheme}://${bucket}/${name}`;
}
