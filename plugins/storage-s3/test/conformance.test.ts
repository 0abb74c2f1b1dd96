/**
 * The SDK's storage conformance suite, run against the S3 plugin talking to a real S3-compatible server (s3rver)
 * over HTTP. Parts are 5 MiB, so the 12 MiB object of the suite goes up in three parts.
 */
import { storageSuite, testContext } from '@cedana-ts/sdk/testing';
import type { PluginInstance } from '@cedana-ts/sdk';
import plugin from '../src/index';
import { S3TestServer } from './helpers/s3-server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../package.json') as Record<string, unknown>;

let server: S3TestServer | undefined;
let instance: PluginInstance | undefined;

storageSuite(
  { describe, it, before, after },
  {
    name: 's3 (s3rver over HTTP)',
    async setup() {
      server = await S3TestServer.start(['ckpt']);
      instance = await plugin.init(testContext(pkg, { config: server.config({ part_size_mib: 5 }) }));
      return { storage: instance.storage!, base: 's3://ckpt/tests/' };
    },
    async teardown() {
      await instance?.close?.();
      await server?.stop();
    },
  },
);
