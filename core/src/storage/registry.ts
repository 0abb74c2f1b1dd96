/**
 * Picks the storage that serves a URL, by scheme. The core knows only the local one by name; the rest come from
 * storage plugins.
 */
import { CedanaError, ErrorCode, type Storage } from '@cedana-ts/sdk';
import { LocalStorage } from './local';

/** The scheme of a URL (`s3://b/k` → `s3`), or `file` for plain paths. */
export function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m ? m[1].toLowerCase() : 'file';
}

export class StorageRegistry {
  private readonly byScheme = new Map<string, Storage>();

  constructor() {
    this.add(new LocalStorage());
  }

  add(storage: Storage): void {
    for (const scheme of storage.schemes) this.byScheme.set(scheme, storage);
  }

  /** The storage for `url`, or UNSUPPORTED naming the schemes that are served. */
  for(url: string): Storage {
    const scheme = schemeOf(url);
    const storage = this.byScheme.get(scheme);
    if (!storage) {
      throw new CedanaError(ErrorCode.Unsupported, `no storage plugin serves '${scheme}://' URLs`, {
        hint: `served here: ${[...this.byScheme.keys()].join(', ')}`,
      });
    }
    return storage;
  }

  schemes(): string[] {
    return [...this.byScheme.keys()];
  }
}
