/**
 * The `containerd` runtime: containers created, adopted, checkpointed and restored through containerd's gRPC
 * API (containerd's runc shim drives runc, which drives CRIU).
 *
 * A container's output goes to the job log through the shim (`file://` stdio): the shim outlives the daemon,
 * and so does the log. Checkpoints are CRIU images written straight into the dump's directory
 * (`CheckpointOptions.image_path`); a restore creates a task whose options point runc at them
 * (`Options.criu_image_path`) — in the same container, whose snapshot keeps the root filesystem as it was, or in
 * a new container made from the recorded spec and image.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import {
  CedanaError,
  ErrorCode,
  type DumpResult,
  type DumpSpec,
  type JobRef,
  type ManageSpec,
  type PluginContext,
  type RestoreSpec,
  type RunSpec,
  type Runtime,
  type StartedJob,
} from '@cedana-ts/sdk';
import type { Containerd } from './client';
import type { Mount } from './generated/types';
import { fetchCheckpointImage, publishCheckpointImage } from './checkpoint-image';
import { resolveImage } from './image';
import { containerId, ContainerdOptions, networkOf, refuseGpus, withEnv } from './options';
import { buildSpec, CRIU_CONFIG_ANNOTATION, specAny, specOf, type Spec } from './spec';
import {
  checkpointOptions,
  containerOf,
  criuConfigFile,
  deleteTask,
  reapTask,
  restoreOptions,
  RUNC_RUNTIME,
  runningTask,
  taskOf,
  taskOptions,
  waitTask,
} from './tasks';
import { Status } from './generated/task';

const DEFAULT_SNAPSHOTTER = 'overlayfs';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The `Error (…)` lines of a CRIU log runc left in `workDir`. */
async function criuReasons(workDir: string, log: string): Promise<string[]> {
  const text = await readFile(join(workDir, log), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => /Error \(/.test(l) && !/RLIMIT_NOFILE/.test(l))
    .map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, '').trim());
}

async function cmdlineOf(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
}

export class ContainerdRuntime implements Runtime {
  readonly type = 'containerd';
  readonly optionsSchema = ContainerdOptions;

  constructor(
    private readonly ctx: PluginContext,
    private readonly ctr: Containerd,
    private readonly defaultNamespace: string,
  ) {}

  private stdio(log: string): { stdout: string; stderr: string } {
    return log ? { stdout: `file://${log}`, stderr: `file://${log}` } : { stdout: '', stderr: '' };
  }

  private async prepareSnapshot(ns: string, snapshotter: string, key: string, parent: string): Promise<Mount[]> {
    const s = this.ctr.snapshots;
    const res = await this.ctr.call(s, s.prepare, { snapshotter, key, parent, labels: {} }, ns, `root filesystem of ${key}`, { deadlineMs: 60_000 });
    return res.mounts;
  }

  private async removeSnapshot(ns: string, snapshotter: string, key: string): Promise<void> {
    const s = this.ctr.snapshots;
    await this.ctr.call(s, s.remove, { snapshotter, key }, ns, `removing snapshot ${key}`).catch(() => undefined);
  }

  private async deleteContainer(ns: string, id: string): Promise<void> {
    const c = this.ctr.containers;
    await this.ctr.call(c, c.delete, { id }, ns, `deleting container ${id}`).catch(() => undefined);
  }

  /** Creates the task of `id` and starts it (for a restore, the start is runc restore); returns its PID. */
  private async startTask(
    ns: string,
    id: string,
    rootfs: Mount[],
    log: string,
    restore?: { imagesDir: string; workDir: string },
    noPivot = false,
  ): Promise<number> {
    const t = this.ctr.tasks;
    const created = noPivot ? taskOptions({ noPivotRoot: true }) : undefined;
    const options = restore ? restoreOptions(restore.imagesDir, restore.workDir, noPivot) : created;
    const fallback = restore ? ErrorCode.RestoreFailed : ErrorCode.FailedPrecondition;
    await this.ctr.call(t, t.create, { containerId: id, rootfs, stdin: '', ...this.stdio(log), terminal: false, options }, ns, `creating the task of ${id}`, { fallback });
    try {
      return (await this.ctr.call(t, t.start, { containerId: id, execId: '' }, ns, `starting ${id}`, { fallback })).pid;
    } catch (err) {
      await deleteTask(this.ctr, ns, id).catch(() => undefined);
      if (restore && err instanceof CedanaError) {
        const reasons = await criuReasons(restore.workDir, 'restore.log');
        if (reasons.length > 0) throw new CedanaError(ErrorCode.RestoreFailed, `containerd restore of ${id} failed: ${reasons.slice(-3).join('; ')}`, { cause: err });
      }
      throw err;
    }
  }

