/**
 * `--criu-opts '<json>'` of dump and restore: CRIU's own option names (as in its RPC options, snake_case), whose
 * values override the matching individual flags. Unknown names and wrong types are refused.
 */
import type { z } from 'zod';
import { lazy } from './lazy';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';

/** The schema of `--criu-opts`, built the first time a command takes it (zod is slow to load). */
const criuOptsJson = lazy(() => {
  const { z } = require('zod') as typeof import('zod');
  return z.strictObject({
    leave_running: z.boolean().optional(),
    tcp_established: z.boolean().optional(),
    file_locks: z.boolean().optional(),
    shell_job: z.boolean().optional(),
    tcp_skip_in_flight: z.boolean().optional(),
    link_remap: z.boolean().optional(),
    tcp_close: z.boolean().optional(),
    leave_stopped: z.boolean().optional(),
    external: z.array(z.string().min(1)).optional(),
  });
});
type CriuOptsJson = ReturnType<typeof criuOptsJson>;

/** The request fields each CRIU name sets. */
const fieldOf: Record<keyof z.infer<CriuOptsJson>, string> = {
  leave_running: 'leaveRunning',
  tcp_established: 'tcpEstablished',
  file_locks: 'fileLocks',
  shell_job: 'shellJob',
  tcp_skip_in_flight: 'skipInFlight',
  link_remap: 'linkRemap',
  tcp_close: 'tcpClose',
  leave_stopped: 'leaveStopped',
  external: 'external',
};

/** The request fields that `--criu-opts` sets; `allowed` are those that mean something for this operation. */
export function criuOptsOverrides(json: string | undefined, allowed: readonly string[]): Record<string, unknown> {
  if (json === undefined) return {};
  const bad = (why: string) => new CedanaError(ErrorCode.InvalidArgument, `--criu-opts: ${why}`, { hint: `give a JSON object of: ${names(allowed).join(', ')}` });
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = criuOptsJson().safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw bad(issue.code === 'unrecognized_keys' ? `unknown option ${issue.keys.join(', ')}` : `${issue.path.join('.') || 'value'}: ${issue.message}`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed.data)) {
    const field = fieldOf[name as keyof typeof fieldOf];
    if (!allowed.includes(field)) throw bad(`${name} does not apply to this operation`);
    out[field] = value;
  }
  return out;
}

function names(allowed: readonly string[]): string[] {
  return Object.entries(fieldOf).filter(([, f]) => allowed.includes(f)).map(([n]) => n);
}
