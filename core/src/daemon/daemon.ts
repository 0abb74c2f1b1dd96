/**
 * `cedana daemon start`: wires the services, serves the API on a root-only unix socket, and stops cleanly on
 * SIGTERM/SIGINT, removing the socket. Managed jobs keep running when the daemon stops.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { Server } from '@grpc/grpc-js';
import { CedanaError, ErrorCode, type Logger } from '@cedana-ts/sdk';
import { hostname } from 'node:os';
import { wireServices, type Wired } from '../bootstrap';
import { listenAddress, type Config } from '../config/schema';
import { DaemonService } from '../generated/daemon';
import { handlers } from '../server/handlers';
import { reconcileJobs } from '../pipeline/reconcile';
import { serverCredentials } from '../security/tls';
import { localPath } from '../storage/local';
import { schemeOf } from '../storage/registry';
import { cleanScratch } from './scratch-cleaner';
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

/** Puts this host in the hosts table: its name, and where the other daemons reach it (job migrate --to). */
async function recordHost(wired: Wired, config: Config, listening: string): Promise<void> {
  const s = wired.services;
  let address = config.host.address || listening;
  if (!config.host.address && config.protocol === 'tcp') address = address.replace(/^(0\.0\.0\.0|\[::\]|::)(?=:)/, hostname());
  try {
    await s.store!.upsertHost({ id: s.host, name: s.hostName, address, protocol: config.protocol, seen_at: Date.now() });
  } catch (err) {
    await wired.close();
    throw err;
  }
}

/**
 * Clears the way for the socket: only a socket nobody answers on (left by a daemon that died) is removed. A live
 * daemon's socket, or anything that is not a socket (a file someone cares about), is refused.
 */
async function removeStaleSocket(address: string): Promise<void> {
  const st = lstatSync(address, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isSocket()) {
    throw new CedanaError(ErrorCode.AlreadyExists, `${address} exists and is not a socket`, { hint: 'remove it yourself, or choose another --address' });
  }
  if (await socketInUse(address)) throw new CedanaError(ErrorCode.AlreadyExists, `a daemon is already listening on ${address}`, { hint: 'stop it first, or choose another --address' });
  unlinkSync(address);
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
  // Before anything else: tcp without TLS client authentication is refused here.
  const creds = serverCredentials(config);
  if (isUnix) {
    await removeStaleSocket(address);
    mkdirSync(dirname(address), { recursive: true });
  }
  const wired = await wireServices(config, logger, { daemon: true });
  await recoverDumps(wired.services);
  await reconcileJobs(wired.services);
  const ckptDir = config.checkpoint.dir;
  await cleanScratch(schemeOf(ckptDir) === 'file' ? [localPath(ckptDir)] : [], logger);
  const server = new Server();
  server.addService(DaemonService, handlers(wired.services));
  const target = isUnix ? `unix:${address}` : address;
  const oldMask = process.umask(0o177); // the socket is created 0600: root only
  try {
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(target, creds, (err) => (err ? reject(err) : resolve())),
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
  await recordHost(wired, config, address);
  logger.info(`daemon listening on ${address}`, { db: wired.services.store?.where ?? config.db.path, host: wired.services.host });

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
