/**
 * The Storage interface: where checkpoint archives are written and read, addressed by URL. The core picks a
 * storage by the URL's scheme and knows no scheme by name.
 */
import type { Readable, Writable } from 'node:stream';

/** An object being written. Nothing is visible under its URL until {@link Upload.commit} resolves. */
export interface Upload {
  /** Write the archive bytes here. */
  readonly stream: Writable;
  /** Makes the object visible under its URL once the stream has finished; returns its size in bytes. */
  commit(): Promise<{ size: number }>;
  /** Drops everything written; the URL is left as it was. Safe to call after a failure, and twice. */
  abort(): Promise<void>;
}

/** One stored object. */
export interface StoredObject {
  url: string;
  size: number;
  modified: Date;
}

/** A storage plugin's main object. */
export interface Storage {
  /** URL schemes served (`s3`, `gcs`). The built-in local storage serves `file` and plain paths. */
  readonly schemes: readonly string[];
  /** Starts writing a new object at `url`. */
  create(url: string): Promise<Upload>;
  /** Reads an object; fails with NOT_FOUND when there is none. */
  open(url: string): Promise<Readable>;
  /** Size and time of an object, or null when there is none. */
  stat(url: string): Promise<StoredObject | null>;
  /** Objects whose URL starts with `prefix`. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Removes an object; no error when it is already gone. */
  delete(url: string): Promise<void>;
}

/** A {@link Storage} made by {@link lazyStorage}: `loaded()` is the implementation once something used it. */
export interface LazyStorage<T extends Storage> extends Storage {
  loaded(): T | undefined;
}

/**
 * A Storage whose implementation is made on first use. A plugin whose client library is large (a cloud SDK)
 * keeps it out of the daemon's memory until a checkpoint goes to or comes from one of its schemes; `load` should
 * `require` that library then, not at the top of the plugin's entry file.
 */
export function lazyStorage<T extends Storage>(schemes: readonly string[], load: () => T): LazyStorage<T> {
  let impl: T | undefined;
  const get = (): T => (impl ??= load());
  return {
    schemes,
    create: (url) => get().create(url),
    open: (url) => get().open(url),
    stat: (url) => get().stat(url),
    list: (prefix) => get().list(prefix),
    delete: (url) => get().delete(url),
    loaded: () => impl,
  };
}
