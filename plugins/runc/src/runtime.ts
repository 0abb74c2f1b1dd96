/**
 * The `runc` runtime: containers run, adopted, checkpointed and restored through runc's own commands (runc
 * drives CRIU with what it knows of the container's namespaces, mounts and cgroups).
 *
 * A job's PID is the container's init process. `runc run -d` and `runc restore -d` exit once the container runs,
 * and the init is re-parented to the daemon, a child subreaper, which so learns how it ends.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
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
import { cmdlineOf } from './command';
import { foregroundRunc } from './foreground';
import { criuConfigEnv, externalStdio, externalStdioOf, runcRelayedFile, type ExternalStdio } from './external';
import { absoluteDir, containerId, RuncOptions } from './options';
import type { StdioTarget } from './relay';
import { criuFlags, Runc, type RuncTarget } from './runc';
import { actionFlags, globalFlags } from './run-flags';

async function requireBundle(bundle: string): Promise<void> {
  const dir = await stat(bundle).catch(() => null);
  if (!dir?.isDirectory()) throw new CedanaError(ErrorCode.NotFound, `bundle directory ${bundle} does not exist`, { hint: 'give --bundle the directory holding config.json and the rootfs' });
  if (!(await stat(join(bundle, 'config.json')).catch(() => null))) {
    throw new CedanaError(ErrorCode.InvalidArgument, `bundle ${bundle} has no config.json`, { hint: 'create one with `runc spec`' });
  }
}

/**
 * The FIFOs of an attachable job (`details.io.dir`, holding `stdin`, `stdout` and `stderr`, whose daemon ends the
 * core opens before a restore), opened read-write as the job's ends; undefined for a job that is not attachable.
 */
function attachableFifos(details: Record<string, unknown>): { stdin: number; stdout: number; stderr: number } | undefined {
  const dir = (details.io as { dir?: unknown } | undefined)?.dir;
  if (typeof dir !== 'string') return undefined;
  // As at run: stdin read-only, stdout and stderr read-write.
  const open = (name: string, flags: number) => openSync(join(dir, name), flags);
  // Opening a FIFO read-only blocks (the whole daemon: openSync) until it has a writer, and an attacher whose input
  // ended (`run --attach` from a script, stdin /dev/null) left none. A read-write end held meanwhile is one.
  const writer = open('stdin', constants.O_RDWR);
  try {
    return { stdin: open('stdin', constants.O_RDONLY), stdout: open('stdout', constants.O_RDWR), stderr: open('stderr', constants.O_RDWR) };
  } finally {
    closeSync(writer);
  }
}

