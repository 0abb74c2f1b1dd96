/**
 * The containerd runtime's options (the flags after `cedana run|manage|dump|restore containerd`) and its part of
 * the host config.
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { Network } from './spec';

/** A container id (containerd's identifier rule). */
const ContainerId = z.coerce.string().regex(/^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/, 'a container id is letters and digits, joined by single ".", "_" or "-"');

/** Flags of every operation; each operation uses those that apply to it. */
export const ContainerdOptions = z
  .object({
    /** run: the image to run; dump: also store the checkpoint as this image; restore: restore from this checkpoint image. */
    image: z.string().min(1).optional(),
    /** run, restore: the container id (run: default the job id; restore: default the checkpointed one). */
    id: ContainerId.optional(),
    /** every operation: the containerd namespace (default config containerd.namespace). */
    namespace: z.coerce.string().regex(/^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/, 'not a containerd namespace').optional(),
    /** run: `private` (default: a new network namespace), `host`, or the path of a network namespace to join. */
    network: z.string().min(1).optional(),
    /** run: the snapshotter holding the image (default overlayfs). */
    snapshotter: z.string().min(1).optional(),
    /** run: more environment variables (`--env K=V`, repeatable or comma-separated, as Cedana's). */
    env: z
      .union([z.coerce.string(), z.array(z.coerce.string())])
      .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((e) => e.split(',')).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^=\s]+=/, '--env takes NAME=VALUE')))
      .optional(),
    /** run, restore: runc without pivot_root (for a root on a ramdisk). */
    noPivot: z.boolean().optional(),
    /** run, restore: GPUs for the container (refused: see gpusRefused). */
    gpus: z.unknown().optional(),
  })
  .strict();
export type ContainerdOptions = z.infer<typeof ContainerdOptions>;

const ContainerdConfig = z.object({
  containerd: z
    .object({ address: z.string().min(1).default('/run/containerd/containerd.sock'), namespace: z.string().min(1).default('default') })
    .prefault({}),
});

/** containerd's socket and default namespace from the host config. */
export function containerdSettings(config: unknown): { address: string; namespace: string } {
  const parsed = ContainerdConfig.safeParse(config ?? {});
  const s = parsed.success ? parsed.data.containerd : { address: '/run/containerd/containerd.sock', namespace: 'default' };
  return { address: s.address.replace(/^unix:\/\//, ''), namespace: s.namespace };
}

/** `id` as a container id, or INVALID_ARGUMENT. */
export function containerId(id: string): string {
  const r = ContainerId.safeParse(id);
  if (!r.success) throw new CedanaError(ErrorCode.InvalidArgument, `'${id}' is not a container id: ${r.error.issues[0].message}`);
  return r.data;
}

/** The `--network` option. */
export function networkOf(value: string | undefined): Network {
  if (!value || value === 'private') return { kind: 'private' };
  if (value === 'host') return { kind: 'host' };
  if (isAbsolute(value)) return { kind: 'path', path: value };
  throw new CedanaError(ErrorCode.InvalidArgument, `--network ${value}: use private, host, or the absolute path of a network namespace`);
}

/** `--gpus`: refused, with the reason (this runtime has no GPU support for containers). */
export function refuseGpus(o: ContainerdOptions): void {
  if (o.gpus !== undefined) {
    const why = 'there is no GPU support for containers here';
    throw new CedanaError(ErrorCode.Unsupported, `--gpus is not supported for containerd jobs: ${why}`, {
      hint: 'drop --gpus; run GPU jobs as process jobs with --gpu-enabled',
    });
  }
}

/** The environment of `base` with the `K=V` entries of `extra` set (a name given again replaces the old value). */
export function withEnv(base: string[], extra: string[] | undefined): string[] {
  if (!extra || extra.length === 0) return base;
  const names = new Set(extra.map((e) => e.slice(0, e.indexOf('='))));
  return [...base.filter((e) => !names.has(e.slice(0, e.indexOf('=')))), ...extra];
}
