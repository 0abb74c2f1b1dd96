/**
 * Installing and removing plugins, and the catalog of `plugin list`, against a store made of real tarballs in a
 * temporary directory. The installed code is loaded and run to show that each package finds the dependency
 * versions it asked for.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CedanaError, ErrorCode, SDK_VERSION, type PluginDefinition } from '@cedana-ts/sdk';
import { testContext } from '@cedana-ts/sdk/testing';
import { catalog } from '../../src/plugins/packages/catalog';
import { installPlugins, removePlugins } from '../../src/plugins/packages/install';
import { INSTALLS_DIR, linkPath } from '../../src/plugins/packages/layout';
import { PackageSources } from '../../src/plugins/packages/source';
import { PluginStore } from '../../src/plugins/packages/store';
import { packDirectory } from '../../src/plugins/packages/tarball';
import { linkSdk } from '../../src/plugins/sdk-link';
import { fixturePlugin, tempDir, writePackage } from '../helpers/plugin-fixtures';

const BUILTINS = ['@cedana-ts/plugin-process'];

/** A plugin whose init reports which dependency versions it and its dependency found. */
const VERSIONS_INIT = `
    return { features: [], info: { x: require('dep-x').version, yx: require('dep-y').xVersion } };`;

async function rejection(p: Promise<unknown>): Promise<CedanaError> {
  const err = await p.then(() => null, (e: CedanaError) => e);
  assert.ok(err instanceof CedanaError, `expected a CedanaError, got ${String(err)}`);
  return err;
}

