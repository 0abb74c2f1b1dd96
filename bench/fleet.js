#!/usr/bin/env node
// Fleet figures (not part of the tests): two daemons sharing one PostgreSQL 15 job database (started here, as the
// tests do), checkpoints through an S3-compatible server (s3rver).
//   1. migration downtime of a job holding 256 MiB (BENCH_FLEET_MIB) of touched memory: `job migrate --to` back
//      and forth (BENCH_FLEET_REPS times), downtime as the daemon measures it (dump start to running on the other
//      host) and the CLI's wall time;
//   2. `cedana ps --all` with 10,000 jobs (half on each host, one checkpoint each) in the database.
// As root, after `pnpm -r run build`:  node bench/fleet.js   (results in bench/fleet-results.json)
'use strict';
const { spawnSync } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const dist = join(__dirname, '..', 'core', 'dist', 'test', 'helpers');
const { TestEnv, waitFor } = require(join(dist, 'env.js'));
const { PostgresServer } = require(join(dist, 'postgres.js'));
const { S3TestServer } = require(join(dist, 'remote-storage.js'));
const { PYTHON, teardown } = require(join(dist, 'e2e.js'));

const MIB = Number(process.env.BENCH_FLEET_MIB || 256);
const REPS = Number(process.env.BENCH_FLEET_REPS || 4);
const JOBS = Number(process.env.BENCH_FLEET_JOBS || 10000);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(env, args) {
  const t = process.hrtime.bigint();
  const out = env.ok(args);
  return { out, ms: Number(process.hrtime.bigint() - t) / 1e6 };
}

async function main() {
  const pg = new PostgresServer();
  await pg.start();
  const s3 = await S3TestServer.start(['fleet']);
  const url = await pg.createDatabase('bench');
  const hostEnv = (id) => new TestEnv({ ...s3.env(), CEDANA_DB_REMOTE: 'true', CEDANA_DB_URL: url, CEDANA_HOST_ID: id, CEDANA_HOST_NAME: id, CEDANA_LOG_LEVEL: 'info' });
  const hosts = [hostEnv('host-a'), hostEnv('host-b')];
  const results = { mib: MIB, reps: REPS, jobs: JOBS, load: require('node:os').loadavg() };
  try {
    for (const h of hosts) await h.startDaemon();
    // A job that holds MIB of written memory and ticks every 50 ms.
    const log = join(hosts[0].dir, 'heap.log');
    const prog = `import time\nb = bytearray(${MIB} * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\ni = 0\nwhile True:\n    print(i, flush=True)\n    i += 1\n    time.sleep(0.05)`;
    hosts[0].ok(['run', 'process', '--jid', 'heap', '--log', log, '--', PYTHON, '-u', '-c', prog]);
    const { readFileSync, existsSync } = require('node:fs');
    const ticks = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').length : 0);
    await waitFor(() => ticks() > 3, 60_000, 'the job to fill its memory');
    const downtime = [];
    const wall = [];
    for (let i = 0; i < REPS; i++) {
      const from = hosts[i % 2];
      const to = i % 2 === 0 ? 'host-b' : 'host-a';
      const before = ticks();
      const { out, ms } = timed(from, ['job', 'migrate', 'heap', '--to', to, '--dir', `s3://fleet/run-${i}/`, '--compression', 'lz4']);
      const m = / in (\d+) ms through /.exec(out);
      downtime.push(Number(m[1]));
      wall.push(ms);
      await waitFor(() => ticks() > before + 3, 30_000, 'the job to tick on the other host');
      console.log(`migrate ${i + 1}/${REPS} to ${to}: downtime ${m[1]} ms, CLI ${ms.toFixed(0)} ms`);
    }
    results.migrate_downtime_ms = downtime;
    results.migrate_downtime_median_ms = median(downtime);
    results.migrate_cli_median_ms = median(wall);

    // 10,000 jobs with dead PIDs (each is looked up in /proc like any job), one checkpoint each.
    const now = Date.now();
    await pg.query('bench', `INSERT INTO jobs (jid, type, pid, cmdline, log, details, host, gpu, created_at)
      SELECT 'bench-' || g, 'process', 3000000 + g, '["sleep","100"]', '/tmp/bench-' || g || '.log', '{}',
             CASE WHEN g % 2 = 0 THEN 'host-a' ELSE 'host-b' END, 0, $1::bigint + g FROM generate_series(1, $2::int) g`, [now, JOBS]);
    await pg.query('bench', `INSERT INTO checkpoints (id, jid, type, path, time, size, compression, host)
      SELECT 'bench-ckpt-' || g, 'bench-' || g, 'process', 's3://fleet/bench-' || g || '.tar.lz4', $1::bigint + g, 1048576, 'lz4', 'host-a'
      FROM generate_series(1, $2::int) g`, [now, JOBS]);
    await pg.query('bench', 'ANALYZE');
    const lines = hosts[0].ok(['ps', '--all']).trim().split('\n').length;
    const ps = [];
    const psLocal = [];
    for (let i = 0; i < 7; i++) ps.push(timed(hosts[0], ['ps', '--all']).ms);
    for (let i = 0; i < 7; i++) psLocal.push(timed(hosts[0], ['ps']).ms);
    const node = [];
    for (let i = 0; i < 7; i++) {
      const t = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0']);
      node.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    results.ps_all_ms = median(ps);
    results.ps_local_ms = median(psLocal);
    results.node_ms = median(node);
    results.ps_all_lines = lines;
    console.log(`cedana ps --all, ${JOBS} jobs on PostgreSQL: ${results.ps_all_ms.toFixed(0)} ms (median of 7; ps of one host's ${JOBS / 2}: ${results.ps_local_ms.toFixed(0)} ms; node -e 0: ${results.node_ms.toFixed(0)} ms)`);
    writeFileSync(join(__dirname, 'fleet-results.json'), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    for (const h of hosts) await teardown(h);
    await s3.stop();
    await pg.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
