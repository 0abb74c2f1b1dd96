/**
 * The one place where errors become gRPC statuses (server side) and statuses become errors again (client side).
 * The stable code and the hint travel in metadata, so the CLI shows exactly what the daemon meant.
 */
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { CedanaError, ErrorCode, isErrorCode, toCedanaError } from '@cedana-ts/sdk/errors';

const CODE_KEY = 'cedana-error-code';
/** Binary (`-bin`) metadata: a text value may only hold printable ASCII, and hints quote paths and `…`. */
const HINT_KEY = 'cedana-error-hint-bin';

const toStatus: Record<ErrorCode, Status> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  NOT_FOUND: Status.NOT_FOUND,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  FAILED_PRECONDITION: Status.FAILED_PRECONDITION,
  CORRUPT_CHECKPOINT: Status.DATA_LOSS,
  CHECKPOINT_FAILED: Status.ABORTED,
  RESTORE_FAILED: Status.ABORTED,
  UNAVAILABLE: Status.UNAVAILABLE,
  PERMISSION_DENIED: Status.PERMISSION_DENIED,
  UNSUPPORTED: Status.UNIMPLEMENTED,
  PLUGIN_SKIPPED: Status.FAILED_PRECONDITION,
  PLUGIN_FAILED: Status.INTERNAL,
  INTERNAL: Status.INTERNAL,
};

/** A gRPC error carrying a CedanaError's code, message and hint. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const e = toCedanaError(err);
  const metadata = new Metadata();
  metadata.set(CODE_KEY, e.code);
  if (e.hint) metadata.set(HINT_KEY, Buffer.from(e.hint, 'utf8'));
  return { code: toStatus[e.code], details: e.message, metadata };
}

/** The CedanaError a failed call stands for. */
export function fromServiceError(err: ServiceError, address: string, call?: { name: string; seconds: number }): CedanaError {
  const code = err.metadata?.get(CODE_KEY)[0];
  const hint = err.metadata?.get(HINT_KEY)[0];
  if (isErrorCode(code)) return new CedanaError(code, err.details, { hint: hint ? hint.toString() : undefined });
  if (err.code === Status.UNAVAILABLE) {
    return new CedanaError(ErrorCode.Unavailable, `cannot reach the daemon at ${address}`, { hint: 'is it running? start it with `cedana daemon start`' });
  }
  if (err.code === Status.DEADLINE_EXCEEDED) {
    if (!call) return new CedanaError(ErrorCode.Unavailable, `the daemon at ${address} did not answer in time`);
    return new CedanaError(ErrorCode.Unavailable, `${call.name} timed out: the daemon at ${address} did not answer within ${call.seconds} s`, { hint: 'give it longer with --deadline SECONDS, or see the daemon log' });
  }
  return new CedanaError(ErrorCode.Internal, err.details || err.message);
}
