/**
 * The storage conformance suite: what every Storage must do (sdk/src/storage.ts), run against a real backend. A
 * storage plugin's own mocha tests call {@link storageSuite} with a factory that gives the storage and a base URL
 * the suite may write under.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ErrorCode } from '../errors';
import type { Storage } from '../storage';
import { registerChecks, rejectsWithCode, type Check, type SuiteApi } from './suite-api';

/** What the suite needs: a storage, and where it may write. */
export interface StorageSuiteOptions {
  /** Shown in the suite's title. */
  name: string;
  /**
   * The storage under test and a base URL ending in `/` (`s3://bucket/tests/`, `/tmp/x/`). Each run writes under
   * a fresh prefix below it and deletes what it wrote.
   */
  setup(): Promise<{ storage: Storage; base: string }>;
  /**
   * Called with the fresh prefix before any check, for storages whose prefixes are real directories (local disk:
   * `mkdir`). Object stores need nothing.
   */
  makePrefix?(prefix: string): Promise<void>;
  /** Size of the large object, which a streaming backend must upload in several parts; default 12 MiB. */
  largeBytes?: number;
  /** Per check; default 60 s. */
  timeoutMs?: number;
  teardown?(): Promise<void>;
}

interface StorageCtx {
  storage: Storage;
  /** A fresh prefix, ending in `/`. */
  prefix: string;
  largeBytes: number;
}

function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m ? m[1].toLowerCase() : 'file';
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Writes `chunks` to a new upload at `url` and returns the upload, not yet committed. */
async function write(storage: Storage, url: string, chunks: Buffer[]) {
  const upload = await storage.create(url);
  for (const chunk of chunks) {
    if (!upload.stream.write(chunk)) await new Promise((r) => upload.stream.once('drain', r));
  }
  await new Promise<void>((resolve, reject) => {
    upload.stream.once('error', reject);
    upload.stream.end(() => resolve());
  });
  return upload;
}

/** The checks, in the order they run. */
export function storageChecks(): Check<StorageCtx>[] {
  return [
    {
      name: 'serves the scheme of its base URL, and names its schemes plainly',
      async run({ storage, prefix }) {
        assert.ok(storage.schemes.length > 0, 'schemes is empty');
        for (const s of storage.schemes) assert.match(s, /^[a-z][a-z0-9+.-]*$/, `scheme '${s}'`);
        assert.ok(storage.schemes.includes(schemeOf(prefix)), `the base URL's scheme ${schemeOf(prefix)} is not in [${storage.schemes.join(', ')}]`);
      },
    },
    {
      name: 'an object is invisible until commit, then reads back byte for byte with its size',
      async run({ storage, prefix }) {
        const url = `${prefix}small.bin`;
        const data = randomBytes(100_000);
        const upload = await write(storage, url, [data.subarray(0, 1000), data.subarray(1000)]);
        assert.equal(await storage.stat(url), null, 'the object is visible before commit');
        assert.ok(!(await storage.list(prefix)).some((o) => o.url === url), 'list shows the object before commit');
        const { size } = await upload.commit();
        assert.equal(size, data.length, 'commit returned the wrong size');
        const st = await storage.stat(url);
        assert.ok(st, 'stat found nothing after commit');
        assert.equal(st.size, data.length);
        assert.ok(st.modified instanceof Date && !Number.isNaN(st.modified.getTime()), 'stat.modified is no date');
        assert.ok((await readAll(await storage.open(url))).equals(data), 'the object read back differs');
      },
    },
    {
      name: 'abort leaves nothing under the URL, and may be called twice',
      async run({ storage, prefix }) {
        const url = `${prefix}aborted.bin`;
        const upload = await storage.create(url);
        upload.stream.write(randomBytes(10_000));
        await upload.abort();
        await upload.abort();
        assert.equal(await storage.stat(url), null, 'an aborted object is visible');
        assert.ok(!(await storage.list(prefix)).some((o) => o.url === url), 'list shows an aborted object');
      },
    },
    {
      name: 'a missing object: open fails with NOT_FOUND, stat answers null, delete is no error',
      async run({ storage, prefix }) {
        const url = `${prefix}missing.bin`;
        await rejectsWithCode(storage.open(url), 'open of a missing object', ErrorCode.NotFound);
        assert.equal(await storage.stat(url), null);
        await storage.delete(url);
      },
    },
    {
      name: 'list returns the objects under a prefix with their sizes, and nothing else',
      async run({ storage, prefix }) {
        for (const [name, size] of [['list-a-one.bin', 10], ['list-a-two.bin', 20], ['list-b.bin', 30]] as const) {
          await (await write(storage, `${prefix}${name}`, [randomBytes(size)])).commit();
        }
        const under = (await storage.list(`${prefix}list-a-`)).map((o) => [o.url, o.size]).sort();
        assert.deepEqual(under, [[`${prefix}list-a-one.bin`, 10], [`${prefix}list-a-two.bin`, 20]]);
      },
    },
    {
      name: 'delete removes an object, and deleting it again is no error',
      async run({ storage, prefix }) {
        const url = `${prefix}deleted.bin`;
        await (await write(storage, url, [randomBytes(1000)])).commit();
        await storage.delete(url);
        assert.equal(await storage.stat(url), null, 'the object is still there after delete');
        await storage.delete(url);
      },
    },
    {
      name: 'a large object streams in and out intact',
      async run({ storage, prefix, largeBytes }) {
        const url = `${prefix}large.bin`;
        const chunk = randomBytes(1 << 20);
        const count = Math.ceil(largeBytes / chunk.length);
        await (await write(storage, url, Array.from({ length: count }, () => chunk))).commit();
        const back = await readAll(await storage.open(url));
        assert.equal(back.length, count * chunk.length);
        for (let i = 0; i < count; i++) assert.ok(back.subarray(i * chunk.length, (i + 1) * chunk.length).equals(chunk), `part ${i} differs`);
      },
    },
  ];
}

/** Registers the storage conformance suite: `storageSuite({ describe, it, before, after }, { name, setup })`. */
export function storageSuite(api: SuiteApi, opts: StorageSuiteOptions): void {
  let storage: Storage | undefined;
  registerChecks<StorageCtx>(
    api,
    `storage conformance: ${opts.name}`,
    opts.timeoutMs ?? 60_000,
    async () => {
      const made = await opts.setup();
      storage = made.storage;
      assert.ok(made.base.endsWith('/'), `the base URL must end in '/': ${made.base}`);
      const prefix = `${made.base}conformance-${randomBytes(4).toString('hex')}/`;
      await opts.makePrefix?.(prefix);
      return { storage: made.storage, prefix, largeBytes: opts.largeBytes ?? 12 << 20 };
    },
    storageChecks(),
    async (ctx) => {
      if (ctx && storage) for (const o of await storage.list(ctx.prefix).catch(() => [])) await storage.delete(o.url).catch(() => undefined);
      await opts.teardown?.();
    },
  );
}
