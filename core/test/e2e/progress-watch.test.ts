/**
 * DumpWatch and RestoreWatch through a plain gRPC client, against a real daemon and real CRIU: a python job holding
 * 96 MiB is dumped and restored, locally, to an S3-compatible server (s3rver) and as shards. The events name the
 * phases in order, their byte counts never go down and reach their totals, the last message is a response of the
 * same shape as the unary call's, and a bad request ends the stream with the same error status as the unary call.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { credentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { DaemonClient, type DumpReq, type Progress, type RestoreReq } from '../../src/generated/daemon';
import { connectDaemon } from '../../src/client/client';
import { TestEnv, waitFor } from '../helpers/env';
import { isAlive, logLines, runPid, teardown, writeScript, PYTHON } from '../helpers/e2e';
import { memoryCounterScript, S3TestServer } from '../helpers/remote-storage';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

const MIB = 1024 * 1024;

const dumpReq = (r: Partial<DumpReq>): DumpReq => ({
  jid: '',
  type: '',
  target: '',
  dir: '',
  name: '',
  compression: '',
  leaveRunning: false,
  tcpEstablished: false,
  fileLocks: false,
  shellJob: false,
  optionsJson: '',
  streams: 0,
  skipInFlight: false,
  linkRemap: false,
  external: [],
  ...r,
});

const restoreReq = (r: Partial<RestoreReq>): RestoreReq => ({
  jid: '',
  type: '',
  path: '',
  tcpEstablished: false,
  fileLocks: false,
  shellJob: false,
  pidFile: '',
  optionsJson: '',
  attachable: false,
  lazy: false,
  tcpClose: false,
  leaveStopped: false,
  linkRemap: false,
  external: [],
  ...r,
});

interface Watched<R> {
  progress: Progress[];
  result?: R;
  /** How many messages came after the result (there must be none). */
  afterResult: number;
  error?: ServiceError;
}

/** Reads a Watch stream to its end. */
function collect<R>(stream: ClientReadableStream<{ progress?: Progress; result?: R }>): Promise<Watched<R>> {
  return new Promise((resolve) => {
    const out: Watched<R> = { progress: [], afterResult: 0 };
    stream.on('data', (ev: { progress?: Progress; result?: R }) => {
      if (out.result) out.afterResult++;
      if (ev.progress) out.progress.push(ev.progress);
      if (ev.result) out.result = ev.result;
    });
    stream.on('error', (err: ServiceError) => resolve({ ...out, error: err }));
    stream.on('end', () => resolve(out));
  });
}

/** The phases in the order they came, each once. */
function phasesOf(events: Progress[]): string[] {
  return events.map((e) => e.phase).filter((p, i, all) => i === 0 || all[i - 1] !== p);
}

/** The last event of `phase`. */
function lastOf(events: Progress[], phase: string): Progress {
  const found = events.filter((e) => e.phase === phase);
  assert.ok(found.length > 0, `no ${phase} event in ${JSON.stringify(events)}`);
  return found[found.length - 1];
}

/** Checks the rules every stream of events keeps: time moves on, counts never go down nor pass their totals. */
function assertOrderly(events: Progress[]): void {
  for (let i = 1; i < events.length; i++) {
    const [a, b] = [events[i - 1], events[i]];
    assert.ok(b.elapsedMs >= a.elapsedMs, `elapsed went back: ${JSON.stringify([a, b])}`);
    if (a.phase === b.phase) assert.ok(b.bytesDone >= a.bytesDone, `bytes went down in ${a.phase}: ${JSON.stringify([a, b])}`);
  }
  for (const e of events) if (e.bytesTotal !== undefined) assert.ok(e.bytesDone <= e.bytesTotal, `more than the total: ${JSON.stringify(e)}`);
}

/** The shape of a message: its keys, nested, with the type of each value. */
function shape(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return typeof v;
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, x]) => [k, shape(x)]),
  );
}

function unaryCall<Q, R>(client: DaemonClient, method: (req: Q, cb: (err: ServiceError | null, res: R) => void) => unknown, req: Q): Promise<R> {
  return new Promise((resolve, reject) => method.call(client, req, (err, res) => (err ? reject(err) : resolve(res))));
}

