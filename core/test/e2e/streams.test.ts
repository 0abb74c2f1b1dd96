/**
 * `dump --streams N` end to end (issue #7): a real daemon and real CRIU dump a python job holding compressible
 * memory as N shards (the streamer plugin), into a local directory and to an S3-compatible server (s3rver over
 * HTTP), and restore it; the restored memory is checked byte for byte (its sha256 before and after). Also: a
 * missing shard is named, stats are recorded and shown, and `--compression zstd` writes a `.tar.zst`.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, isAlive, logLines, restoredPid, runPid, teardown, writeScript, PYTHON } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { S3TestServer } from '../helpers/remote-storage';

/** A python job holding `mib` MiB of text-like (compressible) memory; prints a count, and its sha256 on SIGUSR1. */
function heapScript(mib: number): string {
  return `
import hashlib, random, signal, time
random.seed(7)
words = [b"frame", b"object", b"dict", b"value", b"python", b"heap", b"None", b"list"]
parts, size = [], 0
while size < ${mib} * 1024 * 1024:
    w = random.choice(words) + b"=" + str(random.randrange(100000)).encode() + b" "
    parts.append(w); size += len(w)
buf = b"".join(parts)
def report(*_):
    print("sha256 " + hashlib.sha256(buf).hexdigest(), flush=True)
signal.signal(signal.SIGUSR1, report)
i = 0
while True:
    print(i, flush=True)
    i += 1
    time.sleep(0.05)
`;
}

/** The job's last count (its log also holds `sha256 …` lines). */
function lastNumber(log: string): number {
  const counts = logLines(log).filter((l) => /^\d+$/.test(l));
  return counts.length ? Number(counts[counts.length - 1]) : -1;
}

async function memoryHash(pid: number, log: string): Promise<string> {
  const before = logLines(log).filter((l) => l.startsWith('sha256 ')).length;
  process.kill(pid, 'SIGUSR1');
  const lines = await waitFor(() => {
    const hashes = logLines(log).filter((l) => l.startsWith('sha256 '));
    return hashes.length > before ? hashes : null;
  }, 10_000, 'the job to print its memory hash');
  return lines![lines!.length - 1];
}

interface CheckpointJson {
  path: string;
  size: number;
  compression: string;
  stats?: { freezeMs: number; frozenMs: number; criuMs: number; writeMs: number; totalMs: number; rawBytes: number; storedBytes: number; streams: number };
}

describe('e2e: dump --streams N (sharded checkpoints)', function () {
  this.timeout(90_000);
  let env: TestEnv | undefined;
  let server: S3TestServer | undefined;

  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });
  after(async () => {
    await server?.stop();
  });

  async function startHeapJob(extraEnv: NodeJS.ProcessEnv = {}): Promise<{ env: TestEnv; log: string; pid: number; hash: string }> {
    env = new TestEnv(extraEnv);
    await env.startDaemon();
    const log = join(env.dir, 'heap.log');
    const script = writeScript(env, 'heap.py', heapScript(24));
    const pid = runPid(env.ok(['run', 'process', '--jid', 'heap', '--log', log, '--', PYTHON, script]));
    await waitFor(() => lastNumber(log) >= 3, 30_000, 'the job to count');
    return { env, log, pid, hash: await memoryHash(pid, log) };
  }

  async function restoreAndCheck(e: TestEnv, log: string, pid: number, hash: string): Promise<void> {
    assert.equal(restoredPid(e.ok(['restore', 'job', 'heap'])), pid);
    const at = lastNumber(log);
    await waitFor(() => lastNumber(log) >= at + 3, 10_000, 'the restored job to count on');
    assert.equal(await memoryHash(pid, log), hash, 'the restored memory differs');
  }

  for (const c of [
    { streams: 1, compression: 'none', ext: '' },
    { streams: 2, compression: 'lz4', ext: '.lz4' },
    { streams: 4, compression: 'zstd', ext: '.zst' },
  ]) {
    it(`dumps to ${c.streams} ${c.compression} shard(s) in a local directory and restores them`, async () => {
      const { env, log, pid, hash } = await startHeapJob();
      const path = dumpedPath(env.ok(['dump', 'job', 'heap', '--streams', String(c.streams), '--compression', c.compression]));
      assert.ok(!isAlive(pid), 'the job still runs after the dump');
      const names = readdirSync(path).sort();
      assert.deepEqual(names, [...Array.from({ length: c.streams }, (_, i) => `img-${i}${c.ext}`), 'shards.json'].sort());

      const [ckpt] = JSON.parse(env.ok(['job', 'checkpoints', 'heap', '--json'])) as CheckpointJson[];
      assert.equal(ckpt.path, path);
      const st = ckpt.stats!;
      assert.ok(st, 'no stats recorded');
      assert.equal(st.streams, c.streams);
      assert.ok(st.rawBytes > 24 << 20, `raw bytes ${st.rawBytes}`);
      assert.equal(st.storedBytes, ckpt.size);
      if (c.compression !== 'none') assert.ok(st.storedBytes < st.rawBytes * 0.7, `${c.compression}: ${st.storedBytes} of ${st.rawBytes} bytes`);
      assert.ok(st.freezeMs > 0 && st.frozenMs >= st.freezeMs, `freeze ${st.freezeMs} ms, frozen ${st.frozenMs} ms`);
      assert.ok(st.criuMs > 0 && st.totalMs >= st.criuMs + st.writeMs - 1, JSON.stringify(st));
      assert.match(env.ok(['job', 'checkpoints', 'heap']), /FREEZE\s+CRIU\s+TOTAL/);

      await restoreAndCheck(env, log, pid, hash);
    });
  }

  it('names a missing shard and leaves the job halted', async () => {
    const { env, pid } = await startHeapJob();
    const path = dumpedPath(env.ok(['dump', 'job', 'heap', '--streams', '2', '--compression', 'gzip']));
    rmSync(join(path, 'img-1.gz'));
    expectError(env.cli(['restore', 'job', 'heap']), /shard img-1\.gz of .* is missing/);
    assert.ok(!isAlive(pid));
  });

  it('writes and restores --compression zstd as one .tar.zst archive', async () => {
    const { env, log, pid, hash } = await startHeapJob();
    const path = dumpedPath(env.ok(['dump', 'job', 'heap', '--compression', 'zstd']));
    assert.match(path, /\.tar\.zst$/);
    await restoreAndCheck(env, log, pid, hash);
  });

  it('dumps shards to s3:// and restores from them', async () => {
    server = await S3TestServer.start(['ckpt']);
    const { env, log, pid, hash } = await startHeapJob(server.env());
    const prefix = `streams-${Date.now()}`;
    const url = dumpedPath(env.ok(['dump', 'job', 'heap', '--streams', '3', '--compression', 'lz4', '--dir', `s3://ckpt/${prefix}/`]));
    assert.match(url, new RegExp(`^s3://ckpt/${prefix}/dump-process-heap-\\d+$`));
    const key = url.slice('s3://ckpt/'.length);
    const keys = (await server.objects()).map((o) => o.key).filter((k) => k.startsWith(`${key}/`)).sort();
    assert.deepEqual(keys, [`${key}/img-0.lz4`, `${key}/img-1.lz4`, `${key}/img-2.lz4`, `${key}/shards.json`]);
    await restoreAndCheck(env, log, pid, hash);
  });
});
