/**
 * The SDK's storage conformance suite, run against the core's built-in local-disk storage.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageSuite } from '@cedana-ts/sdk/testing';
import { LocalStorage } from '../../src/storage/local';

let base = '';

storageSuite({ describe, it, before, after }, {
  name: 'local disk (built in)',
  setup: async () => {
    base = await mkdtemp(join(tmpdir(), 'cedana-local-storage-'));
    return { storage: new LocalStorage(), base: `${base}/` };
  },
  makePrefix: async (prefix) => void (await mkdir(prefix, { recursive: true })),
  teardown: async () => rm(base, { recursive: true, force: true }),
});
