/**
 * From an install spec to everything an install writes: the plugin's tarball and those of its dependencies, each
 * fetched from the store or the registry and checked against its integrity, and the plugin's manifest validated
 * (SDK range included) before anything is written.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import semver from 'semver';
import { CedanaError, ErrorCode, parseManifest, type PluginManifest } from '@cedana-ts/sdk';
import { readPackage, verifyIntegrity, type UnpackedPackage } from './tarball';
import type { InstallSpec, PackageSources, PackageVersion } from './source';

/** The host provides this package to every plugin; it is never installed with one. */
export const SDK_PACKAGE = '@cedana-ts/sdk';

/** One package of an install, read and checked. */
export interface ResolvedPackage {
  name: string;
  version: string;
  source: PackageVersion;
  content: UnpackedPackage;
  /** Its dependencies: name → `name@version` key of the resolved package. */
  deps: Map<string, string>;
}

/** Everything one plugin's install writes. */
export interface InstallPlan {
  manifest: PluginManifest;
  plugin: ResolvedPackage;
  /** Dependencies, by `name@version`. */
  packages: Map<string, ResolvedPackage>;
}

export const keyOf = (name: string, version: string) => `${name}@${version}`;

async function fetchChecked(v: PackageVersion): Promise<UnpackedPackage> {
  const what = v.from === 'file' ? v.where : `${v.name}@${v.version} from the ${v.from} (${v.where})`;
  const data = await v.fetch();
  if (v.integrity) verifyIntegrity(data, v.integrity, what);
  return readPackage(data, what);
}

/** The plugin's manifest, or PLUGIN_FAILED saying what is wrong with it. */
export function manifestOf(pkg: Record<string, unknown>, what: string, sdkVersion: string): PluginManifest {
  if (!('cedana' in pkg)) {
    throw new CedanaError(ErrorCode.PluginFailed, `${what} is not a cedana plugin: its package.json has no "cedana" field`, { hint: 'see docs/plugins.md' });
  }
  let m: PluginManifest;
  try {
    m = parseManifest(pkg);
  } catch (err) {
    const issue = (err as { issues?: { path: (string | number)[]; message: string }[] }).issues?.[0];
    const why = issue ? `${issue.path.join('.') || 'package.json'}: ${issue.message}` : (err as Error).message;
    throw new CedanaError(ErrorCode.PluginFailed, `${what} has an invalid manifest (${why})`, { hint: 'fix the "cedana" field of its package.json; nothing was installed' });
  }
  if (!semver.satisfies(sdkVersion, m.sdk)) {
    throw new CedanaError(ErrorCode.PluginFailed, `${m.name} ${m.version} needs SDK ${m.sdk}, but this cedana has SDK ${sdkVersion}`, {
      hint: `install a version of it built for SDK ${sdkVersion}`,
    });
  }
  return m;
}

/** A dependency's range as the resolver understands it; `workspace:` ranges (an npm-packed workspace) are read too. */
function rangeOf(spec: string, dep: string, of: string): string {
  const r = spec.startsWith('workspace:') ? spec.slice('workspace:'.length) : spec;
  const normal = r === '' || r === '*' || r === '^' || r === '~' ? '*' : r;
  if (semver.validRange(normal) === null && normal !== 'latest') {
    throw new CedanaError(ErrorCode.PluginFailed, `dependency ${dep}@${spec} of ${of} cannot be installed: only versions and ranges can`, {
      hint: 'publish the dependency to the registry and depend on a version of it',
    });
  }
  return normal;
}

function fitsHere(pkg: Record<string, unknown>): boolean {
  const ok = (list: unknown, value: string) =>
    !Array.isArray(list) || list.length === 0 || (list.includes(value) ? true : list.every((x) => typeof x === 'string' && x.startsWith('!') && x !== `!${value}`));
  return ok(pkg.os, process.platform) && ok(pkg.cpu, process.arch);
}

function depsOf(pkg: Record<string, unknown>): { name: string; spec: string; optional: boolean }[] {
  const take = (field: string, optional: boolean) =>
    Object.entries((pkg[field] as Record<string, string> | undefined) ?? {}).map(([name, spec]) => ({ name, spec: String(spec), optional }));
  const optional = take('optionalDependencies', true);
  return [...take('dependencies', false).filter((d) => !optional.some((o) => o.name === d.name)), ...optional].filter((d) => d.name !== SDK_PACKAGE);
}

/** Resolves a plugin and, from the same sources, every dependency it needs (except the SDK, which the host gives). */
export async function resolvePlugin(spec: InstallSpec, sources: PackageSources, sdkVersion: string): Promise<InstallPlan> {
  const root: PackageVersion =
    spec.kind === 'file'
      ? {
          name: basename(spec.path),
          version: '',
          from: 'file',
          where: spec.path,
          fetch: () =>
            readFile(spec.path).catch((err: NodeJS.ErrnoException) => {
              throw new CedanaError(ErrorCode.NotFound, `cannot read ${spec.path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
            }),
        }
      : await sources.pick(spec.name, spec.range);
  const content = await fetchChecked(root);
  const what = root.from === 'file' ? root.where : `${root.name}@${root.version}`;
  const manifest = manifestOf(content.pkg, what, sdkVersion);
  const plugin: ResolvedPackage = { name: manifest.name, version: manifest.version, source: root, content, deps: new Map() };

  const packages = new Map<string, ResolvedPackage>();
  const byName = new Map<string, ResolvedPackage[]>();
  const queue: ResolvedPackage[] = [plugin];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const dep of depsOf(parent.content.pkg)) {
      const range = rangeOf(dep.spec, dep.name, parent.name);
      const reuse = (byName.get(dep.name) ?? []).find((p) => semver.satisfies(p.version, range === 'latest' ? '*' : range));
      if (reuse) {
        parent.deps.set(dep.name, keyOf(reuse.name, reuse.version));
        continue;
      }
      let resolved: ResolvedPackage;
      try {
        const v = await sources.pick(dep.name, range, parent.name);
        const got = await fetchChecked(v);
        if (dep.optional && !fitsHere(got.pkg)) continue;
        resolved = { name: dep.name, version: v.version, source: v, content: got, deps: new Map() };
      } catch (err) {
        if (dep.optional) continue; // optional: installed where it can be, skipped where not
        throw err;
      }
      packages.set(keyOf(resolved.name, resolved.version), resolved);
      byName.set(dep.name, [...(byName.get(dep.name) ?? []), resolved]);
      parent.deps.set(dep.name, keyOf(resolved.name, resolved.version));
      queue.push(resolved);
    }
  }
  return { manifest, plugin, packages };
}
