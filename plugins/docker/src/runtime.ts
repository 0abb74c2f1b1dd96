/**
 * The `docker` runtime: containers run, adopted, checkpointed and restored through the Docker Engine API
 * (Docker drives containerd, runc and CRIU).
 *
 * Checkpoints: `POST /containers/{id}/checkpoints` writes the CRIU images into a directory of ours. Docker
 * refuses a custom checkpoint directory on start, so a restore copies the images under the container's own
 * checkpoints directory (`<DockerRootDir>/containers/<id>/checkpoints/<name>`) and starts it with
 * `?checkpoint=<name>` — into the same container when it still exists and is stopped, else into a new one made
 * with the recorded configuration.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CedanaError,
  ErrorCode,
  type DumpResult,
  type DumpSpec,
  type ExitStatus,
  type JobRef,
  type ManageSpec,
  type PluginContext,
  type RestoreSpec,
  type RunSpec,
  type Runtime,
  type StartedJob,
} from '@cedana-ts/sdk';
import { ClosedError, type Engine } from './engine';
import { followLogs } from './logs';
import { containerName, DockerOptions } from './options';

/** What the plugin reads of `GET /containers/{id}/json`. */
interface Inspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number };
  Config: Record<string, unknown> & { Tty?: boolean; Image?: string };
  HostConfig: Record<string, unknown>;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Unix time in seconds, fractional, as Docker's `since` takes it. */
function nowSeconds(): number {
  return Date.now() / 1000;
}

/** Moves the entries of `from` into `to` (copying where they are on another filesystem). */
async function moveEntries(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    await rename(join(from, name), join(to, name)).catch(async () => {
      await cp(join(from, name), join(to, name), { recursive: true });
    });
  }
}

/** How often `docker start --checkpoint` is tried when dockerd's upload of the checkpoint races (see below). */
const START_ATTEMPTS = 3;

export class DockerRuntime implements Runtime {
  readonly type = 'docker';
  readonly optionsSchema = DockerOptions;

  constructor(
    private readonly ctx: PluginContext,
    private readonly engine: Engine,
  ) {}

  private path(id: string): string {
    return `/containers/${encodeURIComponent(id)}`;
  }

  /** The container `id` (an id or a name), or NOT_FOUND. */
  async inspect(id: string): Promise<Inspect> {
    const r = await this.engine.call('GET', `${this.path(id)}/json`);
    if (r.status === 404) throw new CedanaError(ErrorCode.NotFound, `no Docker container '${id}'`, { hint: 'see `docker ps -a`' });
    if (r.status !== 200) throw new CedanaError(ErrorCode.FailedPrecondition, `docker inspect ${id}: HTTP ${r.status} ${r.body.trim()}`);
    return JSON.parse(r.body) as Inspect;
  }

  private async running(id: string): Promise<Inspect> {
    const c = await this.inspect(id);
    if (!c.State.Running) throw new CedanaError(ErrorCode.FailedPrecondition, `Docker container '${id}' is not running (status: ${c.State.Status})`);
    return c;
  }

  /** Settles when the container stops, with its exit code. */
  private async waitExit(id: string): Promise<ExitStatus> {
    const r = await this.engine.call('POST', `${this.path(id)}/wait`).catch((err: unknown) => {
      // The daemon is stopping: the container has not ended, so this never settles (and holds nothing open).
      if (err instanceof ClosedError) return new Promise<never>(() => undefined);
      throw err;
    });
    const code = r.status === 200 ? (JSON.parse(r.body) as { StatusCode: number }).StatusCode : null;
    return { code, signal: null };
  }

