/**
 * The gRPC methods: each turns its message into the SDK request, runs the pipeline, and returns the result.
 * Empty strings in proto3 mean "not given".
 */
import type { sendUnaryData, ServerDuplexStream, ServerUnaryCall, UntypedHandleCall } from '@grpc/grpc-js';
import { AttachOut, type AttachIn } from '../generated/daemon';
import { attachJob } from '../pipeline/attach';
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
        attachable: r.attachable,
        options: parseJsonObject(r.optionsJson, 'options'),
      }),
    })),
    manage: unary(async (r) => ({
      job: await manageJob(s, { type: r.type, target: r.target, jid: opt(r.jid), upcoming: r.upcoming, timeoutSeconds: r.timeoutSeconds || undefined, options: parseJsonObject(r.optionsJson, 'options') }),
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
        attachable: r.attachable,
        options: parseJsonObject(r.optionsJson, 'options'),
      }),
    })),
    listJobs: unary(async (r) => ({ jobs: await listJobs(s, r.jids) })),
    killJobs: unary(async (r) => ({ jids: await killJobs(s, { jids: r.jids, all: r.all, signal: opt(r.signal), graceSeconds: r.graceSeconds || undefined }) })),
    deleteJobs: unary(async (r) => ({ jids: await deleteJobs(s, { jids: r.jids, all: r.all, checkpoints: r.checkpoints }) })),
    listCheckpoints: unary(async (r) => ({ checkpoints: await listCheckpoints(s, r.jid) })),
    healthCheck: unary(async () => ({ results: await healthCheck(s) })),
    listPlugins: unary(async () => ({ plugins: pluginList(s) })),
    attach: (call: ServerDuplexStream<AttachIn, AttachOut>) => serveAttach(s, call),
  };
}

/** One attach session: the first message names the job; then stdin flows in and output flows out until exit. */
function serveAttach(s: Services, call: ServerDuplexStream<AttachIn, AttachOut>): void {
  let attachment: { write(d: Buffer): void; endStdin(): void; detach(): void } | undefined;
  let starting = false;
  const pending: AttachIn[] = [];
  const feed = (msg: AttachIn) => {
    if (msg.stdin && msg.stdin.length > 0) attachment!.write(Buffer.from(msg.stdin));
    if (msg.stdinEof) attachment!.endStdin();
  };
  call.on('data', (msg: AttachIn) => {
    if (attachment) return feed(msg);
    if (starting) return void pending.push(msg);
    starting = true;
    attachJob(s, { jid: opt(msg.jid), pid: msg.pid || undefined }, {
      output: (stream, data) => call.write(AttachOut.fromPartial(stream === 'stdout' ? { stdout: data } : { stderr: data })),
      exit: (status) => {
        call.write(AttachOut.fromPartial({ exited: true, exitCode: status.code ?? 0, exitSignal: status.signal ?? '' }));
        call.end();
      },
    }).then(
      (r) => {
        attachment = r.attachment;
        feed(msg);
        for (const m of pending.splice(0)) feed(m);
      },
      (err: unknown) => call.emit('error', toServiceError(err)),
    );
  });
  const detach = () => attachment?.detach();
  call.on('end', detach);
  call.on('cancelled', detach);
  call.on('close', detach);
}
