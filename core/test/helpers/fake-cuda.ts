/**
 * The GPU plugin's stand-in libcuda (plugins/gpu/test/fixtures/fake-libcuda.c) for end-to-end tests: this machine
 * has no GPU and no NVIDIA driver, so the driver is a fake that keeps each process's checkpoint state in files,
 * stops a process while it is "locked", and logs every call with the state of the process at that moment.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

let built: string | undefined;

/** Builds the stand-in once per test run; returns the path of the shared library. */
export function fakeLibcuda(): string {
  if (built) return built;
  const source = join(dirname(require.resolve('@cedana-ts/plugin-gpu/package.json')), 'test', 'fixtures', 'fake-libcuda.c');
  const dir = mkdtempSync(join(tmpdir(), 'cedana-fake-cuda-'));
  const out = join(dir, 'libcuda.so.1');
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-DFAKE_CUDA_CHECKPOINT_API', '-o', out, source]);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  built = out;
  return out;
}

export const H100 = 'NVIDIA H100 80GB HBM3';
/** GPUs in the stand-in's FAKE_CUDA_GPUS format, and their UUIDs as the driver prints them. */
export const GPU_A = { spec: `00112233445566778899aabbccddeeff:${H100}:81559`, uuid: 'GPU-00112233-4455-6677-8899-aabbccddeeff' };
export const GPU_B = { spec: `ffeeddccbbaa99887766554433221100:${H100}:81559`, uuid: 'GPU-ffeeddcc-bbaa-9988-7766-554433221100' };
export const GPU_A100 = { spec: '0123456789abcdef0123456789abcdef:NVIDIA A100-SXM4-40GB:40960', uuid: 'GPU-01234567-89ab-cdef-0123-456789abcdef' };

/** One recorded driver call: name, PID, the PID's /proc state letter at the time (`T` stopped, `-` gone). */
export interface FakeCall {
  call: string;
  pid: number;
  procState: string;
  extra: string;
}

/** The stand-in's state directory, shared by every daemon of a test (as a real driver's state would follow the process). */
export class FakeCuda {
  readonly dir = mkdtempSync(join(tmpdir(), 'cedana-fake-cuda-state-'));

  /** Daemon environment: the GPU plugin loads the stand-in, which shows `gpu` (one H100 by default). */
  env(gpu = GPU_A.spec): NodeJS.ProcessEnv {
    const lib = fakeLibcuda();
    return { CEDANA_GPU_LIBRARY: lib, CEDANA_GPU_NVML_LIBRARY: lib, FAKE_CUDA_DIR: this.dir, FAKE_CUDA_GPUS: gpu };
  }

  /** Marks `pid` as a CUDA process holding `memBytes` of device memory. */
  addCudaPid(pid: number, memBytes = 0): void {
    writeFileSync(join(this.dir, 'cuda-pids'), `${pid}\n`, { flag: 'a' });
    writeFileSync(join(this.dir, `mem-${pid}`), `${memBytes}\n`);
  }

  /** Makes `call` (lock, checkpoint, restore, unlock) fail until {@link clearFailures}. */
  fail(call: string): void {
    writeFileSync(join(this.dir, 'fail'), `${call} 999\n`, { flag: 'a' });
  }

  clearFailures(): void {
    rmSync(join(this.dir, 'fail'), { force: true });
  }

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

  /** The checkpoint calls for `pid`, in order. */
  steps(pid: number): string[] {
    return this.calls()
      .filter((c) => c.pid === pid && ['lock', 'checkpoint', 'restore', 'unlock'].includes(c.call))
      .map((c) => c.call);
  }

  clearCalls(): void {
    rmSync(join(this.dir, 'calls.log'), { force: true });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
