/**
 * A tarball dropped into the store by hand (not in its index.json) never replaces a package the index
 * verifies, and where it is used it is said to be unverified.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PluginStore, storeFileName } from '../../src/plugins/packages/store';
import { packDirectory } from '../../src/plugins/packages/tarball';
import { tempDir, writePackage } from '../helpers/plugin-fixtures';

describe('plugin store: un-indexed tarballs', function () {
  let work: string;
  before(() => {
    work = tempDir('store-unverified');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('a verified package wins; an un-indexed one is offered only alone, and marked unverified', async () => {
    const store = new PluginStore(join(work, 'store'));
    await store.add(await packDirectory(writePackage(join(work, 'a1'), { name: 'lib-a', version: '1.0.0', main: 'index.js' }, { 'index.js': '' })));
    // A newer lib-a and a lib-b, dropped in without the index.
    for (const [name, version] of [['lib-a', '9.0.0'], ['lib-b', '1.0.0']]) {
      const tgz = await packDirectory(writePackage(join(work, `${name}-${version}`), { name, version, main: 'index.js' }, { 'index.js': '' }));
      writeFileSync(join(store.dir, storeFileName(name, version)), tgz);
    }
    const fresh = new PluginStore(store.dir);
    assert.deepEqual((await fresh.versions('lib-a')).map((v) => [v.version, v.where]), [['1.0.0', store.dir]]);
    assert.deepEqual((await fresh.versions('lib-b')).map((v) => [v.version, v.where]), [['1.0.0', `${store.dir}, unverified: not in its index.json`]]);
  });
});
