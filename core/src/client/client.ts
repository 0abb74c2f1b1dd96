/**
 * The daemon's client, as the CLI uses it: promise-returning calls whose failures are CedanaErrors.
 */
import { existsSync } from 'node:fs';
import { credentials, type ChannelCredentials, type ClientDuplexStream, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import * as api from '../generated/daemon';
import { DaemonClient } from '../generated/daemon';
import { fromServiceError } from '../server/status';

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** A Watch call's stream as a promise of its result; progress events go to `onProgress` as they come. */
function watched<Res>(stream: ClientReadableStream<{ progress?: api.Progress; result?: Res }>, address: string, onProgress: (p: api.Progress) => void): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    let result: Res | undefined;
    let settled = false;
    stream.on('data', (ev: { progress?: api.Progress; result?: Res }) => {
      if (ev.progress) onProgress(ev.progress);
      if (ev.result) result = ev.result;
    });
    stream.on('error', (err: ServiceError) => {
      if (settled) return;
      settled = true;
      reject(fromServiceError(err, address));
    });
    stream.on('end', () => {
      if (settled) return;
      settled = true;
      if (result) resolve(result);
      else reject(new CedanaError(ErrorCode.Internal, 'the daemon ended the call without a result'));
    });
  });
}

/** The daemon's API as promises. */
export interface Daemon {
  run(req: api.RunReq): Promise<api.RunResp>;
  manage(req: api.ManageReq): Promise<api.ManageResp>;
  dump(req: api.DumpReq): Promise<api.DumpResp>;
  restore(req: api.RestoreReq): Promise<api.RestoreResp>;
  /** Dump and restore, with their progress events passed to `onProgress` while they run. */
  dumpWatch(req: api.DumpReq, onProgress: (p: api.Progress) => void): Promise<api.DumpResp>;
  restoreWatch(req: api.RestoreReq, onProgress: (p: api.Progress) => void): Promise<api.RestoreResp>;
  listJobs(req: api.ListJobsReq): Promise<api.ListJobsResp>;
  killJobs(req: api.KillJobsReq): Promise<api.KillJobsResp>;
  deleteJobs(req: api.DeleteJobsReq): Promise<api.DeleteJobsResp>;
  listCheckpoints(req: api.ListCheckpointsReq): Promise<api.ListCheckpointsResp>;
  healthCheck(req: api.HealthCheckReq): Promise<api.HealthCheckResp>;
  listPlugins(req: api.ListPluginsReq): Promise<api.ListPluginsResp>;
  reloadPlugins(req: api.ReloadPluginsReq): Promise<api.ReloadPluginsResp>;
  getFeatures(req: api.GetFeaturesReq): Promise<api.GetFeaturesResp>;
  migrateJob(req: api.MigrateJobReq): Promise<api.MigrateJobResp>;
  /** The raw attach stream; its errors are gRPC errors (see fromServiceError). */
  attachStream(): ClientDuplexStream<api.AttachIn, api.AttachOut>;
  /** The address the client talks to, for messages. */
  readonly address: string;
  close(): void;
}

export interface ClientOptions {
  address: string;
  protocol: 'unix' | 'tcp';
  /** TLS for tcp (security/tls.ts); insecure by default, which only the root-only unix socket should use. */
  credentials?: ChannelCredentials;
}

/** Connects to the daemon; fails at once, with how to start it, when its socket is not there. */
export function connectDaemon(opts: ClientOptions): Daemon {
  if (opts.protocol === 'unix' && !existsSync(opts.address)) {
    throw new CedanaError(ErrorCode.Unavailable, `the daemon is not running (no socket at ${opts.address})`, {
      hint: 'start it with `cedana daemon start`',
    });
  }
  const target = opts.protocol === 'unix' ? `unix:${opts.address}` : opts.address;
  const client = new DaemonClient(target, opts.credentials ?? credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
  const call =
    <Q, R>(method: unknown) =>
    (req: Q) =>
      new Promise<R>((resolve, reject) => {
        (method as Unary<Q, R>).call(client, req, (err, res) => (err ? reject(fromServiceError(err, opts.address)) : resolve(res)));
      });
  return {
    run: call(client.run),
    manage: call(client.manage),
    dump: call(client.dump),
    restore: call(client.restore),
    dumpWatch: (req, onProgress) => watched(client.dumpWatch(req), opts.address, onProgress),
    restoreWatch: (req, onProgress) => watched(client.restoreWatch(req), opts.address, onProgress),
    listJobs: call(client.listJobs),
    killJobs: call(client.killJobs),
    deleteJobs: call(client.deleteJobs),
    listCheckpoints: call(client.listCheckpoints),
    healthCheck: call(client.healthCheck),
    listPlugins: call(client.listPlugins),
    reloadPlugins: call(client.reloadPlugins),
    getFeatures: call(client.getFeatures),
    migrateJob: call(client.migrateJob),
    attachStream: () => client.attach(),
    address: opts.address,
    close: () => client.close(),
  };
}
