/**
 * The `slurm` runtime: running Slurm batch jobs, adopted by Slurm job id, dumped with CRIU (the batch script's
 * tree, never slurmstepd) and restored as a new Slurm job whose batch step restores the tree.
 */
import { link, copyFile, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  CedanaError,
  ErrorCode,
  METADATA_FILE,
  type DumpResult,
  type DumpSpec,
  type ExitStatus,
  type JobRef,
  type ManageSpec,
  type PluginContext,
  type RestoreSpec,
  type Runtime,
  type StartedJob,
} from '@cedana-ts/sdk';
import type { Slurm } from './commands';
import { criuDump } from './criu';
import { findBatchJob, type JobDescription } from './job';
import { restoreScript, sbatchArgs, type SpoolFile } from './resubmit';

const SPOOL_COPY = 'slurm-batch-script';
const RESTORE_LOG = 'cedana-restore.log';

/** The options of `restore slurm` (`--partition`, `--nodelist`, `-- extra sbatch args`) and of `manage`/`dump`. */
const Options = z
  .object({
    partition: z.string().min(1).optional(),
    nodelist: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    /** Seconds to wait for the new job to run the restored tree. */
    startTimeout: z.number().positive().optional(),
  })
  .strict();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Hard-links (else copies) the files of `from` into `to`: the checkpoint the restore read stays untouched. */
async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const e of await readdir(from, { withFileTypes: true })) {
    const a = join(from, e.name);
    const b = join(to, e.name);
    if (e.isDirectory()) await linkTree(a, b);
    else await link(a, b).catch(() => copyFile(a, b));
  }
}

export class SlurmRuntime implements Runtime {
  readonly type = 'slurm';
  readonly optionsSchema = Options;

  constructor(
    private readonly ctx: PluginContext,
    private readonly slurm: Slurm,
  ) {}

  async run(): Promise<StartedJob> {
    throw new CedanaError(ErrorCode.Unsupported, 'the slurm runtime does not start jobs itself', { hint: 'submit with `cedana slurm sbatch SCRIPT` or sbatch, then `cedana manage slurm JOBID`' });
  }

  async manage(spec: ManageSpec): Promise<StartedJob> {
    const job = await findBatchJob(this.slurm, spec.target);
    const cmdline = await readFile(`/proc/${job.pid}/cmdline`, 'utf8').catch(() => '');
    return {
      pid: job.pid,
      details: { id: job.jobId, slurmJobId: job.jobId, node: job.node, description: job.description, cmdline: cmdline.split('\0').filter(Boolean), log: job.description.stdout },
      exited: this.watchJob(job.jobId, job.pid),
    };
  }

  async dump(spec: DumpSpec): Promise<DumpResult> {
    const target = String(spec.job.details.slurmJobId ?? spec.job.details.target ?? '');
    const job = await findBatchJob(this.slurm, target);
    if (spec.job.jid && spec.job.pid && spec.job.pid !== job.pid) {
      throw new CedanaError(ErrorCode.FailedPrecondition, `Slurm job ${job.jobId} now runs PID ${job.pid}, not the managed PID ${spec.job.pid}`, { hint: 'manage it again' });
    }
    const spool = await this.saveSpoolScript(job.pid, job.jobId, spec.imagesDir);
    // slurmstepd does not make the batch script a session leader: the tree is a shell job for CRIU.
    const criu = { ...spec.criu, shellJob: true };
    const pids = await criuDump(this.ctx.settings.criuPath, job.pid, spec.imagesDir, criu);
    return {
      criu,
      details: { id: job.jobId, slurmJobId: job.jobId, node: job.node, description: job.description, pid: job.pid, log: job.description.stdout, ...(spool ? { spool } : {}) },
      pids,
    };
  }

