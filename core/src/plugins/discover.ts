/**
 * Finds plugin packages and reads their manifests, without running any plugin code.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseManifest, type PluginManifest } from '@cedana-ts/sdk';

/** A plugin package found on disk: its manifest, or why it has none. */
export interface Candidate {
  /** Package name, or the directory when the package.json is unreadable. */
  name: string;
  root: string;
  source: 'builtin' | 'installed';
  manifest?: PluginManifest;
  error?: string;
}

async function readCandidate(root: string, source: Candidate['source']): Promise<Candidate | null> {
  let pkg: unknown;
  try {
    pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  } catch (err) {
    return { name: root, root, source, error: `unreadable package.json: ${(err as Error).message}` };
  }
  if (!pkg || typeof pkg !== 'object' || !('cedana' in pkg)) return null; // not a plugin: a dependency of one
  const name = String((pkg as { name?: unknown }).name ?? root);
  try {
    return { name, root, source, manifest: parseManifest(pkg) };
  } catch (err) {
    const issue = (err as { issues?: { path: (string | number)[]; message: string }[] }).issues?.[0];
    const why = issue ? `${issue.path.join('.') || 'package.json'}: ${issue.message}` : (err as Error).message;
    return { name, root, source, error: `invalid manifest (${why})` };
  }
}

/** The built-in plugin packages, resolved from the core's own dependencies. */
export async function builtinCandidates(names: readonly string[]): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const name of names) {
    let root: string;
    try {
      root = dirname(require.resolve(`${name}/package.json`));
    } catch {
      out.push({ name, root: '', source: 'builtin', error: 'built-in plugin package is not installed' });
      continue;
    }
    const c = await readCandidate(root, 'builtin');
    if (c) out.push(c);
  }
  return out;
}

/** Plugin packages installed in `libDir`: `libDir/<pkg>`, `libDir/@scope/<pkg>` and the same under node_modules/. */
export async function installedCandidates(libDir: string): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const base of [libDir, join(libDir, 'node_modules')]) {
    const entries = await readdir(base, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      // Installed plugins are symlinks to their install directories (packages/layout.ts).
      if (!(e.isDirectory() || e.isSymbolicLink()) || e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const dirs = e.name.startsWith('@')
        ? (await readdir(join(base, e.name), { withFileTypes: true }))
            .filter((d) => (d.isDirectory() || d.isSymbolicLink()) && !d.name.startsWith('.'))
            .map((d) => join(base, e.name, d.name))
        : [join(base, e.name)];
      for (const dir of dirs) {
        const c = await readCandidate(dir, 'installed');
        if (c) out.push(c);
      }
    }
  }
  return out;
}
