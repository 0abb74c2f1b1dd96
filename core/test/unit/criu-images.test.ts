/**
 * The CRIU image reader (images/criu-image.ts, images/protobuf.ts) on hand-built images: framing, nested and
 * repeated fields, packed numbers, and what it says of a damaged image. The e2e suite
 * (checkpoint-inspect.test.ts) reads real dumps.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageEntries, readImage } from '../../src/images/criu-image';
import { Message, packedVarints } from '../../src/images/protobuf';

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}
const vfield = (f: number, n: number) => [...varint(f * 8), ...varint(n)];
const lfield = (f: number, bytes: number[] | Buffer) => [...varint(f * 8 + 2), ...varint(bytes.length), ...bytes];
function image(...entries: number[][]): Buffer {
  const parts = [Buffer.from([0x19, 0x43, 0x56, 0x54, 1, 2, 3, 4])];
  for (const e of entries) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(e.length);
    parts.push(len, Buffer.from(e));
  }
  return Buffer.concat(parts);
}

describe('CRIU image reader', () => {
  it('reads framed entries with nested, repeated, packed, and 64-bit fields', () => {
    const tc = lfield(6, Buffer.from('python3'));
    const entries = imageEntries(
      image(
        [...vfield(1, 4242), ...vfield(2, 1), ...lfield(5, [...varint(4242), ...varint(4243)]), ...lfield(3, tc)],
        [...vfield(1, 2 ** 47 + 5), ...vfield(8, 3), ...vfield(5, 7), ...vfield(5, 8)],
      ),
    );
    assert.equal(entries.length, 2);
    assert.equal(entries[0].num(1), 4242);
    assert.deepEqual(entries[0].nums(5), [4242, 4243]);
    assert.equal(entries[0].msg(3)?.str(6), 'python3');
    assert.equal(entries[1].num(1), 2 ** 47 + 5);
    assert.equal(entries[1].num(8), 3);
    assert.deepEqual(entries[1].nums(5), [7, 8]);
    assert.deepEqual(packedVarints(Buffer.from([0xac, 0x02, 0x01])), [300, 1]);
    assert.equal(Message.parse(Buffer.alloc(0)).num(1), undefined);
  });

  it('names a damaged image, and takes a missing one as empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cedana-img-'));
    try {
      const cut = image([...vfield(1, 1), ...vfield(2, 2)]).subarray(0, 14);
      writeFileSync(join(dir, 'pstree.img'), cut);
      await assert.rejects(readImage(dir, 'pstree.img'), (err: Error & { code?: string }) => /image pstree\.img is unreadable \(truncated entry\)/.test(err.message) && err.code === 'CORRUPT_CHECKPOINT');
      assert.deepEqual(await readImage(dir, 'core-1.img'), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
