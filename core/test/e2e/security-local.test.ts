/**
 * What a local user, or an unlucky operator, must not be able to do to the root daemon: feed it a FIFO as a log
 * (blocking it), have it delete a file at its socket path, manage init or a kernel thread, or plant its state
 * (attach FIFO directories, a database that points `job delete --checkpoints` at a system directory).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { TestEnv } from '../helpers/env';
import { expectError } from '../helpers/bad-input';
import { counter, runPid, teardown } from '../helpers/e2e';

const NOBODY = 65534;

describe('e2e: local attacks on the daemon', function () {
  this.timeout(90_000);
  let env: TestEnv | undefined;
  const pids: number[] = [];

  afterEach(async () => {
    await teardown(env, pids.splice(0));
    env = undefined;
  });

  it('run --log <FIFO> is refused at once, and the daemon keeps answering', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const fifo = join(env.dir, 'log.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const started = Date.now();
    expectError(env.cli(['run', 'process', '--log', fifo, '--', 'true'], { timeoutMs: 20_000 }), new RegExp(`^log ${fifo} is not a regular file: choose a file path for --log$`));
    assert.ok(Date.now() - started < 15_000, 'the refusal took too long');
    expectError(env.cli(['run', 'process', '--log', '/dev/null', '--', 'true']), /^log \/dev\/null is not a regular file/);
    env.ok(['ps']);
  });

  it('daemon start never deletes a file at its socket path, and removes only a dead socket', async () => {
    env = new TestEnv();
    writeFileSync(env.socket, 'precious');
    expectError(env.cli(['daemon', 'start'], { timeoutMs: 20_000 }), /exists and is not a socket: remove it yourself, or choose another --address$/);
    assert.equal(readFileSync(env.socket, 'utf8'), 'precious');
    spawnSync('rm', [env.socket]);

    // A socket left by a daemon that died (nobody answers on it) is cleared away.
    await new Promise<void>((resolve) => {
      const srv = createServer().listen(env!.socket, () => {
        // Closing the server unlinks its socket; a copy made with a hard link stays as a dead socket.
        spawnSync('ln', [env!.socket, `${env!.socket}.dead`]);
        srv.close(() => resolve());
      });
    });
    spawnSync('mv', [`${env.socket}.dead`, env.socket]);
    assert.ok(statSync(env.socket).isSocket());
    // Ready once it answers: the dead socket's file is there from the start.
    await env.startDaemon([], () => env!.cli(['ps']).code === 0);
    // A live daemon's socket: a second daemon refuses, and the first keeps serving.
    expectError(env.cli(['daemon', 'start'], { timeoutMs: 20_000 }), /^a daemon is already listening on /);
    env.ok(['ps']);
  });

  it('manage refuses init, the daemon, its ancestors and kernel threads', async () => {
    env = new TestEnv();
    await env.startDaemon();
    expectError(env.cli(['manage', 'process', '1']), /^refusing to manage PID 1: it is init \(PID 1\)/);
    expectError(env.cli(['manage', 'process', String(env.daemonPid)]), /it is the daemon itself/);
    // This test process started the daemon: it is the daemon's ancestor.
    expectError(env.cli(['manage', 'process', String(process.pid)]), /it is one of the daemon's ancestors/);
    expectError(env.cli(['manage', 'process', '2']), /it is a kernel thread/);
    assert.equal(env.ok(['ps']).trim().split('\n').length, 1, 'a job was recorded');
  });

  it('refuses an attach directory another user planted', async () => {
    env = new TestEnv();
    const io = join(env.dir, 'cedana-io');
    mkdirSync(io, { mode: 0o777 });
    chmodSync(io, 0o777);
    chownSync(io, NOBODY, NOBODY);
    const r = env.cli(['daemon', 'start'], { timeoutMs: 20_000 });
    assert.notEqual(r.code, 0, 'the daemon started');
    // The daemon logs its plugins on stderr first; its last line is the refusal.
    assert.match(r.stderr, new RegExp(`\nError: refusing ${io}: it is owned by uid ${NOBODY}: remove it, or choose a directory owned by root with mode 0700\n$`));
  });

  it('creates its state root-only: database 0600, attach directories 0700', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const pid = runPid(env.ok(['run', 'process', '--jid', 'att', '--attachable', '--', ...counter()]));
    pids.push(pid);
    assert.equal(statSync(env.env.CEDANA_DB_PATH!).mode & 0o777, 0o600);
    const io = join(env.dir, 'cedana-io');
    assert.equal(statSync(io).mode & 0o777, 0o700);
    assert.equal(statSync(join(io, 'att')).mode & 0o777, 0o700);
    for (const f of readdirSync(join(io, 'att'))) assert.equal(statSync(join(io, 'att', f)).mode & 0o077, 0, `${f} is open to others`);
    // Deleting the job removes its FIFO directory.
    env.ok(['job', 'delete', 'att']);
    assert.ok(!existsSync(join(io, 'att')), 'the job’s FIFO directory is left behind');
  });

  it('job delete --checkpoints removes only checkpoints, whatever the database says', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const victim = join(env.dir, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'keep.txt'), 'important');
    const log = join(env.dir, 'c.log');
    pids.push(runPid(env.ok(['run', 'process', '--jid', 'v', '--log', log, '--', ...counter()])));
    await env.stopDaemon();
    const db = new SQLite(env.env.CEDANA_DB_PATH!);
    db.prepare("INSERT INTO checkpoints (id, jid, type, path, time, size, compression) VALUES ('x', 'v', 'process', ?, 1, 1, 'none')").run(victim);
    db.close();
    await env.startDaemon();
    env.ok(['job', 'delete', '--all', '--checkpoints']);
    assert.equal(readFileSync(join(victim, 'keep.txt'), 'utf8'), 'important', 'a directory that is no checkpoint was deleted');
  });
});
