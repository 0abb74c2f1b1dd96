/**
 * How an installed plugin sits in the plugin directory (config `plugins.lib_dir`):
 *
 *   lib_dir/node_modules/<name>  →  symlink to  lib_dir/.cedana/<slug>-<version>-<random>/node_modules/<name>
 *
 * Each install directory holds the plugin and its own dependencies, laid out as pnpm does: each dependency once
 * per version under `node_modules/.deps/<name>@<version>/node_modules/<name>`, with its own dependencies as
 * symlinks beside it — so every package finds exactly the versions it asked for. An install is written in full
 * first, then made current by replacing the symlink with `rename`, which is atomic: a failed install leaves the
 * previous version in place, and a daemon starting meanwhile sees one version or the other.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readlink, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { InstallPlan, ResolvedPackage } from './resolve';
import { writePackage } from './tarball';

/** Where install directories live, inside the plugin directory. */
export const INSTALLS_DIR = '.cedana';
/** Written into an installed plugin's root: where it came from. */
export const INSTALL_RECORD = '.cedana-install.json';

/** What an install records about itself. */
export interface InstallRecord {
  name: string;
  version: string;
  from: 'store' | 'registry' | 'file';
  where: string;
  integrity?: string;
  published?: string;
  installedAt: string;
  /** `name@version` of each dependency installed with it. */
  dependencies: string[];
}

const slug = (name: string) => name.replace(/^@/, '').replace(/\//g, '+');

async function link(from: string, to: string): Promise<void> {
  await mkdir(dirname(from), { recursive: true });
  await symlink(relative(dirname(from), to), from);
}

/** Writes a plan into a fresh install directory; returns the plugin's root in it. Nothing is current yet. */
export async function stage(libDir: string, plan: InstallPlan, installedAt = new Date()): Promise<string> {
  const dir = join(libDir, INSTALLS_DIR, `${slug(plan.plugin.name)}-${plan.plugin.version}-${randomBytes(4).toString('hex')}`);
  const modules = join(dir, 'node_modules');
  // A dependency's own dependencies sit beside it, in the node_modules that holds it (not in its scope folder).
  const modulesOf = (p: ResolvedPackage) => join(modules, '.deps', `${slug(p.name)}@${p.version}`, 'node_modules');
  const rootOf = (p: ResolvedPackage) => join(modulesOf(p), p.name);
  try {
    const pluginRoot = join(modules, plan.plugin.name);
    await writePackage(plan.plugin.content, pluginRoot);
    for (const [dep, key] of plan.plugin.deps) await link(join(modules, dep), rootOf(plan.packages.get(key)!));
    for (const p of plan.packages.values()) {
      await writePackage(p.content, rootOf(p));
      for (const [dep, key] of p.deps) await link(join(modulesOf(p), dep), rootOf(plan.packages.get(key)!));
    }
    const record: InstallRecord = {
      name: plan.plugin.name,
      version: plan.plugin.version,
      from: plan.plugin.source.from,
      where: plan.plugin.source.where,
      integrity: plan.plugin.source.integrity,
      published: plan.plugin.source.published,
      installedAt: installedAt.toISOString(),
      dependencies: [...plan.packages.keys()].sort(),
    };
    await writeFile(join(pluginRoot, INSTALL_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    return pluginRoot;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new CedanaError(ErrorCode.Internal, `cannot write the install of ${plan.plugin.name} into ${libDir}: ${(err as Error).message}`, { cause: err });
  }
}

/** The install directory a plugin root belongs to, when it is one of ours. */
async function installDirOf(libDir: string, path: string): Promise<string | undefined> {
  const base = await realpath(join(libDir, INSTALLS_DIR)).catch(() => resolve(libDir, INSTALLS_DIR));
  const real = await realpath(path).catch(() => resolve(path));
  const rel = relative(base, real);
  if (rel.startsWith('..') || rel === '') return undefined;
  return join(base, rel.split(sep)[0]);
}

/** `lib_dir/node_modules/<name>`, where a plugin is current. */
export function linkPath(libDir: string, name: string): string {
  return join(libDir, 'node_modules', name);
}

/** Makes a staged plugin current (one atomic rename), then removes the install it replaced. */
export async function activate(libDir: string, name: string, pluginRoot: string): Promise<void> {
  const at = linkPath(libDir, name);
  await mkdir(dirname(at), { recursive: true });
  const tmp = join(dirname(at), `.${name.split('/').pop()}-${randomBytes(4).toString('hex')}.link`);
  await symlink(relative(dirname(at), pluginRoot), tmp);
  const before = await lstat(at).catch(() => null);
  const old = before?.isSymbolicLink() ? resolve(dirname(at), await readlink(at)) : undefined;
  let aside: string | undefined;
  if (before && !before.isSymbolicLink()) {
    // A package put there by hand (npm install): a directory cannot be swapped atomically, so move it aside first.
    aside = join(libDir, INSTALLS_DIR, `replaced-${randomBytes(4).toString('hex')}`);
    await mkdir(dirname(aside), { recursive: true });
    await rename(at, aside);
  }
  await rename(tmp, at);
  if (aside) await rm(aside, { recursive: true, force: true });
  const oldDir = old ? await installDirOf(libDir, old) : undefined;
  if (oldDir && oldDir !== (await installDirOf(libDir, pluginRoot))) await rm(oldDir, { recursive: true, force: true });
}

/** Removes the installed plugin whose root is `root` (a symlink of ours, or a directory put there by hand). */
export async function uninstall(libDir: string, root: string): Promise<void> {
  const st = await lstat(root).catch(() => null);
  if (!st) return;
  if (st.isSymbolicLink()) {
    const dir = await installDirOf(libDir, root);
    await rm(root, { force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  } else {
    await rm(root, { recursive: true, force: true });
  }
}

/** Removes a staged install that never became current. */
export async function discard(libDir: string, pluginRoot: string): Promise<void> {
  const dir = await installDirOf(libDir, pluginRoot);
  if (dir) await rm(dir, { recursive: true, force: true });
}
