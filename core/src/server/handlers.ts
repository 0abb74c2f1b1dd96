/**
 * The gRPC methods: each turns its message into the SDK request, runs the pipeline, and returns the result.
 * Empty strings in proto3 mean "not given".
 */
import type { sendUnaryData, ServerDuplexStream, ServerUnaryCall, ServerWritableStream, UntypedHandleCall } from '@grpc/grpc-js';
import { AttachOut, type AttachIn, type DumpReq, type DumpResp, type Progress, type RestoreReq, type RestoreResp } from '../generated/daemon';
import type { ProgressSink } from '../pipeline/progress';
import { attachJob } from '../pipeline/attach';
import type { Attachment } from '../io/job-io';
import type { DaemonServer } from '../generated/daemon';
import { inspectCheckpoint } from '../pipeline/inspect-checkpoint';
import { deleteJobs, killJobs, listCheckpoints, listJobs } from '../pipeline/jobs';
import { dump } from '../pipeline/dump';
import { healthCheck, pluginList } from '../pipeline/health';
import { features, reloadPlugins } from '../pipeline/plugins';
import { parseJsonObject } from '../pipeline/helpers';
import { manageJob } from '../pipeline/manage';
import { restore } from '../pipeline/restore';
import { migrateJob } from '../pipeline/migrate';
import { runJob } from '../pipeline/run';
import { setJobFrozen } from '../pipeline/freeze';
import { queryTargets } from '../pipeline/query';
import type { Services } from '../pipeline/services';
import { toServiceError } from './status';
import { CedanaError, ErrorCode, type DumpRequest, type RestoreRequest } from '@cedana-ts/sdk';

const opt = (s: string): string | undefined => (s === '' ? undefined : s);

/** Runs an operation on the plugin set current when it starts (PluginHost.hold). */
type Hold = <T>(op: () => Promise<T>) => Promise<T>;

/** Adapts an async function to a unary gRPC handler, with errors turned into statuses. */
function unary<Req, Res>(hold: Hold, fn: (req: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    hold(() => fn(call.request)).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err) as never),
    );
  };
}

/**
 * Adapts a pipeline that reports progress to a server-streaming handler: progress events while it runs, the
 * result as the last message, or the error as the call's status (mapped as for the unary calls).
 */
function watch<Req, Res>(hold: Hold, fn: (req: Req, sink: ProgressSink) => Promise<Res>) {
  return (call: ServerWritableStream<Req, { progress?: Progress; result?: Res }>) => {
    const sink: ProgressSink = {
      update: (progress) => {
        if (!call.cancelled) call.write({ progress });
      },
    };
    // The work goes on when the caller goes away, as a unary call's would.
    hold(() => fn(call.request, sink)).then(
      (result) => {
        if (call.cancelled) return;
        call.write({ result });
        call.end();
      },
      (err: unknown) => {
        if (!call.cancelled) call.emit('error', toServiceError(err));
      },
    );
  };
}

export function dumpRequestOf(r: DumpReq): DumpRequest {
  return {
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
    skipInFlight: r.skipInFlight,
    linkRemap: r.linkRemap,
    external: r.external,
    streams: r.streams || undefined,
    options: parseJsonObject(r.optionsJson, 'options'),
  };
}

export function restoreRequestOf(r: RestoreReq): RestoreRequest {
  return {
    jid: opt(r.jid),
    type: opt(r.type),
    path: opt(r.path),
    tcpEstablished: r.tcpEstablished,
    fileLocks: r.fileLocks,
    shellJob: r.shellJob,
    tcpClose: r.tcpClose,
    leaveStopped: r.leaveStopped,
    linkRemap: r.linkRemap,
    external: r.external,
    pidFile: opt(r.pidFile),
    attachable: r.attachable,
    out: opt(r.out ?? ''),
    lazy: r.lazy,
    force: r.force ?? false,
    options: parseJsonObject(r.optionsJson, 'options'),
  };
}

