/**
 * A real Slurm cluster of one host for tests: munged, slurmctld and two slurmd (nodes n1 and n2, distinct
 * ports) in a private state dir on private ports, so that nothing system-wide is used or touched. Commands
 * reach it through the `SLURM_CONF` in {@link SlurmTestCluster.env}. Started daemons are stopped by PID.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

/** True when Slurm's daemons and munge are installed here. */
export function slurmInstalled(): boolean {
  return ['slurmctld', 'slurmd', 'munged', 'sbatch'].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SlurmTestCluster {
  /** Environment for Slurm's commands (and for a daemon that runs them). */
  readonly env: NodeJS.ProcessEnv;
  readonly nodes = ['n1', 'n2'];
  private readonly pidFiles: string[] = [];

  private constructor(readonly dir: string) {
    this.env = { ...process.env, SLURM_CONF: join(dir, 'slurm.conf') };
  }

  /** Writes the configuration, starts the daemons and waits until `sinfo` shows every node idle. */
  static async start(): Promise<SlurmTestCluster> {
    const c = new SlurmTestCluster(mkdtempSync(join(tmpdir(), 'cedana-slurm-')));
    try {
      await c.boot();
      return c;
    } catch (err) {
      c.stop();
      throw err;
    }
  }

  private async boot(): Promise<void> {
    const d = this.dir;
    const munge = join(d, 'munge');
    mkdirSync(munge, { mode: 0o700 });
    writeFileSync(join(munge, 'munge.key'), randomBytes(1024), { mode: 0o400 });
    mkdirSync(join(d, 'ctld'));
    mkdirSync(join(d, 'log'));
    const [ctld, slurmd, n1, n2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const host = hostname();
    const conf = [
      'ClusterName=cedanatest',
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${ctld}`,
      `SlurmdPort=${slurmd}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      // A requeued job waits cred_expire + 1 s before it may start again (the old credential's revocation must
      // expire first): 30 s in place of the default 120 s.
      `AuthInfo=socket=${join(munge, 'sock')},cred_expire=30`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `StateSaveLocation=${join(d, 'ctld')}`,
      `SlurmdSpoolDir=${join(d, 'spool-%n')}`,
      `SlurmctldPidFile=${join(d, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(d, 'slurmd-%n.pid')}`,
      `SlurmctldLogFile=${join(d, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(d, 'log', 'slurmd-%n.log')}`,
      // No systemd and a hybrid cgroup tree here: process tracking by parentage, no task confinement.
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'SwitchType=switch/none',
      'MpiDefault=none',
      'SchedulerType=sched/backfill',
      // Requeued jobs are scheduled again within seconds, also when the host is loaded.
      'SchedulerParameters=sched_interval=5,bf_interval=5',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'ReturnToService=2',
      'KillWait=5',
      'MinJobAge=600',
      'InactiveLimit=0',
      `NodeName=n1 NodeHostname=${host} NodeAddr=127.0.0.1 Port=${n1} CPUs=2 RealMemory=2000`,
      `NodeName=n2 NodeHostname=${host} NodeAddr=127.0.0.1 Port=${n2} CPUs=2 RealMemory=2000`,
      'PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4',
      'PartitionName=other Nodes=n2 MaxTime=INFINITE State=UP OverSubscribe=FORCE:4',
      '',
    ].join('\n');
    writeFileSync(join(d, 'slurm.conf'), conf);
    chmodSync(d, 0o755);
    this.daemon('munged', ['--socket', join(munge, 'sock'), '--key-file', join(munge, 'munge.key'), '--pid-file', join(munge, 'munged.pid'), '--log-file', join(munge, 'munged.log'), '--seed-file', join(munge, 'seed'), '--force'], join(munge, 'munged.pid'));
    this.daemon('slurmctld', ['-i', '-f', this.env.SLURM_CONF!], join(d, 'slurmctld.pid'));
    for (const n of this.nodes) this.daemon('slurmd', ['-N', n, '-f', this.env.SLURM_CONF!], join(d, `slurmd-${n}.pid`));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const out = this.cmd('sinfo', ['-h', '-N', '-o', '%N %t']).stdout;
      const states = [...new Set(out.trim().split('\n').filter(Boolean))];
      if (states.length === this.nodes.length && states.every((l) => / idle$/.test(l))) return;
      if (Date.now() > deadline) throw new Error(`Slurm nodes not idle after 60 s: ${out.trim() || '(no answer)'}; logs in ${join(d, 'log')}`);
      await sleep(300);
    }
  }

  /** Starts a daemon that forks into the background and writes its pid file; records the file to stop it. */
  private daemon(bin: string, args: string[], pidFile: string): void {
    const r = spawnSync(bin, args, { env: this.env, encoding: 'utf8' });
    this.pidFiles.push(pidFile);
    if (r.status !== 0) throw new Error(`${bin} did not start: ${(r.stderr || r.stdout).trim()}`);
  }

  /** Runs a Slurm command against this cluster. */
  cmd(bin: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(bin, args, { env: this.env, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** `sbatch --parsable`, returning the job id. */
  sbatch(args: string[]): string {
    const r = this.cmd('sbatch', ['--parsable', ...args]);
    if (r.status !== 0) throw new Error(`sbatch failed: ${r.stderr.trim()}`);
    return r.stdout.trim().split(';')[0];
  }

  /** One field of `scontrol show job -o ID` (JobState, NodeList…), or null once the job is forgotten. */
  jobField(id: string, field: string): string | null {
    const r = this.cmd('scontrol', ['show', 'job', '-o', id]);
    const m = new RegExp(`(?:^|\\s)${field}=(\\S*)`).exec(r.stdout);
    return m ? m[1] : null;
  }

  /** Waits until job `id` is in one of `states`. */
  async waitState(id: string, states: string[], ms = 60_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = this.jobField(id, 'JobState');
      if (s && states.includes(s)) return s;
      if (Date.now() > deadline) {
        throw new Error(`Slurm job ${id} is ${s}, not ${states.join('/')}, after ${ms / 1000} s\n${this.report(id)}`);
      }
      await sleep(200);
    }
  }

  /**
   * What the cluster says about itself, for a wait that timed out: `squeue`, `scontrol show job` of `id` (every
   * job without it) and the last lines of slurmctld's log.
   */
  report(id?: string, lines = 30): string {
    const out = (bin: string, args: string[]) => {
      const r = this.cmd(bin, args);
      return (r.stdout + r.stderr).trim() || '(nothing)';
    };
    let log = '(no log)';
    try {
      log = readFileSync(join(this.dir, 'log', 'slurmctld.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      // The cluster did not get as far as its log.
    }
    return [
      '--- squeue',
      out('squeue', ['-a', '-o', '%i %j %T %r %M %l %N']),
      `--- scontrol show job ${id ?? ''}`.trimEnd(),
      out('scontrol', ['show', 'job', ...(id ? [id] : [])]),
      `--- slurmctld.log (last ${lines} lines)`,
      log,
    ].join('\n');
  }

  /** Stops every daemon it started, by the PID in its pid file, waits for them to go, and removes the state. */
  stop(): void {
    // Jobs first, while slurmd still runs to end their steps: a slurmstepd left behind outlives the cluster.
    if (this.pidFiles.length > 2) {
      const ids = () => this.cmd('squeue', ['-h', '-o', '%i']).stdout.trim().split('\n').filter(Boolean);
      if (ids().length) this.cmd('scancel', ['--full', ...ids()]);
      const deadline = Date.now() + 30_000;
      while (ids().length && Date.now() < deadline) spawnSync('sleep', ['0.3']);
    }
    for (const f of [...this.pidFiles].reverse()) {
      const pid = existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : 0;
      if (!pid) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        continue;
      }
      const deadline = Date.now() + 15_000;
      const running = () => {
        try {
          return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
        } catch {
          return false;
        }
      };
      while (Date.now() < deadline && running()) spawnSync('sleep', ['0.1']);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
