/**
 * The daemon's client, as the CLI uses it: promise-returning calls whose failures are CedanaErrors.
 */
import { existsSync } from 'node:fs';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { DaemonClient } from '../generated/daemon';
import { fromServiceError } from '../server/status';

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res: Res) => void) => unknown;
type Methods = {
  [K in keyof DaemonClient as DaemonClient[K] extends Unary<infer _Q, infer _R> ? K : never]: DaemonClient[K];
};
type Promised = {
  [K in keyof Methods]: Methods[K] extends Unary<infer Q, infer R> ? (req: Q) => Promise<R> : never;
};

export interface ClientOptions {
  address: string;
  protocol: 'unix' | 'tcp';
}

/** Connects to the daemon; fails at once, with how to start it, when its socket is not there. */
export function connectDaemon(opts: ClientOptions): Promised & { close(): void } {
  if (opts.protocol === 'unix' && !existsSync(opts.address)) {
    throw new CedanaError(ErrorCode.Unavailable, `the daemon is not running (no socket at ${opts.address})`, {
      hint: 'start it with `cedana daemon start`',
    });
  }
  const target = opts.protocol === 'unix' ? `unix:${opts.address}` : opts.address;
  const client = new DaemonClient(target, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
  const call =
    <Q, R>(method: Unary<Q, R>) =>
    (req: Q) =>
      new Promise<R>((resolve, reject) => {
        method.call(client, req, (err, res) => (err ? reject(fromServiceError(err, opts.address)) : resolve(res)));
      });
  return {
    run: call(client.run),
    manage: call(client.manage),
    dump: call(client.dump),
    restore: call(client.restore),
    listJobs: call(client.listJobs),
    killJobs: call(client.killJobs),
    deleteJobs: call(client.deleteJobs),
    listCheckpoints: call(client.listCheckpoints),
    healthCheck: call(client.healthCheck),
    listPlugins: call(client.listPlugins),
    close: () => client.close(),
  } as Promised & { close(): void };
}

export type Daemon = ReturnType<typeof connectDaemon>;
