/**
 * Which GPU of this machine takes the state of each GPU a checkpoint recorded: the same GPU when it is here,
 * otherwise a free one of the same product name (the driver restores only onto the same chip type).
 */
import { CedanaError, ErrorCode, type GpuDevice } from '@cedana-ts/sdk';

/**
 * The first driver API version trusted to remap GPUs on restore (CUcheckpointRestoreArgs.gpuPairs). NVIDIA's 570
 * notes say "does not support GPU migration"; the field is documented from the CUDA 13.0 driver API (r580) on.
 */
export const MIN_REMAP_API = 13000;

/** `13000` → `13.0`. */
export function apiVersionString(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

export interface RemapPlan {
  /** What to pass to cuCheckpointProcessRestore: every recorded GPU with a target, or nothing when none moves. */
  pairs: { from: string; to: string }[];
  /** Only the GPUs that move: old UUID → new UUID. */
  remapped: Record<string, string>;
}

/**
 * Plans the restore of `recorded` (from the checkpoint) onto `here` (this machine's GPUs). A recorded GPU that held
 * memory must find a target; one that held none is mapped when a target is free. Without usage figures, all must.
 */
export function planRemap(recorded: GpuDevice[], here: GpuDevice[], driverVersion: number): RemapPlan {
  const local = new Map(here.map((d) => [d.uuid, d]));
  const taken = new Set(recorded.filter((d) => local.has(d.uuid)).map((d) => d.uuid));
  const pairs: RemapPlan['pairs'] = [];
  const remapped: Record<string, string> = {};
  // When NVML saw no process on any GPU, it could not see them (a PID namespace, say): every GPU counts.
  const usageKnown = recorded.some((d) => d.used === true);
  for (const d of recorded) {
    if (local.has(d.uuid)) {
      pairs.push({ from: d.uuid, to: d.uuid });
      continue;
    }
    const target = here.find((h) => h.name === d.name && !taken.has(h.uuid));
    if (target) {
      taken.add(target.uuid);
      pairs.push({ from: d.uuid, to: target.uuid });
      remapped[d.uuid] = target.uuid;
    } else if (d.used !== false || !usageKnown) {
      const kinds = here.length > 0 ? here.map((h) => h.name).join(', ') : 'none';
      throw new CedanaError(ErrorCode.FailedPrecondition, `the checkpoint's GPU ${d.uuid} (${d.name}) is not on this machine and no other ${d.name} is free here`, {
        hint: `restore it on a machine with a ${d.name} (GPUs here: ${kinds})`,
      });
    }
  }
  if (Object.keys(remapped).length === 0) return { pairs: [], remapped };
  if (driverVersion < MIN_REMAP_API) {
    throw new CedanaError(ErrorCode.Unsupported, `restoring onto another GPU (${Object.keys(remapped).join(', ')} is not here) needs driver API ${apiVersionString(MIN_REMAP_API)} or newer; this driver has ${apiVersionString(driverVersion)}`, {
      hint: 'restore on the machine with the original GPU, or upgrade the NVIDIA driver (580 or newer)',
    });
  }
  return { pairs, remapped };
}