  private async details(ns: string, id: string, pid: number, extra: Record<string, unknown>): Promise<Record<string, unknown>> {
    return { id, namespace: ns, ...extra, cmdline: await cmdlineOf(pid) };
  }

  async run(spec: RunSpec): Promise<StartedJob> {
    if (spec.foreground) throw new CedanaError(ErrorCode.Unsupported, 'containerd jobs run under the daemon', { hint: 'drop --no-server' });
    if (spec.stdio) throw new CedanaError(ErrorCode.Unsupported, '--attach and --attachable are not supported for containerd jobs', { hint: 'their output goes to the job log (--log)' });
    const o = ContainerdOptions.parse(spec.options);
    refuseGpus(o);
    if (!o.image) throw new CedanaError(ErrorCode.InvalidArgument, 'run containerd needs --image REF', { hint: 'cedana run containerd --image REF --id ID' });
    const id = o.id ?? containerId(spec.jid);
    const ns = o.namespace ?? this.defaultNamespace;
    const snapshotter = o.snapshotter ?? DEFAULT_SNAPSHOTTER;
    if (await containerOf(this.ctr, ns, id)) throw new CedanaError(ErrorCode.AlreadyExists, `containerd container '${id}' exists already in namespace ${ns}`, { hint: 'choose another --id' });
    const image = await resolveImage(this.ctr, ns, o.image, snapshotter);
    const built = buildSpec({ id, namespace: ns, image, args: spec.args, network: networkOf(o.network) });
    const ociSpec = { ...built, process: { ...built.process, env: withEnv(built.process.env, o.env) } };
    const rootfs = await this.prepareSnapshot(ns, snapshotter, id, image.chainId);
    const c = this.ctr.containers;
    try {
      const container = { id, image: o.image, labels: { 'io.cedana.job': spec.jid }, runtime: { name: RUNC_RUNTIME }, spec: specAny(ociSpec), snapshotter, snapshotKey: id };
      await this.ctr.call(c, c.create, { container }, ns, `creating container ${id}`);
    } catch (err) {
      await this.removeSnapshot(ns, snapshotter, id);
      throw err;
    }
    let pid: number;
    try {
      pid = await this.startTask(ns, id, rootfs, spec.logPath, undefined, o.noPivot);
    } catch (err) {
      await this.deleteContainer(ns, id);
      await this.removeSnapshot(ns, snapshotter, id);
      throw err;
    }
    this.ctx.logger.debug('containerd container started', { id, namespace: ns, pid });
    return { pid, details: await this.details(ns, id, pid, { image: o.image, snapshotter, log: spec.logPath }), exited: waitTask(this.ctr, ns, id) };
  }

  async manage(spec: ManageSpec): Promise<StartedJob> {
    const o = ContainerdOptions.parse(spec.options);
    const ns = o.namespace ?? this.defaultNamespace;
    const id = containerId(spec.target);
    // NOT_FOUND when it does not exist (yet): `manage --upcoming` retries on that.
    const task = await runningTask(this.ctr, ns, id);
    const container = await containerOf(this.ctr, ns, id);
    const extra = { image: container?.image ?? '', snapshotter: container?.snapshotter || DEFAULT_SNAPSHOTTER, log: '' };
    return { pid: task.pid, details: await this.details(ns, id, task.pid, extra), exited: waitTask(this.ctr, ns, id) };
  }

