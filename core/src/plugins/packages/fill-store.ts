/**
 * Fills a plugin store from the workspace: `pnpm pack` of the SDK and of every package under plugins/ (whatever
 * is there: no list of names), and a tarball of each production dependency those plugins need, packed again from
 * node_modules, so that every plugin installs with no registry reachable.
 *
 *   node core/dist/src/plugins/packages/fill-store.js <workspace root> <store dir>
 *
 * scripts/setup-plugin-store.sh runs it after the workspace build.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { SDK_PACKAGE } from './resolve';
import { PluginStore } from './store';
import { packDirectory } from './tarball';

const run = promisify(execFile);

interface Pkg {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  cedana?: unknown;
}

async function readPkg(dir: string): Promise<Pkg> {
  return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Pkg;
}

/** The workspace packages that go into the store: the SDK and every package under plugins/. */
export async function storePackages(workspace: string): Promise<string[]> {
  const plugins = join(workspace, 'plugins');
  const dirs = (await readdir(plugins, { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory() && existsSync(join(plugins, e.name, 'package.json')))
    .map((e) => join(plugins, e.name))
    .sort();
  return [join(workspace, 'sdk'), ...dirs];
}

/** Where Node would find `name` from `fromDir`: the first `node_modules/<name>` walking up. */
function locate(fromDir: string, name: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Packs one workspace package with `pnpm pack` (which turns `workspace:` ranges into versions). */
async function pnpmPack(dir: string): Promise<Buffer> {
  const dest = await mkdtemp(join(tmpdir(), 'cedana-pack-'));
  try {
    await run('pnpm', ['pack', '--pack-destination', dest], { cwd: dir, maxBuffer: 16 << 20 });
    const file = (await readdir(dest)).find((n) => n.endsWith('.tgz'));
    if (!file) throw new Error(`pnpm pack in ${dir} made no tarball`);
    return await readFile(join(dest, file));
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

export interface FillResult {
  /** `name@version` of the workspace packages packed. */
  packed: string[];
  /** Dependencies added to the store (those already there are kept). */
  addedDeps: number;
  /** Dependencies found in the store already. */
  keptDeps: number;
  /** Packages left out because their entry file is missing (not built). */
  unbuilt: string[];
}

/** Packs the workspace's SDK and plugins into `storeDir`, with their dependencies. */
export async function fillStore(workspace: string, storeDir: string, log: (line: string) => void = () => undefined): Promise<FillResult> {
  const store = new PluginStore(storeDir);
  const packages = await storePackages(workspace);
  const ownNames = new Set<string>([(await readPkg(join(workspace, 'core'))).name]);
  for (const dir of packages) ownNames.add((await readPkg(dir)).name);

  const result: FillResult = { packed: [], addedDeps: 0, keptDeps: 0, unbuilt: [] };
  const seen = new Set<string>();
  const queue: string[] = [];
  for (const dir of packages) {
    const pkg = await readPkg(dir);
    const main = (pkg as { main?: string }).main;
    if (main && !existsSync(join(dir, main))) {
      result.unbuilt.push(pkg.name);
      log(`skipped ${pkg.name}: ${main} is missing (not built)`);
      continue;
    }
    await store.add(await pnpmPack(dir));
    result.packed.push(`${pkg.name}@${pkg.version}`);
    log(`packed ${pkg.name}@${pkg.version}`);
    if (pkg.cedana) queue.push(await realpath(dir));
  }
  // Production dependencies of the plugins, as installed in the workspace (each version once).
  while (queue.length > 0) {
    const from = queue.shift()!;
    const pkg = await readPkg(from);
    const deps = { ...pkg.dependencies, ...pkg.optionalDependencies };
    for (const name of Object.keys(deps)) {
      if (name === SDK_PACKAGE || ownNames.has(name)) continue;
      const at = locate(from, name);
      if (!at) continue; // an optional dependency not installed on this platform
      const real = await realpath(at);
      if (seen.has(real)) continue;
      seen.add(real);
      const dep = await readPkg(real);
      if (await store.has(dep.name, dep.version)) result.keptDeps++;
      else {
        await store.add(await packDirectory(real));
        result.addedDeps++;
      }
      queue.push(real);
    }
  }
  return result;
}

if (require.main === module) {
  const [workspace, storeDir] = process.argv.slice(2);
  if (!workspace || !storeDir) {
    process.stderr.write('usage: fill-store.js <workspace root> <store dir>\n');
    process.exit(2);
  }
  fillStore(workspace, storeDir).then(
    (r) => {
      console.log(`plugin store ${storeDir}: ${r.packed.join(', ')}; dependencies: ${r.addedDeps} added, ${r.keptDeps} already there`);
      if (r.unbuilt.length > 0) console.log(`not built, left out: ${r.unbuilt.join(', ')}`);
    },
    (err: Error) => {
      process.stderr.write(`fill-store: ${err.message}\n`);
      process.exit(1);
    },
  );
}
