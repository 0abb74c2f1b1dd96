/**
 * A small client of the Docker Engine API: HTTP/1.1 on the daemon's unix socket. Failures become CedanaErrors:
 * an unreachable socket is UNAVAILABLE naming the socket, API errors keep Docker's own message.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** The API version spoken: Docker 20.10's, which newer daemons still serve. */
export const API_VERSION = 'v1.41';

/** A finished API call. */
export interface Reply {
  status: number;
  body: string;
}

/** `unix:///run/docker.sock` or a plain path → the socket path. */
export function socketPath(address: string): string {
  return address.replace(/^unix:\/\//, '');
}

/** Docker's `{"message": …}`, or the raw body. */
function messageOf(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: string }).message;
    if (m) return m.trim();
  } catch {
    /* not JSON */
  }
  return body.trim() || 'no message';
}

/** A request cut because the client closed (the daemon is stopping). */
export class ClosedError extends Error {
  constructor() {
    super('the Docker client closed');
  }
}

export class Engine {
  readonly socket: string;
  private readonly open_ = new Set<ClientRequest>();
  private closed = false;

  constructor(address: string) {
    this.socket = socketPath(address);
  }

  private unreachable(err: Error): CedanaError {
    return new CedanaError(ErrorCode.Unavailable, `cannot reach the Docker daemon at ${this.socket}: ${err.message}`, {
      hint: 'start dockerd, or set docker.address (CEDANA_DOCKER_ADDRESS) to its socket',
      cause: err,
    });
  }

  /** Opens a request and resolves with the response stream (for logs and waits, which stay open). */
  open(method: string, path: string, body?: unknown): Promise<IncomingMessage> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          method,
          path: `/${API_VERSION}${path}`,
          headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {},
        },
        (res) => {
          res.once('close', () => this.open_.delete(req));
          resolve(res);
        },
      );
      this.open_.add(req);
      req.on('error', (err) => {
        this.open_.delete(req);
        reject(this.closed ? new ClosedError() : this.unreachable(err));
      });
      req.end(data);
    });
  }

  /** Cuts the requests still open (waits, followed logs), so the daemon can exit. */
  close(): void {
    this.closed = true;
    for (const req of this.open_) req.destroy();
    this.open_.clear();
  }

  /** One call, read to its end. */
  async call(method: string, path: string, body?: unknown): Promise<Reply> {
    const res = await this.open(method, path, body);
    let text = '';
    try {
      for await (const chunk of res) text += (chunk as Buffer).toString();
    } catch (err) {
      if (this.closed) throw new ClosedError();
      throw err;
    }
    return { status: res.statusCode ?? 0, body: text };
  }

  /**
   * A call that must answer 2xx; otherwise throws with Docker's message, as NOT_FOUND for 404, `conflict` for
   * 409 and `fallback` for the rest.
   */
  async must(method: string, path: string, what: string, body?: unknown, conflict: ErrorCode = ErrorCode.FailedPrecondition, fallback: ErrorCode = ErrorCode.FailedPrecondition): Promise<Reply> {
    const r = await this.call(method, path, body);
    if (r.status >= 200 && r.status < 300) return r;
    const code = r.status === 404 ? ErrorCode.NotFound : r.status === 409 ? conflict : fallback;
    throw new CedanaError(code, `${what}: ${messageOf(r.body)}`);
  }

  /** `GET /version`'s engine version. */
  async version(): Promise<{ version: string; apiVersion: string }> {
    const r = await this.must('GET', '/version', 'docker version');
    const v = JSON.parse(r.body) as { Version: string; ApiVersion: string };
    return { version: v.Version, apiVersion: v.ApiVersion };
  }
}
