/**
 * TLS for the tcp protocol: the daemon serves only clients holding a certificate signed by the configured CA,
 * and the CLI trusts only a daemon whose certificate that CA signed. Without it tcp would hand root to anyone
 * who can reach the port, so tcp without TLS is refused on both sides.
 */
import { readFileSync, statSync } from 'node:fs';
import { credentials, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import type { Config } from '../config/schema';

interface TlsFiles {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function readPem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CedanaError(ErrorCode.InvalidArgument, `cannot read ${field} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: `fix ${field} in the config`,
    });
  }
}

/** The three PEM files; INVALID_ARGUMENT when one is not configured, or the key is readable by others. */
function tlsFiles(cfg: Pick<Config, 'tls'>, side: 'daemon' | 'client'): TlsFiles {
  const missing = (['ca', 'cert', 'key'] as const).filter((k) => !cfg.tls[k]);
  if (missing.length > 0) {
    const what = side === 'daemon' ? 'the daemon refuses to serve tcp without TLS client authentication' : 'tcp needs TLS';
    throw new CedanaError(ErrorCode.InvalidArgument, `${what}: ${missing.map((k) => `tls.${k}`).join(', ')} not set`, {
      hint: 'set tls.ca, tls.cert and tls.key (see docs/security.md), or use the unix socket',
    });
  }
  const keyMode = statSync(cfg.tls.key, { throwIfNoEntry: false })?.mode;
  if (keyMode !== undefined && (keyMode & 0o077) !== 0) {
    throw new CedanaError(ErrorCode.PermissionDenied, `TLS key ${cfg.tls.key} is readable by other users (mode ${(keyMode & 0o777).toString(8)})`, {
      hint: `chmod 600 ${cfg.tls.key}`,
    });
  }
  return { ca: readPem(cfg.tls.ca, 'tls.ca'), cert: readPem(cfg.tls.cert, 'tls.cert'), key: readPem(cfg.tls.key, 'tls.key') };
}

/** The daemon's credentials: insecure for the root-only unix socket, mutual TLS for tcp. */
export function serverCredentials(cfg: Pick<Config, 'tls' | 'protocol'>): ServerCredentials {
  if (cfg.protocol === 'unix') return ServerCredentials.createInsecure();
  const f = tlsFiles(cfg, 'daemon');
  try {
    return ServerCredentials.createSsl(f.ca, [{ cert_chain: f.cert, private_key: f.key }], true);
  } catch (err) {
    throw new CedanaError(ErrorCode.InvalidArgument, `bad TLS files (tls.ca, tls.cert, tls.key): ${(err as Error).message}`, { hint: 'give PEM certificates and key' });
  }
}

/** The CLI's credentials for the same. */
export function clientCredentials(cfg: Pick<Config, 'tls' | 'protocol'>): ChannelCredentials {
  if (cfg.protocol === 'unix') return credentials.createInsecure();
  const f = tlsFiles(cfg, 'client');
  try {
    return credentials.createSsl(f.ca, f.key, f.cert);
  } catch (err) {
    throw new CedanaError(ErrorCode.InvalidArgument, `bad TLS files (tls.ca, tls.cert, tls.key): ${(err as Error).message}`, { hint: 'give PEM certificates and key' });
  }
}
