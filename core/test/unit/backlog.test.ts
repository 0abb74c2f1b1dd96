/**
 * The backlog kept for the next attacher: order and streams kept, small pieces gathered into blocks, and full
 * (its owner then stops reading) past its limit, with nothing dropped.
 */
import assert from 'node:assert/strict';
import { Backlog } from '../../src/io/backlog';

describe('backlog', () => {
  it('gives back what was pushed, in order, with its stream', () => {
    const b = new Backlog(1024 * 1024);
    b.push('stdout', Buffer.from('a1\n'));
    b.push('stdout', Buffer.from('a2\n'));
    b.push('stderr', Buffer.from('e1\n'));
    b.push('stdout', Buffer.from('a3\n'));
    assert.deepEqual(
      b.take().map((c) => [c.stream, c.data.toString()]),
      [
        ['stdout', 'a1\na2\n'],
        ['stderr', 'e1\n'],
        ['stdout', 'a3\n'],
      ],
    );
    assert.deepEqual(b.take(), [], 'take empties it');
  });

  it('gathers many small pieces into few blocks', () => {
    const b = new Backlog(8 * 1024 * 1024);
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      lines.push(`${i}\n`);
      b.push('stdout', Buffer.from(`${i}\n`));
    }
    const blocks = b.take();
    assert.ok(blocks.length <= 12, `${blocks.length} blocks for ${lines.join('').length} bytes`);
    assert.equal(Buffer.concat(blocks.map((c) => c.data)).toString(), lines.join(''));
  });

  it('is full at its limit, drops nothing, and is empty again once taken', () => {
    const limit = 256 * 1024;
    const b = new Backlog(limit);
    let text = '';
    let i = 0;
    while (!b.full) {
      const piece = `${i++}\n`;
      text += piece;
      b.push('stdout', Buffer.from(piece));
    }
    assert.ok(text.length >= limit && text.length < limit + 16, `full after ${text.length} bytes, limit ${limit}`);
    b.push('stderr', Buffer.from('more\n'));
    const taken = b.take();
    assert.equal(Buffer.concat(taken.filter((c) => c.stream === 'stdout').map((c) => c.data)).toString(), text, 'everything, in order');
    assert.equal(taken[taken.length - 1].data.toString(), 'more\n');
    assert.equal(b.full, false);
  });
});
