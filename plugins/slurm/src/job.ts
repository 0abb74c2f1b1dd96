/**
 * A running Slurm batch job as the plugin sees it: its batch script's PID and what is needed to submit it again.
 */
import { readFile } from 'node:fs/promises';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { Slurm } from './commands';

/** What a resubmission repeats of the original job (from `scontrol show job -o`). */
export interface JobDescription {
  name: string;
  partition: string;
  workDir: string;
  stdout: string;
  stderr: string;
  /** Slurm's TimeLimit (`UNLIMITED`, `1:00:00`, `2-00:00:00`…). */
  timeLimit: string;
  nodeList: string;
  command: string;
}

export interface BatchJob {
  jobId: string;
  /** The batch script's process: the root of the dumped tree (never slurmstepd). */
  pid: number;
  node: string;
  description: JobDescription;
}

/** Parses a Slurm job id: a plain number (array tasks `12_3` and steps `12.0` are refused). */
export function jobIdOf(target: string): string {
  const t = target.trim();
  if (/^\d+_(\d+|\[.*\])$/.test(t)) {
    throw new CedanaError(ErrorCode.InvalidArgument, `${t} is a task of a job array, which cannot be checkpointed as one job`, { hint: 'submit the work as a plain batch job' });
  }
  if (!/^\d+$/.test(t)) throw new CedanaError(ErrorCode.InvalidArgument, `'${t}' is not a Slurm job id`, { hint: 'give the number squeue shows in JOBID' });
  return t;
}

/** Finds the running batch job `target`, or says why it cannot be checkpointed. */
export async function findBatchJob(slurm: Slurm, target: string): Promise<BatchJob> {
  const jobId = jobIdOf(target);
  const f = await slurm.showJob(jobId);
  if (f.ArrayJobId) {
    throw new CedanaError(ErrorCode.InvalidArgument, `Slurm job ${jobId} belongs to job array ${f.ArrayJobId}, which cannot be checkpointed as one job`, { hint: 'submit the work as a plain batch job' });
  }
  const state = f.JobState ?? 'UNKNOWN';
  if (state === 'PENDING') throw new CedanaError(ErrorCode.FailedPrecondition, `Slurm job ${jobId} is pending (${f.Reason ?? 'no reason'}): nothing runs yet`, { hint: 'wait until squeue shows it running (R)' });
  if (state !== 'RUNNING') throw new CedanaError(ErrorCode.FailedPrecondition, `Slurm job ${jobId} is not running (state ${state})`, { hint: 'only a running batch job can be checkpointed' });
  if (f.BatchFlag !== '1') throw new CedanaError(ErrorCode.FailedPrecondition, `Slurm job ${jobId} is not a batch job`, { hint: 'submit it with sbatch' });
  const node = f.BatchHost ?? f.NodeList;
  // A job just started may be RUNNING before its batch step has forked the script: give it a few seconds.
  let root: { pid: number } | undefined;
  for (let tries = 0; !root && tries < 25; tries++) {
    if (tries) await new Promise((r) => setTimeout(r, 200));
    root = (await slurm.listPids(jobId, node)).find((r) => r.step === 'batch' && r.localId === '0');
  }
  if (!root) throw new CedanaError(ErrorCode.FailedPrecondition, `Slurm job ${jobId} has no batch script process on ${node}`, { hint: 'is the job ending?' });
  return {
    jobId,
    pid: await restoredRoot(root.pid),
    node,
    description: {
      name: f.JobName ?? '',
      partition: f.Partition ?? '',
      workDir: f.WorkDir ?? '',
      stdout: f.StdOut ?? '',
      stderr: f.StdErr ?? '',
      timeLimit: f.TimeLimit ?? 'UNLIMITED',
      nodeList: f.NodeList ?? '',
      command: f.Command ?? '',
    },
  };
}

const childrenOf = async (pid: number): Promise<number[]> =>
  (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);

/**
 * In a job that cedana restored, the batch script is cedana's restore script, whose child (`cedana restore
 * --no-server`) is the parent of the restored tree: that tree is the job's work, the one to checkpoint again.
 */
async function restoredRoot(pid: number): Promise<number> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!/cedana-slurm-restore-[^/]*\/restore\.sh/.test(cmdline)) return pid;
  for (const cli of await childrenOf(pid)) {
    const tree = await childrenOf(cli);
    if (tree.length === 1) return tree[0];
  }
  throw new CedanaError(ErrorCode.FailedPrecondition, `the restore in batch process ${pid} has not finished yet`, { hint: 'try again in a moment' });
}
