/**
 * The plugin host with real plugin packages in a temporary plugin directory: outcomes (ok, skipped, error) and
 * their reasons, manifests checked before code runs, duplicates, installed packages replacing built-ins,
 * required plugins, reload — and the feature matrix computed from what loaded plugins returned.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { CedanaError, ErrorCode, SDK_VERSION } from '@cedana-ts/sdk';
import { memoryLogger, pollingChildWatcher } from '@cedana-ts/sdk/testing';
import { featureMatrix } from '../../src/plugins/features';
import { PluginHost, type PluginRecord } from '../../src/plugins/host';
import { installPlugins } from '../../src/plugins/packages/install';
import { PackageSources } from '../../src/plugins/packages/source';
import { PluginStore } from '../../src/plugins/packages/store';
import { packDirectory } from '../../src/plugins/packages/tarball';
import { fixturePlugin, tempDir } from '../helpers/plugin-fixtures';

const PROCESS = '@cedana-ts/plugin-process';

describe('plugin host', function () {
  this.timeout(30_000);
  let work: string;
  let libDir: string;
  let host: PluginHost | undefined;

  function newHost(required: string[] = []): PluginHost {
    host = new PluginHost({
      container,
      logger: memoryLogger(),
      settings: { criuPath: 'criu', tmpDir: work },
      children: pollingChildWatcher(),
      libDir,
      required,
      config: {},
      builtins: [PROCESS],
    });
    return host;
  }
  const byName = (recs: readonly PluginRecord[], name: string) => recs.find((r) => r.name === name);
  /** Puts a fixture plugin into the plugin directory by hand (as `npm install --prefix` would). */
  const put = (f: Parameters<typeof fixturePlugin>[1]) => fixturePlugin(join(libDir, 'node_modules'), f);

  beforeEach(() => {
    work = tempDir('host');
    libDir = join(work, 'lib');
  });
  afterEach(async () => {
    await host?.close();
    host = undefined;
    rmSync(work, { recursive: true, force: true });
  });

  it('keeps each plugin’s outcome and reason; one broken plugin does not stop the others', async () => {
    put({ name: 'good', id: 'good' });
    put({ name: 'throws', id: 'throws', init: "throw new Error('no license key');" });
    put({ name: 'skips', id: 'skips', init: "throw new PluginSkipped('needs a GPU');" });
    put({ name: 'future', id: 'future', sdk: '^9.0.0' });
    const marker = join(work, 'ran');
    put({ name: 'invalid', id: 'invalid', manifest: { type: 'bogus' }, init: `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x');` });
    const recs = await newHost().load();
    assert.deepEqual(
      recs.map((r) => [r.name, r.status]),
      [[PROCESS, 'ok'], ['future', 'error'], ['good', 'ok'], ['invalid', 'error'], ['skips', 'skipped'], ['throws', 'error']],
    );
    assert.equal(byName(recs, 'throws')!.reason, 'init failed: no license key');
    assert.equal(byName(recs, 'skips')!.reason, 'needs a GPU');
    assert.equal(byName(recs, 'future')!.reason, `needs SDK ^9.0.0, but this daemon has SDK ${SDK_VERSION}`);
    assert.match(byName(recs, 'invalid')!.reason!, /^invalid manifest \(cedana\.type: /);
    assert.ok(!existsSync(marker), 'code of a plugin with an invalid manifest ran');
    assert.equal(byName(recs, 'good')!.instance!.runtime!.type, 'good', 'the installed plugin got the daemon’s SDK');
  });

  it('refuses a second plugin with the same type and id, naming the first', async () => {
    put({ name: 'first', id: 'twin' });
    put({ name: 'second', id: 'twin' });
    const recs = await newHost().load();
    assert.equal(byName(recs, 'first')!.status, 'ok');
    assert.deepEqual([byName(recs, 'second')!.status, byName(recs, 'second')!.reason], ['error', 'runtime.twin is provided by first already']);
  });

  it('stops only for a required plugin that is not ok', async () => {
    put({ name: 'throws', id: 'throws', init: "throw new Error('boom');" });
    const err = await newHost(['throws']).load().then(() => null, (e: CedanaError) => e);
    assert.ok(err instanceof CedanaError);
    assert.equal(err.code, ErrorCode.PluginFailed);
    assert.equal(err.message, 'required plugin not usable: throws: init failed: boom');
    const missing = await newHost(['runtime.absent']).load().then(() => null, (e: CedanaError) => e);
    assert.equal(missing?.message, 'required plugin not usable: runtime.absent: not installed');
  });

  it('lets an installed package replace the built-in plugin of the same name', async () => {
    put({ name: PROCESS, version: '9.9.9', id: 'process' });
    const recs = await newHost().load();
    const procs = recs.filter((r) => r.manifest?.id === 'process');
    assert.deepEqual(procs.map((r) => [r.name, r.source, r.manifest!.version, r.status]), [[PROCESS, 'installed', '9.9.9', 'ok']]);
  });

  it('reloads: picks up new, upgraded and removed plugins; keeps the old set when a required one fails', async () => {
    const store = new PluginStore(join(work, 'store'));
    for (const v of ['1.0.0', '2.0.0']) {
      await store.add(await packDirectory(fixturePlugin(join(work, 'src'), { name: 'up', version: v, id: 'up', type: 'streamer', init: `return { features: [], info: { v: '${v}' } };` })));
    }
    const sources = new PackageSources(store, null);
    const h = newHost(['up']);
    await installPlugins(['up@1.0.0'], { libDir, builtins: [PROCESS] }, sources, SDK_VERSION);
    await h.load();
    assert.equal(byName(h.list(), 'up')!.instance!.info!.v, '1.0.0');

    await installPlugins(['up@2.0.0'], { libDir, builtins: [PROCESS] }, sources, SDK_VERSION);
    put({ name: 'newcomer', id: 'newcomer' });
    await h.reload();
    assert.equal(byName(h.list(), 'up')!.instance!.info!.v, '2.0.0', 'the reload ran the old code');
    assert.equal(byName(h.list(), 'newcomer')?.status, 'ok');

    rmSync(join(libDir, 'node_modules', 'newcomer-1.0.0'), { recursive: true });
    rmSync(join(libDir, 'node_modules', 'up'));
    const err = await h.reload().then(() => null, (e: Error) => e);
    assert.match(String(err), /required plugin not usable: up: not installed/);
    assert.equal(byName(h.list(), 'up')!.instance!.info!.v, '2.0.0', 'a failed reload dropped the plugins in use');
    assert.ok(byName(h.list(), 'newcomer'), 'a failed reload changed the set');
  });

  it('closes the instances a reload replaced only once the operations running on them have ended', async () => {
    const closed = join(work, 'closed');
    const init = `
    const noop = async () => { throw new Error('not in this fixture'); };
    const runtime = { type: ctx.manifest.id, optionsSchema: { safeParse: (v) => ({ success: true, data: v }) }, run: noop, manage: noop, dump: noop, restore: noop, kill: noop };
    return { runtime, features: [], async close() { require('node:fs').appendFileSync(${JSON.stringify(closed)}, 'closed\\n'); } };`;
    put({ name: 'held', id: 'held', init });
    const h = newHost();
    await h.load();
    const first = byName(h.list(), 'held')!.instance;
    let release!: () => void;
    const op = h.hold(() => new Promise<void>((r) => (release = r)));
    await h.reload();
    assert.notEqual(byName(h.list(), 'held')!.instance, first, 'the reload did not make new instances');
    assert.ok(!existsSync(closed), 'an instance was closed while an operation was running on it');
    release();
    await op;
    assert.equal(readFileSync(closed, 'utf8'), 'closed\n', 'the replaced instance was not closed (once) after the operation');
    // With nothing running, a reload closes the replaced set at once.
    await h.reload();
    assert.equal(readFileSync(closed, 'utf8'), 'closed\nclosed\n');
  });

  it('computes the feature matrix from what the plugins returned and declared', async () => {
    put({ name: 'runner', id: 'runner', provides: ['run', 'kill'] });
    put({ name: 'store', id: 'obj', type: 'storage', init: "return { features: [], storage: { schemes: ['obj', 'obj2'] } };" });
    put({ name: 'gpu-less', id: 'cuda', type: 'gpu', provides: ['gpu', 'checkpoint-gpu-memory'], init: "throw new PluginSkipped('no GPU here');" });
    const matrix = featureMatrix(await newHost().load());
    assert.deepEqual(matrix.columns.map((c) => [c.name, c.address, c.status]), [
      [PROCESS, 'runtime.process', 'ok'],
      ['gpu-less', 'gpu.cuda', 'skipped'],
      ['runner', 'runtime.runner', 'ok'],
      ['store', 'storage.obj', 'ok'],
    ]);
    const row = (f: string) => matrix.rows.find((r) => r.feature === f)?.cells;
    assert.deepEqual(row('run'), ['available', '', 'available', '']);
    assert.deepEqual(row('dump'), ['available', '', '', '']);
    assert.deepEqual(row('gpu'), ['', 'unavailable', '', '']);
    assert.deepEqual(row('checkpoint-gpu-memory'), ['', 'unavailable', '', '']);
    assert.deepEqual(row('storage'), ['', '', '', 'available']);
    assert.deepEqual(row('storage:obj2'), ['', '', '', 'available']);
    assert.equal(matrix.rows[0].feature, 'run', 'rows follow the SDK’s feature list first');
  });
});
