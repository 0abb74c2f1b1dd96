/**
 * A gRPC server speaking the daemon's protocol that records every request and answers with a plain success. It
 * stands in for the daemon where a test checks what the CLI sends (the CLI conformance table): the CLI's parsing,
 * handlers and gRPC client are the real ones; what the daemon does with a request is tested by the e2e suites.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, type UntypedHandleCall } from '@grpc/grpc-js';
import * as api from '../../src/generated/daemon';

export interface Recorded {
  method: string;
  request: Record<string, unknown>;
}

const job = api.Job.fromPartial({ jid: 'rec-job', type: 'process', pid: 4242, status: 'running' });

/** The answer to each unary method. */
const answers: Record<string, () => unknown> = {
  run: () => ({ job }),
  manage: () => ({ job }),
  dump: () => ({ checkpoint: api.Checkpoint.fromPartial({ id: 'ck1', path: '/ckpt/rec.tar', size: 1 }) }),
  restore: () => ({ job }),
  listJobs: () => ({ jobs: [job] }),
  killJobs: () => ({ jids: ['rec-job'] }),
  deleteJobs: () => ({ jids: ['rec-job'] }),
  listCheckpoints: () => ({ checkpoints: [] }),
  inspectCheckpoint: () => ({
    checkpoint: api.Checkpoint.fromPartial({ id: 'ck1', jid: 'rec-job', path: '/ckpt/rec.tar', size: 1 }),
    imagesJson: JSON.stringify({ processes: [{ pid: 4242, ppid: 1, pgid: 4242, sid: 4242, comm: 'rec', threads: [4242] }] }),
  }),
  healthCheck: () => ({ results: [{ name: 'daemon', components: [{ name: 'version', data: 'rec', level: 'ok', message: '' }] }] }),
  listPlugins: () => ({ plugins: [] }),
  freeze: () => ({ messages: ['Froze PID 4242 (signal)'], method: 'signal', pid: 4242, jid: '' }),
  unfreeze: () => ({ messages: ['Unfroze PID 4242 (signal)'], method: 'signal', pid: 4242, jid: '' }),
  query: () => ({ processes: [api.QueryProcess.fromPartial({ pid: 4242, ppid: 1, status: 'sleep', cmdline: ['sleep', '100'], id: '4242' })] }),
  reloadPlugins: () => ({ plugins: [] }),
  getFeatures: () => ({
    plugins: [api.Plugin.fromPartial({ name: '@cedana-ts/plugin-runc', type: 'runtime', id: 'runc', version: '0.1.0', status: 'ok' }), api.Plugin.fromPartial({ name: '@cedana-ts/plugin-process', type: 'runtime', id: 'process', version: '0.1.0', status: 'ok' })],
    rows: [{ feature: 'attach', cells: ['available', 'available'] }],
  }),
};

export class RecordingDaemon {
  readonly dir = mkdtempSync(join(tmpdir(), 'cedana-rec-'));
  readonly socket = join(this.dir, 'cedana.sock');
  readonly requests: Recorded[] = [];
  private readonly server = new Server();

  async start(): Promise<void> {
    const impl: Record<string, UntypedHandleCall> = {};
    for (const method of Object.keys(api.DaemonService)) {
      if (method === 'attach') {
        impl[method] = (call: ServerDuplexStream<api.AttachIn, api.AttachOut>) => {
          call.once('data', (first: api.AttachIn) => {
            this.requests.push({ method, request: { jid: first.jid, pid: first.pid } });
            call.write(api.AttachOut.fromPartial({ exited: true, exitCode: 0 }));
            call.end();
          });
        };
      } else if (answers[method]) {
        impl[method] = (call: ServerUnaryCall<Record<string, unknown>, unknown>, cb: sendUnaryData<unknown>) => {
          this.requests.push({ method, request: call.request });
          cb(null, answers[method]());
        };
      }
    }
    this.server.addService(api.DaemonService, impl);
    await new Promise<void>((resolve, reject) => this.server.bindAsync(`unix:${this.socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  }

  /** The requests recorded since the last call. */
  take(): Recorded[] {
    return this.requests.splice(0);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
