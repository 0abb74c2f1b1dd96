/**
 * The SDK's storage conformance suite, run against the GCS plugin — the real @google-cloud/storage client — talking
 * over HTTP to the tests' GCS JSON API server (helpers/gcs-fake.ts, the one fake: no GCS emulator installs here),
 * with a service-account key the server checks. Chunks are 1 MiB, so the suite's 12 MiB object takes twelve.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageSuite, testContext } from '@cedana-ts/sdk/testing';
import type { PluginInstance } from '@cedana-ts/sdk';
import plugin from '../src/index';
import { GcsTestServer, makeServiceAccount } from './helpers/gcs-server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../package.json') as Record<string, unknown>;

let server: GcsTestServer | undefined;
let instance: PluginInstance | undefined;
let keys: string | undefined;

storageSuite(
  { describe, it, before, after },
  {
    name: 'gcs (@google-cloud/storage against the GCS JSON API test server)',
    async setup() {
      keys = mkdtempSync(join(tmpdir(), 'cedana-gcs-keys-'));
      const account = makeServiceAccount(keys);
      server = await GcsTestServer.start({ trust: [account.path] });
      instance = await plugin.init(testContext(pkg, { config: server.config({ credentials_file: account.path, chunk_size_mib: 1 }) }));
      return { storage: instance.storage!, base: 'gcs://ckpt/tests/' };
    },
    async teardown() {
      await instance?.close?.();
      await server?.stop();
      if (keys) rmSync(keys, { recursive: true, force: true });
    },
  },
);
