/**
 * Wires the core's services (tsyringe): config, logger, job store, reaper, storage, plugins. The daemon does this
 * once at start; `--no-server` commands do it without a job store.
 */
import 'reflect-metadata';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { IoRegistry } from './io/io-registry';
import { tmpdir } from 'node:os';
import { container as rootContainer } from 'tsyringe';
import type { Logger } from '@cedana-ts/sdk';
import type { Config } from './config/schema';
import { JobStore } from './db/job-store';
import { PluginHost } from './plugins/host';
import { ExitMonitor } from './pipeline/exit-monitor';
import { JobLocks } from './pipeline/job-locks';
import { ServicesToken, type Services } from './pipeline/services';
import { Reaper } from './proc/reaper';
import { StorageRegistry } from './storage/registry';
import { hostIdentity, type HostIdentity } from './daemon/host-identity';
import { ConfigToken, HostToken, LoggerToken } from './tokens';

export interface Wired {
  services: Services;
  /** Tells operations in flight that the daemon is stopping. */
  beginStop(): void;
  close(): Promise<void>;
}

/** Opens the daemon's job store; a local (SQLite) one takes over jobs recorded under this machine's hostname by older versions. */
async function openStore(config: Config, host: HostIdentity, logger: Logger): Promise<JobStore> {
  const store = await JobStore.connect(config.db);
  if (store.dialect === 'sqlite') {
    const adopted = await store.adoptJobs(hostname(), host.id).catch(async (err: unknown) => {
      await store.close();
      throw err;
    });
    if (adopted > 0) logger.info(`${adopted} job(s) recorded under hostname ${hostname()} now belong to host ${host.id}`);
  }
  return store;
}

export async function wireServices(config: Config, logger: Logger, opts: { daemon: boolean }): Promise<Wired> {
  const container = rootContainer.createChildContainer();
  container.register(ConfigToken, { useValue: config });
  container.register(LoggerToken, { useValue: logger });
  const host = hostIdentity(config);
  container.register(HostToken, { useValue: host.id });

  const store = opts.daemon ? await openStore(config, host, logger) : null;
  // Restored trees come back as children of whoever restores them: the daemon, or the CLI for --no-server.
  const reaper = new Reaper();
  const plugins = new PluginHost({
    container,
    logger,
    settings: { criuPath: config.criu.binary_path || 'criu', tmpDir: tmpdir() },
    children: reaper,
    libDir: config.plugins.lib_dir,
    required: config.plugins.required,
    config,
  });
  try {
    await plugins.load();
  } catch (err) {
    reaper.stop();
    await store?.close();
    throw err;
  }
  const storage = new StorageRegistry();
  for (const rec of plugins.list()) if (rec.instance?.storage) storage.add(rec.instance.storage);

  const io = opts.daemon ? new IoRegistry(join(dirname(config.db.path), 'cedana-io')) : null;
  const stopping = new AbortController();
  const services: Services = {
    config,
    logger,
    host: container.resolve(HostToken),
    hostName: host.name,
    plugins,
    storage,
    store,
    reaper,
    exits: new ExitMonitor(store, logger, (jid, status) => io?.exited(jid, status)),
    io,
    locks: new JobLocks(),
    stopping: stopping.signal,
  };
  container.register(ServicesToken, { useValue: services });

  let closed = false;
  return {
    services,
    beginStop() {
      stopping.abort();
    },
    async close() {
      if (closed) return;
      closed = true;
      reaper.stop();
      io?.closeAll();
      await plugins.close();
      await store?.close();
    },
  };
}
