/**
 * What a daemon killed mid-dump leaves behind: scratch image directories (`cedana-dump-<pid>-*` in the temp
 * directory) and half-written checkpoints (`.<name>.partial-<pid>-*` beside where they were going). Both names
 * carry the PID of the daemon that made them, so at start-up only those of a daemon that no longer runs are
 * removed — other daemons on the machine may be dumping right now. A `keep` predicate lets start-up recovery
 * claim what it can still use (complete images a journal records) before this removes the rest.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@cedana-ts/sdk';

/** The prefix of this daemon's scratch image directories (for mkdtemp in os.tmpdir()). */
export function scratchPrefix(): string {
  return `cedana-dump-${process.pid}-`;
}

/** The prefix of this daemon's half-written checkpoint `name` (for the temporary name beside it). */
export function partialPrefix(name: string): string {
  return `.${name}.partial-${process.pid}-`;
}

const SCRATCH = /^cedana-dump-(\d+)-/;
const PARTIAL = /^\..+\.partial-(\d+)-/;

/** True while a process with that PID runs (a zombie or a missing PID: no). */
async function running(pid: number): Promise<boolean> {
  if (pid === process.pid) return true;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** Removes, in `dir`, the entries matching `pattern` whose PID no longer runs; returns their paths. */
async function sweep(dir: string, pattern: RegExp, keep: (path: string) => boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = pattern.exec(name);
    if (!m || (await running(Number(m[1])))) continue;
    const path = join(dir, name);
    if (keep(path)) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}

/** Clears the leftovers of dead daemons from the temp dir and from the local checkpoint dirs given. */
export async function cleanScratch(checkpointDirs: string[], logger: Logger, keep: (path: string) => boolean = () => false): Promise<string[]> {
  const removed = await sweep(tmpdir(), SCRATCH, keep);
  for (const dir of new Set(checkpointDirs)) removed.push(...(await sweep(dir, PARTIAL, keep)));
  for (const path of removed) logger.info(`removed ${path}, left by a dump that never finished`);
  return removed;
}
