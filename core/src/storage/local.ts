/**
 * The built-in local-disk storage: plain paths and `file://` URLs. Objects are written under a temporary name
 * and renamed into place on commit, so a half-written archive never appears under its real name.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { partialPrefix } from '../daemon/scratch-cleaner';
import { CedanaError, ErrorCode, type Storage, type StoredObject, type Upload } from '@cedana-ts/sdk';

/** The filesystem path of a plain path or `file://` URL. */
export function localPath(url: string): string {
  return url.startsWith('file://') ? fileURLToPath(url) : url;
}

/** The error for a checkpoint directory that cannot be written into. */
export function notWritable(dir: string, err: NodeJS.ErrnoException): CedanaError {
  return new CedanaError(ErrorCode.FailedPrecondition, `cannot write a checkpoint into ${dir} (${err.code ?? err.message})`, { hint: 'choose a writable --dir', cause: err });
}

export class LocalStorage implements Storage {
  readonly schemes = ['file'] as const;

  async create(url: string): Promise<Upload> {
    const path = localPath(url);
    const dir = dirname(path);
    const dirStat = await stat(dir).catch(() => null);
    if (!dirStat) throw new CedanaError(ErrorCode.NotFound, `directory ${dir} does not exist`, { hint: 'create it or choose another --dir' });
    if (!dirStat.isDirectory()) throw new CedanaError(ErrorCode.InvalidArgument, `${dir} is not a directory`, { hint: 'choose a directory for --dir' });
    if (await stat(path).catch(() => null)) throw new CedanaError(ErrorCode.AlreadyExists, `${path} exists already`, { hint: 'choose another --name' });
    const partial = join(dir, `${partialPrefix(basename(path))}${Date.now()}`);
    // Opened here, not by the stream: a destination that cannot be written (read-only, /proc) fails this call,
    // before anything is frozen, instead of an 'error' event on a stream nobody listens to yet.
    const fh = await open(partial, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
      throw notWritable(dir, err);
    });
    const stream = createWriteStream('', { fd: fh, autoClose: true });
    // Errors reach whoever pipes into the stream; this keeps one that comes with nobody piping from killing the daemon.
    stream.on('error', () => undefined);
    let settled = false;
    return {
      stream,
      async commit() {
        if (!stream.writableFinished) await finished(stream);
        await rename(partial, path);
        settled = true;
        return { size: (await stat(path)).size };
      },
      async abort() {
        if (settled) return;
        settled = true;
        stream.destroy();
        await rm(partial, { force: true });
      },
    };
  }

  async open(url: string): Promise<Readable> {
    const path = localPath(url);
    const st = await stat(path).catch(() => null);
    if (!st) throw new CedanaError(ErrorCode.NotFound, `checkpoint ${path} does not exist`);
    if (!st.isFile()) throw new CedanaError(ErrorCode.CorruptCheckpoint, `${path} is not a checkpoint file`);
    // 1 MiB reads instead of Node's 64 KiB: the decompressors then go through far fewer chunks (lz4 ≈ 25 % faster).
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async stat(url: string): Promise<StoredObject | null> {
    const path = localPath(url);
    const st = await stat(path).catch(() => null);
    return st ? { url, size: st.size, modified: st.mtime } : null;
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const path = localPath(prefix);
    const dir = prefix.endsWith('/') ? path : dirname(path);
    const start = prefix.endsWith('/') ? '' : basename(path);
    const names = await readdir(dir).catch(() => [] as string[]);
    const out: StoredObject[] = [];
    for (const name of names.filter((n) => n.startsWith(start) && !n.startsWith('.'))) {
      const st = await stat(join(dir, name));
      out.push({ url: join(dir, name), size: st.size, modified: st.mtime });
    }
    return out;
  }

  async delete(url: string): Promise<void> {
    await rm(localPath(url), { recursive: true, force: true });
  }
}
