/**
 * `restore`: the one restore pipeline.
 *
 *   resolve the checkpoint (a job's latest, or --path) → open it (an image directory, or an archive recognised
 *   by its first bytes and unpacked safely into a scratch dir) → metadata → runtime restore → record the job.
 *
 * The checkpoint itself is only read: a failed restore leaves it as it was.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { defaultLogPath } from './run';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CedanaError,
  CheckpointMetadata,
  ErrorCode,
  METADATA_FILE,
  RestoreRequest,
  openLogFile,
  type ExitStatus,
  type StartedJob,
} from '@cedana-ts/sdk';
import { unpackArchive } from '../archive/unpack';
import { sumTree, verifySums, type SumMap } from '../archive/checksums';
import type { Job } from '../generated/daemon';
import { statusOf, withStartTime } from './job-status';
import { localPath } from '../storage/local';
import { schemeOf } from '../storage/registry';
import { requireIo, requireJob, requireStore, runtimeOptions, writePidFile } from './helpers';
import { ioDirOf } from './attach';
import { jobView } from './job-view';
import { randomJobName } from './names';
import type { Services } from './services';
import { validate } from './validate';
import { GpuRestore, withGpuStats } from './gpu';
import { readSharded, shardManifestAt } from './sharded';
import { filling, trackPagesIn } from './lazy-restore';
import { reporterFor, type ProgressReporter, type ProgressSink } from './progress';
import { claimForRestore, type RestoreClaim } from './claims';

type Req = ReturnType<typeof RestoreRequest.parse>;

/** An opened checkpoint: its image directory and metadata, and how to clean up after. */
export interface Opened {
  imagesDir: string;
  meta: CheckpointMetadata;
  cleanup(): Promise<void>;
}