describe('e2e: DumpWatch and RestoreWatch (progress events)', function () {
  this.timeout(120_000);
  let env: TestEnv | undefined;
  let client: DaemonClient | undefined;
  let server: S3TestServer | undefined;

  afterEach(async () => {
    client?.close();
    client = undefined;
    await teardown(env);
    env = undefined;
  });
  after(async () => {
    await server?.stop();
  });

  async function startJob(extraEnv: NodeJS.ProcessEnv = {}): Promise<{ log: string; pid: number }> {
    env = new TestEnv(extraEnv);
    await env.startDaemon();
    client = new DaemonClient(`unix:${env.socket}`, credentials.createInsecure());
    const log = join(env.dir, 'mem.log');
    const script = writeScript(env, 'mem.py', memoryCounterScript(96));
    const pid = runPid(env.ok(['run', 'process', '--jid', 'mem', '--log', log, '--', PYTHON, script]));
    await waitFor(() => logLines(log).length >= 3, 30_000, 'the job to count');
    return { log, pid };
  }

  it('reports freeze, dump, compress and then decompress, restore for a local archive; results match the unary calls', async () => {
    const { log, pid } = await startJob();
    const c = client!;
    // The unary response, for its shape: a dump that leaves the job running.
    const unaryDump = await unaryCall(c, c.dump, dumpReq({ jid: 'mem', compression: 'lz4', name: 'unary', leaveRunning: true }));

    const dumped = await collect(c.dumpWatch(dumpReq({ jid: 'mem', compression: 'lz4', name: 'watched' })));
    assert.equal(dumped.error, undefined, dumped.error?.details);
    assert.equal(dumped.afterResult, 0, 'messages after the result');
    assert.deepEqual(phasesOf(dumped.progress), ['freeze', 'dump', 'compress']);
    assertOrderly(dumped.progress);
    const ckpt = dumped.result!.checkpoint!;
    assert.equal(ckpt.path, join(env!.env.CEDANA_CHECKPOINT_DIR!, 'watched.tar.lz4'));
    assert.deepEqual(shape(dumped.result), shape(unaryDump));
    assert.ok(!isAlive(pid), 'the job still runs after the dump');
    // The image bytes CRIU wrote are counted, then read back by the archiver up to the total.
    assert.equal(lastOf(dumped.progress, 'dump').bytesDone, ckpt.stats!.rawBytes);
    assert.ok(ckpt.stats!.rawBytes > 96 * MIB, `raw bytes ${ckpt.stats!.rawBytes}`);
    const compress = lastOf(dumped.progress, 'compress');
    assert.equal(compress.bytesTotal, ckpt.stats!.rawBytes);
    assert.equal(compress.bytesDone, compress.bytesTotal);
    assert.equal(lastOf(dumped.progress, 'freeze').bytesDone, 0);

    const restored = await collect(c.restoreWatch(restoreReq({ jid: 'mem' })));
    assert.equal(restored.error, undefined, restored.error?.details);
    assert.equal(restored.afterResult, 0, 'messages after the result');
    assert.deepEqual(phasesOf(restored.progress), ['decompress', 'restore']);
    assertOrderly(restored.progress);
    const decompress = lastOf(restored.progress, 'decompress');
    assert.equal(decompress.bytesTotal, ckpt.size);
    assert.equal(decompress.bytesDone, ckpt.size);
    assert.equal(restored.result!.job!.pid, pid);
    const at = logLines(log).length;
    await waitFor(() => logLines(log).length > at + 3, 10_000, 'the restored job to count on');

    // Unary dump and restore again, for the restore response's shape.
    await unaryCall(c, c.dump, dumpReq({ jid: 'mem', compression: 'lz4', name: 'unary-2' }));
    const unaryRestore = await unaryCall(c, c.restore, restoreReq({ jid: 'mem' }));
    assert.deepEqual(shape(restored.result), shape(unaryRestore));
  });

  it('reports upload and download for s3:// checkpoints', async () => {
    server = await S3TestServer.start(['ckpt']);
    const { pid } = await startJob(server.env());
    const c = client!;
    const prefix = `watch-${Date.now()}`;
    const dumped = await collect(c.dumpWatch(dumpReq({ jid: 'mem', compression: 'lz4', dir: `s3://ckpt/${prefix}/` })));
    assert.equal(dumped.error, undefined, dumped.error?.details);
    assert.deepEqual(phasesOf(dumped.progress), ['freeze', 'dump', 'upload']);
    assertOrderly(dumped.progress);
    const ckpt = dumped.result!.checkpoint!;
    const upload = lastOf(dumped.progress, 'upload');
    assert.equal(upload.bytesTotal, ckpt.stats!.rawBytes);
    assert.equal(upload.bytesDone, upload.bytesTotal);

    const restored = await collect(c.restoreWatch(restoreReq({ jid: 'mem' })));
    assert.equal(restored.error, undefined, restored.error?.details);
    assert.deepEqual(phasesOf(restored.progress), ['download', 'restore']);
    assertOrderly(restored.progress);
    const download = lastOf(restored.progress, 'download');
    assert.equal(download.bytesTotal, await server.sizeOf('ckpt', ckpt.path.slice('s3://ckpt/'.length)));
    assert.equal(download.bytesDone, download.bytesTotal);
    assert.equal(restored.result!.job!.pid, pid);
  });

  it('reports the shards of dump --streams as compress and decompress', async () => {
    await startJob();
    const c = client!;
    const dumped = await collect(c.dumpWatch(dumpReq({ jid: 'mem', compression: 'lz4', streams: 3 })));
    assert.equal(dumped.error, undefined, dumped.error?.details);
    assert.deepEqual(phasesOf(dumped.progress), ['freeze', 'dump', 'compress']);
    assertOrderly(dumped.progress);
    const ckpt = dumped.result!.checkpoint!;
    assert.equal(ckpt.stats!.streams, 3);
    const compress = lastOf(dumped.progress, 'compress');
    assert.equal(compress.bytesTotal, ckpt.stats!.rawBytes);
    assert.equal(compress.bytesDone, compress.bytesTotal);

    const restored = await collect(c.restoreWatch(restoreReq({ jid: 'mem' })));
    assert.equal(restored.error, undefined, restored.error?.details);
    assert.deepEqual(phasesOf(restored.progress), ['decompress', 'restore']);
    const decompress = lastOf(restored.progress, 'decompress');
    assert.equal(decompress.bytesTotal, ckpt.size);
    assert.equal(decompress.bytesDone, ckpt.size);
  });

  it('ends the stream with the error status of the unary call for a bad request', async () => {
    env = new TestEnv();
    await env.startDaemon();
    client = new DaemonClient(`unix:${env.socket}`, credentials.createInsecure());
    const c = client;
    for (const [req, code, grpcCode] of [
      [dumpReq({ jid: 'nope' }), 'NOT_FOUND', 5],
      [dumpReq({ type: 'process', target: 'not-a-pid' }), 'INVALID_ARGUMENT', 3],
      [dumpReq({ jid: 'nope', optionsJson: '[1]' }), 'INVALID_ARGUMENT', 3],
    ] as const) {
      const watched = await collect(c.dumpWatch(req));
      const unary = await unaryCall(c, c.dump, req).then(
        () => assert.fail('the unary dump succeeded'),
        (err: ServiceError) => err,
      );
      assert.ok(watched.error, `DumpWatch ${JSON.stringify(req)} did not fail`);
      assert.equal(watched.result, undefined);
      assert.equal(watched.error.code, grpcCode);
      assert.deepEqual(watched.error.metadata.get('cedana-error-code'), [code]);
      assert.equal(watched.error.code, unary.code);
      assert.equal(watched.error.details, unary.details);
      assert.deepEqual(watched.error.metadata.get('cedana-error-hint-bin'), unary.metadata.get('cedana-error-hint-bin'));
    }
    const missing = join(env.dir, 'absent.tar.gz');
    const restored = await collect(c.restoreWatch(restoreReq({ type: 'process', path: missing })));
    assert.ok(restored.error, 'RestoreWatch of a missing checkpoint did not fail');
    assert.equal(restored.error.code, 5);
    assert.deepEqual(restored.error.metadata.get('cedana-error-code'), ['NOT_FOUND']);
    assert.match(restored.error.details, /does not exist/);

    // The CLI's client turns the status into the same CedanaError as for the unary call.
    const daemon = connectDaemon({ address: env.socket, protocol: 'unix' });
    try {
      const err = await daemon.dumpWatch(dumpReq({ jid: 'nope' }), () => undefined).then(
        () => assert.fail('dumpWatch succeeded'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CedanaError);
      assert.equal(err.code, ErrorCode.NotFound);
      assert.match(err.message, /job nope not found/);
      assert.match(err.hint ?? '', /cedana ps/);
    } finally {
      daemon.close();
    }
  });
});
