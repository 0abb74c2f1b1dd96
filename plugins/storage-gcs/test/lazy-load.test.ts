/**
 * The plugin keeps its cloud client library out of the daemon until a gcs:// request needs it. Checked in a
 * fresh Node process: this test process has loaded the library already for the other tests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const probe = `
const { testContext } = require('@cedana-ts/sdk/testing');
const plugin = require(${JSON.stringify(join(__dirname, '..', 'src', 'index.js'))}).default;
const pkg = require(${JSON.stringify(join(__dirname, '..', '..', 'package.json'))});
const loaded = () => Object.keys(require.cache).some((k) => k.includes('@google-cloud/storage'.replace('/', '+')) || k.includes('/@google-cloud/storage/'));
(async () => {
  const instance = await plugin.init(testContext(pkg, { config: { gcs: { endpoint: 'http://127.0.0.1:9' } } }));
  const before = loaded();
  await instance.storage.stat('gcs://').catch(() => undefined);
  console.log(JSON.stringify({ before, after: loaded() }));
  await instance.close?.();
  process.exit(0);
})();
`;

describe('gcs storage: loading', () => {
  it('loads @google-cloud/storage on the first request, not at init', () => {
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', cwd: __dirname, timeout: 60_000, env: { ...process.env, AWS_MAX_ATTEMPTS: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { before: false, after: true });
  });
});
