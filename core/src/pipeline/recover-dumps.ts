/**
 * Daemon start-up: dumps the daemon was killed in (journaled by the dump pipeline before the freeze) are finished
 * or recorded, and their partial files removed.
 *
 *   opened   — nothing was frozen, or CRIU ran on alone: a live process is left as it is; a process gone
 *              without complete images is a lost dump, recorded on the job so that a restore says its newest
 *              checkpoint is older.
 *   dumped   — the images are complete: the checkpoint is written from them now and recorded.
 *   archived — the checkpoint is complete: it is recorded.
 *
 * Each outcome is kept on the job (`notice`), which ps and job inspect show.
 */
import { randomUUID } from 'node:crypto';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointMetadata, METADATA_FILE, type Compression } from '@cedana-ts/sdk';
import { packDirectory } from '../archive/pack';
import { sumList, type SumMap } from '../archive/checksums';
import type { DumpJournalRow } from '../db/tables';
import { localPath } from '../storage/local';
import { schemeOf } from '../storage/registry';
import { statusOf } from './job-status';
import type { Services } from './services';

/** CRIU writes its dump statistics last: images without them are incomplete. */
const CRIU_DONE_FILE = 'stats-dump';

const exists = (p: string) => stat(p).then(() => true, () => false);

/** Removes what the interrupted write left next to the destination (`.<name>.partial-*`). */
async function removePartials(dest: string): Promise<void> {
  if (schemeOf(dest) !== 'file') return;
  const dir = dirname(localPath(dest));
  const prefix = `.${basename(localPath(dest))}.partial-`;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(prefix)) await rm(join(dir, name), { recursive: true, force: true });
  }
}

/** Writes the checkpoint from complete images; returns its stored size. */
async function finishArchive(s: Services, row: DumpJournalRow, meta: CheckpointMetadata): Promise<number> {
  if (row.compression === 'none') {
    await rename(row.images_dir, row.dest);
    return 0;
  }
  await removePartials(row.dest);
  const upload = await s.storage.for(row.dest).create(row.dest);
  try {
    const trailer = { name: METADATA_FILE, body: (sums: SumMap) => JSON.stringify({ ...meta, files: sumList(sums) }, null, 2) };
    await packDirectory(row.images_dir, row.compression as Exclude<Compression, 'none'>, upload.stream, undefined, trailer);
    return (await upload.commit()).size;
  } catch (err) {
    await upload.abort();
    throw err;
  }
}

async function recoverOne(s: Services, row: DumpJournalRow): Promise<void> {
  const store = s.store!;
  const job = await store.getJob(row.jid);
  const when = new Date(row.started_at).toISOString();
  const record = async (size: number) => {
    await store.insertCheckpoint({ id: randomUUID(), jid: job ? row.jid : null, type: row.type, path: row.dest, time: row.started_at, size, compression: row.compression, stats: null });
    if (job) await store.updateJob(row.jid, { notice: `the dump of ${when} was completed at daemon start-up (the daemon stopped during it): ${row.dest}`, lost_dump_at: null });
    s.logger.warn(`job ${row.jid}: dump interrupted by a daemon stop completed at start-up`, { path: row.dest });
  };
  const imagesComplete = row.meta !== null && (await exists(join(row.images_dir, CRIU_DONE_FILE)));
  if (row.phase === 'archived' && (await exists(localPath(row.dest)).catch(() => false) || schemeOf(row.dest) !== 'file')) {
    const st = schemeOf(row.dest) === 'file' ? await stat(localPath(row.dest)) : null;
    await record(st?.isFile() ? st.size : 0);
  } else if ((row.phase === 'dumped' || row.phase === 'archived') && imagesComplete) {
    await record(await finishArchive(s, row, CheckpointMetadata.parse(JSON.parse(row.meta!))));
  } else if (job) {
    const status = await statusOf(job, s.host);
    if (['halted', 'zombie', 'stale'].includes(status) && job.pid === row.pid) {
      await store.updateJob(row.jid, { notice: `the dump of ${when} was lost when the daemon stopped during it; the newest checkpoint is older`, lost_dump_at: row.started_at });
      s.logger.warn(`job ${row.jid}: a dump was lost when the daemon stopped during it`);
    }
  }
  await removePartials(row.dest);
  await rm(row.images_dir, { recursive: true, force: true });
}

/** Finishes or records every journaled dump; one that cannot be recovered is logged and dropped. */
export async function recoverDumps(s: Services): Promise<void> {
  if (!s.store) return;
  for (const row of await s.store.journaledDumps()) {
    try {
      await recoverOne(s, row);
    } catch (err) {
      s.logger.error(`job ${row.jid}: recovering an interrupted dump failed: ${(err as Error).message}`);
      if (await s.store.getJob(row.jid)) await s.store.updateJob(row.jid, { notice: `a dump interrupted by a daemon stop could not be completed (${(err as Error).message})`, lost_dump_at: row.started_at });
    }
    await s.store.endDump(row.id);
  }
}
