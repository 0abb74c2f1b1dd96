/**
 * Opening a job's log (`run --log F`) the way every runtime should: for appending, created 0600, without ever
 * blocking — a FIFO or a device named as the log would otherwise hang whoever opens it (the daemon) — and only
 * when it is a regular file.
 */
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { CedanaError, ErrorCode } from './errors';

/** An open log: its descriptor, to hand to the job, and how to close it. */
export interface OpenLog {
  fd: number;
  close(): Promise<void>;
}

function notRegular(path: string): CedanaError {
  return new CedanaError(ErrorCode.InvalidArgument, `log ${path} is not a regular file`, { hint: 'choose a file path for --log' });
}

/** Opens `path` for appending; INVALID_ARGUMENT when it is not (or cannot be) a regular file. */
export async function openLogFile(path: string): Promise<OpenLog> {
  const before = await stat(path).catch(() => null);
  if (before && !before.isFile()) throw notRegular(path);
  let handle;
  try {
    // O_NONBLOCK: something swapped in after the check (a FIFO) fails or opens at once instead of blocking.
    handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENXIO') throw notRegular(path);
    throw new CedanaError(ErrorCode.InvalidArgument, `cannot open log ${path}: ${code ?? (err as Error).message}`, { hint: 'choose another --log' });
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw notRegular(path);
  }
  return { fd: handle.fd, close: () => handle.close() };
}
