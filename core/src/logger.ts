/**
 * The daemon's logger: one line per event on stderr, filtered by level, with secret-looking fields masked.
 */
import type { Logger } from '@cedana-ts/sdk';

const order = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof order)[number];

const SECRET_KEY = /secret|password|token|credential|private_key|access_key/i;

/** Copies `value`, masking values whose key looks like a secret, in nested objects and arrays too. */
function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue);
  if (value && typeof value === 'object') return redact(value as Record<string, unknown>);
  // The password of a URL (db.url: postgres://user:password@host/db).
  if (typeof value === 'string') return value.replace(/(\/\/[^:/@\s]*):[^@/\s]*@/g, '$1:***@');
  return value;
}

/** Copies `fields`, masking values whose key looks like a secret. */
export function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_KEY.test(k) ? '***' : redactValue(v);
  return out;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = order.indexOf(level);
  const emit = (lvl: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (order.indexOf(lvl) < min) return;
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(redact(fields))}` : '';
    write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
