/**
 * `dump`: the one checkpoint pipeline, whatever asked for it (CLI, API, a job or a bare PID).
 *
 *   resolve target → open the destination (fails before anything is frozen) → runtime dump (CRIU) into a
 *   scratch image dir → metadata → archive and commit, or rename the image dir into place → record.
 *
 * Nothing appears under the checkpoint's name until it is complete. When CRIU fails the process was never
 * stopped; when the archive step fails after CRIU stopped it, the process is restored from the scratch images.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  CedanaError,
  CheckpointMetadata,
  DumpRequest,
  ErrorCode,
  METADATA_FILE,
  type Compression,
  type CriuOptions,
  type DumpResult,
  type JobRef,
  type Upload,
} from '@cedana-ts/sdk';
import { extensionOf } from '../archive/formats';
import { packDirectory } from '../archive/pack';
import { sumList, sumTree, type SumMap } from '../archive/checksums';
import type { Checkpoint, CheckpointStats } from '../generated/daemon';
import type { JobRow } from '../db/tables';
import { localPath, notWritable } from '../storage/local';
import { schemeOf } from '../storage/registry';
import { requireJob, runtimeOptions } from './helpers';
import { statusOf, withStartTime } from './job-status';
import type { Services } from './services';
import { validate } from './validate';
import { GpuDump } from './gpu';
import { openShardedTarget, type ShardedTarget } from './sharded';
import { readCriuDumpStats } from './criu-stats';
import { reporterFor, type ProgressSink } from './progress';
import { watchImages } from './images-progress';
import { partialPrefix, scratchPrefix } from '../daemon/scratch-cleaner';
import { restrictTree } from '../security/private-files';
import { pauseAt } from './test-pause';
import { stoppingError } from './stopping';

/** Total size of the files under `dir`. */
async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await treeSize(p) : (await stat(p)).size;
  }
  return total;
}

export interface Target {
  type: string;
  jid?: string;
  ref: JobRef;
}

export async function resolveTarget(s: Services, req: { jid?: string; type?: string; target?: string }): Promise<Target> {
  if (req.jid) {
    const job = await requireJob(s, req.jid);
    const status = await statusOf(job, s.host);
    if (status === 'remote') {
      throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} belongs to host ${job.host}, not this one (${s.host})`, {
        hint: 'dump it on that host, or restore it here first with `cedana restore job`',
      });
    }
    if (['halted', 'zombie', 'stale'].includes(status)) {
      throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} is not running (status: ${status})`, {
        hint: 'restore it first with `cedana restore job`',
      });
    }
    return { type: job.type, jid: job.jid, ref: { jid: job.jid, pid: job.pid, details: JSON.parse(job.details) as Record<string, unknown> } };
  }
  const type = req.type!;
  // Only a process is named by its PID; every other runtime names a container, whose id may be all digits.
  if (type !== 'process') {
    const byContainer = s.store ? await jobOfContainer(s, type, req.target!) : undefined;
    if (byContainer) return { type, jid: byContainer.jid, ref: { jid: byContainer.jid, pid: byContainer.pid, details: JSON.parse(byContainer.details) as Record<string, unknown> } };
    return { type, ref: { jid: '', pid: 0, details: { target: req.target } } };
  }
  const pid = Number(req.target);
  if (!/^\d+$/.test(req.target!) || !Number.isSafeInteger(pid) || pid <= 0) {
    throw new CedanaError(ErrorCode.InvalidArgument, `'${req.target}' is not a PID`, { hint: 'cedana dump process <PID>' });
  }
  // A bare PID that belongs to a job is dumped as that job, so the checkpoint is recorded on it.
  const job = s.store ? await s.store.findJobByPid(pid, s.host) : undefined;
  if (job && job.type === type) return { type, jid: job.jid, ref: { jid: job.jid, pid, details: JSON.parse(job.details) as Record<string, unknown> } };
  return { type, ref: { jid: '', pid, details: { target: req.target } } };
}

/** What names a target in a default checkpoint name: its job, else its PID or container id. */
function targetLabel(t: Target): string {
  if (t.jid) return t.jid;
  const id = typeof t.ref.details.target === 'string' ? t.ref.details.target : String(t.ref.pid);
  return t.type === 'process' ? String(t.ref.pid) : id.replace(/[^\w.+-]/g, '_');
}

