/**
 * Failed dumps lose nothing: a dump refused before CRIU runs (a --dir that does not exist) and a dump that CRIU
 * itself refuses (a unix stream connection to a server outside the tree) both leave the process running with the
 * same PID, record no checkpoint and leave no file, partial or scratch directory behind. CRIU's refusal is quoted,
 * with the path of its log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { waitFor } from '../helpers/env';
import { envWithTmp, expectError, scratchLeft } from '../helpers/bad-input';
import { counter, isAlive, job, lastNumber, logLines, runPid, teardown } from '../helpers/e2e';

describe('e2e: failed dumps', function () {
  this.timeout(120_000);
  let env: ReturnType<typeof envWithTmp>;
  const pids: number[] = [];

  before(async function () {
    env = envWithTmp();
    await env.startDaemon();
  });

  after(async function () {
    await teardown(env, pids);
  });

  function checkpointsOf(jid: string): unknown[] {
    return JSON.parse(env.ok(['job', 'checkpoints', jid, '--json'])) as unknown[];
  }

  /** The job has the same PID, is alive and not stopped, and its output goes on. */
  async function stillRunning(jid: string, pid: number, progress: () => number): Promise<void> {
    const j = job(env, jid);
    assert.equal(j.pid, pid, 'same PID');
    assert.ok(isAlive(pid), 'alive');
    assert.ok(!['halted', 'stop', 'zombie'].includes(j.status), `status ${j.status}`);
    const before = progress();
    await waitFor(() => progress() > before, 10_000, `job ${jid} to go on`);
  }

  describe('refused before anything is frozen', function () {
    let pid: number;
    let log: string;

    before(async function () {
      log = join(env.dir, 'counter.log');
      pid = runPid(env.ok(['run', 'process', '--jid', 'counter', '--log', log, '--', ...counter()]));
      pids.push(pid);
      await waitFor(() => lastNumber(log) >= 2, 10_000, 'the counter to start');
    });

    for (const compression of ['gzip', 'none']) {
      it(`dump job into a --dir that does not exist (--compression ${compression})`, async function () {
        const dir = join(env.dir, 'no', 'such', 'dir');
        expectError(env.cli(['dump', 'job', 'counter', '--dir', dir, '--compression', compression]), new RegExp(`directory ${dir} does not exist`), /create it or choose another --dir/);
        await stillRunning('counter', pid, () => lastNumber(log));
        assert.deepEqual(checkpointsOf('counter'), []);
        assert.equal(existsSync(join(env.dir, 'no')), false, 'the directory was not created');
        assert.deepEqual(scratchLeft(env.tmp), []);
      });
    }

    it('dump process of its PID into a --dir that does not exist', async function () {
      const dir = join(env.dir, 'missing');
      expectError(env.cli(['dump', 'process', String(pid), '--dir', dir]), /does not exist/);
      await stillRunning('counter', pid, () => lastNumber(log));
      assert.deepEqual(checkpointsOf('counter'), []);
    });
  });

  describe('refused by CRIU', function () {
    let server: Server;
    const conns: Socket[] = [];
    let pid: number;
    let log: string;

    before(async function () {
      assert.equal(spawnSync('perl', ['-MIO::Socket::UNIX', '-e', '1']).status, 0, 'perl is missing: run scripts/setup.sh');
      // The server end lives in this test process, outside the job's tree.
      const sock = join(env.dir, 'outside.sock');
      server = createServer((c) => conns.push(c));
      await new Promise<void>((res) => server.listen(sock, res));
      log = join(env.dir, 'client.log');
      const script = '$|=1; my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!"; print "connected\\n"; while (1) { select(undef, undef, undef, 0.05); print "tick\\n"; }';
      pid = runPid(env.ok(['run', 'process', '--jid', 'client', '--log', log, '--', 'perl', '-MIO::Socket::UNIX', '-e', script, sock]));
      pids.push(pid);
      await waitFor(() => logLines(log).includes('connected') && conns.length === 1, 10_000, 'the client to connect');
    });

    after(async function () {
      for (const c of conns) c.destroy();
      await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
    });

    for (const compression of ['gzip', 'none']) {
      it(`dump job quotes CRIU's reason and log, and the process goes on (--compression ${compression})`, async function () {
        const dir = join(env.dir, `ckpt-${compression}`);
        mkdirSync(dir);
        const message = expectError(
          env.cli(['dump', 'job', 'client', '--dir', dir, '--compression', compression]),
          /criu dump failed/,
          /Can't dump half of stream unix connection/,
          /CRIU log: \S+/,
        );
        const logPath = /CRIU log: (\S+)/.exec(message)![1];
        assert.ok(existsSync(logPath), `the CRIU log ${logPath} is kept`);
        assert.match(readFileSync(logPath, 'utf8'), /Can't dump half of stream unix connection/);

        await stillRunning('client', pid, () => logLines(log).length);
        assert.equal(conns.length, 1);
        assert.ok(!conns[0].destroyed, 'the connection is still open');
        assert.deepEqual(checkpointsOf('client'), [], 'no checkpoint recorded');
        assert.deepEqual(readdirSync(dir), [], 'no file or partial left in --dir');
        assert.deepEqual(scratchLeft(env.tmp), [], 'no scratch images left');
      });
    }

    it('a dump that works afterwards still works (the failure left no lock or state behind)', async function () {
      const other = join(env.dir, 'other.log');
      const otherPid = runPid(env.ok(['run', 'process', '--jid', 'other', '--log', other, '--', ...counter()]));
      pids.push(otherPid);
      await waitFor(() => lastNumber(other) >= 1, 10_000, 'the second counter to start');
      const dir = join(env.dir, 'ok');
      mkdirSync(dir);
      env.ok(['dump', 'job', 'other', '--leave-running', '--dir', dir, '--compression', 'gzip']);
      assert.equal(checkpointsOf('other').length, 1);
      assert.equal(readdirSync(dir).length, 1);
      await stillRunning('client', pid, () => logLines(log).length);
    });
  });
});
