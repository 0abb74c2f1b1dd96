/**
 * The local plugin store (config `plugins.store`): a directory of package tarballs and an `index.json` that gives
 * each one's name, version and integrity. The workspace build fills it with every plugin and the dependencies
 * they need, so plugins install from it with no registry reachable.
 */
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { integrityOf, readPackage } from './tarball';
import type { PackageVersion } from './source';

const IndexEntry = z.object({
  name: z.string(),
  version: z.string(),
  /** The tarball's file name, in the store directory. */
  file: z.string(),
  integrity: z.string(),
  /** Bytes of the tarball, and of its files unpacked. */
  size: z.number(),
  unpackedSize: z.number().optional(),
  /** ISO time the tarball was added. */
  published: z.string().optional(),
  /** The `cedana` field, for plugins. */
  cedana: z.record(z.string(), z.unknown()).optional(),
  dependencies: z.record(z.string(), z.string()).default({}),
  optionalDependencies: z.record(z.string(), z.string()).default({}),
});
/** An entry; `unverified` for a tarball found in the directory but not in the index. */
export type StoreEntry = z.infer<typeof IndexEntry> & { unverified?: boolean };

const IndexFile = z.object({ version: z.literal(1), packages: z.array(IndexEntry) });

export const STORE_INDEX = 'index.json';

/** The file name a package's tarball gets in the store: `@scope/name` 1.2.3 → `scope-name-1.2.3.tgz`. */
export function storeFileName(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace(/\//g, '-')}-${version}.tgz`;
}

export class PluginStore {
  private cache?: StoreEntry[];

  constructor(readonly dir: string) {}

  /**
   * The index's entries, plus tarballs dropped in by hand (read once; their integrity is taken as found, so
   * they are `unverified`). A hand-dropped tarball never stands in for a package the index knows: it is offered
   * only for a name the index has no version of.
   */
  async entries(): Promise<StoreEntry[]> {
    if (this.cache) return this.cache;
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const indexed = names.includes(STORE_INDEX) ? await this.readIndex() : [];
    const known = new Set(indexed.map((e) => e.file));
    const indexedNames = new Set(indexed.map((e) => e.name));
    const extra: StoreEntry[] = [];
    for (const file of names.filter((n) => n.endsWith('.tgz') && !known.has(n))) {
      const data = await readFile(join(this.dir, file));
      const p = await readPackage(data, join(this.dir, file)).catch(() => null);
      if (p && !indexedNames.has(String(p.pkg.name))) {
        extra.push({ ...entryFor(p.pkg, file, data, p.unpackedSize, (await stat(join(this.dir, file))).mtime.toISOString()), unverified: true });
      }
    }
    this.cache = [...indexed, ...extra];
    return this.cache;
  }

  private async readIndex(): Promise<StoreEntry[]> {
    const path = join(this.dir, STORE_INDEX);
    try {
      return IndexFile.parse(JSON.parse(await readFile(path, 'utf8'))).packages;
    } catch {
      return []; // an unreadable index: the tarballs are still found one by one
    }
  }

  /** Every version of `name` in the store, as install candidates. */
  async versions(name: string): Promise<PackageVersion[]> {
    return (await this.entries())
      .filter((e) => e.name === name)
      .map((e) => ({
        name: e.name,
        version: e.version,
        from: 'store' as const,
        where: e.unverified ? `${this.dir}, unverified: not in its ${STORE_INDEX}` : this.dir,
        integrity: e.integrity,
        size: e.unpackedSize ?? e.size,
        published: e.published,
        cedana: e.cedana,
        fetch: () => readFile(join(this.dir, e.file)),
      }));
  }

  /** Adds a tarball (replacing the same name and version) and rewrites the index. */
  async add(data: Buffer, published = new Date().toISOString()): Promise<StoreEntry> {
    const p = await readPackage(data, 'tarball');
    const entry = entryFor(p.pkg, storeFileName(String(p.pkg.name), String(p.pkg.version)), data, p.unpackedSize, published);
    await mkdir(this.dir, { recursive: true });
    const current = await this.readIndex();
    const same = current.find((e) => e.name === entry.name && e.version === entry.version);
    if (same?.integrity === entry.integrity) return same; // unchanged: keep its time
    await writeAtomic(join(this.dir, entry.file), data);
    const next = [...current.filter((e) => !(e.name === entry.name && e.version === entry.version)), entry];
    next.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
    await writeAtomic(join(this.dir, STORE_INDEX), Buffer.from(`${JSON.stringify({ version: 1, packages: next }, null, 1)}\n`));
    this.cache = undefined;
    return entry;
  }

  /** True when the index has `name` at `version`. */
  async has(name: string, version: string): Promise<boolean> {
    return (await this.readIndex()).some((e) => e.name === name && e.version === version);
  }
}

function entryFor(pkg: Record<string, unknown>, file: string, data: Buffer, unpackedSize: number, published: string): StoreEntry {
  const deps = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, string>) : {});
  return {
    name: String(pkg.name),
    version: String(pkg.version),
    file,
    integrity: integrityOf(data),
    size: data.length,
    unpackedSize,
    published,
    cedana: pkg.cedana && typeof pkg.cedana === 'object' ? (pkg.cedana as Record<string, unknown>) : undefined,
    dependencies: deps(pkg.dependencies),
    optionalDependencies: deps(pkg.optionalDependencies),
  };
}

async function writeAtomic(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
