/**
 * npm package tarballs: integrity strings (`sha512-<base64>`), reading one into memory with every entry checked,
 * writing one out to a directory, and packing an installed package's directory into one again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, posix, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** A tarball may unpack to at most this much: a bound against archive bombs. */
const MAX_UNPACKED = 512 * 1024 * 1024;

/** `sha512-<base64>` of `data`, the form npm and registries use. */
export function integrityOf(data: Buffer): string {
  return `sha512-${createHash('sha512').update(data).digest('base64')}`;
}

/**
 * Checks `data` against an expected integrity: an SRI string (`sha512-…`, `sha1-…`; several separated by spaces,
 * the strongest known wins) or a hex sha1 (a registry's old `shasum`). Throws PLUGIN_FAILED on a mismatch.
 */
export function verifyIntegrity(data: Buffer, expected: string, what: string): void {
  const hexSha1 = /^[0-9a-f]{40}$/i.test(expected) ? `sha1-${Buffer.from(expected, 'hex').toString('base64')}` : undefined;
  const entries = (hexSha1 ?? expected).split(/\s+/).filter(Boolean).map((e) => e.split('?')[0]);
  const pick = ['sha512', 'sha384', 'sha256', 'sha1'].map((alg) => entries.find((e) => e.startsWith(`${alg}-`))).find(Boolean);
  if (!pick) throw new CedanaError(ErrorCode.PluginFailed, `cannot check ${what}: unknown integrity '${expected}'`);
  const alg = pick.slice(0, pick.indexOf('-'));
  const actual = `${alg}-${createHash(alg).update(data).digest('base64')}`;
  if (actual !== pick) {
    throw new CedanaError(ErrorCode.PluginFailed, `integrity check failed for ${what}: expected ${pick}, got ${actual}`, {
      hint: 'the tarball is corrupt or was changed after it was published; nothing was installed',
    });
  }
}

/** One file of a package, its path relative to the package root. */
export interface PackageFile {
  path: string;
  mode: number;
  data: Buffer;
}

/** A tarball read into memory. */
export interface UnpackedPackage {
  /** The parsed package.json. */
  pkg: Record<string, unknown>;
  files: PackageFile[];
  unpackedSize: number;
}

function bad(what: string, why: string): CedanaError {
  return new CedanaError(ErrorCode.InvalidArgument, `${what} is not a package tarball: ${why}`, { hint: 'make one with `pnpm pack` (or `npm pack`)' });
}

/**
 * Reads a package tarball. Its entries sit under one top directory (`package/` as `pnpm pack` makes them), which
 * is dropped. Links, absolute paths and `..` are refused: nothing may land outside the package.
 */
export async function readPackage(tgz: Buffer, what: string): Promise<UnpackedPackage> {
  let raw: Buffer;
  try {
    raw = gunzipSync(tgz, { maxOutputLength: MAX_UNPACKED });
  } catch (err) {
    throw bad(what, `not gzip data (${(err as Error).message})`);
  }
  const files: PackageFile[] = [];
  let size = 0;
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('error', reject);
      stream.on('end', () => {
        const name = header.name.replace(/^\.\//, '');
        if (header.type === 'file' || header.type === 'contiguous-file') {
          const rel = name.split('/').slice(1).join('/');
          const norm = posix.normalize(rel);
          if (!rel || name.startsWith('/') || norm.startsWith('..') || posix.isAbsolute(norm)) return reject(bad(what, `unsafe entry '${header.name}'`));
          const data = Buffer.concat(chunks);
          size += data.length;
          files.push({ path: norm, mode: (header.mode ?? 0o644) & 0o777, data });
        } else if (header.type === 'symlink' || header.type === 'link') {
          return reject(bad(what, `it holds a link ('${header.name}')`));
        }
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', (err: Error) => reject(bad(what, err.message)));
  });
  Readable.from([raw]).pipe(extract);
  await done;
  const pkgFile = files.find((f) => f.path === 'package.json');
  if (!pkgFile) throw bad(what, 'no package.json at its top');
  let pkg: unknown;
  try {
    pkg = JSON.parse(pkgFile.data.toString('utf8'));
  } catch (err) {
    throw bad(what, `its package.json is not JSON (${(err as Error).message})`);
  }
  if (!pkg || typeof pkg !== 'object' || Array.isArray(pkg)) throw bad(what, 'its package.json is no object');
  return { pkg: pkg as Record<string, unknown>, files, unpackedSize: size };
}

/** Writes a read package's files under `dir`. */
export async function writePackage(p: UnpackedPackage, dir: string): Promise<void> {
  for (const f of p.files) {
    const target = join(dir, f.path);
    await mkdir(dirname(target), { recursive: true });
    // Owner may always read and write; the executable bits come from the tarball.
    await writeFile(target, f.data, { mode: f.mode | 0o600 });
  }
}

async function filesUnder(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...(await filesUnder(root, full)));
    } else if (e.isFile()) {
      out.push(relative(root, full));
    }
  }
  return out;
}

/**
 * Packs an installed package's directory (its files as published, without node_modules) into a tarball under
 * `package/`, with fixed times so the same files always give the same bytes.
 */
export async function packDirectory(dir: string): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const rel of await filesUnder(dir)) {
    const full = join(dir, rel);
    const [data, st] = await Promise.all([readFile(full), stat(full)]);
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name: `package/${rel.split('\\').join('/')}`, mode: st.mode & 0o755, mtime: new Date(499162500000), size: data.length }, data, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }
  pack.finalize();
  await ended;
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}
