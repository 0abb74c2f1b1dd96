/**
 * The `process` runtime: plain Linux processes, started by the daemon or adopted by PID, checkpointed and
 * restored with the CRIU command line.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  CedanaError,
  ErrorCode,
  openLogFile,
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
import { criuFlags, dumpedPids, runCriu } from './criu';
import { LazyPages } from './lazy-pages';
import { findProcess } from './find';
import { inspectTree, neededOptions } from './inspect';
import { inheritArgs, stdioOf } from './stdio';

/** Waits for a spawned child to start, or fails with the reason it could not. */
function started(child: ReturnType<typeof spawn>, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? 'command not found' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new CedanaError(ErrorCode.InvalidArgument, `cannot start '${command}': ${why}`, { hint: 'check the command and its path' }));
    });
  });
}

function exitOf(child: ReturnType<typeof spawn>): Promise<ExitStatus> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** How long a restore waits for a zombie holding its PID to be reaped. */
const ZOMBIE_WAIT_MS = 5_000;

/**
 * The restored process needs its old PID. A zombie holding it is usually about to be reaped by its parent (or by
 * PID 1): wait for that, a few seconds, and then say plainly what holds the PID.
 */
async function zombieGone(pid: number): Promise<void> {
  const state = async () => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return stat ? stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) : null;
  };
  const deadline = Date.now() + ZOMBIE_WAIT_MS;
  while ((await state()) === 'Z') {
    if (Date.now() >= deadline) {
      throw new CedanaError(ErrorCode.RestoreFailed, `PID ${pid}, which the restored process needs, is held by a zombie that its parent does not reap`, {
        hint: 'wait for its parent to reap it (or end that parent), then restore again',
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class ProcessRuntime implements Runtime {
  readonly type = 'process';
  readonly optionsSchema = z.object({}).strict();
  readonly lazyRestore = true;

  constructor(private readonly ctx: PluginContext) {}

  async run(spec: RunSpec): Promise<StartedJob> {
    const [command, ...args] = spec.args;
    if (!command) throw new CedanaError(ErrorCode.InvalidArgument, 'no command given', { hint: 'cedana run process -- CMD ARGS…' });
    if (spec.foreground) {
      const child = spawn(command, args, { cwd: spec.cwd, env: spec.env, stdio: 'inherit' });
      await started(child, command);
      return { pid: child.pid!, details: { cmdline: spec.args }, exited: exitOf(child) };
    }
    if (spec.stdio) {
      const { stdin, stdout, stderr } = spec.stdio;
      const child = spawn(command, args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: [stdin, stdout, stderr] });
      await started(child, command);
      child.unref();
      return { pid: child.pid!, details: { cmdline: spec.args }, exited: exitOf(child) };
    }
    // Append mode: CRIU skips its size check for O_APPEND files, so the log keeps growing after a restore.
    const log = await openLogFile(spec.logPath);
    const logFd = log.fd;
    try {
      // A session of its own: CRIU can then dump the tree without --shell-job.
      const child = spawn(command, args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', logFd, logFd] });
      await started(child, command);
      child.unref();
      return { pid: child.pid!, details: { cmdline: spec.args, log: spec.logPath }, exited: exitOf(child) };
    } finally {
      await log.close();
    }
  }

  async manage(spec: ManageSpec): Promise<StartedJob> {
    const pid = await findProcess(spec.target);
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
    if (cmdline === null) throw new CedanaError(ErrorCode.NotFound, `no process with PID ${pid}`);
    // Its log, as for a job we run: the file its stdout goes to, when that is a file.
    const stdout = await readlink(`/proc/${pid}/fd/1`).catch(() => '');
    const log = stdout.startsWith('/') && (await stat(stdout).catch(() => null))?.isFile() ? stdout : undefined;
    return { pid, details: { cmdline: cmdline.split('\0').filter(Boolean), ...(log ? { log } : {}) } };
  }

  async dump(spec: DumpSpec): Promise<DumpResult> {
    const { pid } = spec.job;
    await access(`/proc/${pid}`).catch(() => {
      throw new CedanaError(ErrorCode.NotFound, `no process with PID ${pid}`);
    });
    const tree = await inspectTree(pid);
    if (tree.hiddenSession !== null) {
      throw new CedanaError(
        ErrorCode.FailedPrecondition,
        `PID ${tree.hiddenSession} belongs to a session led from outside this PID namespace, which CRIU cannot checkpoint`,
        { hint: 'start the process in a session of its own (setsid, or `cedana run process`)' },
      );
    }
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => undefined);
    const criu = neededOptions(spec.criu, tree);
    // What its stdio are, so that a restore can hand it others (stdio.ts).
    const stdio = await stdioOf(pid);
    const args = ['-t', String(pid), '-D', spec.imagesDir, ...criuFlags(criu, 'dump')];
    const keepLogAt = join(this.ctx.settings.tmpDir, `cedana-criu-dump-${pid}-${Date.now()}.log`);
    this.ctx.logger.debug('criu dump', { pid, args });
    await runCriu(this.ctx.settings.criuPath, 'dump', args, { logDir: spec.imagesDir, keepLogAt });
    // The tree may have changed between the look above and the freeze (a shell loop forks a new child each turn).
    const dumped = dumpedPids(await readFile(join(spec.imagesDir, 'dump.log'), 'utf8').catch(() => ''));
    return { criu, details: { ...spec.job.details, ...(exe ? { exe } : {}), stdio }, pids: dumped.length > 0 ? dumped : tree.pids };
  }

  async restore(spec: RestoreSpec): Promise<StartedJob> {
    // The work dir keeps the log and pidfile out of the checkpoint, which must stay as it was.
    const workDir = await mkdtemp(join(this.ctx.settings.tmpDir, 'cedana-restore-'));
    const pidFile = join(workDir, 'restored.pid');
    const args = ['-D', spec.imagesDir, '-W', workDir, '--pidfile', pidFile, ...criuFlags(spec.criu, 'restore')];
    const keepLogAt = join(this.ctx.settings.tmpDir, `cedana-criu-restore-${spec.metadata.pid}-${Date.now()}.log`);
    const details = { ...spec.metadata.details };
    const inherit = spec.stdio ? inheritArgs(details.stdio, spec.stdio) : { args: [], fds: [] };
    // --lazy: a lazy-pages daemon serves the memory from the images while the tree runs (lazy-pages.ts).
    let lazy: LazyPages | undefined;
    let handedOver = false;
    const removeWorkDir = () => rm(workDir, { recursive: true, force: true });
    try {
      if (spec.lazy) lazy = await LazyPages.start(this.ctx.settings.criuPath, spec.imagesDir, workDir);
      // Detached: CRIU exits once the tree is back, and the tree is re-parented to the caller, a child subreaper
      // (the daemon, or the CLI for --no-server), which reaps it and so learns how it ends.
      await zombieGone(spec.metadata.pid);
      const lazyArgs = lazy ? ['--lazy-pages'] : [];
      await runCriu(this.ctx.settings.criuPath, 'restore', ['--restore-detached', ...lazyArgs, ...inherit.args, ...args], { logDir: workDir, keepLogAt }, inherit.fds);
      const pid = Number((await readFile(pidFile, 'utf8')).trim());
      const exited = this.ctx.children.watch(pid);
      if (!lazy) return { pid, details, exited };
      // The work dir holds the daemon's socket and log until it ends.
      const pagesIn = lazy.pagesIn(pid).finally(removeWorkDir);
      handedOver = true;
      return { pid, details, exited, pagesIn };
    } catch (err) {
      await lazy?.stop();
      throw err;
    } finally {
      if (!handedOver) await removeWorkDir();
    }
  }

  async kill(job: JobRef, signal: NodeJS.Signals): Promise<void> {
    // A job the daemon started or restored leads its own process group: signal all of it, as a terminal would.
    const stat = await readFile(`/proc/${job.pid}/stat`, 'utf8').catch(() => '');
    const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    try {
      process.kill(pgid === job.pid ? -job.pid : job.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} is not running`);
      throw err;
    }
  }
}
