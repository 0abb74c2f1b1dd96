/**
 * Checkpoint archives: format recognition, pack → unpack round trips of a directory in every format (byte for
 * byte), interop with the system's tar and lz4 tools, and the refusals of unpack (unsafe entries, truncation,
 * corruption).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync, deflateSync, zstdCompressSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { detectFormat, extensionOf, SNIFF_BYTES } from '../../src/archive/formats';
import { packDirectory } from '../../src/archive/pack';
import { safeTarget, unpackArchive } from '../../src/archive/unpack';

type Format = 'tar' | 'gzip' | 'lz4' | 'zlib' | 'zstd';
const FORMATS: Format[] = ['tar', 'gzip', 'lz4', 'zlib', 'zstd'];

/** Every file under `dir` (relative path → sha256), and every directory (→ 'dir'). */
function tree(dir: string, root = dir, out: Record<string, string> = {}): Record<string, string> {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    const rel = relative(root, full);
    if (statSync(full).isDirectory()) {
      out[rel] = 'dir';
      tree(full, root, out);
    } else {
      out[rel] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  }
  return out;
}

/** Deterministic bytes that compress a little but not to nothing. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = i % 7 === 0 ? 0 : x & 0xff;
  }
  return b;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function packTo(dir: string, format: Format, file: string): Promise<void> {
  await packDirectory(dir, format, createWriteStream(file));
}

async function unpackFile(file: string, dest: string): Promise<void> {
  await unpackArchive(createReadStream(file), dest, file);
}

/** A tar archive (uncompressed) of the given entries, built with tar-stream. */
async function tarOf(entries: { header: Parameters<tar.Pack["entry"]>[0]; body?: string | Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  // Read while adding: an entry bigger than the stream's buffer completes only once it has been read.
  const read = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((res, rej) => pack.entry(e.header, e.body ?? '', (err) => (err ? rej(err) : res())));
  }
  pack.finalize();
  await read;
  return Buffer.concat(chunks);
}

async function rejectsCorrupt(p: Promise<unknown>, message: RegExp): Promise<CedanaError> {
  let caught: unknown;
  await p.catch((err: unknown) => (caught = err));
  assert.ok(caught instanceof CedanaError, `expected a CedanaError, got ${String(caught)}`);
  assert.equal(caught.code, ErrorCode.CorruptCheckpoint, caught.message);
  assert.match(caught.message, message);
  return caught;
}

