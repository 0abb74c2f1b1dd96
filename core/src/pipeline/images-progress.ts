/**
 * The freeze and dump phases of a dump's progress, told apart while CRIU runs by watching its image directory:
 * CRIU freezes the whole tree before it writes its first image, then the directory grows as it writes.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProgressReporter } from './progress';

/** How often the image directory is measured while CRIU writes it, for progress. */
const IMAGES_POLL_MS = 200;

/** Bytes under `dir` so far, and whether CRIU has written any image yet; files vanishing meanwhile are skipped. */
async function imagesSoFar(dir: string): Promise<{ bytes: number; images: boolean }> {
  let bytes = 0;
  let images = false;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const sub = await imagesSoFar(p);
      bytes += sub.bytes;
      images ||= sub.images;
    } else {
      bytes += (await stat(p).catch(() => null))?.size ?? 0;
      images ||= e.name.endsWith('.img');
    }
  }
  return { bytes, images };
}

/**
 * While CRIU runs: `freeze` until its first image appears (it freezes the whole tree before writing any), then
 * `dump` with the bytes written so far. Returns how to stop watching.
 */
export function watchImages(dir: string, progress: ProgressReporter): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let measuring: Promise<void> = Promise.resolve();
  const tick = () => {
    measuring = imagesSoFar(dir).then(({ bytes, images }) => {
      if (stopped) return;
      if (images) progress.phase('dump', undefined, bytes);
      timer = setTimeout(tick, IMAGES_POLL_MS);
    });
  };
  tick();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await measuring;
  };
}