describe('plugin packages: install, remove, list', function () {
  this.timeout(30_000);
  let work: string;
  let store: PluginStore;
  let libDir: string;
  const dirs = () => ({ libDir, builtins: BUILTINS });
  const sources = () => new PackageSources(new PluginStore(store.dir), null);
  const install = (...specs: string[]) => installPlugins(specs, dirs(), sources(), SDK_VERSION, work);
  const current = (name: string) => realpathSync(linkPath(libDir, name));
  const installDirs = () => readdirSync(join(libDir, INSTALLS_DIR));

  async function addToStore(dir: string): Promise<void> {
    await store.add(await packDirectory(dir));
  }

  before(async () => {
    linkSdk();
    work = tempDir('install');
    store = new PluginStore(join(work, 'store'));
    const src = join(work, 'src');
    for (const v of ['1.0.0', '2.0.0']) {
      await addToStore(writePackage(join(src, `dep-x-${v}`), { name: 'dep-x', version: v, main: 'index.js' }, { 'index.js': `exports.version = '${v}';` }));
    }
    await addToStore(
      writePackage(join(src, 'dep-y'), { name: 'dep-y', version: '1.0.0', main: 'index.js', dependencies: { 'dep-x': '^2.0.0' } }, { 'index.js': "exports.xVersion = require('dep-x').version;" }),
    );
    await addToStore(fixturePlugin(src, { name: '@fx/alpha', version: '1.0.0', id: 'alpha', dependencies: { 'dep-x': '^1.0.0', 'dep-y': '^1.0.0' }, init: VERSIONS_INIT }));
    await addToStore(fixturePlugin(src, { name: '@fx/alpha', version: '2.0.0', id: 'alpha', dependencies: { 'dep-x': '^2.0.0', 'dep-y': '^1.0.0' }, init: VERSIONS_INIT }));
    await addToStore(fixturePlugin(src, { name: '@fx/beta', version: '1.0.0', id: 'beta', type: 'storage', init: 'return { features: [] };' }));
    await addToStore(writePackage(join(src, 'dep-z'), { name: 'dep-z', version: '1.0.0', main: 'index.js' }, { 'index.js': '' }));
    await addToStore(fixturePlugin(src, { name: '@fx/gamma', version: '1.0.0', id: 'gamma', dependencies: { 'dep-z': '1.0.0' } }));
    await addToStore(fixturePlugin(src, { name: '@fx/future', version: '1.0.0', id: 'future', sdk: '^9.0.0' }));
    await addToStore(fixturePlugin(src, { name: '@fx/other-process', version: '1.0.0', id: 'process' }));
    await addToStore(writePackage(join(src, 'plain'), { name: 'plain-lib', version: '1.0.0' }));
    // dep-z's tarball no longer matches the integrity in the index: a corrupt store.
    const z = join(store.dir, 'dep-z-1.0.0.tgz');
    const bytes = readFileSync(z);
    bytes[bytes.length - 5] ^= 0xff;
    writeFileSync(z, bytes);
  });

  beforeEach(() => {
    libDir = join(work, `lib-${Math.random().toString(16).slice(2)}`);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('installs a plugin with its dependencies, each package finding the version it asked for', async () => {
    const [r] = await install('@fx/alpha@^1');
    assert.deepEqual({ ...r, where: '' }, { name: '@fx/alpha', version: '1.0.0', from: 'store', where: '', dependencies: 3, replaced: undefined });
    const root = current('@fx/alpha');
    const def = require(join(root, 'index.js')) as PluginDefinition;
    const inst = await def.init(testContext(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))));
    // The plugin asked for dep-x ^1, its dependency dep-y for dep-x ^2: both versions are installed, once each.
    assert.deepEqual(inst.info, { x: '1.0.0', yx: '2.0.0' });
    const record = JSON.parse(readFileSync(join(root, '.cedana-install.json'), 'utf8'));
    assert.deepEqual(record.dependencies, ['dep-x@1.0.0', 'dep-x@2.0.0', 'dep-y@1.0.0']);
    assert.equal(record.from, 'store');
  });

  it('upgrades in place: the newest version becomes current and the old install is gone', async () => {
    await install('@fx/alpha@1.0.0');
    const old = current('@fx/alpha');
    const [r] = await install('@fx/alpha');
    assert.equal(r.version, '2.0.0');
    assert.equal(r.replaced, '1.0.0');
    assert.notEqual(current('@fx/alpha'), old);
    assert.ok(!existsSync(old), 'the old install is still there');
    assert.equal(installDirs().length, 1, `install dirs: ${installDirs().join(', ')}`);
    assert.equal(JSON.parse(readFileSync(join(current('@fx/alpha'), 'package.json'), 'utf8')).version, '2.0.0');
  });

  it('changes nothing when one of the plugins named fails: the previous version stays current', async () => {
    await install('@fx/alpha@1.0.0');
    const before = current('@fx/alpha');
    const err = await rejection(install('@fx/alpha@2.0.0', '@fx/gamma'));
    assert.equal(err.code, ErrorCode.PluginFailed);
    assert.match(err.message, /^integrity check failed for dep-z@1\.0\.0 from the store \(.*\): expected sha512-\S+, got sha512-\S+$/);
    assert.equal(current('@fx/alpha'), before);
    assert.equal(JSON.parse(readFileSync(join(before, 'package.json'), 'utf8')).version, '1.0.0');
    assert.equal(installDirs().length, 1, `left behind: ${installDirs().join(', ')}`);
    assert.ok(!existsSync(linkPath(libDir, '@fx/gamma')));
  });

  it('refuses unknown names, ranges with no match, other SDKs, non-plugins and a second plugin with the same id', async () => {
    let err = await rejection(install('nope'));
    assert.equal(err.code, ErrorCode.NotFound);
    assert.match(err.message, /^plugin 'nope' not found in the store \(.*\) or a registry \(none configured: plugins\.registry\)$/);
    err = await rejection(install('@fx/alpha@^7'));
    assert.equal(err.code, ErrorCode.NotFound);
    assert.equal(err.message, "no version of plugin '@fx/alpha' matches '^7' (store has @fx/alpha 1.0.0, 2.0.0)");
    err = await rejection(install('@fx/future'));
    assert.equal(err.message, `@fx/future 1.0.0 needs SDK ^9.0.0, but this cedana has SDK ${SDK_VERSION}`);
    err = await rejection(install('plain-lib'));
    assert.equal(err.message, 'plain-lib@1.0.0 is not a cedana plugin: its package.json has no "cedana" field');
    err = await rejection(install('@fx/other-process'));
    assert.equal(err.code, ErrorCode.AlreadyExists);
    assert.equal(err.message, '@fx/other-process provides runtime.process, which @cedana-ts/plugin-process provides already');
    assert.ok(!existsSync(join(libDir, INSTALLS_DIR)) || installDirs().length === 0, 'a refused install left files');
  });

  it('finds a plugin by its id, and installs a .tgz file named by path', async () => {
    const [r] = await install('beta');
    assert.equal(r.name, '@fx/beta');
    const tgz = join(work, 'alpha.tgz');
    writeFileSync(tgz, await packDirectory(join(work, 'src', 'fx-alpha-1.0.0')));
    const [f] = await install('./alpha.tgz');
    assert.deepEqual([f.name, f.version, f.from, f.where], ['@fx/alpha', '1.0.0', 'file', tgz]);
  });

  it('removes installed plugins, refuses built-in ones, unknown ones and those with running jobs', async () => {
    await install('@fx/alpha@1', 'beta');
    const idle = async () => [] as string[];
    let err = await rejection(removePlugins(['process'], false, dirs(), idle));
    assert.equal(err.code, ErrorCode.FailedPrecondition);
    assert.equal(err.message, '@cedana-ts/plugin-process (built in) cannot be removed');
    err = await rejection(removePlugins(['nope'], false, dirs(), idle));
    assert.equal(err.code, ErrorCode.NotFound);
    err = await rejection(removePlugins(['alpha'], false, dirs(), async (type) => (type === 'alpha' ? ['web', 'db'] : [])));
    assert.equal(err.message, '@fx/alpha is in use by running jobs web, db');
    assert.equal(err.hint, 'stop them first (cedana job kill web db), then remove the plugin');
    assert.ok(existsSync(linkPath(libDir, '@fx/alpha')));

    assert.deepEqual(await removePlugins(['alpha'], false, dirs(), idle), [{ name: '@fx/alpha', version: '1.0.0' }]);
    assert.ok(!existsSync(linkPath(libDir, '@fx/alpha')));
    assert.equal(installDirs().length, 1);
    assert.deepEqual(await removePlugins([], true, dirs(), idle), [{ name: '@fx/beta', version: '1.0.0' }]);
    assert.equal(installDirs().length, 0);
  });

  it('lists plugins as installed, outdated, available or error', async () => {
    await install('@fx/alpha@1');
    // A package put into the plugin directory by hand, built for another SDK.
    fixturePlugin(join(libDir, 'node_modules'), { name: 'hand-made', id: 'hand', sdk: '^9.0.0' });
    const { rows, notes } = await catalog(dirs(), sources(), { sdkVersion: SDK_VERSION });
    assert.deepEqual(notes, []);
    const by = new Map(rows.map((r) => [r.name, r]));
    assert.deepEqual([by.get('@fx/alpha')?.status, by.get('@fx/alpha')?.version, by.get('@fx/alpha')?.latest], ['outdated', '1.0.0', '2.0.0']);
    assert.ok(by.get('@fx/alpha')!.size > 0);
    assert.deepEqual([by.get('@fx/beta')?.status, by.get('@fx/beta')?.source], ['available', 'store']);
    assert.equal(by.get('@cedana-ts/plugin-process')?.status, 'installed');
    assert.equal(by.get('@fx/future')?.status, 'available');
    assert.equal(by.get('hand-made')?.status, 'error');
    assert.match(String(by.get('hand-made')?.reason), /needs SDK \^9\.0\.0/);
    assert.ok(!by.has('dep-x') && !by.has('plain-lib'), 'packages that are no plugins are listed');

    const one = await catalog(dirs(), sources(), { sdkVersion: SDK_VERSION, filter: 'alpha@2.0.0' });
    assert.deepEqual(one.rows.map((r) => [r.name, r.version, r.status]), [['@fx/alpha', '2.0.0', 'available']]);
    const loaded = new Map([['@fx/alpha', { status: 'error', reason: 'init failed: boom' }]]);
    const withDaemon = await catalog(dirs(), sources(), { sdkVersion: SDK_VERSION, filter: '@fx/alpha', loaded });
    assert.deepEqual(withDaemon.rows.map((r) => [r.status, r.reason]), [['error', 'init failed: boom']]);
    const err = await rejection(catalog(dirs(), sources(), { sdkVersion: SDK_VERSION, filter: 'nope' }));
    assert.equal(err.code, ErrorCode.NotFound);
  });
});
