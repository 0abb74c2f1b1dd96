/**
 * Where packages come from, in order: the local store, then the registry; and how an install spec
 * (`name`, `name@range`, `./file.tgz`) is read.
 */
import { resolve } from 'node:path';
import semver from 'semver';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { RegistryClient } from './registry';
import type { PluginStore } from './store';

/** One version of a package that could be installed. */
export interface PackageVersion {
  name: string;
  version: string;
  from: 'store' | 'registry' | 'file';
  /** The store directory, registry URL or file path. */
  where: string;
  /** Expected integrity of the tarball; absent for a file the user names. */
  integrity?: string;
  /** Unpacked size in bytes, when the source says. */
  size?: number;
  /** ISO time it was published (registry) or added (store). */
  published?: string;
  /** The `cedana` field of its package.json, when the source says. */
  cedana?: Record<string, unknown>;
  fetch(): Promise<Buffer>;
}

/** What `cedana plugin install` was asked for. */
export type InstallSpec = { kind: 'file'; path: string } | { kind: 'name'; name: string; range: string };

/** Reads `name`, `@scope/name`, `name@1.2.x`, `name@latest`, or a path to a `.tgz`. */
export function parseSpec(spec: string, cwd = process.cwd()): InstallSpec {
  if (/^(\.{1,2}\/|\/)/.test(spec) || /\.(tgz|tar\.gz)$/.test(spec)) return { kind: 'file', path: resolve(cwd, spec) };
  const at = spec.indexOf('@', 1);
  const name = at > 0 ? spec.slice(0, at) : spec;
  const range = at > 0 ? spec.slice(at + 1) : '';
  if (!/^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/.test(name)) {
    throw new CedanaError(ErrorCode.InvalidArgument, `'${spec}' is not a package name`, { hint: 'name a plugin (runc, @scope/name, name@1.2.x) or a .tgz file' });
  }
  if (range && range !== 'latest' && semver.validRange(range) === null) {
    throw new CedanaError(ErrorCode.InvalidArgument, `'${range}' is not a version or range`, { hint: 'use a version (1.2.3), a range (^1.2) or latest' });
  }
  return { kind: 'name', name, range };
}

/** Other names a bare plugin name may stand for: `runc` → `@cedana-ts/plugin-runc`. */
export function aliasesOf(name: string): string[] {
  return name.includes('/') ? [] : [`@cedana-ts/plugin-${name}`];
}

function versionsText(list: PackageVersion[]): string {
  return list.length ? list.map((v) => v.version).sort(semver.compare).join(', ') : 'none';
}

/** The store and the registry, asked in that order. */
export class PackageSources {
  constructor(
    readonly store: PluginStore | null,
    readonly registry: RegistryClient | null,
  ) {}

  /** Every version of `name` in the store. */
  async fromStore(name: string): Promise<PackageVersion[]> {
    return this.store ? this.store.versions(name) : [];
  }

  /** Every version of `name` in the registry (none when no registry is configured). */
  async fromRegistry(name: string): Promise<PackageVersion[]> {
    return this.registry ? this.registry.versions(name) : [];
  }

  /** The store's plugin whose id is `id`, if exactly one has it. */
  private async storeNameOfId(id: string): Promise<string | undefined> {
    if (!this.store) return undefined;
    const names = new Set((await this.store.entries()).filter((e) => e.cedana?.id === id).map((e) => e.name));
    return names.size === 1 ? [...names][0] : undefined;
  }

  /**
   * The version to install for `name@range`: the highest match in the store, else the highest in the registry.
   * A bare name also matches a store plugin with that id, and `@cedana-ts/plugin-<name>`.
   */
  async pick(name: string, range: string, neededBy?: string): Promise<PackageVersion> {
    const want = range === '' || range === 'latest' ? '*' : range;
    const byId = await this.storeNameOfId(name);
    const storeNames = [...new Set([name, ...(byId ? [byId] : []), ...aliasesOf(name)])];
    const seen: { where: string; list: PackageVersion[] }[] = [];
    for (const n of storeNames) {
      const list = await this.fromStore(n);
      if (list.length === 0) continue;
      const best = semver.maxSatisfying(list.map((v) => v.version), want);
      if (best) return list.find((v) => v.version === best)!;
      seen.push({ where: `store has ${n} ${versionsText(list)}`, list });
    }
    if (this.registry) {
      for (const n of [name, ...aliasesOf(name)]) {
        const list = await this.fromRegistry(n);
        if (list.length === 0) continue;
        const tagged = range === 'latest' ? await this.registry.tag(n, 'latest') : undefined;
        const best = tagged ?? semver.maxSatisfying(list.map((v) => v.version), want);
        const hit = list.find((v) => v.version === best);
        if (hit) return hit;
        seen.push({ where: `registry has ${n} ${versionsText(list)}`, list });
      }
    }
    const what = neededBy ? `dependency ${name} of ${neededBy}` : `plugin '${name}'`;
    if (seen.length > 0) {
      throw new CedanaError(ErrorCode.NotFound, `no version of ${what} matches '${range}' (${seen.map((s) => s.where).join('; ')})`, {
        hint: 'name a version that exists, or leave the version out for the newest',
      });
    }
    const where = this.store ? `the store (${this.store.dir})` : 'the store (none configured)';
    const reg = this.registry ? `the registry (${this.registry.url})` : 'a registry (none configured: plugins.registry)';
    throw new CedanaError(ErrorCode.NotFound, `${what} not found in ${where} or ${reg}`, { hint: 'see `cedana plugin list` for the plugins there are' });
  }
}
