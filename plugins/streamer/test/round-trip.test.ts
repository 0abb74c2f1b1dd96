/**
 * Sharded checkpoints, written and read back through the streamer on real files: every compression with 1, 2 and 4
 * shards, and the errors for a missing, corrupted or truncated shard. The "storage" is a plain directory.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { CedanaError, Compression, ErrorCode, SHARD_MANIFEST, ShardManifest, type Upload } from '@cedana-ts/sdk';
import { piecesOf, splitRanges, streamer } from '../src/index';

/** Text-like, compressible data: words drawn from a small vocabulary, with random numbers between. */
function textLike(bytes: number): Buffer {
  const words = ['frame', 'heap', 'object', 'page', 'python', 'dict', 'list', 'value', 'None', 'True', '__init__'];
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const w = `${words[Math.floor(Math.random() * words.length)]}=${Math.floor(Math.random() * 100000)} `;
    parts.push(w);
    size += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

async function makeImages(root: string): Promise<void> {
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(root, 'cedana.json'), JSON.stringify({ version: 1 }));
  await writeFile(join(root, 'core-1.img'), randomBytes(3000));
  await writeFile(join(root, 'empty.img'), Buffer.alloc(0));
  await writeFile(join(root, 'pages-1.img'), Buffer.concat([textLike(5 << 20), Buffer.alloc(1 << 20), randomBytes(300_000)]));
  await writeFile(join(root, 'sub', 'inner.img'), textLike(70_000), { mode: 0o640 });
}

/** A checkpoint folder with the same all-or-nothing writes a storage gives. */
function folderStorage(dir: string): { create(name: string): Promise<Upload>; open(name: string): Promise<ReturnType<typeof createReadStream>> } {
  return {
    async create(name) {
      const partial = join(dir, `.${name}.partial`);
      const stream = createWriteStream(partial, { flags: 'wx' });
      let done = false;
      return {
        stream,
        async commit() {
          if (!stream.writableFinished) await finished(stream);
          await rename(partial, join(dir, name));
          done = true;
          return { size: (await stat(join(dir, name))).size };
        },
        async abort() {
          if (done) return;
          done = true;
          stream.destroy();
          await rm(partial, { force: true });
        },
      };
    },
    async open(name) {
      if (!(await stat(join(dir, name)).catch(() => null))) throw new CedanaError(ErrorCode.NotFound, `${name} does not exist`);
      return createReadStream(join(dir, name));
    },
  };
}

async function sameTree(a: string, b: string): Promise<void> {
  const names = (await readdir(a, { recursive: true })).sort();
  assert.deepEqual((await readdir(b, { recursive: true })).sort(), names);
  for (const n of names) {
    const sa = await stat(join(a, n));
    if (sa.isDirectory()) continue;
    assert.ok((await readFile(join(a, n))).equals(await readFile(join(b, n))), `${n} differs`);
    assert.equal((await stat(join(b, n))).mode & 0o777, sa.mode & 0o777, `${n} mode`);
  }
}

