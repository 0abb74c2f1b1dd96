/**
 * The daemon's client, as the CLI uses it: promise-returning calls whose failures are CedanaErrors.
 */
import { existsSync } from 'node:fs';
import { credentials, type CallOptions, type ChannelCredentials, type ClientDuplexStream, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import * as api from '../generated/daemon';
import { DaemonClient } from '../generated/daemon';
import { fromServiceError } from '../server/status';

type Unary<Req, Res> = (req: Req, options: CallOptions, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/**
 * How long each call may take by default, in seconds: listing and checking answer at once; run, kill and delete
 * wait for processes (manage --upcoming for one to appear); dump and restore move whole checkpoints, to remote
 * storage too. `--deadline` replaces them.
 */
export const DEFAULT_DEADLINES: Record<string, number> = {
  run: 120,
  manage: 3600,
  dump: 1800,
  restore: 1800,
  dumpWatch: 1800,
  restoreWatch: 1800,
  listJobs: 30,
  killJobs: 120,
  deleteJobs: 300,
  listCheckpoints: 30,
  healthCheck: 120,
  listPlugins: 30,
  reloadPlugins: 300,
  getFeatures: 60,
  migrateJob: 3600,
  inspectCheckpoint: 600,
  freeze: 60,
  unfreeze: 60,
  query: 60,
};

/** Names of calls as the user knows them, for the timeout message. */
const CALL_NAMES: Record<string, string> = { dumpWatch: 'dump', restoreWatch: 'restore', listJobs: 'ps', killJobs: 'kill', deleteJobs: 'delete', listCheckpoints: 'checkpoints', healthCheck: 'check', listPlugins: 'plugin list', reloadPlugins: 'plugin reload', getFeatures: 'features', migrateJob: 'job migrate', inspectCheckpoint: 'checkpoint inspect' };

/** A Watch call's stream as a promise of its result; progress events go to `onProgress` as they come. */
function watched<Res>(stream: ClientReadableStream<{ progress?: api.Progress; result?: Res }>, address: string, onProgress: (p: api.Progress) => void, call: { name: string; seconds: number }): Promise<Res> {
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
      reject(fromServiceError(err, address, call));
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
  inspectCheckpoint(req: api.InspectCheckpointReq): Promise<api.InspectCheckpointResp>;
  freeze(req: api.FreezeReq): Promise<api.FreezeResp>;
  unfreeze(req: api.FreezeReq): Promise<api.FreezeResp>;
  query(req: api.QueryReq): Promise<api.QueryResp>;
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
  /** Deadline of every call, in seconds, instead of {@link DEFAULT_DEADLINES}. */
  timeoutSeconds?: number;
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
  const limit = (name: string) => ({ name: CALL_NAMES[name] ?? name, seconds: opts.timeoutSeconds ?? DEFAULT_DEADLINES[name] ?? 60 });
  const deadline = (seconds: number): CallOptions => ({ deadline: Date.now() + seconds * 1000 });
  const call =
    <Q, R>(name: keyof typeof client & string) =>
    (req: Q) =>
      new Promise<R>((resolve, reject) => {
        const l = limit(name);
        (client[name] as unknown as Unary<Q, R>).call(client, req, deadline(l.seconds), (err, res) => (err ? reject(fromServiceError(err, opts.address, l)) : resolve(res)));
      });
  const watch = <Q, R>(name: 'dumpWatch' | 'restoreWatch', req: Q, onProgress: (p: api.Progress) => void) => {
    const l = limit(name);
    const stream = (client[name] as unknown as (r: Q, o: CallOptions) => ClientReadableStream<{ progress?: api.Progress; result?: R }>).call(client, req, deadline(l.seconds));
    return watched<R>(stream, opts.address, onProgress, l);
  };
  return {
    run: call('run'),
    manage: call('manage'),
    dump: call('dump'),
    restore: call('restore'),
    dumpWatch: (req, onProgress) => watch('dumpWatch', req, onProgress),
    restoreWatch: (req, onProgress) => watch('restoreWatch', req, onProgress),
    listJobs: call('listJobs'),
    killJobs: call('killJobs'),
    deleteJobs: call('deleteJobs'),
    listCheckpoints: call('listCheckpoints'),
    healthCheck: call('healthCheck'),
    listPlugins: call('listPlugins'),
    reloadPlugins: call('reloadPlugins'),
    getFeatures: call('getFeatures'),
    inspectCheckpoint: call('inspectCheckpoint'),
    migrateJob: call('migrateJob'),
    freeze: call('freeze'),
    unfreeze: call('unfreeze'),
    query: call('query'),
    attachStream: () => client.attach(),
    address: opts.address,
    close: () => client.close(),
  };
}
