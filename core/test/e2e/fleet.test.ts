/**
 * Two hosts sharing one job database: two real daemons (their own sockets, state and host IDs) on a real
 * PostgreSQL 15 server started here, with checkpoints going through an S3-compatible server (s3rver). A counting
 * job moves from host A to host B with `job migrate --to` and with the two-step form (dump on A, restore on B);
 * concurrent migrations of one job let exactly one through; the database restarted under a running daemon.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { assertCounts, counter, dumpedPath, isAlive, lastNumber, restoredPid, runPid, teardown, type JobJson } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { cliAsync, S3TestServer } from '../helpers/remote-storage';
import { PostgresServer } from '../helpers/postgres';

interface FleetJob extends JobJson {
  host: string;
  hostName: string;
  moves?: { moves: { fromHost: string; toHost: string; checkpoint: string; downtimeMs: number }[] };
}

function psAll(env: TestEnv, all = true): FleetJob[] {
  return JSON.parse(env.ok(['ps', '--json', ...(all ? ['--all'] : [])])) as FleetJob[];
}

describe('e2e: two hosts on one PostgreSQL job database', function () {
  this.timeout(120_000);
  const pg = new PostgresServer();
  let s3: S3TestServer;
  let url = '';
  let a: TestEnv;
  let b: TestEnv;
  let n = 0;

  function host(id: string, name: string, dbUrl: string): TestEnv {
    return new TestEnv({ ...s3.env(), CEDANA_DB_REMOTE: 'true', CEDANA_DB_URL: dbUrl, CEDANA_HOST_ID: id, CEDANA_HOST_NAME: name });
  }

  before(async function () {
    await pg.start();
    s3 = await S3TestServer.start(['fleet']);
  });
  after(async function () {
    await s3?.stop();
    await pg.cleanup();
  });
  beforeEach(async function () {
    url = await pg.createDatabase(`fleet_${process.pid}_${++n}`);
    a = host('host-a', 'alpha', url);
    b = host('host-b', 'beta', url);
    await a.startDaemon();
    await b.startDaemon();
  });
  afterEach(async function () {
    await teardown(a);
    await teardown(b);
  });

  async function startCounter(env: TestEnv, jid: string): Promise<{ log: string; pid: number }> {
    const log = join(env.dir, `${jid}.log`);
    const pid = runPid(env.ok(['run', 'process', '--jid', jid, '--log', log, '--', ...counter()]));
    await waitFor(() => lastNumber(log) >= 5, 10_000, 'the counter to count');
    return { log, pid };
  }

  it('job migrate --to moves a counting job to the other host through s3://; ps --all shows it there on both', async function () {
    const { log, pid } = await startCounter(a, 'counter');
    // Before: B sees A's job as remote, on alpha; B's own ps is empty.
    const seen = psAll(b).find((j) => j.jid === 'counter');
    assert.equal(seen?.status, 'remote');
    assert.equal(seen?.hostName, 'alpha');
    assert.deepEqual(psAll(b, false), []);
    assert.match(b.ok(['ps', '--all']), /^JOB\s+TYPE\s+PID\s+STATUS\s+HOST\s+GPU/m);
    assert.match(b.ok(['ps', '--all']), /counter\s+process\s+\d+\s+remote\s+alpha/);

    const out = a.ok(['job', 'migrate', 'counter', '--to', 'beta', '--dir', 's3://fleet/migrate/']);
    assert.match(out, /^Migrated job counter to host beta \(PID \d+\) in \d+ ms through s3:\/\/fleet\/migrate\/\S+\.lz4$/m);
    const atMove = lastNumber(log);
    await waitFor(() => lastNumber(log) >= atMove + 10, 15_000, 'the migrated counter to count on');
    assertCounts(log);

    for (const env of [a, b]) {
      const j = psAll(env).find((x) => x.jid === 'counter');
      assert.equal(j?.host, 'host-b');
      assert.equal(j?.hostName, 'beta');
      assert.match(j?.status ?? '', env === b ? /^(running|sleep)$/ : /^remote$/, JSON.stringify(j));
    }
    assert.deepEqual(psAll(a, false), []);
    assert.equal(psAll(b, false)[0].pid, pid);
    assert.match(a.ok(['ps', '--all']), /counter\s+process\s+\d+\s+remote\s+beta/);
    // A's record says where the job went.
    const inspected = JSON.parse(a.ok(['job', 'inspect', 'counter', '--json'])) as FleetJob;
    assert.deepEqual(inspected.moves?.moves.map((m) => [m.fromHost, m.toHost]), [['host-a', 'host-b']]);
    assert.match(inspected.moves!.moves[0].checkpoint, /^s3:\/\/fleet\/migrate\//);
    // The checkpoint records the host that made it.
    const ckpts = JSON.parse(b.ok(['job', 'checkpoints', 'counter', '--json'])) as { host: string }[];
    assert.equal(ckpts[0].host, 'host-a');
  });

  it('concurrent migrate requests for one job: exactly one wins, the other is refused', async function () {
    const { log } = await startCounter(a, 'race');
    const tries = await Promise.all([0, 1, 2].map(() => cliAsync(a, ['job', 'migrate', 'race', '--to', 'host-b', '--dir', 's3://fleet/race/'])));
    const won = tries.filter((t) => t.code === 0);
    assert.equal(won.length, 1, JSON.stringify(tries));
    for (const t of tries.filter((x) => x.code !== 0)) {
      expectError(t, /job race (is being migrated to host host-b already|belongs to host host-b, not this one)/);
    }
    const atMove = lastNumber(log);
    await waitFor(() => lastNumber(log) >= atMove + 5, 15_000, 'the migrated counter to count on');
    assertCounts(log);
    assert.deepEqual(psAll(b, false).map((j) => j.jid), ['race']);
    assert.match(psAll(b, false)[0].status, /^(running|sleep)$/);
    const moves = (JSON.parse(a.ok(['job', 'inspect', 'race', '--json'])) as FleetJob).moves?.moves ?? [];
    assert.equal(moves.length, 1);
  });

  it('two-step move: restore on B is refused while A runs the job; dump on A, restore on B', async function () {
    const { log, pid } = await startCounter(a, 'steps');
    expectError(b.cli(['restore', 'job', 'steps']), /job steps is still running on host host-a/, /dump it there first/);
    assert.ok(isAlive(pid));
    const path = dumpedPath(a.ok(['dump', 'job', 'steps', '--dir', 's3://fleet/steps/', '--compression', 'gzip']));
    assert.match(path, /^s3:\/\/fleet\/steps\//);
    const atDump = lastNumber(log);
    assert.equal(restoredPid(b.ok(['restore', 'job', 'steps'])), pid);
    await waitFor(() => lastNumber(log) >= atDump + 5, 15_000, 'the restored counter to count on');
    assertCounts(log);
    const j = psAll(a).find((x) => x.jid === 'steps');
    assert.equal(j?.hostName, 'beta');
    assert.equal(j?.status, 'remote');
    assert.deepEqual(j?.moves, undefined); // moves are shown for jobs asked for by JID
    const inspected = JSON.parse(a.ok(['job', 'inspect', 'steps', '--json'])) as FleetJob;
    assert.deepEqual(inspected.moves?.moves.map((m) => [m.fromHost, m.toHost, m.checkpoint]), [['host-a', 'host-b', path]]);
    // A restores it again on A: refused, B runs it now.
    expectError(a.cli(['restore', 'job', 'steps']), /job steps is still running on host host-b/);
  });

  it('the database restarted under running daemons: jobs go on, requests get UNAVAILABLE, then all works again', async function () {
    const { log, pid } = await startCounter(a, 'outage');
    await pg.stop();
    const down = expectError(a.cli(['ps']), /job database postgres:\/\/cedana:\*\*\*@127\.0\.0\.1:\d+\/\S+ is (unavailable|not reachable)|cannot reach/i);
    assert.ok(!down.includes('cedana-test-pw'), 'the password is not shown');
    const r = a.cli(['ps']);
    assert.match(r.stderr, /UNAVAILABLE|unavailable/);
    // A dump now is refused before the process is touched.
    expectError(a.cli(['dump', 'job', 'outage', '--dir', 's3://fleet/outage/']), /unavailable/i);
    assert.ok(isAlive(pid));
    const during = lastNumber(log);
    await waitFor(() => lastNumber(log) >= during + 5, 10_000, 'the counter to go on while the database is down');
    await pg.start();
    const back = await waitFor(() => {
      const res = a.cli(['ps', '--json']);
      return res.code === 0 ? (JSON.parse(res.stdout) as FleetJob[]) : undefined;
    }, 30_000, 'ps to work again');
    assert.deepEqual(back!.map((j) => [j.jid, j.pid]), [['outage', pid]]);
    assert.match(back![0].status, /^(running|sleep)$/);
    // Both daemons use it again: a migrate goes through.
    a.ok(['job', 'migrate', 'outage', '--to', 'beta', '--dir', 's3://fleet/outage/']);
    const atMove = lastNumber(log);
    await waitFor(() => lastNumber(log) >= atMove + 5, 15_000, 'the migrated counter to count on');
    assertCounts(log);
    assert.equal(psAll(b, false)[0].jid, 'outage');
  });

  describe('bad input', function () {
    it('unknown --to host, a job of another host, a halted job without a checkpoint, no --to', async function () {
      await startCounter(a, 'mine');
      expectError(a.cli(['job', 'migrate', 'mine', '--to', 'gamma']), /unknown host 'gamma'/, /hosts sharing this job database: alpha \(host-a\), beta \(host-b\)/);
      expectError(b.cli(['job', 'migrate', 'mine', '--to', 'alpha']), /job mine belongs to host host-a, not this one \(host-b\)/, /on that host's daemon/);
      expectError(a.cli(['job', 'migrate', 'mine', '--to', 'alpha']), /job mine is on host alpha already/);
      const log = join(a.dir, 'short.log');
      a.ok(['run', 'process', '--jid', 'short', '--log', log, '--', ...counter({ until: 2 })]);
      await waitFor(() => psAll(a, false).find((j) => j.jid === 'short')?.status === 'halted', 10_000, 'the short job to end');
      expectError(a.cli(['job', 'migrate', 'short', '--to', 'beta']), /job short is halted and has no checkpoint: there is nothing to move/);
      const noTo = a.cli(['job', 'migrate', 'mine']);
      assert.notEqual(noTo.code, 0);
      assert.match(noTo.stderr, /to/);
      // Nothing was claimed by the refusals: a real migrate still goes through.
      a.ok(['job', 'migrate', 'mine', '--to', 'beta', '--dir', 's3://fleet/bad/']);
    });

    it('a bad db.url, a login the database refuses, a database that is not there', async function () {
      const bad = host('host-c', 'gamma', 'mysql://x@127.0.0.1/db');
      try {
        expectError(bad.cli(['daemon', 'start'], { timeoutMs: 30_000 }), /bad config \(CEDANA_DB_URL\): db\.url: a postgres:\/\/ URL/);
        const wrongPw = url.replace('cedana-test-pw', 'wrong');
        const r = bad.cli(['daemon', 'start'], { env: { CEDANA_DB_URL: wrongPw }, timeoutMs: 30_000 });
        const msg = expectError(r, /refused the login/, /password authentication failed/);
        assert.ok(!msg.includes('wrong'), 'the password is not shown');
        expectError(bad.cli(['daemon', 'start'], { env: { CEDANA_DB_URL: url.replace(/\/[^/]+$/, '/no_such_db') }, timeoutMs: 30_000 }), /does not exist/);
        expectError(bad.cli(['daemon', 'start'], { env: { CEDANA_DB_URL: '' }, timeoutMs: 30_000 }), /db\.remote is true but db\.url is empty/, /CEDANA_DB_URL/);
      } finally {
        await bad.cleanup();
      }
    });
  });
});