  async dump(spec: DumpSpec): Promise<DumpResult> {
    const o = ContainerdOptions.parse(spec.options);
    const d = spec.job.details;
    const id = containerId(str(d.id) ?? str(d.target) ?? '');
    const ns = o.namespace ?? str(d.namespace) ?? this.defaultNamespace;
    await runningTask(this.ctr, ns, id);
    const container = (await containerOf(this.ctr, ns, id))!;
    const workDir = await mkdtemp(join(this.ctx.settings.tmpDir, 'cedana-containerd-dump-'));
    const t = this.ctr.tasks;
    const c = spec.criu;
    try {
      const options = checkpointOptions({ exit: !c.leaveRunning, openTcp: c.tcpEstablished, fileLocks: c.fileLocks, externalUnixSockets: c.extUnixSk, imagePath: spec.imagesDir, workPath: workDir });
      this.ctx.logger.debug('containerd checkpoint', { id, namespace: ns });
      await this.ctr.call(t, t.checkpoint, { containerId: id, parentCheckpoint: '', options }, ns, `checkpoint of ${id}`, { fallback: ErrorCode.CheckpointFailed }).catch(async (err: CedanaError) => {
        const reasons = await criuReasons(workDir, 'dump.log');
        throw reasons.length > 0 ? new CedanaError(ErrorCode.CheckpointFailed, `containerd checkpoint of ${id} failed: ${reasons.slice(-3).join('; ')}`, { cause: err }) : err;
      });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
    // The checkpoint ended the task; delete it so that the container can be restored in place.
    if (!c.leaveRunning) await reapTask(this.ctr, ns, id);
    const details = {
      id,
      namespace: ns,
      image: container.image,
      snapshotter: container.snapshotter || DEFAULT_SNAPSHOTTER,
      spec: specOf(container.spec),
      log: str(d.log) ?? '',
      cmdline: Array.isArray(d.cmdline) ? d.cmdline : [],
    };
    if (o.image) await publishCheckpointImage(this.ctr, ns, o.image, spec.imagesDir, { ...details, criu: c });
    return { criu: c, details };
  }

  /** The container to restore `id` into: the existing one (its task deleted), or a new one from the checkpoint. */
  private async restoreTarget(ns: string, id: string, d: Record<string, unknown>, criuConfig: string | undefined): Promise<{ rootfs: Mount[]; created: boolean; snapshotter: string }> {
    const c = this.ctr.containers;
    const existing = await containerOf(this.ctr, ns, id);
    const snapshotter = existing?.snapshotter || str(d.snapshotter) || DEFAULT_SNAPSHOTTER;
    const withConfig = (spec: Spec): Spec => ({ ...spec, annotations: { ...spec.annotations, ...(criuConfig ? { [CRIU_CONFIG_ANNOTATION]: criuConfig } : {}) } });
    if (existing) {
      const task = await runningTask(this.ctr, ns, id).catch(() => null);
      if (task) throw new CedanaError(ErrorCode.AlreadyExists, `containerd container '${id}' is running`, { hint: 'restore under another --id, or stop it' });
      await deleteTask(this.ctr, ns, id);
      if (criuConfig) {
        const container = { ...existing, spec: specAny(withConfig(specOf(existing.spec))) };
        await this.ctr.call(c, c.update, { container, updateMask: ['spec'] }, ns, `updating container ${id}`);
      }
      const s = this.ctr.snapshots;
      const mounts = await this.ctr.call(s, s.mounts, { snapshotter, key: existing.snapshotKey || id }, ns, `root filesystem of ${id}`);
      return { rootfs: mounts.mounts, created: false, snapshotter };
    }
    const imageName = str(d.image);
    if (!imageName || !d.spec) throw new CedanaError(ErrorCode.CorruptCheckpoint, 'the checkpoint does not say which image and spec the container had');
    const image = await resolveImage(this.ctr, ns, imageName, snapshotter);
    const old = d.spec as Spec;
    const spec = withConfig({ ...old, hostname: old.hostname, linux: { ...old.linux, cgroupsPath: `/${ns}/${id}` } });
    const rootfs = await this.prepareSnapshot(ns, snapshotter, id, image.chainId);
    try {
      const container = { id, image: imageName, labels: {}, runtime: { name: RUNC_RUNTIME }, spec: specAny(spec), snapshotter, snapshotKey: id };
      await this.ctr.call(c, c.create, { container }, ns, `creating container ${id}`, { fallback: ErrorCode.RestoreFailed });
    } catch (err) {
      await this.removeSnapshot(ns, snapshotter, id);
      throw err;
    }
    return { rootfs, created: true, snapshotter };
  }

  async restore(spec: RestoreSpec): Promise<StartedJob> {
    if (spec.foreground) throw new CedanaError(ErrorCode.Unsupported, 'containerd jobs are restored under the daemon', { hint: 'drop --no-server' });
    const o = ContainerdOptions.parse(spec.options);
    refuseGpus(o);
    if (o.env) {
      const why = 'the restored processes keep the environment they were dumped with';
      throw new CedanaError(ErrorCode.InvalidArgument, `--env does not apply to a restore: ${why}`, {
        hint: 'drop --env',
      });
    }
    const d = spec.metadata.details;
    const id = o.id ?? containerId(str(d.id) ?? '');
    const ns = o.namespace ?? str(d.namespace) ?? this.defaultNamespace;
    const log = str(d.log) ?? '';
    const criuConfig = await criuConfigFile(this.ctx.settings.tmpDir, ns, id, spec.criu);
    const target = await this.restoreTarget(ns, id, d, criuConfig);
    const workDir = await mkdtemp(join(this.ctx.settings.tmpDir, 'cedana-containerd-restore-'));
    try {
      const pid = await this.startTask(ns, id, target.rootfs, log, { imagesDir: spec.imagesDir, workDir }, o.noPivot);
      this.ctx.logger.debug('containerd container restored', { id, namespace: ns, pid });
      const extra = { image: str(d.image) ?? '', snapshotter: target.snapshotter, log };
      return { pid, details: await this.details(ns, id, pid, extra), exited: waitTask(this.ctr, ns, id) };
    } catch (err) {
      if (target.created) {
        await this.deleteContainer(ns, id);
        await this.removeSnapshot(ns, target.snapshotter, id);
      }
      throw err;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /** `restore containerd --image REF`: the checkpoint image's contents, as a checkpoint the core can open. */
  async fetchCheckpoint(options: Record<string, unknown>, dir: string): Promise<boolean> {
    const o = ContainerdOptions.parse(options);
    if (!o.image) return false;
    await fetchCheckpointImage(this.ctr, o.namespace ?? this.defaultNamespace, o.image, dir);
    return true;
  }

  async kill(job: JobRef, signal: NodeJS.Signals): Promise<void> {
    const id = str(job.details.id);
    if (!id) throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} has no container`);
    const ns = str(job.details.namespace) ?? this.defaultNamespace;
    await runningTask(this.ctr, ns, id);
    const t = this.ctr.tasks;
    await this.ctr.call(t, t.kill, { containerId: id, execId: '', signal: constants.signals[signal], all: false }, ns, `killing ${id}`);
  }

  /** The task's init PID and status (running, paused, stopped…), or null when the container has no task. */
  async locate(target: string, options: Record<string, unknown>): Promise<{ pid: number; status: string } | null> {
    const o = ContainerdOptions.parse(options);
    const task = await taskOf(this.ctr, o.namespace ?? this.defaultNamespace, containerId(target));
    return task ? { pid: task.pid, status: Status[task.status]?.toLowerCase() ?? String(task.status) } : null;
  }

  /** A task pause: the shim freezes the container's cgroup. */
  async freeze(job: JobRef): Promise<void> {
    const { id, ns } = await this.taskIn(job, Status.RUNNING);
    const t = this.ctr.tasks;
    await this.ctr.call(t, t.pause, { containerId: id }, ns, `pausing ${id}`);
  }

  /** A task resume of a paused container. */
  async unfreeze(job: JobRef): Promise<void> {
    const { id, ns } = await this.taskIn(job, Status.PAUSED);
    const t = this.ctr.tasks;
    await this.ctr.call(t, t.resume, { containerId: id }, ns, `resuming ${id}`);
  }

  /** The job's container, whose task must be in `status`. */
  private async taskIn(job: JobRef, status: Status): Promise<{ id: string; ns: string }> {
    const id = containerId(str(job.details.id) ?? str(job.details.target) ?? '');
    const ns = str(job.details.namespace) ?? this.defaultNamespace;
    const task = await taskOf(this.ctr, ns, id);
    // No task: runningTask says why (no such container, or it has no task).
    if (!task) throw await runningTask(this.ctr, ns, id).then(() => new CedanaError(ErrorCode.NotFound, `containerd container '${id}' has no task`));
    if (task.status !== status) {
      const now = Status[task.status].toLowerCase();
      const hint = task.status === Status.PAUSED ? `it is frozen: cedana unfreeze containerd ${id}` : 'it is not frozen';
      throw new CedanaError(ErrorCode.FailedPrecondition, `containerd container '${id}' is ${now}, not ${Status[status].toLowerCase()}`, { hint });
    }
    return { id, ns };
  }
}
