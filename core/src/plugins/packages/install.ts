/**
 * `cedana plugin install` and `cedana plugin remove`: every plugin named is resolved, checked and written in
 * full before any becomes current, so a failure changes nothing; removal refuses a plugin that a running job uses.
 */
import { CedanaError, ErrorCode, pluginAddress, type PluginManifest } from '@cedana-ts/sdk';
import { activate, discard, stage, uninstall } from './layout';
import { installedPlugins, type InstalledPlugin } from './installed';
import { resolvePlugin, type InstallPlan } from './resolve';
import { aliasesOf, parseSpec, type PackageSources } from './source';

export interface PluginDirs {
  /** Config `plugins.lib_dir`. */
  libDir: string;
  /** Package names of the built-in plugins. */
  builtins: readonly string[];
}

/** What one install did. */
export interface InstallResult {
  name: string;
  version: string;
  from: 'store' | 'registry' | 'file';
  where: string;
  /** Dependencies installed with it. */
  dependencies: number;
  /** The version it replaced, if any (a built-in counts). */
  replaced?: string;
}

function owner(p: InstalledPlugin): string {
  return `${p.name}${p.source === 'builtin' ? ' (built in)' : ''}`;
}

/** Refuses a plugin whose `type.id` another plugin (not one it replaces) has already. */
function checkUnique(plans: InstallPlan[], present: InstalledPlugin[]): void {
  for (const plan of plans) {
    const address = pluginAddress(plan.manifest);
    const clash =
      present.find((p) => p.manifest && p.name !== plan.manifest.name && pluginAddress(p.manifest) === address)?.name ??
      plans.find((o) => o !== plan && pluginAddress(o.manifest) === address)?.manifest.name;
    if (clash) {
      throw new CedanaError(ErrorCode.AlreadyExists, `${plan.manifest.name} provides ${address}, which ${clash} provides already`, {
        hint: `two plugins cannot serve the same ${plan.manifest.type} id: remove ${clash} first`,
      });
    }
  }
}

/** Installs every spec (`name[@range]` or a `.tgz` path), all or none. */
export async function installPlugins(specs: string[], dirs: PluginDirs, sources: PackageSources, sdkVersion: string, cwd = process.cwd()): Promise<InstallResult[]> {
  if (specs.length === 0) throw new CedanaError(ErrorCode.InvalidArgument, 'name at least one plugin to install', { hint: 'cedana plugin install runc' });
  const plans: InstallPlan[] = [];
  for (const spec of specs) plans.push(await resolvePlugin(parseSpec(spec, cwd), sources, sdkVersion));
  const names = plans.map((p) => p.manifest.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new CedanaError(ErrorCode.InvalidArgument, `${twice} is named twice`, { hint: 'name each plugin once' });

  const { installed, builtin } = await installedPlugins(dirs.libDir, dirs.builtins);
  const present = [...installed, ...builtin];
  checkUnique(plans, present);

  const staged: string[] = [];
  try {
    for (const plan of plans) staged.push(await stage(dirs.libDir, plan));
  } catch (err) {
    for (const root of staged) await discard(dirs.libDir, root);
    throw err;
  }
  const results: InstallResult[] = [];
  for (const [i, plan] of plans.entries()) {
    await activate(dirs.libDir, plan.manifest.name, staged[i]);
    const before = present.find((p) => p.name === plan.manifest.name);
    results.push({
      name: plan.manifest.name,
      version: plan.manifest.version,
      from: plan.plugin.source.from,
      where: plan.plugin.source.where,
      dependencies: plan.packages.size,
      replaced: before?.manifest?.version,
    });
  }
  return results;
}

/** True when `ref` (a package name, a plugin id, `type.id`, or a bare name's alias) names the plugin `p`. */
export function refersTo(ref: string, p: { name: string; manifest?: PluginManifest }): boolean {
  if (ref === p.name || aliasesOf(ref).includes(p.name)) return true;
  return p.manifest !== undefined && (ref === p.manifest.id || ref === pluginAddress(p.manifest));
}

/**
 * Removes installed plugins (every one with `all`). A built-in plugin cannot be removed; a runtime plugin with
 * running jobs is refused, naming them. `runningJobs` answers which jobs of a job type run.
 */
export async function removePlugins(
  refs: string[],
  all: boolean,
  dirs: PluginDirs,
  runningJobs: (type: string) => Promise<string[]>,
): Promise<{ name: string; version: string }[]> {
  const { installed, builtin } = await installedPlugins(dirs.libDir, dirs.builtins);
  if (!all && refs.length === 0) throw new CedanaError(ErrorCode.InvalidArgument, 'name at least one plugin to remove, or use --all');
  const targets: InstalledPlugin[] = [];
  for (const ref of all ? [] : refs) {
    const hit = installed.find((p) => refersTo(ref, p));
    if (hit) {
      if (!targets.includes(hit)) targets.push(hit);
      continue;
    }
    const inside = builtin.find((p) => refersTo(ref, p));
    if (inside) throw new CedanaError(ErrorCode.FailedPrecondition, `${owner(inside)} cannot be removed`, { hint: 'built-in plugins ship with cedana; only installed ones can be removed' });
    throw new CedanaError(ErrorCode.NotFound, `plugin '${ref}' is not installed`, { hint: 'see `cedana plugin list` for what is installed' });
  }
  if (all) targets.push(...installed);
  for (const p of targets) {
    if (p.manifest?.type !== 'runtime') continue;
    const jobs = await runningJobs(p.manifest.id);
    if (jobs.length > 0) {
      throw new CedanaError(ErrorCode.FailedPrecondition, `${p.name} is in use by running job${jobs.length > 1 ? 's' : ''} ${jobs.join(', ')}`, {
        hint: `stop ${jobs.length > 1 ? 'them' : 'it'} first (cedana job kill ${jobs.join(' ')}), then remove the plugin`,
      });
    }
  }
  for (const p of targets) await uninstall(dirs.libDir, p.root);
  return targets.map((p) => ({ name: p.name, version: p.manifest?.version ?? '' }));
}
