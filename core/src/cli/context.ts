/**
 * What every command needs from the global flags: the config, a connection to the daemon, or (for
 * `--no-server`) the services wired in this process.
 */
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import type { Wired } from '../bootstrap';
import type { Daemon } from '../client/client';
import type { Config } from '../config/schema';
import { lazy } from './lazy';

/** The config schema and the gRPC client: loaded by the first command that reads the config or calls the daemon. */
const config = lazy(() => ({
  ...(require('../config/load') as typeof import('../config/load')),
  ...(require('../config/schema') as typeof import('../config/schema')),
  ...(require('../pipeline/validate') as typeof import('../pipeline/validate')),
}));
const client = lazy(() => ({
  ...(require('../client/client') as typeof import('../client/client')),
  ...(require('../security/tls') as typeof import('../security/tls')),
}));

/** The global flags, declared on every command. */
export const GLOBAL_FLAGS = ['config', 'config-dir', 'address', 'protocol', 'init-config', 'merge-config', 'profiling', 'profiling-path', 'deadline'] as const;

export interface GlobalArgs {
  config?: string;
  'config-dir'?: string;
  address?: string;
  protocol?: string;
  deadline?: number;
  'init-config'?: boolean;
  'merge-config'?: boolean;
  profiling?: boolean;
  'profiling-path'?: string;
}

export function configFrom(argv: GlobalArgs): Config {
  // Cedana's third protocol: a VM's vsock. Nothing here listens on one.
  if ((argv.protocol ?? process.env.CEDANA_PROTOCOL ?? '').toLowerCase() === 'vsock') {
    throw new CedanaError(ErrorCode.Unsupported, 'the vsock protocol is not supported', { hint: 'use --protocol unix or tcp' });
  }
  const { loadConfig, validate, ConfigSchema } = config();
  const cfg = loadConfig({ configDir: argv['config-dir'], configJson: argv.config });
  // As in Cedana, `--address` of a containerd command is containerd's socket (see containerdAddress).
  const address = containerdAddress(argv) === undefined ? argv.address : undefined;
  // Flags beat the config file and the environment.
  return validate(ConfigSchema, { ...cfg, ...(argv.protocol ? { protocol: argv.protocol } : {}), ...(address ? { address } : {}) }, 'flags');
}

/** `--address` of `run|manage|dump|restore containerd`, which names containerd's socket, not the daemon's. */
export function containerdAddress(argv: GlobalArgs): string | undefined {
  return (argv as { type?: unknown }).type === 'containerd' ? argv.address : undefined;
}

/** A connection to the daemon named by the flags and config. */
export function daemonFrom(argv: GlobalArgs): Daemon {
  const cfg = configFrom(argv);
  const address = config().listenAddress(cfg);
  if (argv.deadline !== undefined && !(argv.deadline > 0)) {
    throw new CedanaError(ErrorCode.InvalidArgument, `--deadline must be a number of seconds above 0, not '${argv.deadline}'`, { hint: 'e.g. --deadline 600' });
  }
  if (cfg.protocol === 'unix') {
    try {
      accessSync(address, constants.W_OK);
    } catch (err) {
      // EACCES: the socket is root-only, or sits in a directory this user cannot enter (where it would otherwise
      // look absent). ENOENT is left to connectDaemon, which says how to start the daemon.
      if ((err as NodeJS.ErrnoException).code === 'EACCES') {
        throw new CedanaError(ErrorCode.PermissionDenied, `permission denied on the daemon's socket ${address} (it is root-only)`, { hint: 'run cedana as root (sudo)' });
      }
    }
  }
  // Node warns (DEP0123) when TLS is given an IP address as server name, as grpc-js does for `IP:port`: the
  // certificate is still checked against the address; the warning is noise on a command's stderr.
  if (cfg.protocol === 'tcp') process.noDeprecation = true;
  const { connectDaemon, clientCredentials } = client();
  return connectDaemon({ address, protocol: cfg.protocol, credentials: clientCredentials(cfg), timeoutSeconds: argv.deadline });
}

/** The services wired in this process, for `--no-server`. */
export async function localServices(argv: GlobalArgs): Promise<Wired> {
  const cfg = configFrom(argv);
  // Loaded here, not at the top: the DB, plugins and pipelines are for --no-server only, and every other
  // command starts faster without them.
  const { wireServices } = await import('../bootstrap.js');
  const { createLogger } = require('../logger') as typeof import('../logger');
  return wireServices(cfg, createLogger(cfg.log_level_no_server), { daemon: false });
}

/** Absolute form of a path the user typed, so the daemon (with another cwd) finds it; URLs pass through. */
export function absolute(p: string | undefined): string | undefined {
  if (p === undefined || p === '') return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : resolve(p);
}