/** The running job of `type` on this host whose container id is `id`, if any. */
async function jobOfContainer(s: Services, type: string, id: string): Promise<JobRow | undefined> {
  for (const job of await s.store!.listJobs(undefined, s.host)) {
    if (job.type !== type || job.host !== s.host) continue;
    const details = JSON.parse(job.details) as { id?: unknown; name?: unknown };
    if (details.id !== id && details.name !== id) continue;
    const status = await statusOf(job, s.host);
    if (!['halted', 'zombie', 'stale', 'remote'].includes(status)) return job;
  }
  return undefined;
}

/** Where the checkpoint goes: the final URL and, for `none`, the local image directory. */
function destination(dir: string, name: string, compression: Compression): { url: string; isDir: boolean } {
  if (compression === 'none') {
    if (schemeOf(dir) !== 'file') {
      throw new CedanaError(ErrorCode.InvalidArgument, `--compression none writes a directory, which ${schemeOf(dir)}:// storage cannot hold`, {
        hint: 'choose tar, gzip, lz4, zlib or zstd',
      });
    }
    return { url: join(localPath(dir), name), isDir: true };
  }
  const file = `${name}${extensionOf[compression]}`;
  return { url: schemeOf(dir) === 'file' ? join(localPath(dir), file) : `${dir.replace(/\/+$/, '')}/${file}`, isDir: false };
}

interface Opened {
  /** With --streams N: the streamer's N shards. */
  sharded?: ShardedTarget;
  dest: { url: string; isDir: boolean };
  /** An archive going to storage (local or remote). */
  upload?: Upload;
  /** Where CRIU writes: a scratch directory, or for `none` one next to the destination, renamed at the end. */
  imagesDir: string;
}

interface Where {
  dir: string;
  compression: Compression;
  streams: number;
}

/** Opens the checkpoint called `name`; ALREADY_EXISTS when there is one. */
async function openDestination(s: Services, w: Where, name: string): Promise<Opened> {
  // With --streams N the streamer plugin writes N shards in parallel (sharded.ts); otherwise one archive or dir.
  const sharded = w.streams > 0 ? await openShardedTarget(s, w.dir, name, w.compression, w.streams) : undefined;
  if (sharded) return { sharded, dest: { url: sharded.url, isDir: false }, imagesDir: await mkdtemp(join(tmpdir(), scratchPrefix())) };
  const dest = destination(w.dir, name, w.compression);
  if (dest.isDir) {
    const parent = dirname(dest.url);
    const parentStat = await stat(parent).catch(() => null);
    if (!parentStat) throw new CedanaError(ErrorCode.NotFound, `directory ${parent} does not exist`, { hint: 'create it or choose another --dir' });
    if (!parentStat.isDirectory()) throw new CedanaError(ErrorCode.InvalidArgument, `${parent} is not a directory`, { hint: 'choose a directory for --dir' });
    if (await stat(dest.url).catch(() => null)) throw new CedanaError(ErrorCode.AlreadyExists, `${dest.url} exists already`, { hint: 'choose another --name' });
    const imagesDir = await mkdtemp(join(parent, partialPrefix(basename(dest.url)))).catch((err: NodeJS.ErrnoException) => {
      throw notWritable(parent, err);
    });
    return { dest, imagesDir };
  }
  const upload = await s.storage.for(dest.url).create(dest.url);
  return { dest, upload, imagesDir: await mkdtemp(join(tmpdir(), scratchPrefix())) };
}

/** Names tried after a default name that is taken: `NAME-1` … `NAME-<this>`. */
const MAX_NAME_SUFFIX = 99;

/**
 * Opens the checkpoint under `--name` as given, or under the default name (type, job, second): when two dumps of
 * a job fall in the same second, the later one takes the next free `-1`, `-2`… instead of failing.
 */
async function openNamed(s: Services, w: Where, given: string | undefined, defaultName: string): Promise<Opened> {
  if (given !== undefined) return openDestination(s, w, given);
  for (let i = 0; ; i++) {
    try {
      return await openDestination(s, w, i === 0 ? defaultName : `${defaultName}-${i}`);
    } catch (err) {
      if (!(err instanceof CedanaError && err.code === ErrorCode.AlreadyExists) || i >= MAX_NAME_SUFFIX) throw err;
    }
  }
}

