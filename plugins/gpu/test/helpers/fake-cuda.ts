/**
 * The stand-in libcuda for tests (test/fixtures/fake-libcuda.c): this machine has no GPU and no NVIDIA driver, so
 * the driver is faked. It is built here with gcc, and its state and call log live in a directory the tests read.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The C source, from dist/test/helpers (compiled) or test/helpers (source). */
export const FAKE_SOURCE = [join(__dirname, '..', '..', '..', 'test', 'fixtures', 'fake-libcuda.c'), join(__dirname, '..', 'fixtures', 'fake-libcuda.c')].find(existsSync)!;

const built = new Map<string, string>();

/** Builds the stand-in (once per process): with the checkpoint API, or without it like a pre-570 driver. */
export function buildFakeCuda(opts: { checkpointApi?: boolean } = {}): string {
  const api = opts.checkpointApi ?? true;
  const key = api ? 'api' : 'noapi';
  const cached = built.get(key);
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'cedana-fake-cuda-'));
  const out = join(dir, api ? 'libcuda.so.1' : 'libcuda-old.so.1');
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-Wall', ...(api ? ['-DFAKE_CUDA_CHECKPOINT_API'] : []), '-o', out, FAKE_SOURCE]);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  built.set(key, out);
  return out;
}

/** One call the stand-in recorded. */
export interface FakeCall {
  call: string;
  pid: number;
  /** The process's state letter in /proc when the call was made (`T` stopped, `-` gone). */
  procState: string;
  extra: string;
}

/** A state directory for the stand-in, and what a test does with it. */
export class FakeCudaState {
  readonly dir: string;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'cedana-fake-cuda-state-'));
    mkdirSync(this.dir, { recursive: true });
  }

  /** Marks PIDs as CUDA processes, optionally holding `memBytes` of device memory each. */
  addCudaPids(pids: number[], memBytes?: number): void {
    const file = join(this.dir, 'cuda-pids');
    const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
    writeFileSync(file, `${old}${pids.join(' ')}\n`);
    if (memBytes !== undefined) for (const pid of pids) writeFileSync(join(this.dir, `mem-${pid}`), `${memBytes}\n`);
  }

  /** Makes `call` fail with `code` (CUDA_ERROR_UNKNOWN: 999), for `pid` alone if given, until {@link clearFailures}. */
  fail(call: string, code = 999, pid?: number): void {
    writeFileSync(join(this.dir, 'fail'), `${call} ${code}${pid === undefined ? '' : ` ${pid}`}\n`, { flag: 'a' });
  }

  /** Makes `call` sleep `seconds` before it does anything. */
  hang(call: string, seconds: number): void {
    writeFileSync(join(this.dir, 'hang'), `${call} ${seconds}\n`, { flag: 'a' });
  }

  clearFailures(): void {
    rmSync(join(this.dir, 'fail'), { force: true });
    rmSync(join(this.dir, 'hang'), { force: true });
  }

  /** The checkpoint state the stand-in holds for `pid` (0 running, 1 locked, 2 checkpointed). */
  state(pid: number): number {
    const file = join(this.dir, `state-${pid}`);
    return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : 0;
  }

  /** Every recorded call, in order. */
  calls(): FakeCall[] {
    const file = join(this.dir, 'calls.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [call, pid, procState, ...rest] = line.split(' ');
        return { call, pid: Number(pid), procState, extra: rest.join(' ') };
      });
  }

  /** The checkpoint calls only (lock, checkpoint, restore, unlock), as `call:pid`. */
  steps(): string[] {
    return this.calls()
      .filter((c) => ['lock', 'checkpoint', 'restore', 'unlock'].includes(c.call))
      .map((c) => `${c.call}:${c.pid}`);
  }

  clearCalls(): void {
    rmSync(join(this.dir, 'calls.log'), { force: true });
  }

  /** The environment that points the stand-in at this directory. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { FAKE_CUDA_DIR: this.dir, ...extra };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
