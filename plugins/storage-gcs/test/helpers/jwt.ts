/**
 * Checks the bearer tokens the test server receives: JWTs signed (RS256) with the private key of a service account
 * the server trusts, unexpired, with a Cloud Storage scope — what a service-account key file yields when the client
 * signs its own tokens.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** A service account the server trusts: its email, key id and public key. */
export interface TrustedAccount {
  email: string;
  keyId: string;
  publicKey: KeyObject;
}

/** Reads a service-account key file's identity and derives its public key. */
export function trustKeyFile(json: string): TrustedAccount {
  const key = JSON.parse(json) as { client_email: string; private_key_id: string; private_key: string };
  return { email: key.client_email, keyId: key.private_key_id, publicKey: createPublicKey(key.private_key) };
}

const SCOPES = ['https://www.googleapis.com/auth/devstorage.read_write', 'https://www.googleapis.com/auth/devstorage.full_control', 'https://www.googleapis.com/auth/cloud-platform'];

/** `ok`, `unauthenticated` (no, bad or unknown token: 401) or `forbidden` (no storage scope: 403). */
export function checkBearer(header: string | undefined, trusted: Map<string, TrustedAccount>): 'ok' | 'unauthenticated' | 'forbidden' {
  const token = /^Bearer (.+)$/.exec(header ?? '')?.[1];
  const parts = token?.split('.');
  if (!parts || parts.length !== 3) return 'unauthenticated';
  let head: { alg?: string; kid?: string };
  let claims: { iss?: string; exp?: number; scope?: string; aud?: string };
  try {
    head = JSON.parse(Buffer.from(parts[0], 'base64url').toString()) as typeof head;
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString()) as typeof claims;
  } catch {
    return 'unauthenticated';
  }
  const account = trusted.get(claims.iss ?? '');
  if (!account || head.alg !== 'RS256' || (head.kid && head.kid !== account.keyId)) return 'unauthenticated';
  if (!verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), account.publicKey, Buffer.from(parts[2], 'base64url'))) return 'unauthenticated';
  if (!claims.exp || claims.exp * 1000 < Date.now()) return 'unauthenticated';
  const scopes = (claims.scope ?? '').split(' ');
  return scopes.some((s) => SCOPES.includes(s)) || claims.aud === 'https://storage.googleapis.com/' ? 'ok' : 'forbidden';
}
