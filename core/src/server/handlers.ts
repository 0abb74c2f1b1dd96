/**
 * The gRPC methods: each turns its message into the SDK request, runs the pipeline, and returns the result.
 * Empty strings in proto3 mean "not given".
 */
import type { sendUnaryData, ServerUnaryCall, UntypedHandleCall } from '@grpc/grpc-js';
import type { DaemonServer } from '../generated/daemon';
import { deleteJobs, killJobs, listCheckpoints, listJobs } from '../pipeline/jobs';
import { dump } from '../pipeline/dump';
import { healthCheck, pluginList } from '../pipeline/health';
import { parseJsonObject } from '../pipeline/helpers';
import { manageJob } from '../pipeline/manage';
import { restore } from '../pipeline/restore';
import { runJob } from '../pipeline/run';
import type { Services } from '../pipeline/services';
import { toServiceError } from './status';

const opt = (s: string): string | undefined => (s === '' ? undefined : s);

/** Adapts an async function to a unary gRPC handler, with errors turned into statuses. */
function unary<Req, Res>(fn: (req: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err) as never),
    );
  };
}

export function handlers(s: Services): DaemonServer & Record<string, UntypedHandleCall> {
  return {
    run: unary(async (r) => ({
      job: await runJob(s, {
        type: r.type,
        jid: opt(r.jid),
        args: r.args,
        cwd: opt(r.cwd),
        env: r.env,
        logPath: opt(r.logPath),
        pidFile: opt(r.pidFile),
        options: parseJsonObject(r.optionsJson, 'options'),
      }),
    })),
    manage: unary(async (r) => ({
      job: await manageJob(s, { type: r.type, target: r.target, jid: opt(r.jid), options: parseJsonObject(r.optionsJson, 'options') }),
    })),
    dump: unary(async (r) => ({
      checkpoint: await dump(s, {
        jid: opt(r.jid),
        type: opt(r.type),
        target: opt(r.target),
        dir: opt(r.dir),
        name: opt(r.name),
        compression: opt(r.compression),
        leaveRunning: r.leaveRunning,
        tcpEstablished: r.tcpEstablished,
        fileLocks: r.fileLocks,
        shellJob: r.shellJob,
        options: parseJsonObject(r.optionsJson, 'options'),
      }),
    })),
    restore: unary(async (r) => ({
      job: await restore(s, {
        jid: opt(r.jid),
        type: opt(r.type),
        path: opt(r.path),
        tcpEstablished: r.tcpEstablished,
        fileLocks: r.fileLocks,
        shellJob: r.shellJob,
        pidFile: opt(r.pidFile),
        options: parseJsonObject(r.optionsJson, 'options'),
      }),
    })),
    listJobs: unary(async (r) => ({ jobs: await listJobs(s, r.jids) })),
    killJobs: unary(async (r) => ({ jids: await killJobs(s, { jids: r.jids, all: r.all, signal: opt(r.signal) }) })),
    deleteJobs: unary(async (r) => ({ jids: await deleteJobs(s, { jids: r.jids, all: r.all, checkpoints: r.checkpoints }) })),
    listCheckpoints: unary(async (r) => ({ checkpoints: await listCheckpoints(s, r.jid) })),
    healthCheck: unary(async () => ({ results: await healthCheck(s) })),
    listPlugins: unary(async () => ({ plugins: pluginList(s) })),
  };
}
