/**
 * The job database and the attach FIFOs are root's alone: planted files, symlinks and loose directories are
 * refused, and what the daemon creates is 0600 / 0700.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CedanaError } from '@cedana-ts/sdk';
import { JobStore } from '../../src/db/job-store';
import { IoRegistry } from '../../src/io/io-registry';

const NOBODY = 65534;

describe('private state files', function () {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cedana-private-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const refused = (re: RegExp) => (err: unknown) => err instanceof CedanaError && re.test(err.message);

  it('creates the database 0600 in a new 0700 directory, and narrows an existing 0644 one', async () => {
    const path = join(dir, 'state', 'cedana.db');
    let store = await JobStore.open(path);
    await store.close();
    assert.equal(statSync(join(dir, 'state')).mode & 0o777, 0o700);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    chmodSync(path, 0o644);
    store = await JobStore.open(path);
    await store.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it('never follows a symlink at the database path', async () => {
    const target = join(dir, 'elsewhere');
    const path = join(dir, 'cedana.db');
    symlinkSync(target, path);
    await assert.rejects(JobStore.open(path), refused(/it is a symbolic link/));
    assert.ok(!existsSync(target), 'root created the symlink’s target');
    rmSync(path);
    symlinkSync(target, `${path}-wal`);
    await assert.rejects(JobStore.open(path), refused(/cedana\.db-wal: it is a symbolic link/));
    assert.ok(!existsSync(target));
  });

  it('refuses a database another user planted, and a directory others may write', async () => {
    const path = join(dir, 'cedana.db');
    writeFileSync(path, '');
    chownSync(path, NOBODY, NOBODY);
    await assert.rejects(JobStore.open(path), refused(/it is owned by uid 65534/));
    const loose = join(dir, 'loose');
    mkdirSync(loose);
    chmodSync(loose, 0o777);
    await assert.rejects(JobStore.open(join(loose, 'x.db')), refused(/others may write to it \(mode 777\)/));
    // A sticky shared directory of root's, like /tmp, is accepted: the files themselves are checked.
    chmodSync(loose, 0o1777);
    const store = await JobStore.open(join(loose, 'x.db'));
    await store.close();
  });

  it('attach FIFOs: a planted job directory is never used, and a symlink instead of a FIFO is refused', () => {
    const base = join(dir, 'cedana-io');
    const reg = new IoRegistry(base);
    assert.equal(statSync(base).mode & 0o777, 0o700);
    // Something already at <base>/<jid>: a new job gets a directory of its own instead.
    mkdirSync(join(base, 'j'));
    const victim = join(dir, 'victim');
    symlinkSync(victim, join(base, 'j', 'stdout'));
    const io = reg.create('j');
    assert.notEqual(io.paths.dir, join(base, 'j'));
    assert.ok(!existsSync(victim), 'a planted symlink was followed');
    reg.remove('j');
    // Reopening recorded FIFOs (after a restart): a symlink in place of one is refused.
    assert.throws(() => reg.open('k', join(base, 'j')), refused(/stdout: it is not a FIFO/));
    reg.closeAll();
  });

  it('refuses an attach base directory owned by another user', () => {
    const base = join(dir, 'io');
    mkdirSync(base, { mode: 0o700 });
    chownSync(base, NOBODY, NOBODY);
    assert.throws(() => new IoRegistry(base), refused(/it is owned by uid 65534/));
    assert.equal(spawnSync('true').status, 0);
  });
});