  /** The batch script, which bash reads from an fd into slurmd's spool: Slurm deletes it when the job ends. */
  private async saveSpoolScript(pid: number, jobId: string, imagesDir: string): Promise<Omit<SpoolFile, 'saved'> | null> {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      const path = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (!new RegExp(`/job0*${jobId}/slurm_script$`).test(path)) continue;
      const st = await stat(path);
      await copyFile(path, join(imagesDir, SPOOL_COPY));
      return { path, mode: st.mode };
    }
    return null;
  }

  async restore(spec: RestoreSpec): Promise<StartedJob> {
    if (spec.foreground) throw new CedanaError(ErrorCode.Unsupported, 'restore slurm submits a Slurm job and cannot run with --no-server', { hint: 'run it through the daemon' });
    const d = spec.metadata.details as { description?: JobDescription; pid?: number; spool?: Omit<SpoolFile, 'saved'>; log?: string };
    if (!d.description || !d.pid) throw new CedanaError(ErrorCode.CorruptCheckpoint, 'the checkpoint has no Slurm job description', { hint: 'dump it with cedana dump slurm' });
    const options = Options.parse(spec.options);
    await this.slurm.ping();
    // The batch step restores from a directory of its own: the one handed here is removed once this returns.
    const dir = await mkdtemp(join(this.ctx.settings.tmpDir, 'cedana-slurm-restore-'));
    const imagesDir = join(dir, 'images');
    try {
      await linkTree(spec.imagesDir, imagesDir);
      const meta = { ...spec.metadata, type: 'process', pid: d.pid, criu: { ...spec.criu, shellJob: true }, details: { cmdline: [], log: d.log ?? '' } };
      await rm(join(imagesDir, METADATA_FILE), { force: true });
      await writeFile(join(imagesDir, METADATA_FILE), JSON.stringify(meta));
      const script = join(dir, 'restore.sh');
      await writeFile(
        script,
        restoreScript({
          imagesDir,
          logPath: join(dir, RESTORE_LOG),
          criuPath: this.ctx.settings.criuPath,
          configDir: process.env.CEDANA_CONFIG_DIR,
          spool: d.spool ? { ...d.spool, saved: join(imagesDir, SPOOL_COPY) } : undefined,
        }),
      );
      await chmod(script, 0o755);
      const jobId = await this.slurm.sbatch([...sbatchArgs(d.description, options), script]);
      const job = await this.waitRestored(jobId, d.pid, join(dir, RESTORE_LOG), (options.startTimeout ?? 120) * 1000);
      return {
        pid: d.pid,
        details: { id: jobId, slurmJobId: jobId, node: job.node, description: { ...d.description, partition: options.partition ?? d.description.partition }, restoredFrom: spec.metadata.details.slurmJobId, log: d.log ?? '' },
        // Its images are the batch step's: removed by the step once restored and ended, or here once the job ends.
        exited: this.watchJob(jobId, d.pid).finally(() => rm(dir, { recursive: true, force: true })),
      };
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Waits until the new job runs and its batch step holds the restored root PID. */
  private async waitRestored(jobId: string, pid: number, logPath: string, timeoutMs: number): Promise<{ node: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.slurm.showJob(jobId);
      if (f.JobState === 'RUNNING') {
        const node = f.BatchHost ?? f.NodeList;
        const rows = await this.slurm.listPids(jobId, node).catch(() => []);
        if (rows.some((r) => r.pid === pid)) return { node };
      } else if (f.JobState !== 'PENDING' && f.JobState !== 'CONFIGURING') {
        const log = (await readFile(logPath, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
        throw new CedanaError(ErrorCode.RestoreFailed, `Slurm job ${jobId} ended (${f.JobState}) before the restore ran: ${log[log.length - 1] ?? f.Reason ?? 'no reason given'}`, { hint: 'the checkpoint is kept; see the job output' });
      }
      if (Date.now() > deadline) {
        await this.slurm.scancel(jobId).catch(() => undefined);
        throw new CedanaError(ErrorCode.RestoreFailed, `Slurm job ${jobId} did not run the restore within ${Math.round(timeoutMs / 1000)} s (state ${f.JobState}, ${f.Reason ?? ''}); it was cancelled`, { hint: 'the checkpoint is kept' });
      }
      await sleep(300);
    }
  }

  /** Settles once the Slurm job has ended, with its exit code and signal. */
  private async watchJob(jobId: string, pid: number): Promise<ExitStatus> {
    for (;;) {
      await sleep(1000);
      const f = await this.slurm.showJob(jobId).catch((err: unknown) => (err instanceof CedanaError && err.code === ErrorCode.NotFound ? null : undefined));
      if (f === undefined) continue;
      if (f === null || !['RUNNING', 'PENDING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'REQUEUED'].includes(f.JobState ?? '')) {
        const [code, sig] = (f?.ExitCode ?? '0:0').split(':').map(Number);
        void pid;
        return { code: sig ? null : code, signal: sig ? `SIG${sig}` : null };
      }
    }
  }

  async kill(job: JobRef, signal: NodeJS.Signals): Promise<void> {
    const id = String(job.details.slurmJobId ?? '');
    if (!id) throw new CedanaError(ErrorCode.FailedPrecondition, `job ${job.jid} has no Slurm job id`);
    await this.slurm.scancel(id, signal === 'SIGKILL' ? undefined : signal.replace(/^SIG/, ''));
  }
}
