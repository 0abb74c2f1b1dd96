/**
 * Plugins from an npm-compatible registry: a real verdaccio on 127.0.0.1 with what the test publishes. Ranges,
 * dependencies from the registry, outdated status, upgrades, a tampered tarball refused with the installed
 * version left working, the store asked before the registry, and a registry that is down.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv } from '../helpers/env';
import { teardown } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { fixturePlugin, pnpmPack, REPO_STORE, tempDir, writePackage } from '../helpers/plugin-fixtures';
import { TestRegistry } from '../helpers/registry';

const PLUGIN = '@fx/remote';

/** The plugin's init needs its dependency, and says which version of itself runs. */
const initWith = (v: string) => `
    const dep = require('cedana-fixture-dep');
    return { features: [Feature.Storage], info: { version: '${v}', greeting: dep.greeting } };`;

interface PluginJson {
  name: string;
  version: string;
  status: string;
  reason: string;
}

describe('e2e: plugins from a registry (verdaccio)', function () {
  this.timeout(120_000);
  let work: string;
  let registry: TestRegistry;
  let env: TestEnv | undefined;

  before(async () => {
    work = tempDir('registry');
    registry = new TestRegistry(join(work, 'verdaccio'));
    await registry.start();
    const out = join(work, 'packed');
    await registry.publish(pnpmPack(writePackage(join(work, 'dep'), { name: 'cedana-fixture-dep', version: '1.0.0', main: 'index.js' }, { 'index.js': "exports.greeting = 'hello';" }), out));
    for (const v of ['1.0.0', '1.1.0']) {
      await registry.publish(pnpmPack(fixturePlugin(join(work, 'src'), { name: PLUGIN, version: v, id: 'remote', type: 'storage', dependencies: { 'cedana-fixture-dep': '^1.0.0' }, init: initWith(v) }), out));
    }
    await registry.publish(pnpmPack(fixturePlugin(join(work, 'src'), { name: '@fx/listed', id: 'listed', type: 'storage', init: 'return { features: [] };' }), out));
  });

  // Each test's environment (and the daemon it started) ends with the test: the next one assigns `env` again.
  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  after(async () => {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('installs by range with dependencies, lists outdated, upgrades, and refuses a tampered tarball', async () => {
    env = new TestEnv({ CEDANA_PLUGINS_STORE: join(work, 'empty-store'), CEDANA_PLUGINS_REGISTRY: registry.url });
    let out = env.ok(['plugin', 'install', `${PLUGIN}@~1.0`]);
    assert.equal(out.split('\n')[0], `Installed ${PLUGIN}@1.0.0 from the registry (${registry.url}) with 1 dependency`);

    const rows = env.ok(['plugin', 'list']).trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
    assert.deepEqual(rows[0], ['NAME', 'VERSION', 'STATUS', 'SIZE', 'PUBLISHED']);
    const remote = rows.find((r) => r[0] === PLUGIN);
    assert.deepEqual(remote?.slice(0, 3), [PLUGIN, '1.0.0 → 1.1.0', 'outdated'], JSON.stringify(rows));
    assert.match(remote![4], /^\d{4}-\d{2}-\d{2}$/);
    assert.deepEqual(rows.find((r) => r[0] === '@fx/listed')?.slice(0, 3), ['@fx/listed', '1.0.0', 'available'], 'registry search did not find @fx/listed');
    assert.ok(!rows.some((r) => r[0] === 'cedana-fixture-dep'), 'a dependency is listed as a plugin');

    await env.startDaemon();
    const loaded = () => (JSON.parse(env!.ok(['features', '--json'])) as { plugins: PluginJson[] }).plugins.find((p) => p.name === PLUGIN);
    assert.deepEqual([loaded()?.status, loaded()?.version], ['ok', '1.0.0']);

    out = env.ok(['plugin', 'install', PLUGIN]);
    assert.match(out, new RegExp(`^Installed ${PLUGIN}@1\\.1\\.0 from the registry \\(.*\\) with 1 dependency, replacing 1\\.0\\.0\\nThe daemon reloaded its plugins\\n$`));
    assert.deepEqual([loaded()?.status, loaded()?.version], ['ok', '1.1.0']);

    // 1.2.0 is published, then its tarball is changed on the registry's disk: its integrity no longer matches.
    await registry.publish(pnpmPack(fixturePlugin(join(work, 'src'), { name: PLUGIN, version: '1.2.0', id: 'remote', type: 'storage', init: initWith('1.2.0') }), join(work, 'packed')));
    const file = registry.tarballPath(PLUGIN, '1.2.0');
    assert.ok(existsSync(file), `no tarball at ${file}`);
    const bytes = readFileSync(file);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(file, bytes);
    const msg = expectError(env.cli(['plugin', 'install', PLUGIN]), new RegExp(`^integrity check failed for ${PLUGIN}@1\\.2\\.0 from the registry`));
    assert.match(msg, /expected sha512-\S+, got sha512-\S+: the tarball is corrupt or was changed after it was published; nothing was installed$/);
    assert.deepEqual([loaded()?.status, loaded()?.version], ['ok', '1.1.0']);
    const after = env.ok(['plugin', 'list', PLUGIN]).trim().split('\n')[1].trim().split(/\s{2,}/);
    assert.deepEqual(after.slice(0, 3), [PLUGIN, '1.1.0 → 1.2.0', 'outdated']);
  });

  it('asks the store first, and says so when the registry cannot be reached', async () => {
    env = new TestEnv({ CEDANA_PLUGINS_STORE: REPO_STORE, CEDANA_PLUGINS_REGISTRY: registry.url });
    const out = env.ok(['plugin', 'install', 'process']);
    assert.match(out, new RegExp(`^Installed @cedana-ts/plugin-process@\\S+ from the store \\(${REPO_STORE}\\)`));

    await registry.stop();
    expectError(env.cli(['plugin', 'install', '@fx/listed']), /^cannot reach the plugin registry http:\/\/127\.0\.0\.1:\d+\/: ECONNREFUSED: check plugins\.registry, or install from the store \(plugins\.store\)$/);
    const list = env.cli(['plugin', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stderr, /^Warning: cannot reach the plugin registry .*; showing what is installed and in the store\n$/);
    assert.match(list.stdout, /@cedana-ts\/plugin-process\s+\S+\s+installed/);
  });
});
