/**
 * What a failure of the job database means to the user: PostgreSQL's and the network's errors as CedanaErrors
 * with what to do.
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** `url` without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

interface PgLikeError {
  code?: string;
  message?: string;
}

/** True when the error says the connection to the database is gone (or was never made), not that a query was bad. */
export function isConnectionError(err: unknown): boolean {
  const e = err as PgLikeError;
  const code = e?.code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'ENOENT'].includes(code)) return true;
  // 08: connection exception; 57P01-57P03: the server shuts down or is starting.
  if (code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(e?.message ?? '');
}

/** A failed first connection, by its cause. */
export function openFailure(err: unknown, where: string): CedanaError {
  const e = err as PgLikeError;
  const reason = e?.message || String(err);
  if (e?.code === '28P01' || e?.code === '28000') {
    return new CedanaError(ErrorCode.PermissionDenied, `job database ${where} refused the login: ${reason}`, { hint: 'check the user and password in db.url (or CEDANA_DB_URL)' });
  }
  if (e?.code === '3D000') {
    return new CedanaError(ErrorCode.Unavailable, `job database ${where} does not exist: ${reason}`, { hint: 'create it (createdb) or fix the database name in db.url' });
  }
  if (isConnectionError(err)) {
    return new CedanaError(ErrorCode.Unavailable, `cannot reach job database ${where}: ${reason}`, { hint: 'start PostgreSQL there, or fix the host and port in db.url' });
  }
  return new CedanaError(ErrorCode.Unavailable, `cannot use job database ${where}: ${reason}`, { hint: 'check db.url' });
}

/** A failed query: UNAVAILABLE when the database went away, else the error as it was. */
export function queryFailure(err: unknown, where: string): unknown {
  if (err instanceof CedanaError) return err;
  if (!isConnectionError(err)) return err;
  return new CedanaError(ErrorCode.Unavailable, `job database ${where} is unavailable: ${(err as Error).message || String(err)}`, {
    hint: 'running jobs go on; requests that need the database work again once it is back',
  });
}