export function handlers(s: Services): DaemonServer & Record<string, UntypedHandleCall> {
  // Every call but attach (which needs no plugin) holds the plugin set it started on, so a reload meanwhile
  // does not close an instance under it.
  const hold: Hold = (op) => s.plugins.hold(op);
  return {
    run: unary(hold, async (r) => ({
      job: await runJob(s, {
        type: r.type,
        jid: opt(r.jid),
        args: r.args,
        cwd: opt(r.cwd),
        env: r.env,
        logPath: opt(r.logPath),
        pidFile: opt(r.pidFile),
        attachable: r.attachable,
        gpuEnabled: r.gpuEnabled,
        options: parseJsonObject(r.optionsJson, 'options'),
      }),
    })),
    manage: unary(hold, async (r) => ({
      job: await manageJob(s, { type: r.type, target: r.target, jid: opt(r.jid), upcoming: r.upcoming, timeoutSeconds: r.timeoutSeconds, gpuEnabled: r.gpuEnabled, options: parseJsonObject(r.optionsJson, 'options') }),
    })),
    dump: unary(hold, async (r) => ({ checkpoint: await dump(s, dumpRequestOf(r)) })),
    restore: unary(hold, async (r) => ({ job: await restore(s, restoreRequestOf(r)) })),
    dumpWatch: watch<DumpReq, DumpResp>(hold, async (r, sink) => ({ checkpoint: await dump(s, dumpRequestOf(r), sink) })),
    restoreWatch: watch<RestoreReq, RestoreResp>(hold, async (r, sink) => ({ job: await restore(s, restoreRequestOf(r), sink) })),
    listJobs: unary(hold, async (r) => ({ jobs: await listJobs(s, r.jids, r.remote) })),
    killJobs: unary(hold, async (r) => ({ jids: await killJobs(s, { jids: r.jids, all: r.all, signal: opt(r.signal), graceSeconds: r.graceSeconds }) })),
    deleteJobs: unary(hold, async (r) => ({ jids: await deleteJobs(s, { jids: r.jids, all: r.all, checkpoints: r.checkpoints }) })),
    listCheckpoints: unary(hold, async (r) => ({ checkpoints: await listCheckpoints(s, r.jid) })),
    healthCheck: unary(hold, async (r) => ({ results: await healthCheck(s, { full: r.full }) })),
    listPlugins: unary(hold, async () => ({ plugins: pluginList(s) })),
    reloadPlugins: unary(hold, async () => ({ plugins: await reloadPlugins(s) })),
    getFeatures: unary(hold, async () => features(s)),
    migrateJob: unary(hold, async (r) => migrateJob(s, { jid: r.jid, toHost: r.toHost, dir: opt(r.dir), compression: opt(r.compression) })),
    inspectCheckpoint: unary(hold, async (r) => inspectCheckpoint(s, { id: r.id, path: r.path, types: r.types })),
    freeze: unary(hold, async (r) => setJobFrozen(s, { jid: opt(r.jid), type: opt(r.type), target: opt(r.target), options: parseJsonObject(r.optionsJson, 'options') }, true)),
    unfreeze: unary(hold, async (r) => setJobFrozen(s, { jid: opt(r.jid), type: opt(r.type), target: opt(r.target), options: parseJsonObject(r.optionsJson, 'options') }, false)),
    query: unary(hold, async (r) => ({ processes: await queryTargets(s, { type: r.type, ids: r.ids, tree: r.tree, options: parseJsonObject(r.optionsJson, 'options') }) })),
    attach: (call: ServerDuplexStream<AttachIn, AttachOut>) => serveAttach(s, call),
  };
}

/**
 * One attach session: the first message names the job; then stdin flows in and output flows out until exit.
 * The client half-closes to detach: we detach, send what was already on its way, and end the call, so no
 * output is lost between two attachers. Output pauses while the client cannot take more.
 */
function serveAttach(s: Services, call: ServerDuplexStream<AttachIn, AttachOut>): void {
  let attachment: Attachment | undefined;
  let starting = false;
  let over = false;
  let waitingForDrain = false;
  const pending: AttachIn[] = [];
  const feed = (msg: AttachIn) => {
    if (msg.stdin && msg.stdin.length > 0) attachment!.write(Buffer.from(msg.stdin));
    if (msg.stdinEof) attachment!.endStdin();
  };
  const send = (msg: AttachOut): boolean => {
    if (over || call.write(msg)) return true;
    if (!waitingForDrain) {
      waitingForDrain = true;
      call.once('drain', () => {
        waitingForDrain = false;
        attachment?.resume();
      });
    }
    return false;
  };
  call.on('data', (msg: AttachIn) => {
    if (attachment) return feed(msg);
    if (starting) return void pending.push(msg);
    starting = true;
    attachJob(s, { jid: opt(msg.jid), pid: msg.pid || undefined }, {
      output: (stream, data) => send(AttachOut.fromPartial(stream === 'stdout' ? { stdout: data } : { stderr: data })),
      exit: (status) => {
        // code and signal both unknown: the job was not this daemon's child (started before a restart).
        send(AttachOut.fromPartial({ exited: true, exitCode: status.code ?? (status.signal ? 0 : -1), exitSignal: status.signal ?? '' }));
        over = true;
        call.end();
      },
      closed: () => {
        if (over) return;
        over = true;
        call.emit('error', toServiceError(new CedanaError(ErrorCode.Unavailable, 'the daemon is stopping; the job runs on', { hint: 'attach again once the daemon is back' })));
      },
    }).then(
      (r) => {
        attachment = r.attachment;
        if (over) return attachment.detach();
        if (!waitingForDrain) attachment.resume();
        feed(msg);
        for (const m of pending.splice(0)) feed(m);
      },
      (err: unknown) => {
        if (over) return;
        over = true;
        call.emit('error', toServiceError(err));
      },
    );
  });
  const detach = () => {
    attachment?.detach();
    over = true;
  };
  call.on('end', () => {
    const wasOver = over;
    detach();
    if (!wasOver) call.end();
  });
  call.on('cancelled', detach);
  call.on('close', detach);
}