describe('streamer: sharded checkpoints', function () {
  this.timeout(60_000);
  let work: string;
  let images: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'streamer-test-'));
    images = join(work, 'images');
    await makeImages(images);
  });
  after(() => rm(work, { recursive: true, force: true }));

  async function dumpTo(name: string, streams: number, compression: Compression): Promise<{ dir: string; manifest: ShardManifest }> {
    const dir = join(work, name);
    await mkdir(dir);
    const progress: number[] = [];
    const manifest = await streamer.write({ imagesDir: images, streams, compression, ...folderStorage(dir), onProgress: (p) => progress.push(p.rawBytes) });
    assert.ok(progress.length > 0, 'progress was reported');
    return { dir, manifest };
  }

  async function restoreFrom(dir: string, what = dir): Promise<string> {
    const dest = await mkdtemp(join(work, 'restored-'));
    const manifest = ShardManifest.parse(JSON.parse(await readFile(join(dir, SHARD_MANIFEST), 'utf8')));
    await streamer.read({ manifest, destDir: dest, what, ...folderStorage(dir) });
    return dest;
  }

  for (const compression of Compression.options) {
    for (const streams of [1, 2, 4]) {
      it(`round-trips ${compression} in ${streams} shard(s)`, async () => {
        const { dir, manifest } = await dumpTo(`${compression}-${streams}`, streams, compression);
        const stored = (await readdir(dir)).sort();
        assert.deepEqual(stored, [...manifest.shards.map((s) => s.name), SHARD_MANIFEST].sort());
        assert.equal(manifest.shards.length, streams);
        if (compression !== 'none' && compression !== 'tar') {
          const raw = manifest.shards.reduce((a, s) => a + s.length, 0);
          const packed = manifest.shards.reduce((a, s) => a + s.stored, 0);
          assert.ok(packed < raw * 0.8, `${compression} compressed ${raw} bytes to ${packed}`);
        }
        await sameTree(images, await restoreFrom(dir));
      });
    }
  }

  it('splits the files into ranges that cover them exactly', () => {
    const files = [{ path: 'a', size: 5, mode: 0o600 }, { path: 'b', size: 0, mode: 0o600 }, { path: 'c', size: 8, mode: 0o600 }];
    const ranges = splitRanges(13, 4);
    assert.deepEqual(ranges.map((r) => r.length), [4, 3, 3, 3]);
    assert.deepEqual(piecesOf(files, ranges[1].offset, ranges[1].length), [{ path: 'a', offset: 4, length: 1 }, { path: 'c', offset: 0, length: 2 }]);
  });

  it('names a missing shard', async () => {
    const { dir } = await dumpTo('missing', 4, 'lz4');
    await rm(join(dir, 'img-2.lz4'));
    await assert.rejects(restoreFrom(dir, 'ckpt-missing'), (err: CedanaError) => {
      assert.equal(err.code, ErrorCode.NotFound);
      assert.match(err.message, /shard img-2\.lz4 of ckpt-missing is missing/);
      return true;
    });
  });

  for (const compression of ['zstd', 'none'] as const) {
    it(`names a corrupted ${compression} shard`, async () => {
      const { dir, manifest } = await dumpTo(`corrupt-${compression}`, 2, compression);
      const name = manifest.shards[1].name;
      const bytes = await readFile(join(dir, name));
      bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      await writeFile(join(dir, name), bytes);
      await assert.rejects(restoreFrom(dir, 'ckpt-corrupt'), (err: CedanaError) => {
        assert.equal(err.code, ErrorCode.CorruptCheckpoint);
        assert.match(err.message, new RegExp(`shard ${name.replace('.', '\\.')} of ckpt-corrupt is corrupted`));
        return true;
      });
    });
  }

  it('names a truncated shard', async () => {
    const { dir, manifest } = await dumpTo('truncated', 2, 'gzip');
    const name = manifest.shards[0].name;
    await truncate(join(dir, name), Math.floor(manifest.shards[0].stored / 2));
    await assert.rejects(restoreFrom(dir, 'ckpt-cut'), (err: CedanaError) => {
      assert.equal(err.code, ErrorCode.CorruptCheckpoint);
      assert.match(err.message, new RegExp(`shard ${name.replace('.', '\\.')} of ckpt-cut is (corrupted|truncated)`));
      return true;
    });
  });

  it('refuses a manifest with a path outside the image directory', async () => {
    const { dir, manifest } = await dumpTo('unsafe', 1, 'tar');
    manifest.files[0].path = '../escape';
    await writeFile(join(dir, SHARD_MANIFEST), JSON.stringify(manifest));
    await assert.rejects(restoreFrom(dir, 'ckpt-unsafe'), /ckpt-unsafe has an unsafe path in its manifest/);
  });
});
