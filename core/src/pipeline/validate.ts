/**
 * Request validation: zod errors become one INVALID_ARGUMENT line that names the field.
 */
import type { z } from 'zod';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';

/** Field names as users type them on the command line. */
const flagNames: Record<string, string> = {
  jid: 'JID',
  logPath: '--log',
  pidFile: '--pid-file',
  compression: '--compression',
  name: '--name',
  dir: '--dir',
  path: '--path',
  target: 'target',
  signal: '--signal',
};

/** `leaveRunning` → `--leave-running`: a runtime option's key as the flag users type. */
function flag(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Parses `input` with `schema` or throws INVALID_ARGUMENT naming the first bad field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue.path.map(String).join('.');
  const field = flagNames[key] ?? (key.startsWith('options.') ? flag(key.slice(8)) : key);
  const message = issue.code === 'unrecognized_keys' ? `unknown option ${issue.keys.map(flag).join(', ')}` : issue.message;
  throw new CedanaError(ErrorCode.InvalidArgument, `${what}: ${field ? `${field}: ` : ''}${message}`);
}
