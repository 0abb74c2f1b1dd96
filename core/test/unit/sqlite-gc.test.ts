/**
 * The job database's SQLite binding must survive garbage collection in a long-lived process. better-sqlite3 12
 * on Node 24 aborts the whole process (`Assertion failed: (env) != nullptr` in a statement's destructor) when
 * V8 collects statements from a background GC task, which an idle daemon gets after a burst of queries: it
 * killed the daemon at random. This runs that pattern in a process of its own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const SCRIPT = `
const Database = require(process.argv[1]);
const db = new Database(':memory:');
let n = 0;
const burst = () => { for (let i = 0; i < 20000; i++) db.prepare('select ' + n++).get(); };
burst();
let ticks = 0;
setInterval(() => {
  if (++ticks % 4 === 0) burst();
  if (ticks === 12) { db.close(); console.log('survived ' + n); process.exit(0); }
}, 250);
`;

describe('job database binding', function () {
  this.timeout(30_000);

  it('survives statements being garbage-collected while the process idles', () => {
    const r = spawnSync(process.execPath, ['-e', SCRIPT, require.resolve('better-sqlite3')], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr.slice(0, 400)}`);
    assert.equal(r.status, 0, r.stderr.slice(0, 400));
    assert.match(r.stdout, /^survived \d+\n$/);
  });
});
