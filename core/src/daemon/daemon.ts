/**
 * `cedana daemon start`: wires the services, serves the API on a root-only unix socket, and stops cleanly on
 * SIGTERM/SIGINT, removing the socket. Managed jobs keep running when the daemon stops.
 */
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { CedanaError, ErrorCode, type Logger } from '@cedana-ts/sdk';
import { wireServices } from '../bootstrap';
import { listenAddress, type Config } from '../config/schema';
import { DaemonService } from '../generated/daemon';
import { handlers } from '../server/handlers';
import { reconcileJobs } from '../pipeline/reconcile';
import { recoverDumps } from '../pipeline/recover-dumps';

/** True when something answers on the unix socket at `path`. */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** How long a stopping daemon waits for calls in flight, within the 5 s a service manager may allow. */
const STOP_GRACE_MS = 3_500;

export interface RunningDaemon {
  address: string;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, logger: Logger): Promise<RunningDaemon> {
  if (process.getuid?.() !== 0) throw new CedanaError(ErrorCode.PermissionDenied, 'the daemon must run as root', { hint: 'run it with sudo' });
  const address = listenAddress(config);
  const isUnix = config.protocol === 'unix';
  if (isUnix) {
    if (existsSync(address)) {
      if (await socketInUse(address)) throw new CedanaError(ErrorCode.AlreadyExists, `a daemon is already listening on ${address}`, { hint: 'stop it first, or choose another --address' });
      unlinkSync(address);
    }
    mkdirSync(dirname(address), { recursive: true });
  }
  const wired = await wireServices(config, logger, { daemon: true });
  await recoverDumps(wired.services);
  await reconcileJobs(wired.services);
  const server = new Server();
  server.addService(DaemonService, handlers(wired.services));
  const target = isUnix ? `unix:${address}` : address;
  const oldMask = process.umask(0o177); // the socket is created 0600: root only
  try {
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(target, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
  } catch (err) {
    await wired.close();
    throw new CedanaError(ErrorCode.Unavailable, `cannot listen on ${address}: ${(err as Error).message}`);
  } finally {
    process.umask(oldMask);
  }
  if (isUnix) chmodSync(address, 0o600);
  for (const rec of wired.services.plugins.list()) {
    logger.info(`plugin ${rec.name} ${rec.manifest?.version ?? ''}: ${rec.status}${rec.reason ? ` (${rec.reason})` : ''}`);
  }
  logger.info(`daemon listening on ${address}`, { db: config.db.path });

  let stopping: Promise<void> | undefined;
  return {
    address,
    stop() {
      stopping ??= (async () => {
        // Attach streams never end by themselves: end them first (their jobs run on), or shutdown would wait forever.
        wired.services.io?.closeAll();
        // Operations in flight give up safely (see pipeline/stopping.ts); whatever still runs after the grace is cut.
        wired.beginStop();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS))),
        ]);
        clearTimeout(timer);
        server.forceShutdown();
        await wired.close();
        if (isUnix && existsSync(address)) unlinkSync(address);
        logger.info('daemon stopped');
      })();
      return stopping;
    },
  };
}
