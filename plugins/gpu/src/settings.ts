/**
 * The plugin's settings: the `gpu` section of the host config (`CEDANA_GPU_<FIELD>` in the environment).
 */
import { z } from 'zod';

export const GpuSettings = z.object({
  /** The driver library to load. Tests point it at a stand-in; on a GPU machine leave the default. */
  library: z.string().min(1).default('libcuda.so.1'),
  /** NVML, used only to measure each process's device memory; without it the byte counts are unknown. */
  nvml_library: z.string().default('libnvidia-ml.so.1'),
  /** How long the driver may wait for a process's submitted GPU work before a lock gives up. */
  lock_timeout_seconds: z.number().positive().max(3600).default(10),
  /** The longest any one driver call may take (a checkpoint of a large device memory takes a while). */
  timeout_seconds: z.number().positive().max(86_400).default(300),
});
export type GpuSettings = z.output<typeof GpuSettings>;

/** The `gpu` section of `config`, with defaults; a section that does not validate is reported by field. */
export function gpuSettings(config: unknown): GpuSettings {
  const section = config && typeof config === 'object' ? (config as { gpu?: unknown }).gpu : undefined;
  const parsed = GpuSettings.safeParse(section ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Error(`config gpu.${issue.path.join('.')}: ${issue.message}`);
}
