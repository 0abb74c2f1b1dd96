/**
 * The NVIDIA driver API (libcuda.so.1) through koffi. Every call that can take time runs on a koffi worker thread
 * (`func.async`), so the daemon's event loop never waits on the driver, and each is raced against a timeout.
 */
import koffi from 'koffi';
import type { GpuDevice } from '@cedana-ts/sdk';

/** CUprocessState. */
export const ProcessState = { Running: 0, Locked: 1, Checkpointed: 2, Failed: 3 } as const;
export type ProcessState = (typeof ProcessState)[keyof typeof ProcessState];

export function stateName(state: number): string {
  return ['running', 'locked', 'checkpointed', 'failed'][state] ?? `in state ${state}`;
}

/** The first driver API version whose checkpoint calls are complete (lock with timeout, restore thread id). */
export const MIN_CHECKPOINT_API = 12080;

/** A driver call that returned an error code. */
export class CudaCallError extends Error {
  constructor(
    readonly call: string,
    readonly code: number,
    readonly codeName: string,
  ) {
    super(`${call} returned ${codeName}`);
  }
}

/** A driver call that did not return in time; it may still finish later. */
export class CudaTimeoutError extends Error {
  constructor(
    readonly call: string,
    readonly ms: number,
  ) {
    super(`${call} did not return within ${ms / 1000} s`);
  }
}

/** Why the library cannot be used at all. */
export class DriverUnavailable extends Error {}

/** Called when a call that already timed out finishes after all, with its result code. */
export type LateResult = (code: number) => void;

type Fn = koffi.KoffiFunction;

const DETECTION = {
  cuInit: 'int cuInit(unsigned int flags)',
  cuDriverGetVersion: 'int cuDriverGetVersion(void *version)',
  cuDeviceGetCount: 'int cuDeviceGetCount(void *count)',
  cuDeviceGet: 'int cuDeviceGet(void *device, int ordinal)',
  cuDeviceGetUuid_v2: 'int cuDeviceGetUuid_v2(void *uuid, int device)',
  cuDeviceGetName: 'int cuDeviceGetName(void *name, int len, int device)',
  cuDeviceTotalMem_v2: 'int cuDeviceTotalMem_v2(void *bytes, int device)',
  cuGetErrorName: 'int cuGetErrorName(int error, _Out_ const char **name)',
};

// Every args struct of these calls is 64 bytes and must be zeroed apart from the fields that are set.
const CHECKPOINT_API = {
  cuCheckpointProcessGetRestoreThreadId: 'int cuCheckpointProcessGetRestoreThreadId(int pid, void *tid)',
  cuCheckpointProcessGetState: 'int cuCheckpointProcessGetState(int pid, void *state)',
  cuCheckpointProcessLock: 'int cuCheckpointProcessLock(int pid, void *args)',
  cuCheckpointProcessCheckpoint: 'int cuCheckpointProcessCheckpoint(int pid, void *args)',
  cuCheckpointProcessRestore: 'int cuCheckpointProcessRestore(int pid, void *args)',
  cuCheckpointProcessUnlock: 'int cuCheckpointProcessUnlock(int pid, void *args)',
};

type Calls = Record<keyof typeof DETECTION | keyof typeof CHECKPOINT_API, Fn>;

/** Answers of GetRestoreThreadId that mean "not a CUDA process" rather than a failure. */
const NOT_CUDA = new Set([1 /* CUDA_ERROR_INVALID_VALUE */, 3 /* CUDA_ERROR_NOT_INITIALIZED */]);

/** `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` from the driver's 16 bytes. */
export function uuidString(bytes: Buffer): string {
  const h = bytes.subarray(0, 16).toString('hex');
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The 16 bytes of a `GPU-…` UUID. */
export function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/^GPU-/, '').replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`'${uuid}' is not a GPU UUID`);
  return Buffer.from(hex, 'hex');
}

