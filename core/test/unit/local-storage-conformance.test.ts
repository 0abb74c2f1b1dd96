/**
 * The SDK's storage conformance suite, run against the core's built-in local-disk storage.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageSuite } from '@cedana-ts/sdk/testing';
import { LocalStorage } from '../../src/storage/local';

storageSuite({ describe, it, before, after }, {
  name: 'local disk (built in)',
  setup: async () => ({ storage: new LocalStorage(), base: `${await mkdtemp(join(tmpdir(), 'cedana-local-storage-'))}/` }),
  makePrefix: async (prefix) => void (await mkdir(prefix, { recursive: true })),
});
