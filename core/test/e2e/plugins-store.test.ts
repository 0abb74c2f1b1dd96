/**
 * `cedana plugin install` from the local store with no registry reachable (the registry is a closed port on
 * 127.0.0.1): every plugin the workspace build packed, by its short name, loaded by a real daemon; then
 * `plugin remove --all`, and the `plugin list` / `plugin features` views of it.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PluginStore } from '../../src/plugins/packages/store';
import { TestEnv } from '../helpers/env';
import { teardown } from '../helpers/e2e';
import { REPO_STORE } from '../helpers/plugin-fixtures';
import { freePort } from '../helpers/registry';

interface FeaturesJson {
  plugins: { name: string; id: string; version: string; status: string; reason: string }[];
  features: { feature: string; plugins: Record<string, string> }[];
}

/** The table `cedana plugin list` prints, as rows of cells. */
function listRows(stdout: string): string[][] {
  const lines = stdout.trim().split('\n');
  assert.deepEqual(lines[0].trim().split(/\s+/), ['NAME', 'VERSION', 'STATUS', 'SIZE', 'PUBLISHED']);
  return lines.slice(1).filter((l) => l.trim() && !l.includes(': ')).map((l) => l.trim().split(/\s{2,}/));
}

describe('e2e: plugins from the store', function () {
  this.timeout(120_000);
  let env: TestEnv | undefined;

  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  it('installs every packed plugin by its short name with no registry reachable, and the daemon loads each', async () => {
    const entries = (await new PluginStore(REPO_STORE).entries()).filter((e) => e.cedana);
    const ids = [...new Set(entries.map((e) => String(e.cedana!.id)))].sort();
    assert.ok(ids.includes('process'), `the store ${REPO_STORE} has no process plugin: run scripts/setup-plugin-store.sh`);
    const closed = await freePort();
    env = new TestEnv({ CEDANA_PLUGINS_STORE: REPO_STORE, CEDANA_PLUGINS_REGISTRY: `http://127.0.0.1:${closed}/` });

    const out = env.ok(['plugin', 'install', ...ids]);
    const installed = out.split('\n').filter((l) => l.startsWith('Installed '));
    assert.equal(installed.length, ids.length, out);
    for (const line of installed) assert.match(line, new RegExp(`^Installed \\S+@\\S+ from the store \\(${REPO_STORE}\\)`), line);
    assert.match(out, /No daemon is running: the change takes effect when it starts/);
    // Each install is a symlink to its own install directory, with its dependencies inside it.
    const scoped = readdirSync(join(env.dir, 'plugins', 'node_modules', '@cedana-ts'));
    assert.equal(scoped.length, ids.length, `installed: ${scoped.join(', ')}`);

    await env.startDaemon();
    const features = JSON.parse(env.ok(['plugin', 'features', '--json'])) as FeaturesJson;
    for (const id of ids) {
      const p = features.plugins.find((x) => x.id === id);
      assert.ok(p, `${id} is not loaded`);
      assert.notEqual(p.status, 'error', `${p.name} from the store failed to load: ${p.reason}`);
    }
    assert.equal(features.plugins.find((p) => p.id === 'process')!.status, 'ok');
    const dump = features.features.find((f) => f.feature === 'dump')!;
    assert.equal(dump.plugins['@cedana-ts/plugin-process'], 'available');

    const rows = listRows(env.ok(['plugin', 'list']));
    for (const e of entries) {
      const row = rows.find((r) => r[0] === e.name);
      assert.ok(row, `${e.name} is not in plugin list`);
      assert.equal(row[2], 'installed', `${e.name}: ${row.join(' | ')}`);
      assert.match(row[3], /^\d+ (bytes|KiB|MiB)$/);
      assert.match(row[4], /^\d{4}-\d{2}-\d{2}$/);
    }

    const removed = env.ok(['plugin', 'remove', '--all']);
    assert.equal(removed.split('\n').filter((l) => l.startsWith('Removed ')).length, ids.length, removed);
    assert.match(removed, /The daemon reloaded its plugins/);
    assert.ok(!existsSync(join(env.dir, 'plugins', 'node_modules', '@cedana-ts', 'plugin-process')));
    assert.deepEqual(readdirSync(join(env.dir, 'plugins', '.cedana')), [], 'install directories left behind');
    // The built-in process plugin serves again, without a restart.
    const after = JSON.parse(env.ok(['features', '--json'])) as FeaturesJson;
    assert.equal(after.plugins.find((p) => p.id === 'process')!.status, 'ok');
  });

  it('installs `cedana plugin install runc` from the default store that set-up fills', async () => {
    const ids = (await new PluginStore(REPO_STORE).entries()).filter((e) => e.cedana).map((e) => String(e.cedana!.id));
    const id = ids.includes('runc') ? 'runc' : ids[0];
    env = new TestEnv(); // plugins.store left at its default, /usr/local/lib/cedana/store; no registry
    const out = env.ok(['plugin', 'install', id]);
    assert.match(out, /^Installed @cedana-ts\/plugin-\S+ from the store \(\/usr\/local\/lib\/cedana\/store\)/);
  });

  it('lists store plugins as available, one plugin by name@version, and features as a table', async () => {
    env = new TestEnv({ CEDANA_PLUGINS_STORE: REPO_STORE });
    const entries = (await new PluginStore(REPO_STORE).entries()).filter((e) => e.cedana && e.name !== '@cedana-ts/plugin-process');
    const rows = listRows(env.ok(['plugin', 'list']));
    const builtin = rows.find((r) => r[0] === '@cedana-ts/plugin-process');
    assert.equal(builtin?.[2], 'installed', 'the built-in process plugin');
    const one = entries[0];
    const only = listRows(env.ok(['plugin', 'list', `${one.name}@${one.version}`]));
    assert.equal(only.length, 1);
    assert.equal(only[0][0], one.name);
    assert.equal(only[0][1], one.version);
    assert.match(only[0][2], /^(available|installed)$/);

    // With no daemon running, the CLI loads the plugins itself; a daemon shows the same matrix.
    const local = env.ok(['features']);
    await env.startDaemon();
    const text = env.ok(['features']);
    assert.equal(local, text, 'the matrix without a daemon differs from the daemon’s');
    const lines = text.split('\n');
    assert.match(lines[0], /^FEATURE\s+PROCESS/);
    assert.match(text, /^status\s+ok/m);
    assert.match(text, /^dump\s+✔/m);
    assert.match(text, /^gpu\s+-/m);
    assert.match(text, /✔ available {2}✖ declared by the plugin, not usable here {2}- not provided/);
  });
});