/** A loaded driver library. */
export class CudaDriver {
  private constructor(
    private readonly fns: Calls,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Loads `library` and binds the calls; throws {@link DriverUnavailable} when the library is absent or lacks the
   * checkpoint API.
   */
  static load(library: string, timeoutMs: number): CudaDriver {
    let lib: koffi.IKoffiLib;
    try {
      lib = koffi.load(library);
    } catch (err) {
      throw new DriverUnavailable(`no NVIDIA driver: ${library} cannot be loaded (${firstLine(err)})`);
    }
    const bind = (table: Record<string, string>) => {
      const out: Record<string, Fn> = {};
      const missing: string[] = [];
      for (const [name, proto] of Object.entries(table)) {
        try {
          out[name] = lib.func(proto);
        } catch {
          missing.push(name);
        }
      }
      return { out, missing };
    };
    const detection = bind(DETECTION);
    if (detection.missing.length > 0) throw new DriverUnavailable(`${library} is not an NVIDIA driver library (no ${detection.missing.join(', ')})`);
    const api = bind(CHECKPOINT_API);
    if (api.missing.length > 0) {
      throw new DriverUnavailable(`the NVIDIA driver at ${library} has no checkpoint API (no ${api.missing.join(', ')}): driver 570 or newer is needed`);
    }
    return new CudaDriver({ ...detection.out, ...api.out } as Calls, timeoutMs);
  }

  /** The name of a CUresult (`CUDA_ERROR_INVALID_VALUE`), or its number. */
  errorName(code: number): string {
    const out: (string | null)[] = [null];
    const rc = this.fns.cuGetErrorName(code, out) as number;
    return rc === 0 && out[0] ? out[0] : `CUresult ${code}`;
  }

  /** Runs `name` on a worker thread; rejects on a non-zero result or after `timeoutMs`. */
  private call(name: keyof Calls, args: unknown[], opts: { timeoutMs?: number; late?: LateResult } = {}): Promise<void> {
    const ms = opts.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new CudaTimeoutError(name, ms));
      }, ms);
      this.fns[name].async(...args, (err: unknown, code: number) => {
        if (timedOut) return opts.late?.(err ? -1 : code);
        clearTimeout(timer);
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else if (code !== 0) reject(new CudaCallError(name, code, this.errorName(code)));
        else resolve();
      });
    });
  }

  /** cuDriverGetVersion: 13000 for a CUDA 13.0 driver. Needs no cuInit. */
  async version(): Promise<number> {
    const out = Buffer.alloc(4);
    await this.call('cuDriverGetVersion', [out]);
    return out.readInt32LE(0);
  }

  /** cuInit: also what cuCheckpointProcessRestore needs in the calling process. */
  async init(): Promise<void> {
    await this.call('cuInit', [0]);
  }

  /** The GPUs the driver lists (after {@link init}). */
  async devices(): Promise<GpuDevice[]> {
    const count = Buffer.alloc(4);
    await this.call('cuDeviceGetCount', [count]);
    const out: GpuDevice[] = [];
    for (let i = 0; i < count.readInt32LE(0); i++) {
      const dev = Buffer.alloc(4);
      await this.call('cuDeviceGet', [dev, i]);
      const handle = dev.readInt32LE(0);
      const uuid = Buffer.alloc(16);
      const name = Buffer.alloc(256);
      const bytes = Buffer.alloc(8);
      await this.call('cuDeviceGetUuid_v2', [uuid, handle]);
      await this.call('cuDeviceGetName', [name, name.length, handle]);
      await this.call('cuDeviceTotalMem_v2', [bytes, handle]);
      out.push({ uuid: uuidString(uuid), name: name.toString('utf8', 0, name.indexOf(0)), memoryBytes: Number(bytes.readBigUInt64LE(0)) });
    }
    return out;
  }

  /** The process's CUDA restore thread, or null when the process does not use CUDA. */
  async restoreThreadId(pid: number): Promise<number | null> {
    const out = Buffer.alloc(4);
    try {
      await this.call('cuCheckpointProcessGetRestoreThreadId', [pid, out]);
    } catch (err) {
      if (err instanceof CudaCallError && NOT_CUDA.has(err.code)) return null;
      throw err;
    }
    return out.readInt32LE(0);
  }

  async state(pid: number): Promise<number> {
    const out = Buffer.alloc(4);
    await this.call('cuCheckpointProcessGetState', [pid, out]);
    return out.readInt32LE(0);
  }

  /** Blocks the process's CUDA calls once its submitted work is done; the driver gives up after `lockTimeoutMs`. */
  async lock(pid: number, lockTimeoutMs: number, late?: LateResult): Promise<void> {
    const args = Buffer.alloc(64);
    args.writeUInt32LE(lockTimeoutMs, 0);
    // The driver may wait lockTimeoutMs for the GPU work, then answer; our own timer allows for both.
    await this.call('cuCheckpointProcessLock', [pid, args], { timeoutMs: lockTimeoutMs + this.timeoutMs, late });
  }

  /** Moves a locked process's device memory into its host memory and releases its GPUs. */
  async checkpoint(pid: number, late?: LateResult): Promise<void> {
    await this.call('cuCheckpointProcessCheckpoint', [pid, Buffer.alloc(64)], { late });
  }

  /** Brings a checkpointed process's device memory back, onto other GPUs where `pairs` say so; it stays locked. */
  async restore(pid: number, pairs: { from: string; to: string }[] = [], late?: LateResult): Promise<void> {
    const args = Buffer.alloc(64);
    let mem: unknown;
    if (pairs.length > 0) {
      const bytes = Buffer.concat(pairs.flatMap((p) => [uuidBytes(p.from), uuidBytes(p.to)]));
      mem = koffi.alloc('uint8', bytes.length);
      koffi.encode(mem, koffi.array('uint8', bytes.length), Array.from(bytes));
      args.writeBigUInt64LE(koffi.address(mem), 0);
      args.writeUInt32LE(pairs.length, 8);
    }
    try {
      await this.call('cuCheckpointProcessRestore', [pid, args], { late });
    } catch (err) {
      // A call that timed out may still read the pairs: that memory is leaked rather than freed under it.
      if (err instanceof CudaTimeoutError) mem = undefined;
      throw err;
    } finally {
      if (mem) koffi.free(mem);
    }
  }

  /** Lets a locked process make CUDA calls again. */
  async unlock(pid: number, late?: LateResult): Promise<void> {
    await this.call('cuCheckpointProcessUnlock', [pid, Buffer.alloc(64)], { late });
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
