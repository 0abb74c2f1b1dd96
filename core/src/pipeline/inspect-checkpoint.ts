/**
 * `cedana job checkpoint inspect`: opens a checkpoint as a restore would (a directory, an archive of any
 * compression, or a sharded checkpoint; from local disk or a storage), reads its CRIU images, and cleans up.
 */
import { z } from 'zod';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { Checkpoint } from '../generated/daemon';
import { INSPECT_TYPES, inspectImages } from '../images/inspect';
import { requireStore } from './helpers';
import { checkpointView } from './job-view';
import { openCheckpoint } from './restore';
import type { Services } from './services';
import { validate } from './validate';

const InspectRequest = z
  .object({
    id: z.string(),
    path: z.string(),
    types: z.array(z.enum(INSPECT_TYPES, { message: `must be one of ${INSPECT_TYPES.join(', ')}` })),
  })
  .refine((r) => (r.id === '') !== (r.path === ''), { message: 'name a checkpoint by its ID or by --path (one of them)' });

export async function inspectCheckpoint(s: Services, input: { id: string; path: string; types: string[] }): Promise<{ checkpoint?: Checkpoint; imagesJson: string }> {
  const req = validate(InspectRequest, input, 'checkpoint inspect');
  let checkpoint: Checkpoint | undefined;
  if (req.id) {
    const row = await requireStore(s).checkpointById(req.id);
    if (!row) throw new CedanaError(ErrorCode.NotFound, `checkpoint ${req.id} not found`, { hint: 'see `cedana checkpoints <JID>` for the checkpoints of a job' });
    checkpoint = checkpointView(row);
  }
  const opened = await openCheckpoint(s, checkpoint?.path ?? req.path);
  try {
    return { checkpoint, imagesJson: JSON.stringify(await inspectImages(opened.imagesDir, req.types)) };
  } finally {
    await opened.cleanup();
  }
}
