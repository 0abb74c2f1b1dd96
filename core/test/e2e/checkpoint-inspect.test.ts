/**
 * `cedana job checkpoint inspect` end to end: a real daemon and real CRIU dump a python job (holding 16 MiB of
 * memory it wrote, an open file, a listening TCP socket and a child process) as a directory, as an lz4 archive
 * and as 2 shards; what inspect reads from each checkpoint's images is checked against the processes as /proc
 * showed them just before the dump: PIDs, parent, command names, open file, socket and memory.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, logLines, runPid, teardown, writeScript, PYTHON } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';

const SCRIPT = `
import socket, subprocess, sys, time
child = subprocess.Popen(["sleep", "1000"])
buf = bytearray(16 * 1024 * 1024)
for i in range(0, len(buf), 4096):
    buf[i] = 1
f = open(sys.argv[1], "w")
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print("port", s.getsockname()[1], "child", child.pid, flush=True)
while True:
    time.sleep(0.1)
`;

interface Inspected {
  checkpoint: { id?: string; path: string };
  processes?: { pid: number; ppid: number; comm: string }[];
  files?: { pid: number; fd: number; type: string; path: string }[];
  sockets?: { pid: number; family: string; state: string; local: string }[];
  memory?: { pid: number; mappings: number; virtualBytes: number; dumpedBytes: number }[];
}

/** A field of /proc/PID/status in bytes. */
function statusBytes(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

describe('e2e: job checkpoint inspect (CRIU images of local, compressed and sharded checkpoints)', function () {
  this.timeout(120_000);
  let env: TestEnv | undefined;

  after(async () => {
    await teardown(env);
  });

  let pid = 0;
  let port = 0;
  let child = 0;
  let comm = '';
  let rssAnon = 0;
  let vmSize = 0;
  let held = '';

  before(async () => {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'job.log');
    held = join(env.dir, 'held.txt');
    const script = writeScript(env, 'holder.py', SCRIPT);
    pid = runPid(env.ok(['run', 'process', '--jid', 'holder', '--log', log, '--', PYTHON, script, held]));
    const line = await waitFor(() => logLines(log).find((l) => l.startsWith('port ')), 30_000, 'the job to listen');
    port = Number(line!.split(' ')[1]);
    child = Number(line!.split(' ')[3]);
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    rssAnon = statusBytes(pid, 'RssAnon');
    vmSize = statusBytes(pid, 'VmSize');
  });

  function checkImages(r: Inspected, what: string): void {
    const procs = r.processes!;
    assert.deepEqual(
      procs.map((p) => [p.pid, p.comm]),
      [
        [pid, comm],
        [child, 'sleep'],
      ],
      what,
    );
    assert.equal(procs[1].ppid, pid, `${what}: the child's parent`);
    const mem = r.memory!.find((m) => m.pid === pid)!;
    assert.ok(mem, `${what}: no memory for ${pid}`);
    // The pages CRIU wrote are the process's anonymous resident memory (plus the few file pages it changed).
    assert.ok(mem.dumpedBytes >= rssAnon * 0.9 && mem.dumpedBytes <= rssAnon * 1.25 + (1 << 20), `${what}: dumped ${mem.dumpedBytes} bytes, RssAnon was ${rssAnon}`);
    assert.ok(mem.dumpedBytes >= 16 << 20, `${what}: dumped ${mem.dumpedBytes} bytes of a job holding 16 MiB`);
    assert.ok(Math.abs(mem.virtualBytes - vmSize) <= 64 << 10, `${what}: mappings total ${mem.virtualBytes} bytes, VmSize was ${vmSize}`);
    assert.ok(r.files!.some((f) => f.pid === pid && f.type === 'reg' && f.path === held), `${what}: ${held} not among ${JSON.stringify(r.files)}`);
    assert.ok(r.sockets!.some((k) => k.family === 'inet' && k.state === 'listen' && k.local === `127.0.0.1:${port}`), `${what}: no listening socket on ${port} in ${JSON.stringify(r.sockets)}`);
  }

  for (const c of [
    { name: 'a directory (--compression none)', flags: ['--compression', 'none'] },
    { name: 'an lz4 archive', flags: ['--compression', 'lz4'] },
    { name: '2 lz4 shards (--streams 2)', flags: ['--compression', 'lz4', '--streams', '2'] },
  ]) {
    it(`reads the process, files, sockets and memory of ${c.name}`, () => {
      const path = dumpedPath(env!.ok(['dump', 'job', 'holder', '--leave-running', ...c.flags]));
      const [ckpt] = JSON.parse(env!.ok(['job', 'checkpoint', 'list', 'holder', '--json'])) as { id: string; path: string }[];
      assert.equal(ckpt.path, path);
      const byId = JSON.parse(env!.ok(['job', 'checkpoint', 'inspect', ckpt.id, '--json'])) as Inspected;
      assert.equal(byId.checkpoint.id, ckpt.id);
      checkImages(byId, `${c.name} by ID`);
      checkImages(JSON.parse(env!.ok(['checkpoint', 'inspect', '--path', path, '--json'])) as Inspected, `${c.name} by --path`);
      const text = env!.ok(['job', 'checkpoint', 'inspect', ckpt.id]);
      assert.match(text, new RegExp(`^processes:\\n.*\\n\\s*${pid}\\s+\\d+\\s+\\d+\\s+\\d+\\s+${comm}\\s+1\\n\\s*${child}\\s+${pid}\\s+.*sleep\\s+1$`, 'm'), text);
      assert.match(text, /^memory:$/m);
    });
  }

  it('--type selects sections', () => {
    const [ckpt] = JSON.parse(env!.ok(['job', 'checkpoints', 'holder', '--json'])) as { id: string }[];
    const ps = JSON.parse(env!.ok(['job', 'checkpoint', 'inspect', ckpt.id, '-t', 'ps', '--json'])) as Inspected;
    assert.deepEqual(Object.keys(ps).sort(), ['checkpoint', 'processes']);
    const some = JSON.parse(env!.ok(['job', 'checkpoint', 'inspect', ckpt.id, '--type', 'mem,sk', '--json'])) as Inspected;
    assert.deepEqual(Object.keys(some).sort(), ['checkpoint', 'memory', 'sockets']);
  });

  it('refuses what it cannot inspect, in one line each', () => {
    expectError(env!.cli(['job', 'checkpoint', 'inspect', 'no-such-id']), /checkpoint no-such-id not found/);
    expectError(env!.cli(['job', 'checkpoint', 'inspect', '--path', join(env!.dir, 'nothing')]), /does not exist/);
    expectError(env!.cli(['job', 'checkpoint', 'inspect']), /name the checkpoint by its ID or by --path/);
    const [ckpt] = JSON.parse(env!.ok(['job', 'checkpoints', 'holder', '--json'])) as { id: string }[];
    expectError(env!.cli(['job', 'checkpoint', 'inspect', ckpt.id, '-t', 'bogus']), /must be one of ps, fd, mem, rss, sk/);
    expectError(env!.cli(['job', 'checkpoint', 'inspect', ckpt.id, '-t', 'gpu']), /--type gpu is not supported/);
  });
});
