/**
 * Checkpoints as images in containerd's store (`dump containerd ID --image REF`, `restore containerd --image REF`).
 *
 * The image is an OCI index of two blobs: the CRIU images as a tar, under containerd's own checkpoint media type
 * (so `ctr` and containerd's task service recognise it), and the container details the restore needs (spec,
 * image, namespace, CRIU options). The index carries containerd's garbage-collection labels for both, so they
 * live as long as the image name does.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode, METADATA_FILE, type CheckpointMetadata, type CriuOptions } from '@cedana-ts/sdk';
import type { Containerd } from './client';
import { WriteAction, WriteContentRequest, type WriteContentResponse } from './generated/content';
import type { Descriptor } from './generated/types';
import { readBlob } from './image';

/** containerd's media type of a CRIU checkpoint tar. */
export const CRIU_TAR_TYPE = 'application/vnd.containerd.container.criu.checkpoint.criu.tar';
const DETAILS_TYPE = 'application/vnd.cedana.checkpoint.details.v1+json';
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';
const CHUNK = 1024 * 1024;

/** Writes a blob into the content store from `chunks`; returns its descriptor. */
export async function writeBlob(ctr: Containerd, ns: string, chunks: AsyncIterable<Buffer>, mediaType: string, labels: Record<string, string> = {}): Promise<Descriptor> {
  const ref = `cedana-${randomBytes(8).toString('hex')}`;
  const stream = ctr.content.write(ctr.metadata(ns));
  const hash = createHash('sha256');
  let offset = 0;
  const replies: Promise<void> = new Promise((resolve, reject) => {
    stream.on('data', (r: WriteContentResponse) => {
      if (r.action === WriteAction.COMMIT) resolve();
    });
    stream.on('error', (err: Error & { code?: number }) => {
      // 6 = ALREADY_EXISTS: the same bytes are in the store already.
      if (err.code === 6) resolve();
      else reject(ctr.error(err as never, 'writing to the content store', ErrorCode.CheckpointFailed));
    });
    stream.on('end', resolve);
  });
  const send = (msg: WriteContentRequest) =>
    new Promise<void>((resolve) => {
      if (stream.write(msg)) resolve();
      else stream.once('drain', resolve);
    });
  try {
    for await (const chunk of chunks) {
      for (let i = 0; i < chunk.length; i += CHUNK) {
        const data = chunk.subarray(i, i + CHUNK);
        hash.update(data);
        await send(WriteContentRequest.fromPartial({ action: WriteAction.WRITE, ref, offset, data }));
        offset += data.length;
      }
    }
    const digest = `sha256:${hash.digest('hex')}`;
    await send(WriteContentRequest.fromPartial({ action: WriteAction.COMMIT, ref, offset, total: offset, expected: digest, labels }));
    stream.end();
    await replies;
    return { mediaType, digest, size: offset, annotations: {} };
  } catch (err) {
    stream.cancel();
    throw err;
  }
}

async function* once(b: Buffer): AsyncIterable<Buffer> {
  yield b;
}

/** Stores the CRIU images in `imagesDir` and `details` as checkpoint image `name`. */
export async function publishCheckpointImage(ctr: Containerd, ns: string, name: string, imagesDir: string, details: Record<string, unknown> & { criu: CriuOptions }): Promise<void> {
  const tar = spawn('tar', ['-C', imagesDir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tarDone = new Promise<number | null>((resolve) => tar.once('close', resolve));
  const images = await writeBlob(ctr, ns, tar.stdout as AsyncIterable<Buffer>, CRIU_TAR_TYPE);
  if ((await tarDone) !== 0) throw new CedanaError(ErrorCode.CheckpointFailed, `could not pack ${imagesDir} for the checkpoint image`);
  const meta = await writeBlob(ctr, ns, once(Buffer.from(JSON.stringify({ ...details, createdAt: Date.now() }))), DETAILS_TYPE);
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX_TYPE, manifests: [images, meta].map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size })) }));
  const gc = { 'containerd.io/gc.ref.content.0': images.digest, 'containerd.io/gc.ref.content.1': meta.digest };
  const target = await writeBlob(ctr, ns, once(index), INDEX_TYPE, gc);
  const i = ctr.images;
  const image = { name, labels: { 'io.cedana.checkpoint': 'containerd' }, target };
  await ctr.call(i, i.create, { image }, ns, `creating image ${name}`).catch(async (err: CedanaError) => {
    if (err.code !== ErrorCode.AlreadyExists) throw err;
    await ctr.call(i, i.update, { image }, ns, `updating image ${name}`);
  });
}

/**
 * Writes checkpoint image `name` into `dir` as a checkpoint the core can open: the CRIU images, and a
 * `cedana.json` made from the stored details. NOT_FOUND when there is no such image; INVALID_ARGUMENT when the
 * image is not a checkpoint made by this plugin.
 */
export async function fetchCheckpointImage(ctr: Containerd, ns: string, name: string, dir: string): Promise<void> {
  const i = ctr.images;
  const got = await ctr.call(i, i.get, { name }, ns, `checkpoint image ${name}`, { fallback: ErrorCode.NotFound }).catch((err: CedanaError) => {
    if (err.code === ErrorCode.NotFound) throw new CedanaError(ErrorCode.NotFound, `no checkpoint image '${name}' in containerd namespace ${ns}`, { hint: 'dump one with `cedana dump containerd ID --image REF`' });
    throw err;
  });
  const target = got.image!.target!;
  const index = target.mediaType === INDEX_TYPE ? (JSON.parse((await readBlob(ctr, ns, target.digest)).toString('utf8')) as { manifests?: Descriptor[] }) : {};
  const images = index.manifests?.find((m) => m.mediaType === CRIU_TAR_TYPE);
  const meta = index.manifests?.find((m) => m.mediaType === DETAILS_TYPE);
  if (!images || !meta) throw new CedanaError(ErrorCode.InvalidArgument, `image '${name}' is not a checkpoint made by cedana`, { hint: 'give a checkpoint image made by `cedana dump containerd ID --image REF`' });
  const details = JSON.parse((await readBlob(ctr, ns, meta.digest)).toString('utf8')) as Record<string, unknown> & { criu: CriuOptions; createdAt?: number };
  await untarBlob(ctr, ns, images.digest, dir);
  const { criu, createdAt, ...rest } = details;
  const metadata: CheckpointMetadata = { version: 1, type: 'containerd', runtimeVersion: '0.1.0', pid: 0, host: '', createdAt: createdAt ?? Date.now(), criu, details: rest };
  await writeFile(join(dir, METADATA_FILE), JSON.stringify(metadata, null, 2));
}

/** Streams blob `digest` (a tar) into `tar -x` in `dir`. */
function untarBlob(ctr: Containerd, ns: string, digest: string, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', dir, '-xf', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const read = ctr.content.read({ digest, offset: 0, size: 0 }, ctr.metadata(ns));
    read.on('data', (m: { data: Uint8Array }) => {
      if (!tar.stdin.write(m.data)) {
        read.pause();
        tar.stdin.once('drain', () => read.resume());
      }
    });
    read.on('end', () => tar.stdin.end());
    read.on('error', (err) => {
      tar.kill();
      reject(ctr.error(err as never, `reading ${digest}`, ErrorCode.CorruptCheckpoint));
    });
    tar.once('close', (code) => (code === 0 ? resolve() : reject(new CedanaError(ErrorCode.CorruptCheckpoint, `unpacking checkpoint image blob failed: ${stderr.trim()}`))));
  });
}
