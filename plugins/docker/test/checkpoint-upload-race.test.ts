/**
 * dockerd's upload of a checkpoint into containerd's content store now and then fails with "commit failed:
 * content sha256:…: already exists" (a race inside dockerd that a real dockerd cannot be made to hit on demand).
 * So this test answers the Docker API itself, on a unix socket — a stand-in for dockerd, the one place the plugin
 * tests use one — and checks that the restore tries `start --checkpoint` again on that error, and only on it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointMetadata, CedanaError, ErrorCode, type PluginContext } from '@cedana-ts/sdk';
import { memoryLogger, pollingChildWatcher } from '@cedana-ts/sdk/testing';
import { Engine } from '../src/engine';
import { DockerRuntime } from '../src/runtime';

const RACE = '{"message":"failed to upload checkpoint to containerd: commit failed: content sha256:0f1e2d3c: already exists"}';

/** Answers the calls a restore makes; `start` answers the first `failures` starts with `failBody` (HTTP 500). */
function standIn(dir: string, failures: number, failBody: string): { server: Server; starts: string[]; seen: string[][] } {
  const starts: string[] = [];
  const seen: string[][] = [];
  let running = false;
  const server = createServer((req, res) => {
    const url = new URL((req.url ?? '/').replace(/^\/v[\d.]+\//, '/'), 'http://docker');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    req.resume();
    if (req.method === 'GET' && url.pathname === '/info') return json(200, { DockerRootDir: dir });
    if (req.method === 'GET' && url.pathname === '/containers/c1/json') {
      return json(200, { Id: 'c1', Name: '/box', State: { Status: running ? 'running' : 'exited', Running: running, Pid: running ? 4242 : 0 }, Config: { Image: 'busybox' }, HostConfig: {} });
    }
    if (req.method === 'POST' && url.pathname === '/containers/c1/start') {
      const checkpoint = url.searchParams.get('checkpoint') ?? '';
      starts.push(checkpoint);
      const at = join(dir, 'containers', 'c1', 'checkpoints', checkpoint);
      seen.push(readdirSync(at).sort().map((f) => `${f}=${readFileSync(join(at, f), 'utf8')}`));
      if (starts.length <= failures) return res.writeHead(500, { 'content-type': 'application/json' }).end(failBody);
      running = true;
      return res.writeHead(204).end();
    }
    if (req.method === 'GET' && url.pathname === '/containers/c1/logs') return res.writeHead(200).end();
    if (req.method === 'POST' && url.pathname === '/containers/c1/wait') return json(200, { StatusCode: 0 });
    json(404, { message: `no route ${req.method} ${url.pathname}` });
  });
  return { server, starts, seen };
}

describe('docker restore: the checkpoint upload race', () => {
  let work: string;
  let server: Server | undefined;
  let engine: Engine | undefined;

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'cedana-docker-race-'));
    mkdirSync(join(work, 'images'));
    writeFileSync(join(work, 'images', 'inventory.img'), 'x');
  });
  afterEach(async () => {
    engine?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    rmSync(work, { recursive: true, force: true });
  });

  async function restoreWith(failures: number, failBody = RACE): Promise<{ result: Promise<unknown>; starts: string[]; seen: string[][] }> {
    const sock = join(work, 'docker.sock');
    const s = standIn(work, failures, failBody);
    server = s.server;
    await new Promise<void>((r) => s.server.listen(sock, r));
    engine = new Engine(sock);
    const ctx = { logger: memoryLogger(), settings: { criuPath: 'criu', tmpDir: work }, children: pollingChildWatcher(), config: {} } as unknown as PluginContext;
    const runtime = new DockerRuntime(ctx, engine);
    const metadata = CheckpointMetadata.parse({
      version: 1, type: 'docker', runtimeVersion: '0.1.0', jid: 'box', pid: 1, host: 'h', createdAt: Date.now(), criu: {},
      details: { id: 'c1', name: 'box', config: { Image: 'busybox' }, hostConfig: {}, log: '' },
    });
    const result = runtime.restore({ imagesDir: join(work, 'images'), metadata, criu: metadata.criu, options: {}, foreground: false });
    return { result, starts: s.starts, seen: s.seen };
  }

  it('starts again after the race, and the container is the restored job', async () => {
    const { result, starts } = await restoreWith(2);
    const job = (await result) as { pid: number; details: { id: string } };
    assert.equal(job.pid, 4242);
    assert.equal(job.details.id, 'c1');
    assert.equal(starts.length, 3, 'two failed starts, then the one that worked');
    assert.equal(new Set(starts).size, 1, 'every try used the same checkpoint');
  });

  it('hands dockerd a checkpoint directory whose content differs from any copy before, so its digest is new', async () => {
    const first = await restoreWith(0);
    await first.result;
    engine?.close();
    await new Promise((r) => server!.close(r));
    const second = await restoreWith(0);
    await second.result;
    const [a, b] = [first.seen[0]!, second.seen[0]!];
    assert.ok(a.includes('inventory.img=x') && b.includes('inventory.img=x'), `the images were not copied: ${a.join(', ')}`);
    const nonce = (l: string[]) => l.find((f) => f.startsWith('cedana-restore-nonce='));
    assert.match(nonce(a) ?? '', /^cedana-restore-nonce=[0-9a-f]{32}$/);
    assert.notEqual(nonce(a), nonce(b), 'two restores of one checkpoint gave dockerd identical content');
  });

  it('gives up after three tries, with dockerd’s message', async () => {
    const { result, starts } = await restoreWith(5);
    await assert.rejects(result, (e: CedanaError) => e.code === ErrorCode.RestoreFailed && /already exists/.test(e.message));
    assert.equal(starts.length, 3);
  });

  it('does not try again on any other failure', async () => {
    const { result, starts } = await restoreWith(5, '{"message":"criu failed: type NOTIFY errno 0"}');
    await assert.rejects(result, (e: CedanaError) => e.code === ErrorCode.RestoreFailed && /criu failed/.test(e.message));
    assert.equal(starts.length, 1);
  });
});
