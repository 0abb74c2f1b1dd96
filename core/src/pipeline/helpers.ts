/**
 * Small steps shared by the pipelines: finding a job, parsing runtime options, writing a pid file.
 */
import { writeFile } from 'node:fs/promises';
import { CedanaError, ErrorCode, type Runtime } from '@cedana-ts/sdk';
import type { JobRow } from '../db/tables';
import type { Services } from './services';
import { validate } from './validate';

/** The job `jid`, or NOT_FOUND. Needs the daemon's database. */
export async function requireJob(s: Services, jid: string): Promise<JobRow> {
  const store = requireStore(s);
  const job = await store.getJob(jid);
  if (!job) throw new CedanaError(ErrorCode.NotFound, `job ${jid} not found`, { hint: 'see `cedana ps` for the jobs there are' });
  return job;
}

export function requireIo(s: Services) {
  if (!s.io) throw new CedanaError(ErrorCode.FailedPrecondition, 'attaching needs the daemon', { hint: 'start it with `cedana daemon start`, or drop --no-server' });
  return s.io;
}

export function requireStore(s: Services) {
  if (!s.store) throw new CedanaError(ErrorCode.FailedPrecondition, 'jobs need the daemon', { hint: 'start it with `cedana daemon start`, or drop --no-server' });
  return s.store;
}

/** Runtime options validated by the runtime's own schema. */
export function runtimeOptions(runtime: Runtime, options: Record<string, unknown>): Record<string, unknown> {
  try {
    return validate(runtime.optionsSchema, options, `${runtime.type} runtime`);
  } catch (err) {
    if (!(err instanceof CedanaError)) throw err;
    throw new CedanaError(err.code, err.message, { hint: 'a command with its own flags goes after --: cedana run process -- CMD ARGS' });
  }
}

export async function writePidFile(path: string | undefined, pid: number): Promise<void> {
  if (!path) return;
  await writeFile(path, `${pid}\n`).catch((err: Error) => {
    throw new CedanaError(ErrorCode.InvalidArgument, `cannot write --pid-file ${path}: ${err.message}`);
  });
}

export function parseJsonObject(text: string | undefined, what: string): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new CedanaError(ErrorCode.InvalidArgument, `${what} is not a JSON object`);
}
