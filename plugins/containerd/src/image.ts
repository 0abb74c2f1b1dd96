/**
 * Images in containerd's store: from a name to the image's configuration and the snapshot of its unpacked root
 * filesystem, read through the images, content and snapshots services.
 */
import { createHash } from 'node:crypto';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { Containerd } from './client';
import type { Descriptor } from './generated/types';

/** What a container needs of its image. */
export interface ImageInfo {
  name: string;
  /** The image config's `config`: Entrypoint, Cmd, Env, WorkingDir, User. */
  config: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string };
  /** The chain id of the unpacked layers: the snapshot a container's root filesystem starts from. */
  chainId: string;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

/** The chain id of layers with these diff ids (OCI image spec: sha256 of "<parent chain> <diff id>"). */
export function chainId(diffIds: string[]): string {
  let chain = diffIds[0];
  for (const id of diffIds.slice(1)) chain = `sha256:${createHash('sha256').update(`${chain} ${id}`).digest('hex')}`;
  return chain;
}

/** A whole blob of the content store. */
export function readBlob(ctr: Containerd, namespace: string, digest: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const stream = ctr.content.read({ digest, offset: 0, size: 0 }, ctr.metadata(namespace));
    stream.on('data', (m: { data: Uint8Array }) => parts.push(Buffer.from(m.data)));
    stream.on('error', (err) => reject(ctr.error(err as never, `reading ${digest}`, ErrorCode.NotFound)));
    stream.on('end', () => resolve(Buffer.concat(parts)));
  });
}

async function readJson<T>(ctr: Containerd, namespace: string, d: Descriptor): Promise<T> {
  return JSON.parse((await readBlob(ctr, namespace, d.digest)).toString('utf8')) as T;
}

/** The image's manifest descriptor: the target itself, or this platform's entry of an index. */
async function manifestOf(ctr: Containerd, namespace: string, target: Descriptor): Promise<Descriptor> {
  if (!INDEX_TYPES.has(target.mediaType)) return target;
  const index = await readJson<{ manifests: (Descriptor & { platform?: { os?: string; architecture?: string } })[] }>(ctr, namespace, target);
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const pick = index.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch) ?? index.manifests[0];
  if (!pick) throw new CedanaError(ErrorCode.FailedPrecondition, 'the image index lists no manifest');
  return { ...pick, digest: pick.digest, mediaType: pick.mediaType };
}

/** Resolves image `name`, which must be in the store and unpacked for `snapshotter`. */
export async function resolveImage(ctr: Containerd, namespace: string, name: string, snapshotter: string): Promise<ImageInfo> {
  const i = ctr.images;
  const got = await ctr
    .call(i, i.get, { name }, namespace, `image ${name}`, { fallback: ErrorCode.NotFound })
    .catch((err: CedanaError) => {
      if (err.code === ErrorCode.NotFound) {
        throw new CedanaError(ErrorCode.NotFound, `no image '${name}' in containerd namespace ${namespace}`, { hint: 'pull or import it first (ctr image import)' });
      }
      throw err;
    });
  const manifest = await readJson<{ config: Descriptor }>(ctr, namespace, await manifestOf(ctr, namespace, got.image!.target!));
  const config = await readJson<{ config?: ImageInfo['config']; rootfs: { diff_ids: string[] } }>(ctr, namespace, manifest.config);
  const chain = chainId(config.rootfs.diff_ids);
  const s = ctr.snapshots;
  await ctr.call(s, s.stat, { snapshotter, key: chain }, namespace, `snapshot of image ${name}`).catch((err: CedanaError) => {
    if (err.code === ErrorCode.NotFound) {
      throw new CedanaError(ErrorCode.FailedPrecondition, `image '${name}' is not unpacked for the ${snapshotter} snapshotter`, {
        hint: 'unpack it (ctr image import and ctr image pull unpack by default)',
      });
    }
    throw err;
  });
  return { name, config: config.config ?? {}, chainId: chain };
}
