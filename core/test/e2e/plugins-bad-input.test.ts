/**
 * Plugin commands given bad input: each is refused with one line that says what is wrong and what to do, and
 * leaves the plugin directory as it was. Broken plugins that do install (their init throws, or a second one
 * claims an id) are reported by the daemon, which keeps serving — unless config marks them required.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SDK_VERSION } from '@cedana-ts/sdk';
import { PluginStore } from '../../src/plugins/packages/store';
import { TestEnv } from '../helpers/env';
import { teardown } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { fixturePlugin, pnpmPack, REPO_STORE, tempDir, writePackage } from '../helpers/plugin-fixtures';

describe('e2e: plugin commands, bad input', function () {
  this.timeout(120_000);
  let work: string;
  let env: TestEnv | undefined;
  const tgz: Record<string, string> = {};
  /** Copies a packed fixture into the environment's directory; returns the `./x.tgz` the CLI is given. */
  const local = (key: string) => {
    const name = `${key}.tgz`;
    cpSync(tgz[key], join(env!.dir, name));
    return `./${name}`;
  };
  const installedNothing = () => {
    const dir = join(env!.dir, 'plugins', '.cedana');
    return !existsSync(dir) || readdirSync(dir).length === 0;
  };

  before(async () => {
    work = tempDir('plugin-bad');
    const src = join(work, 'src');
    const out = join(work, 'packed');
    tgz.invalid = pnpmPack(fixturePlugin(src, { name: 'bad-manifest', id: 'badm', manifest: { type: 'bogus' } }), out);
    tgz.future = pnpmPack(fixturePlugin(src, { name: 'future-sdk', id: 'future', sdk: '^9.0.0' }), out);
    tgz.boom = pnpmPack(fixturePlugin(src, { name: '@fx/boom', id: 'boom', init: "throw new Error('cannot open /dev/nothing');" }), out);
    tgz.twin = pnpmPack(fixturePlugin(src, { name: '@fx/twin', id: 'process' }), out);
    tgz.lib = pnpmPack(writePackage(join(src, 'lib'), { name: 'just-a-lib', version: '1.0.0', main: 'index.js' }, { 'index.js': '' }), out);
    // A store whose index no longer matches one of its tarballs.
    const store = new PluginStore(join(work, 'store'));
    await store.add(readFileSync(pnpmPack(fixturePlugin(src, { name: '@fx/tampered', id: 'tampered' }), out)));
    const file = join(store.dir, 'fx-tampered-1.0.0.tgz');
    const bytes = readFileSync(file);
    bytes[bytes.length - 8] ^= 0xff;
    writeFileSync(file, bytes);
  });

  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('refuses names, versions and specs that match nothing', () => {
    env = new TestEnv({ CEDANA_PLUGINS_STORE: REPO_STORE });
    expectError(env.cli(['plugin', 'install', 'no-such-plugin']), /^plugin 'no-such-plugin' not found in the store \(.*\) or a registry \(none configured: plugins\.registry\): see `cedana plugin list`/);
    expectError(env.cli(['plugin', 'install', 'process@^9']), /^no version of plugin 'process' matches '\^9' \(store has @cedana-ts\/plugin-process [\d., ]+\): name a version that exists/);
    expectError(env.cli(['plugin', 'install', 'Bad Name!']), /^'Bad Name!' is not a package name: name a plugin/);
    expectError(env.cli(['plugin', 'install', './missing.tgz']), /^cannot read .*\/missing\.tgz: no such file$/);
    expectError(env.cli(['plugin', 'list', 'no-such-plugin']), /^no plugin matches 'no-such-plugin'/);
    assert.ok(installedNothing());
  });

  it('refuses a tarball that fails its checksum, a bad manifest, a non-plugin and another SDK, installing nothing', () => {
    env = new TestEnv({ CEDANA_PLUGINS_STORE: join(work, 'store') });
    expectError(
      env.cli(['plugin', 'install', 'tampered']),
      /^integrity check failed for @fx\/tampered@1\.0\.0 from the store \(.*\): expected sha512-\S+, got sha512-\S+: the tarball is corrupt/,
    );
    expectError(env.cli(['plugin', 'install', local('invalid')]), /^.*invalid\.tgz has an invalid manifest \(cedana\.type: .*\): fix the "cedana" field/);
    expectError(env.cli(['plugin', 'install', local('lib')]), /^.*lib\.tgz is not a cedana plugin: its package\.json has no "cedana" field/);
    expectError(
      env.cli(['plugin', 'install', local('future')]),
      new RegExp(`^future-sdk 1\\.0\\.0 needs SDK \\^9\\.0\\.0, but this cedana has SDK ${SDK_VERSION.replace(/\./g, '\\.')}: install a version of it built for SDK`),
    );
    assert.ok(installedNothing());
    assert.ok(!existsSync(join(env.dir, 'plugins', 'node_modules')) || readdirSync(join(env.dir, 'plugins', 'node_modules')).length === 0);
  });

  it('refuses a second plugin for a type and id; a duplicate put there by hand is an error the daemon survives', async () => {
    env = new TestEnv();
    expectError(env.cli(['plugin', 'install', local('twin')]), /^@fx\/twin provides runtime\.process, which @cedana-ts\/plugin-process provides already: .*remove @cedana-ts\/plugin-process first/);
    assert.ok(installedNothing());
    // By hand, as `npm install --prefix` would put it.
    const byHand = join(env.dir, 'plugins', 'node_modules');
    mkdirSync(byHand, { recursive: true });
    fixturePlugin(byHand, { name: '@fx/twin', id: 'process' });
    await env.startDaemon();
    const plugins = (JSON.parse(env.ok(['features', '--json'])) as { plugins: { name: string; status: string; reason: string }[] }).plugins;
    assert.deepEqual(plugins.find((p) => p.name === '@fx/twin'), { name: '@fx/twin', type: 'runtime', id: 'process', version: '1.0.0', status: 'error', reason: 'runtime.process is provided by @cedana-ts/plugin-process already' });
    assert.equal(plugins.find((p) => p.name === '@cedana-ts/plugin-process')?.status, 'ok');
    assert.match(env.ok(['features', '--errors']), /^✖ @fx\/twin: error: runtime\.process is provided by @cedana-ts\/plugin-process already$/m);
  });

  it('reports a plugin whose init throws, keeps serving, and refuses to start when it is required', async () => {
    env = new TestEnv();
    env.ok(['plugin', 'install', local('boom')]);
    await env.startDaemon();
    const list = env.ok(['plugin', 'list', '@fx/boom']);
    assert.match(list, /^@fx\/boom\s+1\.0\.0\s+error\b/m);
    assert.match(list, /^@fx\/boom: init failed: cannot open \/dev\/nothing$/m);
    assert.match(env.ok(['plugin', 'features', '--errors']), /^✖ @fx\/boom: error: init failed: cannot open \/dev\/nothing$/m);
    assert.equal(env.ok(['ps']).trim(), 'No jobs found', 'the daemon stopped serving');

    await env.stopDaemon();
    env.env.CEDANA_PLUGINS_REQUIRED = 'boom';
    const failed = await env.startDaemon().then(() => null, (err: Error) => err);
    assert.ok(failed, 'the daemon started with a required plugin broken');
    assert.match(env.daemonLog, /required plugin not usable: @fx\/boom: init failed: cannot open \/dev\/nothing/);
  });

  it('refuses to remove built-in, unknown or unnamed plugins, and a bad registry', () => {
    env = new TestEnv();
    expectError(env.cli(['plugin', 'remove', 'process']), /^@cedana-ts\/plugin-process \(built in\) cannot be removed: built-in plugins ship with cedana/);
    expectError(env.cli(['plugin', 'remove', 'nothing-here']), /^plugin 'nothing-here' is not installed: see `cedana plugin list`/);
    expectError(env.cli(['plugin', 'remove']), /^name at least one plugin to remove, or use --all$/);
    expectError(env.cli(['plugin', 'list'], { env: { CEDANA_PLUGINS_REGISTRY: 'ftp://example' } }), /^bad config \(CEDANA_PLUGINS_REGISTRY\): plugins\.registry: an http:\/\/ or https:\/\/ URL/);
  });
});
