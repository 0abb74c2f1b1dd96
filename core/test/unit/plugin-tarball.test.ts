/**
 * Package tarballs: integrity strings, reading with every entry checked, and packing a directory again.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { integrityOf, packDirectory, readPackage, verifyIntegrity } from '../../src/plugins/packages/tarball';
import { parseSpec } from '../../src/plugins/packages/source';
import { tempDir } from '../helpers/plugin-fixtures';

/** A gzipped tar of the given entries, made with tar-stream. */
async function tarOf(entries: { name: string; data?: string; type?: 'file' | 'symlink'; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    else pack.entry({ name: e.name }, e.data ?? '');
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

async function refusal(p: Promise<unknown>): Promise<CedanaError> {
  const err = await p.then(() => null, (e: CedanaError) => e);
  assert.ok(err instanceof CedanaError, `expected a CedanaError, got ${String(err)}`);
  return err;
}

describe('plugin packages: tarballs', () => {
  it('checks sha512 and hex sha1 integrity, and names both sums on a mismatch', () => {
    const data = Buffer.from('some package bytes');
    verifyIntegrity(data, integrityOf(data), 'x');
    verifyIntegrity(data, createHash('sha1').update(data).digest('hex'), 'x');
    const err = (() => {
      try {
        verifyIntegrity(Buffer.from('other bytes'), integrityOf(data), 'x.tgz');
      } catch (e) {
        return e as CedanaError;
      }
      return null;
    })();
    assert.ok(err, 'a changed tarball passed');
    assert.equal(err.code, ErrorCode.PluginFailed);
    assert.match(err.message, /^integrity check failed for x\.tgz: expected sha512-\S+, got sha512-\S+$/);
    assert.throws(() => verifyIntegrity(data, 'md5-abc', 'x'), /unknown integrity/);
  });

  it('reads a package, dropping the top directory', async () => {
    const tgz = await tarOf([{ name: 'package/package.json', data: '{"name":"a","version":"1.0.0"}' }, { name: 'package/lib/x.js', data: 'x' }]);
    const p = await readPackage(tgz, 'a.tgz');
    assert.deepEqual(p.pkg, { name: 'a', version: '1.0.0' });
    assert.deepEqual(p.files.map((f) => f.path).sort(), ['lib/x.js', 'package.json']);
    assert.equal(p.unpackedSize, 31);
  });

  it('refuses what is no package tarball, and entries that would leave the package', async () => {
    assert.match((await refusal(readPackage(Buffer.from('plain text'), 'a.tgz'))).message, /^a\.tgz is not a package tarball: not gzip data/);
    const escape = await tarOf([{ name: 'package/package.json', data: '{}' }, { name: 'package/../../etc/evil', data: 'x' }]);
    assert.match((await refusal(readPackage(escape, 'e.tgz'))).message, /unsafe entry 'package\/\.\.\/\.\.\/etc\/evil'/);
    const link = await tarOf([{ name: 'package/package.json', data: '{}' }, { name: 'package/l', type: 'symlink', linkname: '/etc/passwd' }]);
    assert.match((await refusal(readPackage(link, 'l.tgz'))).message, /holds a link/);
    const none = await tarOf([{ name: 'package/index.js', data: '' }]);
    assert.match((await refusal(readPackage(none, 'n.tgz'))).message, /no package\.json/);
    const notJson = await tarOf([{ name: 'package/package.json', data: '{nope' }]);
    assert.equal((await refusal(readPackage(notJson, 'j.tgz'))).code, ErrorCode.InvalidArgument);
  });

  it('packs a directory into the same bytes every time, without node_modules', async () => {
    const dir = tempDir('pack');
    try {
      mkdirSync(join(dir, 'lib'));
      mkdirSync(join(dir, 'node_modules', 'dep'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), '{"name":"p","version":"2.0.0"}');
      writeFileSync(join(dir, 'lib', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
      writeFileSync(join(dir, 'node_modules', 'dep', 'x.js'), '');
      const a = await packDirectory(dir);
      const b = await packDirectory(dir);
      assert.ok(a.equals(b), 'two packs of the same files differ');
      const p = await readPackage(a, 'p');
      assert.deepEqual(p.files.map((f) => f.path).sort(), ['lib/run.sh', 'package.json']);
      assert.equal(p.files.find((f) => f.path === 'lib/run.sh')!.mode & 0o111, 0o111, 'the executable bit was lost');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads install specs: names, scoped names, ranges, files', () => {
    assert.deepEqual(parseSpec('runc'), { kind: 'name', name: 'runc', range: '' });
    assert.deepEqual(parseSpec('@x/y@^1.2'), { kind: 'name', name: '@x/y', range: '^1.2' });
    assert.deepEqual(parseSpec('y@latest'), { kind: 'name', name: 'y', range: 'latest' });
    assert.deepEqual(parseSpec('./p.tgz', '/tmp'), { kind: 'file', path: '/tmp/p.tgz' });
    assert.deepEqual(parseSpec('/abs/p.tar.gz'), { kind: 'file', path: '/abs/p.tar.gz' });
    assert.throws(() => parseSpec('Bad Name!'), /'Bad Name!' is not a package name/);
    assert.throws(() => parseSpec('y@not a range'), /'not a range' is not a version or range/);
  });
});