/** Opens the host files a container's stdio went to, for its restore; the caller closes them. */
function openExternal(files: ExternalStdio[]): Partial<Record<0 | 1 | 2, number>> {
  const out: Partial<Record<0 | 1 | 2, number>> = {};
  try {
    for (const f of files) out[f.fd] = openSync(f.path, f.fd === 0 ? constants.O_RDONLY : constants.O_WRONLY | constants.O_APPEND);
  } catch (err) {
    for (const fd of Object.values(out)) closeSync(fd);
    throw new CedanaError(ErrorCode.FailedPrecondition, `cannot reopen ${(err as { path?: string }).path ?? 'a file'} that the container's stdio went to: ${(err as Error).message}`, {
      hint: 'the checkpointed container wrote to that host file; put it back where it was',
    });
  }
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export class RuncRuntime implements Runtime {
  readonly type = 'runc';
  readonly optionsSchema = RuncOptions;

  constructor(
    private readonly ctx: PluginContext,
    private readonly defaults: { binary: string; root: string },
  ) {}

  private runc(root?: string, global: string[] = []): Runc {
    const t: RuncTarget = { binary: this.defaults.binary, root: root ?? this.defaults.root, criu: this.ctx.settings.criuPath, tmpDir: this.ctx.settings.tmpDir, global };
    return new Runc(t);
  }

  /** runc's global flags for a foreground run or restore, whose log (--log) is the user's. */
  private foregroundGlobal(runc: Runc, o: RuncOptions): string[] {
    return ['--root', runc.t.root, '--criu', runc.t.criu, ...globalFlags(o, true)];
  }

  /** The job's details: enough for a dump or restore anywhere to find the container and its bundle again. */
  private async details(id: string, root: string, bundle: string, pid: number, log: string): Promise<Record<string, unknown>> {
    return { id, root, bundle, log, cmdline: await cmdlineOf(pid) };
  }

  /** Runs `runc <action>` detached with the container's stdio going to `target`; returns the init PID. */
  private async startDetached(runc: Runc, action: 'run' | 'restore', args: string[], target: StdioTarget, criuWork?: string, env: Record<string, string> = {}): Promise<number> {
    const scratch = await mkdtemp(join(this.ctx.settings.tmpDir, 'cedana-runc-pid-'));
    const pidFile = join(scratch, 'pid');
    try {
      const all = ['--detach', '--pid-file', pidFile, ...args];
      if (action === 'run') await runc.must(['run', ...all], ErrorCode.FailedPrecondition, 'runc run', target);
      else await runc.criuAction('restore', all, criuWork!, target, env);
      return Number((await readFile(pidFile, 'utf8')).trim());
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  async run(spec: RunSpec): Promise<StartedJob> {
    const o = RuncOptions.parse(spec.options);
    if (!o.bundle) throw new CedanaError(ErrorCode.InvalidArgument, 'run runc needs --bundle DIR', { hint: 'cedana run runc --bundle DIR --id ID' });
    const bundle = absoluteDir(o.bundle, spec.cwd, '--bundle');
    await requireBundle(bundle);
    const id = o.id ?? spec.jid;
    const runc = this.runc(o.root, globalFlags(o, false));
    const flags = actionFlags(o, 'run');
    if (await runc.state(id)) throw new CedanaError(ErrorCode.AlreadyExists, `runc container '${id}' exists already`, { hint: 'choose another --id' });
    if (spec.foreground && o.detach) {
      // As `runc run --detach`: the container keeps this command's stdio and outlives it; the command ends at once.
      const pid = await this.startDetached(runc, 'run', ['--bundle', bundle, id], { stdio: { stdin: 0, stdout: 1, stderr: 2 }, direct: { 0: 0, 1: 1, 2: 2 } });
      return { pid, details: { id, root: runc.t.root, bundle }, exited: Promise.resolve({ code: 0, signal: null }) };
    }
    if (spec.foreground) {
      const global = this.foregroundGlobal(runc, o);
      const rest = ['--bundle', bundle, ...flags, id];
      const fg = await foregroundRunc(this.defaults.binary, global, 'run', rest, this.ctx.settings.tmpDir);
      return { pid: fg.pid, details: { id, root: runc.t.root, bundle }, exited: fg.exited };
    }
    const pid = await this.startDetached(runc, 'run', ['--bundle', bundle, ...flags, id], spec.stdio ? { stdio: spec.stdio } : { logPath: spec.logPath });
    this.ctx.logger.debug('runc container started', { id, pid });
    return { pid, details: await this.details(id, runc.t.root, bundle, pid, spec.logPath), exited: this.ctx.children.watch(pid) };
  }

  async manage(spec: ManageSpec): Promise<StartedJob> {
    const o = RuncOptions.parse(spec.options);
    const id = containerId(spec.target);
    const runc = this.runc(o.root);
    // NOT_FOUND when it does not exist (yet): `manage --upcoming` retries on that.
    const state = await runc.running(id);
    return { pid: state.pid, details: await this.details(id, runc.t.root, state.bundle, state.pid, '') };
  }

  async dump(spec: DumpSpec): Promise<DumpResult> {
    const o = RuncOptions.parse(spec.options);
    const d = spec.job.details;
    const id = str(d.id) ?? str(d.target);
    if (!id) throw new CedanaError(ErrorCode.InvalidArgument, 'name the container to dump', { hint: 'cedana dump runc <ID>' });
    const runc = this.runc(o.root ?? str(d.root));
    const state = await runc.running(containerId(id));
    const criuWork = await mkdtemp(join(this.ctx.settings.tmpDir, 'cedana-runc-dump-'));
    // Stdio that goes to host files outside the container (a container started by hand) is dumped as external.
    const external = await externalStdio(state.pid);
    // …and output that a foreground runc copies into a host file goes on into that file after a restore.
    const log = str(d.log) ?? (await runcRelayedFile(state.pid)) ?? '';
    try {
      const args = ['--image-path', spec.imagesDir, ...criuFlags(spec.criu, 'checkpoint'), id];
      this.ctx.logger.debug('runc checkpoint', { id, args, external });
      await runc.criuAction('checkpoint', args, criuWork, undefined, await criuConfigEnv(criuWork, external, 'checkpoint'));
    } finally {
      await rm(criuWork, { recursive: true, force: true });
    }
    // `io` (the FIFOs of an attachable job, recorded by the core) travels with the checkpoint: the restore reopens them.
    const details = {
      ...(d.io ? { io: d.io } : {}),
      ...(external.length > 0 ? { externalStdio: external } : {}),
      id,
      root: runc.t.root,
      bundle: state.bundle,
      log,
      cmdline: Array.isArray(d.cmdline) ? d.cmdline : [],
    };
    return { criu: spec.criu, details };
  }

  async restore(spec: RestoreSpec): Promise<StartedJob> {
    const o = RuncOptions.parse(spec.options);
    const d = spec.metadata.details;
    const id = o.id ?? str(d.id);
    const bundleGiven = o.bundle ?? str(d.bundle);
    if (!id || !bundleGiven) throw new CedanaError(ErrorCode.InvalidArgument, 'restore runc needs --id and --bundle', { hint: 'cedana restore runc --path P --id ID --bundle DIR' });
    const bundle = absoluteDir(bundleGiven, undefined, '--bundle');
    await requireBundle(bundle);
    const runc = this.runc(o.root ?? str(d.root), globalFlags(o, false));
    if (await runc.state(id)) {
      throw new CedanaError(ErrorCode.AlreadyExists, `runc container '${id}' exists already`, { hint: 'restore under another --id, or delete that container' });
    }
    const log = str(d.log) ?? '';
    const args = ['--image-path', spec.imagesDir, '--bundle', bundle, ...criuFlags(spec.criu, 'restore'), ...actionFlags(o, 'restore'), id];
    const criuWork = await mkdtemp(join(this.ctx.settings.tmpDir, 'cedana-runc-restore-'));
    // Host files the container's stdio went to are handed back in the same stdio slots (external.ts).
    const external = externalStdioOf(d);
    try {
      const env = await criuConfigEnv(criuWork, external, 'restore');
      // In the foreground the container takes this command's own stdio. A container whose stdio were host files
      // gets those back, which runc hands over only when detached (attached, it puts pipes in every slot); this
      // command, a child subreaper, still waits for it.
      if (spec.foreground && !o.detach && external.length === 0) {
        const rest = ['--work-path', criuWork, ...args];
        const global = this.foregroundGlobal(runc, o);
        const fg = await foregroundRunc(this.defaults.binary, global, 'restore', rest, this.ctx.settings.tmpDir, env);
        return { pid: fg.pid, details: { id, root: runc.t.root, bundle }, exited: fg.exited };
      }
      if (spec.foreground) {
        const own = { stdin: 0, stdout: 1, stderr: 2 };
        const direct = openExternal(external);
        try {
          const mine = o.detach ? { 0: 0, 1: 1, 2: 2 } : {};
          const target: StdioTarget = { stdio: spec.stdio ?? own, direct: { ...mine, ...direct } };
          const pid = await this.startDetached(runc, 'restore', args, target, criuWork, env);
          const exited = o.detach ? Promise.resolve({ code: 0, signal: null }) : this.ctx.children.watch(pid);
          return { pid, details: { id, root: runc.t.root, bundle }, exited };
        } finally {
          for (const fd of Object.values(direct)) closeSync(fd);
        }
      }
      // Stdio the core hands over (a log in place of FIFOs, or FIFOs in place of a log) feed new relays.
      const fifos = spec.stdio ? undefined : attachableFifos(d);
      const direct = openExternal(external);
      try {
        const target: StdioTarget = spec.stdio ? { stdio: spec.stdio, direct } : fifos ? { stdio: fifos, direct } : { logPath: log, direct };
        const pid = await this.startDetached(runc, 'restore', args, target, criuWork, env);
        this.ctx.logger.debug('runc container restored', { id, pid });
        const details = { ...(d.io ? { io: d.io } : {}), ...(await this.details(id, runc.t.root, bundle, pid, log)) };
        return { pid, details, exited: this.ctx.children.watch(pid) };
      } finally {
        if (fifos) for (const fd of [fifos.stdin, fifos.stdout, fifos.stderr]) closeSync(fd);
        for (const fd of Object.values(direct)) closeSync(fd);
      }
    } finally {
      await rm(criuWork, { recursive: true, force: true });
    }
  }

  async kill(job: JobRef, signal: NodeJS.Signals): Promise<void> {
    const id = str(job.details.id);
    if (!id) throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} has no container yet`);
    const runc = this.runc(str(job.details.root));
    await runc.running(id);
    await runc.must(['kill', id, signal.replace(/^SIG/, '')], ErrorCode.FailedPrecondition, `runc kill ${id}`);
  }

  /** `runc state`: the container's init PID and status (created, running, paused, stopped). */
  async locate(target: string, options: Record<string, unknown>): Promise<{ pid: number; status: string } | null> {
    const o = RuncOptions.parse(options);
    const state = await this.runc(o.root).state(containerId(target));
    return state ? { pid: state.pid, status: state.status } : null;
  }

  /** `runc pause`: the container's cgroup freezer stops every process of it. */
  async freeze(job: JobRef): Promise<void> {
    const { runc, id } = await this.container(job, 'running');
    await runc.must(['pause', id], ErrorCode.FailedPrecondition, `runc pause ${id}`);
  }

  /** `runc resume` of a paused container. */
  async unfreeze(job: JobRef): Promise<void> {
    const { runc, id } = await this.container(job, 'paused');
    await runc.must(['resume', id], ErrorCode.FailedPrecondition, `runc resume ${id}`);
  }

  /** The job's container, which must be in `status`. */
  private async container(job: JobRef, status: 'running' | 'paused'): Promise<{ runc: Runc; id: string }> {
    const id = str(job.details.id) ?? str(job.details.target);
    if (!id) throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} has no container yet`);
    const runc = this.runc(str(job.details.root));
    const state = await runc.state(containerId(id));
    if (!state) throw new CedanaError(ErrorCode.NotFound, `no runc container '${id}' (runc root ${runc.t.root})`, { hint: 'give --root if it lives elsewhere' });
    if (state.status !== status) {
      const hint = state.status === 'paused' ? `it is frozen: cedana unfreeze runc ${id}` : state.status === 'running' ? 'it is not frozen' : undefined;
      throw new CedanaError(ErrorCode.FailedPrecondition, `runc container '${id}' is ${state.status}, not ${status}`, hint ? { hint } : undefined);
    }
    return { runc, id: containerId(id) };
  }
}
