/**
 * NVML (libnvidia-ml.so.1), for what the driver API does not say: how much device memory each process holds, on
 * which GPU, and the display driver's version. Optional: without it those figures are unknown, nothing fails.
 */
import koffi from 'koffi';

/** NVML's "this value is not available" (for instance inside some containers). */
const NOT_AVAILABLE = 0xffffffffffffffffn;
const INSUFFICIENT_SIZE = 7;
/** nvmlProcessInfo_t (v2 layout, used by _v3): pid, pad, usedGpuMemory, gpuInstanceId, computeInstanceId. */
const PROCESS_INFO_SIZE = 24;

/** Device memory of one process on one GPU. */
export interface ProcessMemory {
  pid: number;
  uuid: string;
  bytes: number;
}

export class Nvml {
  private constructor(
    private readonly fns: Record<'devByUuid' | 'procs' | 'driverVersion', koffi.KoffiFunction>,
    readonly driverVersion: string,
  ) {}

  /** Loads and initialises NVML, or returns the reason it cannot. */
  static async open(library: string): Promise<Nvml | string> {
    if (!library) return 'disabled (gpu.nvml_library is empty)';
    try {
      const lib = koffi.load(library);
      const init = lib.func('int nvmlInit_v2()');
      const fns = {
        devByUuid: lib.func('int nvmlDeviceGetHandleByUUID(const char *uuid, _Out_ void **device)'),
        procs: lib.func('int nvmlDeviceGetComputeRunningProcesses_v3(void *device, void *count, void *infos)'),
        driverVersion: lib.func('int nvmlSystemGetDriverVersion(void *version, unsigned int length)'),
      };
      const rc = await callAsync(init, []);
      if (rc !== 0) return `nvmlInit failed (${rc})`;
      const buf = Buffer.alloc(96);
      const vrc = await callAsync(fns.driverVersion, [buf, buf.length]);
      return new Nvml(fns, vrc === 0 ? buf.toString('utf8', 0, buf.indexOf(0)) : '');
    } catch (err) {
      return (err instanceof Error ? err.message : String(err)).split('\n')[0];
    }
  }

  /** Device memory held by `pids` on the GPUs `uuids`; a GPU NVML cannot read is left out. */
  async memoryOf(pids: number[], uuids: string[]): Promise<ProcessMemory[]> {
    const want = new Set(pids);
    const out: ProcessMemory[] = [];
    for (const uuid of uuids) {
      const handle: unknown[] = [null];
      if ((await callAsync(this.fns.devByUuid, [uuid, handle])) !== 0) continue;
      let capacity = 64;
      for (let attempt = 0; attempt < 3; attempt++) {
        const count = Buffer.alloc(4);
        count.writeUInt32LE(capacity, 0);
        const infos = Buffer.alloc(capacity * PROCESS_INFO_SIZE);
        const rc = await callAsync(this.fns.procs, [handle[0], count, infos]);
        if (rc === INSUFFICIENT_SIZE) {
          capacity = count.readUInt32LE(0) + 16;
          continue;
        }
        if (rc !== 0) break;
        for (let i = 0; i < count.readUInt32LE(0); i++) {
          const pid = infos.readUInt32LE(i * PROCESS_INFO_SIZE);
          const used = infos.readBigUInt64LE(i * PROCESS_INFO_SIZE + 8);
          if (want.has(pid) && used !== NOT_AVAILABLE) out.push({ pid, uuid, bytes: Number(used) });
        }
        break;
      }
    }
    return out;
  }
}

/** NVML answers from its own tables; a call this slow means it is stuck, and the figures are skipped. */
const NVML_TIMEOUT_MS = 10_000;

function callAsync(fn: koffi.KoffiFunction, args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`NVML did not answer within ${NVML_TIMEOUT_MS / 1000} s`)), NVML_TIMEOUT_MS);
    fn.async(...args, (err: unknown, rc: number) => {
      clearTimeout(timer);
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(rc);
    });
  });
}
