/**
 * The batch script of a restore: a new Slurm job whose batch step brings the dumped tree back with
 * `cedana restore process --path DIR --no-server`, so that the tree ends up a descendant of the new job's batch
 * step, which Slurm tracks, signals and accounts for.
 */
import { realpathSync } from 'node:fs';
import type { JobDescription } from './job';

/** A file the dumped tree had open inside slurmd's spool (its own batch script), put back before the restore. */
export interface SpoolFile {
  path: string;
  mode: number;
  /** Where its content is kept in the checkpoint. */
  saved: string;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The cedana that the batch step runs: the same installation (Node and entry script) as the daemon or CLI that
 * runs this plugin, never one found on PATH.
 */
export function cedanaCommand(): string[] {
  const script = process.argv[1] ? realpathSync(process.argv[1]) : '';
  return [process.execPath, script];
}

export interface RestoreScript {
  imagesDir: string;
  logPath: string;
  criuPath: string;
  configDir?: string;
  spool?: SpoolFile;
}

export function restoreScript(r: RestoreScript): string {
  const cedana = cedanaCommand().map(q).join(' ');
  const config = JSON.stringify({ criu: { binary_path: r.criuPath } });
  const lines = ['#!/bin/sh', '# Written by cedana: restores a checkpointed Slurm job inside this allocation.'];
  if (r.configDir) lines.push(`export CEDANA_CONFIG_DIR=${q(r.configDir)}`);
  if (r.spool) lines.push(`mkdir -p ${q(r.spool.path.replace(/\/[^/]*$/, ''))} && install -m ${(r.spool.mode & 0o7777).toString(8)} ${q(r.spool.saved)} ${q(r.spool.path)} || exit 97`);
  // The CLI's own output goes to a log of its own: the job's output file is the restored program's.
  lines.push(`${cedana} restore process --path ${q(r.imagesDir)} --no-server --config ${q(config)} >>${q(r.logPath)} 2>&1`);
  lines.push('rc=$?');
  if (r.spool) lines.push(`rm -f ${q(r.spool.path)}; rmdir ${q(r.spool.path.replace(/\/[^/]*$/, ''))} 2>/dev/null`);
  lines.push(`[ "$rc" -eq 0 ] && rm -rf ${q(r.imagesDir)}`, 'exit $rc', '');
  return lines.join('\n');
}

/** sbatch options that repeat the original job's description; later options (the user's) win. */
export function sbatchArgs(d: JobDescription, o: { partition?: string; nodelist?: string; args?: string[] }): string[] {
  const args = ['--open-mode=append', '--requeue'];
  if (d.name) args.push(`--job-name=${d.name}`);
  const partition = o.partition ?? d.partition;
  if (partition) args.push(`--partition=${partition}`);
  if (d.workDir) args.push(`--chdir=${d.workDir}`);
  if (d.stdout) args.push(`--output=${d.stdout}`);
  if (d.stderr) args.push(`--error=${d.stderr}`);
  if (d.timeLimit && !/^(UNLIMITED|Partition_Limit|NONE)$/.test(d.timeLimit)) args.push(`--time=${d.timeLimit}`);
  if (o.nodelist) args.push(`--nodelist=${o.nodelist}`);
  return [...args, ...(o.args ?? [])];
}
