/**
 * What is installed: the plugins in the plugin directory and the built-in ones, with where each came from and
 * how much disk it takes.
 */
import { readdir, readFile, lstat, realpath } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { builtinCandidates, installedCandidates, type Candidate } from '../discover';
import { INSTALLS_DIR, INSTALL_RECORD, type InstallRecord } from './layout';

/** An installed or built-in plugin package. */
export interface InstalledPlugin extends Candidate {
  /** What the install recorded (absent for built-ins and packages put there by hand). */
  record?: InstallRecord;
  /** Bytes on disk: the install directory with its dependencies, or the package directory. */
  diskSize: number;
}

async function du(path: string): Promise<number> {
  const st = await lstat(path).catch(() => null);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[])) total += await du(join(path, name));
  return total;
}

/** The directory whose size counts for a plugin root: its whole install directory when it is one of ours. */
async function sizedDir(libDir: string, root: string): Promise<string> {
  const real = await realpath(root).catch(() => root);
  const base = await realpath(join(libDir, INSTALLS_DIR)).catch(() => '');
  if (base && real.startsWith(`${base}/`)) return join(base, real.slice(base.length + 1).split('/')[0]);
  return real;
}

async function withRecord(libDir: string, c: Candidate): Promise<InstalledPlugin> {
  const record = await readFile(join(c.root, INSTALL_RECORD), 'utf8')
    .then((t) => JSON.parse(t) as InstallRecord)
    .catch(() => undefined);
  const diskSize = c.root ? await du(c.source === 'installed' ? await sizedDir(libDir, c.root) : c.root) : 0;
  return { ...c, record, diskSize };
}

/**
 * Installed plugins (those in `libDir`), and the built-in ones that no installed package of the same name
 * replaces.
 */
export async function installedPlugins(libDir: string, builtins: readonly string[]): Promise<{ installed: InstalledPlugin[]; builtin: InstalledPlugin[] }> {
  const installed = await Promise.all((await installedCandidates(libDir)).map((c) => withRecord(libDir, c)));
  const names = new Set(installed.map((c) => c.name));
  const builtin = await Promise.all(
    (await builtinCandidates(builtins)).filter((c) => !names.has(c.name)).map((c) => withRecord(dirname(c.root), c)),
  );
  return { installed, builtin };
}
