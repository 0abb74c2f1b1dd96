/**
 * Checks AWS Signature Version 4 on a request to the test server. s3rver checks only that the access key id is
 * known; this completes it, so that a wrong secret is refused as S3 refuses it (SignatureDoesNotMatch). Only the
 * header form (`Authorization: AWS4-HMAC-SHA256 …`) is checked, which is what the AWS SDK sends; the payload is
 * taken as the x-amz-content-sha256 header says, as S3 does for the signature itself.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The canonical query string: each pair decoded, RFC 3986-encoded again, sorted. */
function canonicalQuery(raw: string): string {
  if (!raw) return '';
  return raw
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const i = pair.indexOf('=');
      const [k, v] = i < 0 ? [pair, ''] : [pair.slice(0, i), pair.slice(i + 1)];
      return [encode(decodeURIComponent(k.replace(/\+/g, ' '))), encode(decodeURIComponent(v.replace(/\+/g, ' ')))];
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/**
 * `ok` when the request carries no SigV4 header (left to s3rver) or a signature made with the secret of its key
 * id; `mismatch` when the signature is wrong.
 */
export function checkSigV4(req: IncomingMessage, secretOf: (keyId: string) => string | undefined): 'ok' | 'mismatch' {
  const auth = req.headers.authorization;
  if (!auth?.startsWith('AWS4-HMAC-SHA256 ')) return 'ok';
  const fields = Object.fromEntries(
    auth
      .slice('AWS4-HMAC-SHA256 '.length)
      .split(',')
      .map((f) => f.trim().split('=') as [string, string]),
  );
  const [keyId, date, region, service] = (fields.Credential ?? '').split('/');
  const secret = secretOf(keyId);
  if (secret === undefined) return 'ok'; // an unknown key id: s3rver answers InvalidAccessKeyId
  const signed = (fields.SignedHeaders ?? '').split(';');
  const [path, query = ''] = (req.url ?? '/').split('?');
  const headers = signed.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, path, canonicalQuery(query), headers, signed.join(';'), String(req.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD')].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', String(req.headers['x-amz-date']), scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex') === fields.Signature ? 'ok' : 'mismatch';
}
