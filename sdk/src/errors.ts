/**
 * Errors with stable codes. Every failure that reaches a user carries one of these codes; the core turns the
 * code into a gRPC status in one place and into a CLI message in one place.
 */

/** Stable error codes. Never renumber or rename: scripts and plugins match on them. */
export const ErrorCode = {
  /** The request is malformed: a bad flag value, a missing argument, a bad config field. */
  InvalidArgument: 'INVALID_ARGUMENT',
  /** A job, process, checkpoint, plugin or file that the request names does not exist. */
  NotFound: 'NOT_FOUND',
  /** The thing the request would create exists already (a PID already managed, a JID taken). */
  AlreadyExists: 'ALREADY_EXISTS',
  /** The system is not in a state where the request can run (job not running, no checkpoint yet). */
  FailedPrecondition: 'FAILED_PRECONDITION',
  /** A checkpoint file is truncated, corrupted, unsafe to unpack, or not a checkpoint. */
  CorruptCheckpoint: 'CORRUPT_CHECKPOINT',
  /** CRIU (or a runtime that drives it) refused: the message quotes its reason and names its log. */
  CheckpointFailed: 'CHECKPOINT_FAILED',
  /** Restore failed: the message quotes the reason; the checkpoint is left as it was. */
  RestoreFailed: 'RESTORE_FAILED',
  /** A daemon, socket or server the request needs cannot be reached. */
  Unavailable: 'UNAVAILABLE',
  /** The caller lacks a privilege the operation needs (most need root). */
  PermissionDenied: 'PERMISSION_DENIED',
  /** No loaded plugin provides what the request asks for. */
  Unsupported: 'UNSUPPORTED',
  /** A plugin is not usable on this machine (binary missing, no device): not a failure of the plugin. */
  PluginSkipped: 'PLUGIN_SKIPPED',
  /** A plugin could not be loaded or initialised. */
  PluginFailed: 'PLUGIN_FAILED',
  /** A bug or an unexpected system failure. */
  Internal: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const knownCodes = new Set<string>(Object.values(ErrorCode));

/** True when `code` is one of the stable codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && knownCodes.has(code);
}

/** Options for a {@link CedanaError}. */
export interface CedanaErrorOptions {
  /** What the user can do about it, in a few words ("start it with `cedana daemon start`"). */
  hint?: string;
  /** The lower-level error this one wraps. */
  cause?: unknown;
}

/** An error with a stable code: the only kind of error plugins and the core let reach a user. */
export class CedanaError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: CedanaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CedanaError';
    this.code = code;
    this.hint = options.hint;
  }

  /** The message and the hint, on one line. */
  get fullMessage(): string {
    return this.hint ? `${this.message}: ${this.hint}` : this.message;
  }
}

/** Thrown by a plugin's init when it cannot work on this machine; it is reported as "skipped", not as an error. */
export class PluginSkipped extends CedanaError {
  constructor(reason: string) {
    super(ErrorCode.PluginSkipped, reason);
    this.name = 'PluginSkipped';
  }
}

/** What a raw file-system error (errno code) means for the user, and what to do: message and hint from the path. */
const errnoMeaning: Record<string, { code: ErrorCode; what: (p: string) => string; hint: string }> = {
  EACCES: { code: ErrorCode.PermissionDenied, what: (p) => `permission denied on ${p}`, hint: 'check its owner and mode (the daemon runs as root: a root-squashed mount refuses it too)' },
  EPERM: { code: ErrorCode.PermissionDenied, what: (p) => `operation not permitted on ${p}`, hint: 'check its owner, mode and attributes' },
  ENOENT: { code: ErrorCode.NotFound, what: (p) => `${p} does not exist`, hint: 'check the path' },
  EISDIR: { code: ErrorCode.InvalidArgument, what: (p) => `${p} is a directory`, hint: 'give the path of a file' },
  ENOTDIR: { code: ErrorCode.InvalidArgument, what: (p) => `a part of ${p} is not a directory`, hint: 'check the path' },
  EROFS: { code: ErrorCode.PermissionDenied, what: (p) => `${p} is on a read-only file system`, hint: 'choose a writable directory' },
  ENOSPC: { code: ErrorCode.Unavailable, what: (p) => `no space left on the device of ${p}`, hint: 'free some space, or choose another directory' },
  ELOOP: { code: ErrorCode.PermissionDenied, what: (p) => `${p} is a symbolic link, which is not followed there`, hint: 'use the real path' },
};

/** Wraps anything thrown into a CedanaError, keeping codes that are already there. */
export function toCedanaError(err: unknown): CedanaError {
  if (err instanceof CedanaError) return err;
  const sys = err as { code?: unknown; path?: unknown; dest?: unknown } | null;
  const meaning = sys && typeof sys.code === 'string' && typeof sys.path === 'string' ? errnoMeaning[sys.code] : undefined;
  if (meaning) return new CedanaError(meaning.code, meaning.what(sys!.path as string), { hint: meaning.hint, cause: err });
  if (err && typeof err === 'object' && isErrorCode((err as { code?: unknown }).code)) {
    const e = err as { code: ErrorCode; message?: string; hint?: string };
    return new CedanaError(e.code, e.message ?? String(err), { hint: e.hint, cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CedanaError(ErrorCode.Internal, message, { cause: err });
}
