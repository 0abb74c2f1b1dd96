/**
 * The daemon's state on disk (job database, attach FIFOs) is root's: a local user who could plant or swap a
 * file there could feed a job's stdin, read its output, or steer what root creates and deletes. These checks
 * refuse anything in the state paths that this user does not own, that others may write, or that is a symlink.
 */
import { chmodSync, closeSync, constants, lstatSync, mkdirSync, openSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

const uid = (): number => process.getuid?.() ?? 0;

function refuse(path: string, why: string, hint: string): never {
  throw new CedanaError(ErrorCode.PermissionDenied, `refusing ${path}: ${why}`, { hint });
}

function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

/** Why a directory `st` is unsafe to keep state in, or null. World-writable with the sticky bit is allowed only when `sharedOk`. */
function unsafeDir(st: Stats, sharedOk: boolean): string | null {
  if (st.isSymbolicLink()) return 'it is a symbolic link';
  if (!st.isDirectory()) return 'it is not a directory';
  if (st.uid !== uid() && st.uid !== 0) return `it is owned by uid ${st.uid}`;
  if ((st.mode & 0o022) !== 0 && !(sharedOk && (st.mode & 0o1000) !== 0 && st.uid === 0)) return `others may write to it (mode ${(st.mode & 0o7777).toString(8)})`;
  return null;
}

/**
 * A directory only this user can enter: created 0700 when absent; refused when it is a symlink, not a
 * directory, owned by another user, or writable by others. Existing ones are narrowed to 0700.
 */
export function ensurePrivateDir(path: string): void {
  if (!lstatOrNull(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const why = unsafeDir(lstatSync(path), false);
  if (why) refuse(path, why, 'remove it, or choose a directory owned by root with mode 0700');
  if ((lstatSync(path).mode & 0o077) !== 0) chmodSync(path, 0o700);
}

/**
 * The directory of a state file (the job database): private as above, or a shared sticky directory owned by
 * root such as /tmp, where the files themselves are then created with O_EXCL and checked (see ensurePrivateFile).
 */
export function ensureStateDir(path: string): void {
  const st = lstatOrNull(path);
  if (!st) return ensurePrivateDir(path);
  const why = unsafeDir(st, true);
  if (why) refuse(path, why, 'choose a db.path in a directory owned by root with mode 0700 (the default /var/lib/cedana)');
}

/**
 * A regular file of this user's with mode 0600: created here with O_EXCL|O_NOFOLLOW when absent (so a
 * symlink planted in its place is never followed), refused when it is a symlink, not a regular file, another
 * user's, or hard-linked elsewhere.
 */
export function ensurePrivateFile(path: string): void {
  let st = lstatOrNull(path);
  if (!st) {
    try {
      closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    st = lstatSync(path);
  }
  if (st.isSymbolicLink()) refuse(path, 'it is a symbolic link', 'remove it');
  if (!st.isFile()) refuse(path, 'it is not a regular file', 'remove it, or choose another path');
  if (st.uid !== uid()) refuse(path, `it is owned by uid ${st.uid}`, 'remove it: it was not created by the daemon');
  if (st.nlink > 1) refuse(path, 'it has other hard links', 'remove it');
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o600);
}

/**
 * Checks an existing FIFO (an attach FIFO reopened after a restart): this user's, a FIFO, not a symlink.
 */
export function checkOwnFifo(path: string): void {
  const st = lstatOrNull(path);
  if (!st) return;
  if (!st.isFIFO()) refuse(path, 'it is not a FIFO', 'remove it');
  if (st.uid !== uid()) refuse(path, `it is owned by uid ${st.uid}`, 'remove it: it was not created by the daemon');
}

/** Narrows a tree this process wrote (an image directory: process memory) to files 0600 and directories 0700. */
export async function restrictTree(path: string): Promise<void> {
  const { chmod, lstat, readdir } = await import('node:fs/promises');
  const st = await lstat(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    await chmod(path, 0o700);
    for (const e of await readdir(path)) await restrictTree(`${path}/${e}`);
  } else if ((st.mode & 0o077) !== 0) {
    await chmod(path, st.mode & 0o700);
  }
}