describe('archive formats', function () {
  let work: string;
  let src: string;

  before(function () {
    work = mkdtempSync(join(tmpdir(), 'cedana-unit-archive-'));
    src = join(work, 'src');
    mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
    mkdirSync(join(src, 'empty-dir'));
    writeFileSync(join(src, 'cedana.json'), JSON.stringify({ version: 1, type: 'process' }));
    writeFileSync(join(src, 'empty.img'), '');
    // Five LZ4 frames (4 MiB of input each), more than are compressed at once: the frames must come out in order.
    writeFileSync(join(src, 'pages-1.img'), bytes(17 * 1024 * 1024 + 123, 7));
    writeFileSync(join(src, 'sub', 'core-42.img'), bytes(70_001, 3));
    writeFileSync(join(src, 'sub', 'deeper', 'zeros.img'), Buffer.alloc(100_000));
  });

  after(function () {
    rmSync(work, { recursive: true, force: true });
  });

  describe('detectFormat', function () {
    it('recognises gzip, lz4, zlib and tar from their first bytes', async function () {
      const tarBytes = await tarOf([{ header: { name: 'a.txt' }, body: 'hello' }]);
      assert.equal(detectFormat(tarBytes.subarray(0, SNIFF_BYTES)), 'tar');
      assert.equal(detectFormat(gzipSync(tarBytes).subarray(0, SNIFF_BYTES)), 'gzip');
      assert.equal(detectFormat(deflateSync(tarBytes).subarray(0, SNIFF_BYTES)), 'zlib');
      assert.equal(detectFormat(deflateSync(tarBytes, { level: 9 }).subarray(0, SNIFF_BYTES)), 'zlib');
      assert.equal(detectFormat(Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7])), 'lz4');
      assert.equal(detectFormat(zstdCompressSync(tarBytes).subarray(0, SNIFF_BYTES)), 'zstd');
    });

    it('recognises what pack writes, for every format', async function () {
      for (const format of FORMATS) {
        const file = join(work, `detect${extensionOf[format]}`);
        await packTo(src, format, file);
        assert.equal(detectFormat(readFileSync(file).subarray(0, SNIFF_BYTES)), format, format);
      }
    });

    it('says null for text, empty input, and too few bytes', function () {
      assert.equal(detectFormat(Buffer.from('this is not a checkpoint\n'.repeat(40))), null);
      assert.equal(detectFormat(Buffer.alloc(0)), null);
      assert.equal(detectFormat(Buffer.from([0x1f])), null);
      assert.equal(detectFormat(Buffer.alloc(600)), null);
    });

    it('takes a tar whose first entry name looks like a zlib header for a tar', async function () {
      // 'x^' = 0x78 0x5e: a valid zlib header (CM 8, check bits ok). The ustar magic must win.
      const tarBytes = await tarOf([{ header: { name: 'x^odd-name' }, body: 'data' }]);
      assert.equal(detectFormat(tarBytes.subarray(0, SNIFF_BYTES)), 'tar');
    });
  });

  describe('pack then unpack', function () {
    for (const format of FORMATS) {
      it(`round-trips a directory byte for byte as ${format}`, async function () {
        const file = join(work, `rt${extensionOf[format]}`);
        const dest = mkdtempSync(join(work, `out-${format}-`));
        await packTo(src, format, file);
        await unpackFile(file, dest);
        assert.deepEqual(tree(dest), tree(src));
        assert.equal(statSync(join(dest, 'pages-1.img')).size, 17 * 1024 * 1024 + 123);
      });
    }

    it('unpacks archives made by the system tar (gzip) and lz4 tools', async function () {
      const plain = join(work, 'sys.tar');
      assert.equal(spawnSync('tar', ['-cf', plain, '-C', src, '.']).status, 0);
      const gz = join(work, 'sys.tar.gz');
      assert.equal(spawnSync('tar', ['-czf', gz, '-C', src, '.']).status, 0);
      for (const file of [plain, gz]) {
        const dest = mkdtempSync(join(work, 'sys-out-'));
        await unpackFile(file, dest);
        assert.deepEqual(tree(dest), tree(src), file);
      }
      // The lz4 tool is installed by scripts/setup-system.sh.
      assert.equal(spawnSync('lz4', ['--version']).status, 0, 'the lz4 tool is missing: run scripts/setup.sh');
      const lz = join(work, 'sys.tar.lz4');
      assert.equal(spawnSync('lz4', ['-q', '-f', plain, lz]).status, 0);
      const dest = mkdtempSync(join(work, 'sys-lz4-out-'));
      await unpackFile(lz, dest);
      assert.deepEqual(tree(dest), tree(src));
    });

    it('writes .tar.lz4 that the lz4 tool reads, with a content checksum it verifies', async function () {
      assert.equal(spawnSync('lz4', ['--version']).status, 0, 'the lz4 tool is missing: run scripts/setup.sh');
      const file = join(work, 'for-cli.tar.lz4');
      await packTo(src, 'lz4', file);
      const tarFile = join(work, 'from-cli.tar');
      const d = spawnSync('lz4', ['-d', '-q', '-f', file, tarFile], { encoding: 'utf8' });
      assert.equal(d.status, 0, d.stderr);
      const dest = mkdtempSync(join(work, 'cli-out-'));
      const x = spawnSync('tar', ['-xf', tarFile, '-C', dest], { encoding: 'utf8' });
      assert.equal(x.status, 0, x.stderr);
      assert.deepEqual(tree(dest), tree(src));
      // FLG byte: version 01, and the content-checksum bit.
      const flg = readFileSync(file)[4];
      assert.equal(flg & 0xc0, 0x40);
      assert.equal(flg & 0x04, 0x04, 'frames carry a content checksum');
    });
  });

  describe('safeTarget', function () {
    const dest = '/var/tmp/cedana-dest';

    it('maps names inside the target directory', function () {
      assert.equal(safeTarget(dest, 'core-1.img'), '/var/tmp/cedana-dest/core-1.img');
      assert.equal(safeTarget(dest, 'a/b/c.img'), '/var/tmp/cedana-dest/a/b/c.img');
      assert.equal(safeTarget(dest, './a/./b'), '/var/tmp/cedana-dest/a/b');
      assert.equal(safeTarget(dest, 'a/../b'), '/var/tmp/cedana-dest/b');
      assert.equal(safeTarget(dest, './'), '/var/tmp/cedana-dest');
      assert.equal(safeTarget(dest, 'a..b'), '/var/tmp/cedana-dest/a..b');
    });

    for (const name of ['..', '../evil', '../../etc/passwd', 'a/../../evil', 'a/b/../../../evil', '/abs/path', '/etc/passwd', '..//x']) {
      it(`refuses '${name}'`, function () {
        assert.throws(
          () => safeTarget(dest, name),
          (err: unknown) => err instanceof CedanaError && err.code === ErrorCode.CorruptCheckpoint && err.message.includes(`'${name}'`) && /outside/.test(err.message),
        );
      });
    }
  });

  describe('unpack refuses', function () {
    let outside: string;

    beforeEach(function () {
      outside = mkdtempSync(join(work, 'outside-'));
    });

    async function unpackBytes(buf: Buffer, what = 'evil.tar.gz'): Promise<string> {
      const dest = join(outside, 'dest');
      mkdirSync(dest);
      await unpackArchive(Readable.from([buf]), dest, what);
      return dest;
    }

    it('entries with .. that would land next to the target', async function () {
      const buf = gzipSync(await tarOf([{ header: { name: 'ok.img' }, body: 'fine' }, { header: { name: '../evil' }, body: 'pwned' }]));
      await rejectsCorrupt(unpackBytes(buf), /unsafe archive entry '\.\.\/evil'/);
      assert.equal(existsSync(join(outside, 'evil')), false);
    });

    it('absolute entry names', async function () {
      const target = join(outside, 'abs-evil');
      const buf = gzipSync(await tarOf([{ header: { name: target }, body: 'pwned' }]));
      await rejectsCorrupt(unpackBytes(buf), /unsafe archive entry/);
      assert.equal(existsSync(target), false);
    });

    it('symlink entries, and files written through them', async function () {
      const buf = gzipSync(
        await tarOf([
          { header: { name: 'link', type: 'symlink', linkname: outside } },
          { header: { name: 'link/payload' }, body: 'pwned' },
        ]),
      );
      await rejectsCorrupt(unpackBytes(buf), /unsafe archive entry 'link': symlink/);
      assert.equal(existsSync(join(outside, 'payload')), false);
      assert.equal(existsSync(join(outside, 'dest', 'link')), false);
    });

    it('hardlink entries', async function () {
      const victim = join(outside, 'victim');
      writeFileSync(victim, 'original');
      const buf = gzipSync(await tarOf([{ header: { name: 'hard', type: 'link', linkname: victim } }, { header: { name: 'hard' }, body: 'pwned' }]));
      await rejectsCorrupt(unpackBytes(buf), /unsafe archive entry 'hard': link/);
      assert.equal(readFileSync(victim, 'utf8'), 'original');
      assert.equal(existsSync(join(outside, 'dest', 'hard')), false);
    });

    it('device and fifo entries', async function () {
      for (const type of ['fifo', 'character-device', 'block-device'] as const) {
        const buf = await tarOf([{ header: { name: 'dev', type, devmajor: 1, devminor: 3 } }]);
        await rejectsCorrupt(unpackBytes(buf, `${type}.tar`), new RegExp(`'dev': ${type} entries are not allowed`));
        rmSync(join(outside, 'dest'), { recursive: true, force: true });
      }
    });

    it('an archive with no files', async function () {
      await rejectsCorrupt(unpackBytes(await tarOf([{ header: { name: 'd', type: 'directory' } }])), /empty archive/);
    });

    it('a file that is no archive', async function () {
      await rejectsCorrupt(unpackBytes(Buffer.from('hello, I am not a checkpoint\n'.repeat(50)), 'notes.txt'), /notes\.txt is not a checkpoint archive/);
    });
  });

  describe('unpack of damaged archives', function () {
    for (const format of FORMATS) {
      it(`fails on a ${format} archive cut in half, and leaves the file as it was`, async function () {
        const file = join(work, `half${extensionOf[format]}`);
        await packTo(src, format, file);
        const full = readFileSync(file);
        writeFileSync(file, full.subarray(0, Math.floor(full.length / 2)));
        const before = sha256(file);
        await rejectsCorrupt(unpackFile(file, mkdtempSync(join(work, 'half-out-'))), /truncated/);
        assert.equal(sha256(file), before);
      });
    }

    for (const format of ['gzip', 'lz4', 'zlib', 'zstd'] as const) {
      it(`fails on a ${format} archive with bytes flipped in the middle`, async function () {
        const file = join(work, `flip${extensionOf[format]}`);
        await packTo(src, format, file);
        const buf = readFileSync(file);
        const mid = Math.floor(buf.length / 2);
        for (let i = 0; i < 16; i++) buf[mid + i] ^= 0x5a;
        writeFileSync(file, buf);
        await rejectsCorrupt(unpackFile(file, mkdtempSync(join(work, 'flip-out-'))), /truncated or corrupted/);
      });
    }

    it('closes the file of every refused archive (no descriptor leaks in the daemon)', async function () {
      const notArchive = join(work, 'leak-text.bin');
      writeFileSync(notArchive, Buffer.alloc(200_000, 1));
      const truncated = join(work, 'leak-half.tar.gz');
      await packTo(src, 'gzip', truncated);
      writeFileSync(truncated, readFileSync(truncated).subarray(0, 50_000));
      const evil = join(work, 'leak-evil.tar.gz');
      writeFileSync(evil, gzipSync(await tarOf([{ header: { name: '../evil' }, body: 'x'.repeat(100_000) }])));
      const fds = () => readdirSync('/proc/self/fd').length;
      const before = fds();
      for (let i = 0; i < 20; i++) {
        for (const file of [notArchive, truncated, evil]) {
          const dest = mkdtempSync(join(work, 'leak-out-'));
          await assert.rejects(unpackFile(file, dest));
          rmSync(dest, { recursive: true });
        }
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(fds() <= before + 2, `open descriptors went from ${before} to ${fds()}`);
    });

    it('fails on a tar cut exactly at an entry boundary (the end-of-archive blocks are missing)', async function () {
      const whole = await tarOf([
        { header: { name: 'first.img' }, body: bytes(1000, 1) },
        { header: { name: 'second.img' }, body: bytes(2000, 2) },
      ]);
      // header 512 + data 1000 padded to 1024: the second entry starts at 1536.
      const cut = whole.subarray(0, 1536);
      const dest = join(work, 'boundary-out');
      mkdirSync(dest);
      await rejectsCorrupt(unpackArchive(Readable.from([cut]), dest, 'cut.tar'), /cut\.tar is truncated/);
      const gzDest = join(work, 'boundary-out-gz');
      mkdirSync(gzDest);
      await rejectsCorrupt(unpackArchive(Readable.from([gzipSync(cut)]), gzDest, 'cut.tar.gz'), /truncated/);
      // The whole archive is fine.
      const okDest = join(work, 'boundary-ok');
      mkdirSync(okDest);
      await unpackArchive(Readable.from([whole]), okDest, 'whole.tar');
      assert.deepEqual(readdirSync(okDest).sort(), ['first.img', 'second.img']);
    });
  });
});