async function readMetadata(imagesDir: string, path: string): Promise<CheckpointMetadata> {
  const text = await readFile(join(imagesDir, METADATA_FILE), 'utf8').catch(() => null);
  if (text === null) throw new CedanaError(ErrorCode.CorruptCheckpoint, `${path} is not a checkpoint (no ${METADATA_FILE})`, { hint: 'give the path of a checkpoint made by cedana dump' });
  try {
    return CheckpointMetadata.parse(JSON.parse(text));
  } catch (err) {
    throw new CedanaError(ErrorCode.CorruptCheckpoint, `${path} has unreadable metadata (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * Opens the checkpoint at `path`. Reading an archive or shards is reported as `download` from remote storage and
 * `decompress` from local disk, counting the stored bytes read.
 */
export async function openCheckpoint(s: Services, path: string, progress?: ProgressReporter): Promise<Opened> {
  // A sharded checkpoint (dump --streams N) is recognised by its manifest and read in parallel (sharded.ts).
  const manifest = await shardManifestAt(s, path);
  let localSize: number | undefined;
  if (schemeOf(path) === 'file' && !manifest) {
    const st = await stat(localPath(path)).catch(() => null);
    if (!st) throw new CedanaError(ErrorCode.NotFound, `checkpoint ${path} does not exist`);
    if (st.isDirectory()) {
      const imagesDir = localPath(path);
      const meta = await readMetadata(imagesDir, path);
      if (meta.files) verifySums(meta.files, await sumTree(imagesDir), path);
      return { imagesDir, meta, cleanup: async () => undefined };
    }
    localSize = st.size;
  }
  const source = manifest ? null : await s.storage.for(path).open(path);
  const imagesDir = await mkdtemp(join(tmpdir(), 'cedana-restore-'));
  const cleanup = () => rm(imagesDir, { recursive: true, force: true });
  try {
    if (progress) {
      const total = manifest
        ? manifest.shards.reduce((sum, sh) => sum + sh.stored, 0)
        : (localSize ?? (await s.storage.for(path).stat(path).catch(() => null))?.size);
      progress.phase(schemeOf(path) === 'file' ? 'decompress' : 'download', total);
    }
    // Shards carry their own checksums (checked by the streamer); an archive's files are summed as they are unpacked.
    let sums: SumMap | undefined;
    if (manifest) await readSharded(s, path, manifest, imagesDir, progress && ((p) => progress.bytes(p.storedBytes)));
    else sums = await unpackArchive(source!, imagesDir, path, progress && ((n) => progress.add(n)));
    const meta = await readMetadata(imagesDir, path);
    if (sums && meta.files) verifySums(meta.files, sums, path);
    return { imagesDir, meta, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Which checkpoint a request means. */
async function checkpointPath(s: Services, req: Req): Promise<string> {
  if (req.path) return req.path;
  const latest = (await requireStore(s).checkpointsOf(req.jid!))[0];
  const job = await requireStore(s).getJob(req.jid!);
  // A dump lost with the daemon: the newest checkpoint on record is older than the process was.
  if (job?.lost_dump_at && (!latest || latest.time < job.lost_dump_at) && !req.force) {
    throw new CedanaError(ErrorCode.FailedPrecondition, `the last dump of job ${req.jid} (${new Date(job.lost_dump_at).toISOString()}) was lost when the daemon stopped during it; ${latest ? `its newest checkpoint is older (${new Date(latest.time).toISOString()})` : 'it has no other checkpoint'}`, {
      hint: latest ? 'restore that older checkpoint anyway with --force' : 'the process cannot be restored',
    });
  }
  if (!latest) throw new CedanaError(ErrorCode.FailedPrecondition, `job ${req.jid} has no checkpoint`, { hint: 'dump it first with `cedana dump job`' });
  return latest.path;
}

/**
 * The stdio a restored job gets in place of those it was dumped with: `fds` for the runtime (closed here once it
 * has restored), and what changes in the job's details (`io` or `log`; a key set to undefined is removed).
 */
interface NewStdio {
  fds: { stdin?: number; stdout: number; stderr: number };
  details: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * Called with the checkpoint's metadata once it is known good, just before the runtime restores it; may give
 * the job other stdio.
 */
type Prepare = (meta: CheckpointMetadata) => Promise<NewStdio | void>;


/**
 * `restore <type>` without --path: a checkpoint the runtime holds itself, written into a scratch image directory
 * (returned), or INVALID_ARGUMENT when the runtime holds none.
 */
async function fetchFromRuntime(s: Services, req: Req, progress?: ProgressReporter): Promise<string> {
  const runtime = s.plugins.runtime(req.type!);
  if (runtime.fetchCheckpoint) {
    progress?.phase('download');
    const dir = await mkdtemp(join(tmpdir(), 'cedana-restore-'));
    const found = await runtime.fetchCheckpoint(runtimeOptions(runtime, req.options), dir).catch(async (err: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw err;
    });
    if (found) return dir;
    await rm(dir, { recursive: true, force: true });
  }
  throw new CedanaError(ErrorCode.InvalidArgument, `restore ${req.type} needs --path`, { hint: `cedana restore ${req.type} --path P` });
}

async function restoreWith(s: Services, req: Req, foreground: boolean, progress?: ProgressReporter, prepare?: Prepare): Promise<{ started: StartedJob; meta: CheckpointMetadata }> {
  try {
    return await openAndRestore(s, req, foreground, progress, prepare);
  } finally {
    progress?.stop();
  }
}

function withoutUndefined(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined));
}

async function cleanupOpened(cleanup: () => Promise<void>, fetched: string | undefined): Promise<void> {
  await cleanup();
  if (fetched) await rm(fetched, { recursive: true, force: true });
}

async function openAndRestore(s: Services, req: Req, foreground: boolean, progress?: ProgressReporter, prepare?: Prepare): Promise<{ started: StartedJob; meta: CheckpointMetadata }> {
  let fetched = req.path || req.jid ? undefined : await fetchFromRuntime(s, req, progress);
  const path = fetched ?? (await checkpointPath(s, req));
  const opened = await openCheckpoint(s, path, progress).catch(async (err: unknown) => {
    if (fetched) await rm(fetched, { recursive: true, force: true });
    throw err;
  });
  const original = opened.cleanup;
  try {
    const { meta } = opened;
    if (req.type && req.type !== meta.type) {
      throw new CedanaError(ErrorCode.InvalidArgument, `${path} was made by the ${meta.type} runtime, not ${req.type}`, { hint: `use cedana restore ${meta.type}` });
    }
    const runtime = s.plugins.runtime(meta.type);
    const options = runtimeOptions(runtime, req.options);
    if (req.lazy && (!runtime.lazyRestore || meta.gpu)) {
      throw new CedanaError(ErrorCode.Unsupported, `restore --lazy is not supported for ${meta.gpu ? 'GPU jobs' : `${meta.type} jobs`}`, { hint: 'restore without --lazy' });
    }
    const criu = {
      ...meta.criu,
      leaveRunning: false,
      tcpEstablished: meta.criu.tcpEstablished || req.tcpEstablished,
      fileLocks: meta.criu.fileLocks || req.fileLocks,
      shellJob: meta.criu.shellJob || req.shellJob,
      linkRemap: meta.criu.linkRemap || req.linkRemap,
      tcpClose: req.tcpClose,
      leaveStopped: req.leaveStopped,
      // Given at restore: they replace the dump's (the resources are named anew on this host).
      external: req.external.length > 0 ? req.external : meta.criu.external,
    };
    // GPU state: refused before CRIU runs when this machine cannot take it; restored after CRIU (see gpu.ts).
    const gpu = await GpuRestore.prepare(s, meta, path);
    const stdio = await prepare?.(meta);
    let started: StartedJob;
    try {
      await s.reaper?.sweep();
      progress?.phase('restore');
      started = await runtime.restore({ imagesDir: opened.imagesDir, metadata: meta, criu, options, foreground, lazy: req.lazy, stdio: stdio?.fds });
    } finally {
      await stdio?.close();
    }
    if (stdio) started.details = withoutUndefined({ ...started.details, ...stdio.details });
    if (started.pagesIn) {
      // The lazy-pages daemon reads the images until every page is in: a scratch copy is removed only then.
      const pagesIn = started.pagesIn;
      const scratch = fetched;
      opened.cleanup = () => {
        void pagesIn.catch(() => undefined).finally(() => cleanupOpened(original, scratch));
        return Promise.resolve();
      };
      fetched = undefined;
    }
    if (gpu) started.details = withGpuStats(started.details, gpu.stats(await gpu.after(started, runtime, s)));
    progress?.finish();
    return { started, meta };
  } finally {
    await opened.cleanup();
    if (fetched) await rm(fetched, { recursive: true, force: true });
  }
}

/** Stdio into the log at `logPath` (stdin /dev/null), `first` written there before anything the process writes. */
async function logStdio(logPath: string, first: Buffer[]): Promise<NewStdio> {
  const log = await openLogFile(logPath);
  for (const chunk of first) writeSync(log.fd, chunk);
  const stdin = openSync('/dev/null', constants.O_RDONLY);
  return {
    fds: { stdin, stdout: log.fd, stderr: log.fd },
    details: { io: undefined, log: logPath },
    close: async () => {
      closeSync(stdin);
      await log.close();
    },
  };
}

/**
 * Restores under the daemon and records the job: the same job for `restore job`, a new one otherwise. With a
 * sink, reports its progress there (see progress.ts).
 */
export async function restore(s: Services, input: RestoreRequest, sink?: ProgressSink): Promise<Job> {
  const requestAt = Date.now();
  const req = validate(RestoreRequest, input, 'restore');
  return s.locks.run(req.jid, () => restoreLocked(s, req, sink, requestAt));
}

async function restoreLocked(s: Services, req: Req, sink: ProgressSink | undefined, requestAt: number): Promise<Job> {
  const progress = reporterFor(sink);
  const store = requireStore(s);
  let jid = req.jid;
  let claim: RestoreClaim | undefined;
  if (jid) {
    const job = await requireJob(s, jid);
    if (job.host === s.host) {
      const status = await statusOf(job, s.host);
      // A zombie is over too: a container's init, say, re-parented to an init that does not reap.
      if (!['halted', 'zombie'].includes(status)) {
        throw new CedanaError(ErrorCode.FailedPrecondition, `job ${jid} is still running (PID ${job.pid}, status: ${status})`, {
          hint: 'dump it (without --leave-running) or kill it before restoring',
        });
      }
    }
    if (req.type && req.type !== job.type) throw new CedanaError(ErrorCode.InvalidArgument, `job ${jid} is a ${job.type} job, not ${req.type}`);
    // Another host's job is checked again under the claim's lock: only one host at a time gets to restore a job.
    claim = await claimForRestore(s, jid);
  }
  try {
    return await restoreClaimed(s, req, jid, claim, progress, requestAt);
  } catch (err) {
    if (claim?.own) await store.updateJob(jid!, { claim: null }).catch((e: Error) => s.logger.warn(`job ${jid}: releasing its claim: ${e.message}`));
    throw err;
  }
}

async function restoreClaimed(s: Services, req: Req, jid: string | undefined, claim: RestoreClaim | undefined, progress: ProgressReporter | undefined, requestAt: number): Promise<Job> {
  const store = requireStore(s);
  const isNew = !jid;
  let createdIo = false;
  let oldIoDir: string | undefined;
  const prepare: Prepare = async (m) => {
    if (jid && req.path && m.jid && m.jid !== jid && !req.force) {
      throw new CedanaError(ErrorCode.FailedPrecondition, `${req.path} is a checkpoint of job ${m.jid}, not of job ${jid}`, {
        hint: `restore it as its own job (cedana restore ${m.type} --path ${req.path}), or add --force`,
      });
    }
    if (!jid) {
      jid = m.jid && !(await store.getJob(m.jid)) ? m.jid : undefined;
      while (!jid || (await store.getJob(jid))) jid = randomJobName();
    }
    const ioDir = ioDirOf(m.details);
    if (ioDir) oldIoDir = ioDir;
    // --out: the output goes to that file now, whatever it went to before (a log, an attach's FIFOs).
    if (req.out) return logStdio(req.out, ioDir ? (s.io?.get(jid)?.takeUnread() ?? []) : []);
    // An attachable job's FIFOs are reopened by CRIU by path: the daemon's ends must be open first.
    if (ioDir && req.attachable) {
      oldIoDir = undefined;
      requireIo(s).open(jid, ioDir);
      return;
    }
    // A job dumped with a log, restored attachable: new FIFOs in place of its log.
    if (req.attachable) {
      const io = requireIo(s).create(jid);
      createdIo = true;
      const fds = io.childFds();
      return { fds, details: { io: { dir: io.paths.dir }, log: undefined }, close: async () => Object.values(fds).forEach((fd) => closeSync(fd)) };
    }
    // An attachable job restored without attach: its output goes to its log (the one it had, else the default).
    if (ioDir) {
      const known = (jid && !isNew ? (await store.getJob(jid))?.log : undefined) || (typeof m.details.log === 'string' ? m.details.log : '');
      // What it wrote before the dump that nobody read comes first.
      return logStdio(known || defaultLogPath(jid), s.io?.get(jid)?.takeUnread() ?? []);
    }
  };
  let started: StartedJob;
  let meta: CheckpointMetadata;
  try {
    ({ started, meta } = await restoreWith(s, req, false, progress, prepare));
  } catch (err) {
    if (createdIo && jid) s.io?.remove(jid);
    throw err;
  }
  // The FIFOs it had are not its stdio any more.
  if (oldIoDir && jid) s.io?.remove(jid, oldIoDir);
  const logNow = typeof started.details.log === 'string' ? started.details.log : '';
  if (!jid) throw new CedanaError(ErrorCode.Internal, 'restore chose no job id');
  started.details = await withStartTime(started.details, started.pid);
  if (started.pagesIn) started.details = filling(started.details, Date.now() - requestAt);
  if (!isNew) {
    await store.updateJob(jid, {
      pid: started.pid,
      host: s.host,
      exit_code: null,
      exit_signal: null,
      details: JSON.stringify(started.details),
      log: logNow,
      released: 0,
      notice: null,
      lost_dump_at: null,
      ...(claim?.own ? { claim: null } : {}),
    });
    // The two-step move (dump on one host, restore here): the old host's record of where the job went.
    // `job migrate` records its own move, with the downtime it measured.
    if (claim?.own && claim.from !== s.host) {
      const latest = (await store.checkpointsOf(jid))[0];
      await store.recordMove({ jid, from_host: claim.from, to_host: s.host, checkpoint: latest?.path ?? '', time: Date.now(), downtime_ms: latest ? Math.max(0, Date.now() - latest.time) : 0 });
    }
  } else {
    const cmdline = Array.isArray(meta.details.cmdline) ? (meta.details.cmdline as string[]) : [];
    await store.insertJob({
      jid,
      type: meta.type,
      pid: started.pid,
      cmdline: JSON.stringify(cmdline),
      log: logNow,
      details: JSON.stringify(started.details),
      host: s.host,
      gpu: meta.gpu ? 1 : 0,
      created_at: Date.now(),
      exit_code: null,
      exit_signal: null,
    });
  }
  s.exits.track(jid, started.pid, started.exited);
  trackPagesIn(s, jid, started, requestAt);
  if (ioDirOf(started.details)) s.io?.get(jid)?.holdStdin(started.pid);
  await writePidFile(req.pidFile, started.pid);
  s.logger.info(`restored job ${jid}`, { pid: started.pid });
  const latest = (await store.checkpointsOf(jid))[0];
  return jobView((await store.getJob(jid))!, s.host, latest);
}

/**
 * `restore --no-server`: the process comes back as a child of the caller, which waits for it. With a sink,
 * reports its progress there; the sink hears `done` once the process runs, before this waits for it.
 */
export async function restoreForeground(s: Services, input: RestoreRequest, sink?: ProgressSink): Promise<ExitStatus> {
  const req = validate(RestoreRequest, input, 'restore');
  if (req.jid) throw new CedanaError(ErrorCode.InvalidArgument, 'restore job is not supported with --no-server', { hint: 'use restore process --path P --no-server' });
  // The process gets this command's own stdio in place of those it was dumped with (a log, an attach's FIFOs).
  const own: Prepare = async () => ({ fds: { stdin: 0, stdout: 1, stderr: 2 }, details: { io: undefined }, close: async () => undefined });
  const { started } = await restoreWith(s, req, true, reporterFor(sink), own);
  started.pagesIn?.catch((err: Error) => s.logger.error(err.message, { pid: started.pid }));
  if (!started.exited) throw new CedanaError(ErrorCode.Unsupported, 'this runtime cannot restore in the foreground');
  await writePidFile(req.pidFile, started.pid);
  return started.exited;
}
