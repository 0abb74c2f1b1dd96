/**
 * Runs Slurm's client commands (scontrol, sbatch, scancel) and reads their answers.
 */
import { spawn } from 'node:child_process';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** Output of a finished command. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, collecting output. Rejects only when it cannot start. */
export function runCommand(bin: string, args: string[], env?: NodeJS.ProcessEnv): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The first line of a command's complaint, without Slurm's `scontrol: error:` prefix. */
export function reasonOf(r: CommandResult): string {
  const line = (r.stderr.trim() || r.stdout.trim()).split('\n').pop() ?? '';
  return line.replace(/^\w+: error: /, '').trim() || `exit status ${r.code}`;
}

/** Fields of `scontrol show job -o` (one line of KEY=VALUE pairs; values may hold spaces only in the last ones). */
export function parseJobLine(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(\S+?)=(.*?)(?=\s+\S+?=|$)/g;
  for (const m of line.trim().matchAll(re)) out[m[1]] = m[2];
  return out;
}

/** `scontrol listpids` rows: PID, step and local id. */
export interface PidRow {
  pid: number;
  step: string;
  localId: string;
}

export function parseListPids(out: string): PidRow[] {
  return out
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length >= 3 && /^\d+$/.test(c[0]))
    .map((c) => ({ pid: Number(c[0]), step: c[2], localId: c[3] ?? '-' }));
}

/** Where Slurm's commands are, and how to run them. */
export class Slurm {
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly bin: (name: string) => string = (n) => n,
  ) {}

  async run(name: string, args: string[]): Promise<CommandResult> {
    try {
      return await runCommand(this.bin(name), args, this.env);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CedanaError(ErrorCode.Unavailable, code === 'ENOENT' ? `${name} not found: Slurm's client commands are not installed` : `cannot run ${name}: ${(err as Error).message}`, {
        hint: 'install slurm-client (apt-get install slurm-client) and make sure scontrol and sbatch are on PATH',
      });
    }
  }

  /** Fails with UNAVAILABLE naming the controller when slurmctld does not answer. */
  async ping(): Promise<string> {
    const r = await this.run('scontrol', ['ping']);
    const text = r.stdout.trim();
    if (r.code !== 0 || !/is UP/.test(text)) {
      throw new CedanaError(ErrorCode.Unavailable, `the Slurm controller does not answer (${text || reasonOf(r)})`, {
        hint: 'start slurmctld (and munged) on the controller host, or point SLURM_CONF at the right slurm.conf',
      });
    }
    return text.replace(/^Slurmctld\(primary\) at /, '').replace(/ is UP.*$/, '');
  }

  /** `scontrol show job -o ID`, or NOT_FOUND. */
  async showJob(id: string): Promise<Record<string, string>> {
    const r = await this.run('scontrol', ['show', 'job', '-o', id]);
    if (r.code !== 0) {
      if (/Invalid job id/i.test(r.stderr)) throw new CedanaError(ErrorCode.NotFound, `no Slurm job ${id}`, { hint: 'list jobs with squeue' });
      await this.ping();
      throw new CedanaError(ErrorCode.Unavailable, `scontrol show job ${id} failed: ${reasonOf(r)}`);
    }
    const line = r.stdout.split('\n').find((l) => l.startsWith('JobId='));
    if (!line) throw new CedanaError(ErrorCode.NotFound, `no Slurm job ${id}`, { hint: 'list jobs with squeue' });
    return parseJobLine(line);
  }

  async listPids(id: string, node: string): Promise<PidRow[]> {
    const r = await this.run('scontrol', ['listpids', id, node]);
    if (r.code !== 0) throw new CedanaError(ErrorCode.Unavailable, `scontrol listpids ${id} ${node} failed: ${reasonOf(r)}`);
    return parseListPids(r.stdout);
  }

  /** Submits a batch script; returns the new job id, or FAILED_PRECONDITION quoting sbatch's refusal. */
  async sbatch(args: string[]): Promise<string> {
    const r = await this.run('sbatch', ['--parsable', ...args]);
    const id = r.stdout.trim().split(';')[0];
    if (r.code !== 0 || !/^\d+$/.test(id)) {
      throw new CedanaError(ErrorCode.FailedPrecondition, `sbatch refused the job: "${reasonOf(r)}"`, { hint: 'fix the sbatch options; the checkpoint is kept' });
    }
    return id;
  }

  async scancel(id: string, signal?: string): Promise<void> {
    const r = await this.run('scancel', [...(signal ? ['--signal', signal, '--batch', '--full'] : []), id]);
    if (r.code !== 0) throw new CedanaError(ErrorCode.FailedPrecondition, `scancel ${id} failed: ${reasonOf(r)}`);
  }
}