  private details(c: Inspect, log: string): Record<string, unknown> {
    return { id: c.Id, name: c.Name.replace(/^\//, ''), image: c.Config.Image ?? '', config: c.Config, hostConfig: c.HostConfig, log };
  }

  /** The job of a running container whose output goes to `log` from `since` on. */
  private async started(id: string, log: string, since: number): Promise<StartedJob> {
    const c = await this.inspect(id);
    if (!c.State.Running) throw new CedanaError(ErrorCode.FailedPrecondition, `Docker container '${id}' stopped at once (status: ${c.State.Status})`, { hint: 'see `docker logs`' });
    void followLogs(this.engine, c.Id, log, since, Boolean(c.Config.Tty), this.ctx.logger).catch((err: Error) => this.ctx.logger.warn(`following logs of ${id}: ${err.message}`));
    return { pid: c.State.Pid, details: this.details(c, log), exited: this.waitExit(c.Id) };
  }

  async run(spec: RunSpec): Promise<StartedJob> {
    if (spec.foreground) throw new CedanaError(ErrorCode.Unsupported, 'docker jobs run under the daemon', { hint: 'drop --no-server' });
    if (spec.stdio) throw new CedanaError(ErrorCode.Unsupported, '--attach and --attachable are not supported for docker jobs', { hint: 'their output goes to the job log (--log)' });
    const o = DockerOptions.parse(spec.options);
    if (!o.image) throw new CedanaError(ErrorCode.InvalidArgument, 'run docker needs --image REF', { hint: 'cedana run docker --image REF --name N' });
    const name = o.name ?? containerName(spec.jid);
    const body: Record<string, unknown> = { Image: o.image, HostConfig: o.network ? { NetworkMode: o.network } : {} };
    if (spec.args.length > 0) body.Cmd = spec.args;
    const created = await this.engine.must('POST', `/containers/create?name=${encodeURIComponent(name)}`, `docker create ${name}`, body, ErrorCode.AlreadyExists, ErrorCode.InvalidArgument);
    const id = (JSON.parse(created.body) as { Id: string }).Id;
    const since = nowSeconds() - 1;
    try {
      await this.engine.must('POST', `${this.path(id)}/start`, `docker start ${name}`);
    } catch (err) {
      await this.engine.call('DELETE', `${this.path(id)}?force=1`).catch(() => undefined);
      throw err;
    }
    return this.started(id, spec.logPath, since);
  }

  async manage(spec: ManageSpec): Promise<StartedJob> {
    // NOT_FOUND when it does not exist (yet): `manage --upcoming` retries on that.
    const c = await this.running(spec.target);
    return { pid: c.State.Pid, details: this.details(c, ''), exited: this.waitExit(c.Id) };
  }

  async dump(spec: DumpSpec): Promise<DumpResult> {
    DockerOptions.parse(spec.options);
    const d = spec.job.details;
    const id = str(d.id) ?? str(d.target);
    if (!id) throw new CedanaError(ErrorCode.InvalidArgument, 'name the container to dump', { hint: 'cedana dump docker <ID>' });
    const c = await this.running(id);
    if (spec.criu.tcpEstablished || spec.criu.fileLocks) {
      // The Engine API has no such options: runc takes them from its CRIU config file (see docs/containers.md).
      this.ctx.logger.debug('docker: tcp-established/file-locks come from the CRIU config runc reads', { id });
    }
    const scratch = await mkdtemp(join(this.ctx.settings.tmpDir, 'cedana-docker-'));
    try {
      const name = 'cedana';
      await this.engine.must('POST', `${this.path(c.Id)}/checkpoints`, `docker checkpoint ${id}`, { CheckpointID: name, CheckpointDir: scratch, Exit: !spec.criu.leaveRunning }, ErrorCode.CheckpointFailed, ErrorCode.CheckpointFailed);
      await moveEntries(join(scratch, name), spec.imagesDir);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    return { criu: spec.criu, details: this.details(c, str(d.log) ?? '') };
  }

  /** The stopped container to restore into: a new one named `name`, else the recorded one, else a new one. */
  private async target(d: Record<string, unknown>, name: string | undefined): Promise<string> {
    const create = async (n: string | undefined) => {
      const body = { ...(d.config as object), HostConfig: d.hostConfig ?? {} };
      const q = n ? `?name=${encodeURIComponent(n)}` : '';
      const r = await this.engine.must('POST', `/containers/create${q}`, `docker create ${n ?? ''}`.trim(), body, ErrorCode.AlreadyExists, ErrorCode.RestoreFailed);
      return (JSON.parse(r.body) as { Id: string }).Id;
    };
    if (name) return create(name);
    const id = str(d.id);
    const existing = id ? await this.inspect(id).catch(() => null) : null;
    if (existing) {
      if (existing.State.Running) {
        throw new CedanaError(ErrorCode.AlreadyExists, `Docker container '${str(d.name) ?? id}' is running`, { hint: 'stop it, or restore into a new container with --name NEW' });
      }
      return existing.Id;
    }
    const oldName = str(d.name);
    const taken = oldName ? await this.inspect(oldName).then(() => true, () => false) : true;
    return create(taken ? undefined : oldName);
  }

  async restore(spec: RestoreSpec): Promise<StartedJob> {
    if (spec.foreground) throw new CedanaError(ErrorCode.Unsupported, 'docker jobs are restored under the daemon', { hint: 'drop --no-server' });
    const o = DockerOptions.parse(spec.options);
    const d = spec.metadata.details;
    if (!d.config) throw new CedanaError(ErrorCode.CorruptCheckpoint, 'the checkpoint has no Docker container configuration');
    const id = await this.target(d, o.name);
    const info = JSON.parse((await this.engine.must('GET', '/info', 'docker info')).body) as { DockerRootDir: string };
    const name = `cedana-${randomBytes(4).toString('hex')}`;
    const dir = join(info.DockerRootDir, 'containers', id, 'checkpoints', name);
    await cp(spec.imagesDir, dir, { recursive: true });
    // dockerd stores the checkpoint directory in containerd's content store by the digest of its tar, and fails
    // ("content sha256:…: already exists") when that blob is there already: an identical copy restored before.
    // A file of its own with random bytes makes every copy's digest new; CRIU reads only the images it knows.
    await writeFile(join(dir, 'cedana-restore-nonce'), randomBytes(16).toString('hex'));
    const since = nowSeconds();
    try {
      await this.startFromCheckpoint(id, name);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return this.started(id, str(d.log) ?? '', since);
  }

  /**
   * `docker start --checkpoint`. dockerd copies the checkpoint into containerd's content store first, and that copy
   * now and then fails with "commit failed: content sha256:…: already exists" when a blob of the same digest is
   * being written or was just written (a known dockerd race; the nonce in restore() makes each digest new, so this
   * is the fallback): nothing has started then, so it is tried again.
   */
  private async startFromCheckpoint(id: string, checkpoint: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.engine.must('POST', `${this.path(id)}/start?checkpoint=${checkpoint}`, 'docker start --checkpoint', undefined, ErrorCode.RestoreFailed, ErrorCode.RestoreFailed);
        return;
      } catch (err) {
        const racing = /failed to upload checkpoint to containerd: commit failed: content \S+ already exists/.test((err as Error).message);
        if (!racing || attempt >= START_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  async kill(job: JobRef, signal: NodeJS.Signals): Promise<void> {
    const id = str(job.details.id);
    if (!id) throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} has no container`);
    await this.running(id);
    await this.engine.must('POST', `${this.path(id)}/kill?signal=${signal}`, `docker kill ${id}`);
  }
}
