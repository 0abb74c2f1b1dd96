/**
 * Helpers for the bad-input tests: what a refused command must look like, and the traces a failed one must not
 * leave.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, type CliResult } from './env';

/**
 * Asserts that a command was refused the way every refusal must be: a non-zero exit, nothing on stdout, and one
 * line on stderr, `Error: …`, matching every pattern. Returns the line without `Error: `.
 */
export function expectError(r: CliResult, ...patterns: RegExp[]): string {
  const context = `exit ${r.code}\nstdout: ${JSON.stringify(r.stdout)}\nstderr: ${JSON.stringify(r.stderr)}`;
  assert.notEqual(r.code, 0, `expected a failure\n${context}`);
  assert.equal(r.stdout, '', `nothing on stdout\n${context}`);
  assert.match(r.stderr, /^Error: [^\n]+\n$/, `one line on stderr, starting with "Error: "\n${context}`);
  const message = r.stderr.slice('Error: '.length).trimEnd();
  for (const p of patterns) assert.match(message, p, context);
  return message;
}

/**
 * A TestEnv whose daemon uses a private TMPDIR (`tmp` in its directory), so the scratch directories of dumps and
 * restores can be checked for leftovers.
 */
export function envWithTmp(extraEnv: NodeJS.ProcessEnv = {}): TestEnv & { tmp: string } {
  const env = new TestEnv(extraEnv) as TestEnv & { tmp: string };
  env.tmp = join(env.dir, 'tmp');
  mkdirSync(env.tmp);
  env.env.TMPDIR = env.tmp;
  return env;
}

/** Scratch directories of dumps and restores (`cedana-dump-*`, `cedana-restore-*`) left in `tmp`. */
export function scratchLeft(tmp: string): string[] {
  return readdirSync(tmp).filter((n) => /^cedana-(dump|restore)-/.test(n) && !n.endsWith('.log'));
}

/** A PID that no process has now. */
export function unusedPid(): number {
  for (let pid = 999_999; ; pid++) if (!existsSync(`/proc/${pid}`)) return pid;
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
