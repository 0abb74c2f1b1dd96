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