/** Runs a dump; returns the recorded checkpoint. With a sink, reports its progress there (see progress.ts). */
export async function dump(s: Services, input: DumpRequest, sink?: ProgressSink): Promise<Checkpoint> {
  const req = validate(DumpRequest, input, 'dump');
  // Resolved once to learn the job, and again under its lock: another operation may have changed it meanwhile.
  const first = await resolveTarget(s, req);
  return s.locks.run(first.jid, async () => dumpLocked(s, req, first.jid ? await resolveTarget(s, req) : first, sink));
}

async function dumpLocked(s: Services, req: ReturnType<typeof DumpRequest.parse>, target: Target, sink?: ProgressSink): Promise<Checkpoint> {
  const started = performance.now();
  const progress = reporterFor(sink);
  const runtime = s.plugins.runtime(target.type);
  const options = runtimeOptions(runtime, req.options);
  const compression = req.compression ?? s.config.checkpoint.compression;
  const dir = req.dir ?? s.config.checkpoint.dir;
  const now = Date.now();
  const defaultName = `dump-${target.type}-${targetLabel(target)}-${Math.floor(now / 1000)}`;
  const streams = req.streams ?? s.config.checkpoint.streams;
  const criu: CriuOptions = {
    leaveRunning: req.leaveRunning || s.config.criu.leave_running,
    tcpEstablished: req.tcpEstablished,
    fileLocks: req.fileLocks,
    shellJob: req.shellJob,
    extUnixSk: false,
    skipInFlight: req.skipInFlight,
    linkRemap: req.linkRemap,
    tcpClose: false,
    leaveStopped: false,
    external: req.external,
  };

  // Open the destination first: a bad --dir must fail before the process is frozen.
  const { sharded, dest, upload, imagesDir } = await openNamed(s, { dir, compression, streams }, req.name, defaultName);

  s.exits.dumpStarted(target.ref.pid);
  let result: DumpResult | undefined;
  let processStopped = false;
  let gpu: GpuDump | null = null;
  let stopListening: (() => void) | undefined;
  // Journaled before the freeze: a daemon killed from here on finds the dump at start-up (recover-dumps.ts).
  const journalId = s.store && target.jid ? randomUUID() : undefined;
  try {
    if (journalId) {
      await s.store!.journalDump({ id: journalId, jid: target.jid!, pid: target.ref.pid, type: target.type, dest: dest.url, compression, images_dir: imagesDir, phase: 'opened', meta: null, started_at: now });
    }
    await pauseAt('dump-opened');
    if (s.stopping.aborted) throw stoppingError();
    progress?.phase('freeze');
    // Device memory goes into host memory first, so that CRIU sees no GPU (see gpu.ts).
    gpu = await GpuDump.begin(s, target.ref.pid, target.jid);
    const dumpImages = () => runtime.dump({ job: target.ref, imagesDir, criu, options });
    const criuStarted = performance.now();
    const stopWatching = progress && watchImages(imagesDir, progress);
    try {
      result = gpu ? await gpu.around(dumpImages) : await dumpImages();
    } finally {
      await stopWatching?.();
    }
    const criuMs = performance.now() - criuStarted;
    processStopped = !result.criu.leaveRunning;
    const meta: CheckpointMetadata = {
      version: 1,
      type: target.type,
      runtimeVersion: s.plugins.runtimeVersion(target.type),
      jid: target.jid,
      pid: target.ref.pid,
      host: s.host,
      createdAt: now,
      criu: result.criu,
      details: result.details,
      ...(gpu ? { gpu: gpu.info } : {}),
    };
    // A `none` checkpoint is the image directory itself: its sums are taken now. An archive's are taken while it is
    // packed, and its metadata goes in last (the trailer) with them.
    if (dest.isDir) meta.files = sumList(await sumTree(imagesDir));
    await writeFile(join(imagesDir, METADATA_FILE), JSON.stringify(meta, null, 2));
    if (journalId) await s.store!.advanceDump(journalId, 'dumped', JSON.stringify(meta));
    await pauseAt('dump-imaged');
    if (s.stopping.aborted) throw stoppingError();
    // A daemon asked to stop does not wait for the rest of the archive: the write is cut, and the process restored.
    const cut = () => upload?.stream.destroy(stoppingError());
    s.stopping.addEventListener('abort', cut);
    stopListening = () => s.stopping.removeEventListener('abort', cut);
    const rawBytes = await treeSize(imagesDir);
    // CRIU may be done before its images were seen: then the dump phase is reported now, complete.
    progress?.phase('dump', undefined, rawBytes);
    // Archiving counts the image bytes read, out of rawBytes; to remote storage that is the upload.
    if (sharded || upload) progress?.phase(schemeOf(dest.url) === 'file' ? 'compress' : 'upload', rawBytes);
    const writeStarted = performance.now();
    let size: number;
    if (sharded) {
      size = await sharded.write(imagesDir, progress && ((p) => progress.bytes(p.rawBytes)));
    } else if (upload) {
      const trailer = { name: METADATA_FILE, body: (sums: SumMap) => JSON.stringify({ ...meta, files: sumList(sums) }, null, 2) };
      await packDirectory(imagesDir, compression as Exclude<Compression, 'none'>, upload.stream, progress && ((n) => progress.add(n)), trailer);
      size = (await upload.commit()).size;
    } else {
      await restrictTree(imagesDir); // process memory: never readable by other users
      await rename(imagesDir, dest.url);
      size = await treeSize(dest.url);
    }
    stopListening?.();
    if (journalId) await s.store!.advanceDump(journalId, 'archived');
    await pauseAt('dump-archived');
    if (processStopped && s.reaper && result.pids) s.reaper.expectOrphans(result.pids.filter((p) => p !== target.ref.pid));
    const criuStats = await readCriuDumpStats(dest.isDir ? dest.url : imagesDir);
    const stats: CheckpointStats = {
      freezeMs: criuStats?.freezeMs ?? 0,
      frozenMs: criuStats?.frozenMs ?? 0,
      criuMs,
      writeMs: performance.now() - writeStarted,
      totalMs: performance.now() - started,
      rawBytes,
      storedBytes: size,
      streams: sharded ? streams : 0,
    };
    const ckpt = { id: randomUUID(), jid: target.jid ?? null, type: target.type, path: dest.url, time: now, size, compression, stats, host: s.host };
    if (s.store && target.jid) {
      await s.store.insertCheckpoint({ ...ckpt, stats: JSON.stringify(stats) });
      // Stopped and checkpointed: from now on any host that shares the database may restore it (docs/fleet.md).
      if (processStopped) await s.store.updateJob(target.jid, { released: 1 });
      await s.store.updateJob(target.jid, { notice: null, lost_dump_at: null });
    }
    await gpu?.record(s, target.jid);
    s.logger.info(`dumped ${target.jid ? `job ${target.jid}` : target.type === 'process' ? `PID ${target.ref.pid}` : `${target.type} ${targetLabel(target)}`}`, { path: dest.url, size });
    progress?.finish();
    return { ...ckpt, jid: ckpt.jid ?? '' };
  } catch (err) {
    progress?.stop();
    await upload?.abort();
    await sharded?.abort();
    if (result && processStopped) await recoverAfterFailedArchive(s, target, imagesDir, result, err, gpu);
    throw err;
  } finally {
    stopListening?.();
    if (journalId) await s.store!.endDump(journalId).catch((err: Error) => s.logger.warn(`dump journal: ${err.message}`));
    s.exits.dumpEnded(target.ref.pid, processStopped);
    await rm(imagesDir, { recursive: true, force: true });
  }
}

