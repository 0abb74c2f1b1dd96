/**
 * A daemon asked to stop (SIGTERM) does not wait for long operations: a dump not yet frozen gives up, one whose
 * archive is being written has the write cut and its process restored from the images (as for any failed write).
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

export function stoppingError(): CedanaError {
  return new CedanaError(ErrorCode.Unavailable, 'the daemon is stopping', { hint: 'start it again and retry' });
}
