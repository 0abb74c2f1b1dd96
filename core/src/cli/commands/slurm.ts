/**
 * `cedana slurm sbatch [sbatch options] SCRIPT [ARGS…]`: submits SCRIPT as a Slurm job that checkpoints itself
 * when Slurm warns it of its end (`--signal=B:USR1@SECONDS`: time limit, or preemption with a grace time), asks
 * Slurm to requeue it, and once running again restores from that checkpoint instead of starting over.
 *
 * The job's batch step is a wrapper: it starts SCRIPT in a session of its own, and on USR1 has the daemon dump
 * it (`cedana dump process`) into the job's checkpoint dir, then runs `scontrol requeue`. A requeued run finds
 * the checkpoint and runs `cedana restore process --path P --no-server`, so the tree comes back inside the new
 * allocation. The daemon must run on the compute node; the wrapper uses this very cedana installation.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Argv, CommandModule } from 'yargs';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import type { GlobalArgs } from '../context';

interface SbatchArgs extends GlobalArgs {
  'checkpoint-dir'?: string;
  lead?: number;
  words?: string[];
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The wrapper run as the job's batch script. The job's own stdout/stderr are kept on fds 3/4 for SCRIPT and for a
 * restored tree (a `--no-server` restore gives the tree the command's own stdio); the wrapper's chatter goes to
 * `$CK/cedana.log`. `$CK/pid` names the tree to dump: SCRIPT's PID, or the restored root PID, which the restore
 * writes (`--pid-file`) once the tree runs again. A USR1 during a restore waits for it to finish.
 */
export function wrapperScript(o: {
  cedana: string[];
  dir: string;
  script: string;
  args: string[];
  env: Record<string, string>;
}): string {
  const cedana = o.cedana.map(q).join(' ');
  return `#!/bin/bash
# Written by cedana slurm sbatch: checkpoint on USR1, restore when requeued.
${Object.entries(o.env).map(([k, v]) => `export ${k}=${q(v)}`).join('\n')}
CK=${q(o.dir)}
LOG="$CK/cedana.log"
exec 3>&1 4>&2 >>"$LOG" 2>&1
checkpoint() {
  local out
  echo "USR1 at $(date +%s) in job $SLURM_JOB_ID (restart \${SLURM_RESTART_COUNT:-0})"
  # A restore still under way writes the pid file once the tree runs: never dump a half-restored tree.
  while [ ! -s "$CK/pid" ] && kill -0 $! 2>/dev/null; do sleep 0.2; done
  if [ ! -s "$CK/pid" ]; then
    echo "nothing to checkpoint: the restore ended without restoring"
    return
  fi
  echo "checkpointing $(cat "$CK/pid")"
  if out=$(${cedana} dump process "$(cat "$CK/pid")" --dir "$CK/checkpoints" --compression none); then
    echo "\${out##* }" >"$CK/latest"
    echo "checkpointed into \${out##* }; requeueing"
    scontrol requeue "$SLURM_JOB_ID"
  else
    echo "checkpoint failed; the job runs on"
  fi
}
trap checkpoint USR1
if [ -s "$CK/latest" ]; then
  echo "restoring $(cat "$CK/latest") in job $SLURM_JOB_ID (restart \${SLURM_RESTART_COUNT:-0})"
  rm -f "$CK/pid"
  ${cedana} restore process --path "$(cat "$CK/latest")" --no-server --pid-file "$CK/pid" >&3 2>&4 3>&- 4>&- &
else
  echo starting ${q(o.script)} "in job $SLURM_JOB_ID"
  setsid ${[o.script, ...o.args].map(q).join(' ')} >&3 2>&4 3>&- 4>&- &
  echo $! >"$CK/pid"
fi
child=$!
# A trap interrupts wait (status 128+10); bash keeps the child's own status for the last wait.
while kill -0 "$child" 2>/dev/null; do wait "$child"; done
wait "$child"
rc=$?
echo "job $SLURM_JOB_ID ends: $rc"
exit $rc
`;
}

/** The cedana this process runs (Node and entry script), which the job's wrapper runs too. */
function thisCedana(): string[] {
  return [process.execPath, realpathSync(process.argv[1])];
}

export const slurmCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'slurm',
  describe: 'Slurm jobs that checkpoint before preemption or their time limit',
  builder: (y) =>
    y
      .command<SbatchArgs>({
        command: 'sbatch [words..]',
        describe: 'Submit a job that is checkpointed on USR1 and restored when requeued',
        builder: (b) =>
          b
            .option('checkpoint-dir', { type: 'string', describe: 'where the job keeps its checkpoints (default ./.cedana-slurm/<random>)' })
            .option('lead', { type: 'number', describe: 'seconds before the end at which Slurm signals the job, when no --signal is given (default 60)' })
            .strict(false)
            .positional('words', { type: 'string', array: true }) as Argv<SbatchArgs>,
        handler: (argv) => {
          // sbatch's own options are passed through untouched: taken from the raw command line, not from yargs.
          const raw = process.argv.slice(2);
          const all = raw.slice(raw.indexOf('sbatch') + 1);
          const words = all.filter((w, i) => !/^--(checkpoint-dir|lead)(=|$)/.test(w) && !/^--(checkpoint-dir|lead)$/.test(all[i - 1] ?? ''));
          // The script is the first word naming a file that does not follow a bare option (`-w n1`, `-o FILE`).
          const at = words.findIndex((w, i) => !w.startsWith('-') && !/^-[A-Za-z]$/.test(words[i - 1] ?? '') && statSync(resolve(w), { throwIfNoEntry: false })?.isFile());
          if (at < 0) throw new CedanaError(ErrorCode.InvalidArgument, 'no batch script given', { hint: 'cedana slurm sbatch [sbatch options] SCRIPT [ARGS…]' });
          const options = words.slice(0, at);
          const script = resolve(words[at]);
          const dir = resolve(argv['checkpoint-dir'] ?? join('.cedana-slurm', randomBytes(4).toString('hex')));
          mkdirSync(join(dir, 'checkpoints'), { recursive: true });
          const env: Record<string, string> = {};
          for (const k of ['CEDANA_CONFIG_DIR', 'CEDANA_ADDRESS', 'CEDANA_PROTOCOL']) if (process.env[k]) env[k] = process.env[k]!;
          const wrapper = join(dir, 'job.sh');
          writeFileSync(wrapper, wrapperScript({ cedana: thisCedana(), dir, script, args: words.slice(at + 1), env }), { mode: 0o755 });
          const signal = options.some((o) => /^--signal(=|$)/.test(o)) ? [] : [`--signal=B:USR1@${argv.lead ?? 60}`];
          const r = spawnSync('sbatch', ['--parsable', '--requeue', '--open-mode=append', ...signal, ...options, wrapper], { encoding: 'utf8' });
          if (r.error) throw new CedanaError(ErrorCode.Unavailable, 'sbatch not found: Slurm is not installed', { hint: 'install slurm-client' });
          if (r.status !== 0) throw new CedanaError(ErrorCode.FailedPrecondition, `sbatch refused the job: "${(r.stderr || r.stdout).trim().split('\n').pop()}"`);
          console.log(`Submitted batch job ${r.stdout.trim().split(';')[0]} (checkpoints in ${dir})`);
        },
      })
      .demandCommand(1, 'name a slurm command: sbatch'),
  handler: () => undefined,
};
