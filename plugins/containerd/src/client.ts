/**
 * containerd's gRPC API on its unix socket: one client per service, every call in a namespace (the
 * `containerd-namespace` header), failures turned into CedanaErrors — an unreachable socket is UNAVAILABLE
 * naming the socket; containerd's own codes keep their meaning and message.
 */
import { credentials, Metadata, status, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { ContainersClient } from './generated/containers';
import { ContentClient } from './generated/content';
import { Any } from './generated/google/protobuf/any';
import { ImagesClient } from './generated/images';
import { SnapshotsClient } from './generated/snapshots';
import { TasksClient } from './generated/tasks';
import { VersionClient } from './generated/version';

/** A unary method of a generated client, in its (request, metadata, options, callback) form. */
type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => ClientUnaryCall;

/** How containerd's gRPC codes map to stable codes. */
const codeFor: Partial<Record<number, ErrorCode>> = {
  [status.NOT_FOUND]: ErrorCode.NotFound,
  [status.ALREADY_EXISTS]: ErrorCode.AlreadyExists,
  [status.FAILED_PRECONDITION]: ErrorCode.FailedPrecondition,
  [status.INVALID_ARGUMENT]: ErrorCode.InvalidArgument,
  [status.UNAVAILABLE]: ErrorCode.Unavailable,
};

/** An `Any` whose type URL is `url`. */
export function anyOf(url: string, value: Uint8Array): Any {
  return { typeUrl: url, value: Buffer.from(value) };
}

/** A call cancelled because the client closed (the daemon is stopping). */
export class ClosedError extends Error {
  constructor() {
    super('the containerd client closed');
  }
}

export class Containerd {
  private readonly pending = new Set<ClientUnaryCall>();
  private closed = false;
  readonly tasks: TasksClient;
  readonly containers: ContainersClient;
  readonly images: ImagesClient;
  readonly content: ContentClient;
  readonly snapshots: SnapshotsClient;
  readonly versionService: VersionClient;

  constructor(readonly socket: string) {
    const target = `unix://${socket}`;
    const creds = credentials.createInsecure();
    const opts = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.default_authority': 'localhost' };
    this.tasks = new TasksClient(target, creds, opts);
    this.containers = new ContainersClient(target, creds, opts);
    this.images = new ImagesClient(target, creds, opts);
    this.content = new ContentClient(target, creds, opts);
    this.snapshots = new SnapshotsClient(target, creds, opts);
    this.versionService = new VersionClient(target, creds, opts);
  }

  /** The header that puts a call in `namespace`. */
  metadata(namespace: string): Metadata {
    const md = new Metadata();
    md.set('containerd-namespace', namespace);
    return md;
  }

  /** A CedanaError for a failed call: what was being done, and containerd's reason. */
  error(err: ServiceError, what: string, fallback: ErrorCode): CedanaError {
    if (err.code === status.UNAVAILABLE) {
      return new CedanaError(ErrorCode.Unavailable, `cannot reach containerd at ${this.socket}: ${err.details || err.message}`, {
        hint: 'start containerd, or set containerd.address (CEDANA_CONTAINERD_ADDRESS) to its socket',
        cause: err,
      });
    }
    return new CedanaError(codeFor[err.code] ?? fallback, `${what}: ${err.details || err.message}`, { cause: err });
  }

  /**
   * Calls a unary method in `namespace`. `deadlineMs` bounds calls that must answer soon; waits pass none.
   */
  call<Req, Res>(client: object, method: Unary<Req, Res>, req: Req, namespace: string, what: string, opts: { fallback?: ErrorCode; deadlineMs?: number } = {}): Promise<Res> {
    const callOpts: Partial<CallOptions> = opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {};
    return new Promise((resolve, reject) => {
      const pending = method.call(client, req, this.metadata(namespace), callOpts, (err, res) => {
        this.pending.delete(pending);
        if (err) reject(err.code === status.CANCELLED && this.closed ? new ClosedError() : this.error(err, what, opts.fallback ?? ErrorCode.FailedPrecondition));
        else resolve(res);
      });
      this.pending.add(pending);
    });
  }

  /** containerd's version; UNAVAILABLE when it does not answer within a few seconds. */
  async version(): Promise<{ version: string; revision: string }> {
    const v = this.versionService;
    return this.call(v, v.version as unknown as Unary<object, { version: string; revision: string }>, {}, 'default', 'containerd version', { deadlineMs: 3_000 });
  }

  /** Cancels the calls still open (task waits) and closes the connections, so the daemon can exit. */
  close(): void {
    this.closed = true;
    for (const call of this.pending) call.cancel();
    this.pending.clear();
    for (const c of [this.tasks, this.containers, this.images, this.content, this.snapshots, this.versionService]) c.close();
  }
}
