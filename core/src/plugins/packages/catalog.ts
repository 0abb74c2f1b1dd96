/**
 * `cedana plugin list`: every plugin installed, built in, in the store or in the registry, with its status —
 * available, installed, outdated (a newer version that this SDK can load exists) or error.
 */
import semver from 'semver';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { installedPlugins, type InstalledPlugin } from './installed';
import type { PluginDirs } from './install';
import { aliasesOf, type PackageSources, type PackageVersion } from './source';

/** The keyword a plugin package carries so that registry search finds it. */
export const PLUGIN_KEYWORD = 'cedana-plugin';

export type CatalogStatus = 'available' | 'installed' | 'outdated' | 'error';

/** One line of `cedana plugin list`. */
export interface CatalogRow {
  name: string;
  type: string;
  id: string;
  /** The installed version, or the one that would be installed. */
  version: string;
  /** The newest loadable version in the store or registry, when newer than the installed one. */
  latest?: string;
  status: CatalogStatus;
  reason?: string;
  /** Bytes: on disk when installed, unpacked otherwise (0 when unknown). */
  size: number;
  published?: string;
  source: 'builtin' | 'installed' | 'store' | 'registry';
}

/** What the running daemon says about a loaded plugin, by package name. */
export type LoadOutcomes = Map<string, { status: string; reason: string }>;

export interface CatalogOptions {
  sdkVersion: string;
  loaded?: LoadOutcomes;
  /** `name` or `name@range`: only that plugin (and, with a range, the version matching it). */
  filter?: string;
}

function loadable(v: PackageVersion, sdkVersion: string): boolean {
  const sdk = v.cedana?.sdk;
  return typeof sdk === 'string' && semver.validRange(sdk) !== null && semver.satisfies(sdkVersion, sdk);
}

function installedRow(p: InstalledPlugin, available: PackageVersion[], opts: CatalogOptions): CatalogRow {
  const m = p.manifest;
  const version = m?.version ?? p.record?.version ?? '';
  const outcome = opts.loaded?.get(p.name);
  let status: CatalogStatus = 'installed';
  let reason = p.error;
  if (!m) status = 'error';
  else if (!semver.satisfies(opts.sdkVersion, m.sdk)) [status, reason] = ['error', `needs SDK ${m.sdk}, but this cedana has SDK ${opts.sdkVersion}`];
  else if (outcome?.status === 'error') [status, reason] = ['error', outcome.reason];
  const newest = semver.maxSatisfying(available.filter((v) => loadable(v, opts.sdkVersion)).map((v) => v.version), '*');
  const latest = newest && version && semver.valid(version) && semver.gt(newest, version) ? newest : undefined;
  if (status === 'installed' && latest) status = 'outdated';
  return {
    name: p.name,
    type: m?.type ?? '',
    id: m?.id ?? '',
    version,
    latest,
    status,
    reason,
    size: p.diskSize,
    published: p.record?.published ?? available.find((v) => v.version === version)?.published,
    source: p.source,
  };
}

function availableRow(v: PackageVersion): CatalogRow {
  return {
    name: v.name,
    type: String(v.cedana?.type ?? ''),
    id: String(v.cedana?.id ?? ''),
    version: v.version,
    status: 'available',
    size: v.size ?? 0,
    published: v.published,
    source: v.from === 'registry' ? 'registry' : 'store',
  };
}

/**
 * The rows of `cedana plugin list`, sorted by name, and notes on what could not be asked (a registry that did not
 * answer: the list is then made from what is installed and in the store).
 */
export async function catalog(dirs: PluginDirs, sources: PackageSources, opts: CatalogOptions): Promise<{ rows: CatalogRow[]; notes: string[] }> {
  const notes: string[] = [];
  const at = opts.filter ? opts.filter.indexOf('@', 1) : -1;
  const wantName = opts.filter ? (at > 0 ? opts.filter.slice(0, at) : opts.filter) : undefined;
  const wantRange = at > 0 ? opts.filter!.slice(at + 1) : undefined;

  const { installed, builtin } = await installedPlugins(dirs.libDir, dirs.builtins);
  const present = [...installed, ...builtin];
  const names = new Set(present.map((p) => p.name));
  for (const e of (await sources.store?.entries()) ?? []) if (e.cedana) names.add(e.name);
  if (sources.registry) {
    try {
      for (const n of await sources.registry.search(PLUGIN_KEYWORD)) names.add(n);
    } catch (err) {
      notes.push((err as Error).message);
    }
  }
  const ofName = async (name: string): Promise<PackageVersion[]> => {
    const list = await sources.fromStore(name);
    if (!sources.registry || notes.length > 0) return list;
    try {
      return [...list, ...(await sources.fromRegistry(name))];
    } catch (err) {
      notes.push((err as Error).message);
      return list;
    }
  };

  const rows: CatalogRow[] = [];
  for (const name of [...names].sort()) {
    const mine = present.find((p) => p.name === name);
    const available = (await ofName(name)).filter((v) => v.cedana);
    const id = mine?.manifest?.id ?? String(available[0]?.cedana?.id ?? '');
    if (wantName && !(wantName === name || wantName === id || aliasesOf(wantName).includes(name))) continue;
    if (wantRange) {
      if (mine?.manifest && semver.satisfies(mine.manifest.version, wantRange)) rows.push(installedRow(mine, available, opts));
      else {
        const best = semver.maxSatisfying(available.map((v) => v.version), wantRange);
        if (best) rows.push(availableRow(available.find((v) => v.version === best)!));
      }
      continue;
    }
    if (mine) rows.push(installedRow(mine, available, opts));
    else {
      const newest = semver.maxSatisfying(available.filter((v) => loadable(v, opts.sdkVersion)).map((v) => v.version), '*') ??
        semver.maxSatisfying(available.map((v) => v.version), '*');
      if (newest) rows.push(availableRow(available.find((v) => v.version === newest)!));
    }
  }
  if (wantName && rows.length === 0) {
    throw new CedanaError(ErrorCode.NotFound, `no plugin matches '${opts.filter}'`, { hint: 'see `cedana plugin list` for the plugins there are' });
  }
  return { rows, notes: [...new Set(notes)] };
}