/** CRIU stopped the process but the checkpoint could not be written: bring the process back from its images. */
async function recoverAfterFailedArchive(s: Services, target: Target, imagesDir: string, result: DumpResult, cause: unknown, gpu: GpuDump | null): Promise<never> {
  const runtime = s.plugins.runtime(target.type);
  const why = cause instanceof Error ? cause.message : String(cause);
  try {
    await s.reaper?.sweep();
    const meta = CheckpointMetadata.parse({ version: 1, type: target.type, runtimeVersion: '0.0.0', pid: target.ref.pid, host: s.host, createdAt: Date.now(), criu: result.criu, details: result.details });
    const started = await runtime.restore({ imagesDir, metadata: meta, criu: result.criu, options: {}, foreground: false });
    await gpu?.afterRecovery(started.pid);
    if (s.store && target.jid) await s.store.updateJob(target.jid, { pid: started.pid, details: JSON.stringify(await withStartTime(started.details, started.pid)) });
    if (target.jid) s.exits.track(target.jid, started.pid, started.exited);
  } catch (restoreErr) {
    throw new CedanaError(ErrorCode.CheckpointFailed, `writing the checkpoint failed (${why}) and the process could not be restored: ${(restoreErr as Error).message}`, { cause });
  }
  throw new CedanaError(ErrorCode.CheckpointFailed, `writing the checkpoint failed (${why}); the process was restored and keeps running`, { cause });
}
