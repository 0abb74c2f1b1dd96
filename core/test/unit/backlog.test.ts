/**
 * The backlog kept for the next attacher: order and streams kept, small pieces gathered into blocks, and the
 * oldest output dropped past the limit.
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

  it('drops the oldest output past its limit, and keeps the newest', () => {
    const limit = 256 * 1024;
    const b = new Backlog(limit);
    let text = '';
    for (let i = 0; i < 200_000; i++) {
      const piece = `${i}\n`;
      text += piece;
      b.push('stdout', Buffer.from(piece));
    }
    const kept = Buffer.concat(b.take().map((c) => c.data)).toString();
    assert.ok(kept.length <= limit, `kept ${kept.length} bytes, limit ${limit}`);
    assert.ok(kept.length >= limit - 64 * 1024, `kept only ${kept.length} bytes`);
    assert.ok(text.endsWith(kept), 'what is kept is the newest output, whole');
    assert.match(kept, /^\d+\n/, 'starts at a whole piece');
  });
});
