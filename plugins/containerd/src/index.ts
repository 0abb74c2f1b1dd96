/**
 * The containerd runtime plugin: registration, what works on this machine, health.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { definePlugin, Feature, PluginSkipped, type HealthComponent } from '@cedana-ts/sdk';
import { Containerd } from './client';
import { containerdSettings } from './options';
import { ContainerdRuntime } from './runtime';

/** True when `name` is an executable on PATH. */
async function onPath(name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (await access(join(dir, name), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

export default definePlugin({
  async init(ctx) {
    const settings = containerdSettings(ctx.config);
    const ctr = new Containerd(settings.address);
    const version = await ctr.version().catch(() => null);
    // containerd that is installed but not running now is not "skipped": it may be started later; each call says so.
    if (!version && !(await onPath('containerd'))) {
      ctr.close();
      throw new PluginSkipped(`containerd is not installed (no containerd on PATH, nothing answering at ${settings.address})`);
    }
    return {
      runtime: new ContainerdRuntime(ctx, ctr, settings.namespace),
      features: [Feature.Run, Feature.Manage, Feature.Dump, Feature.Restore, Feature.Kill],
      info: { socket: settings.address, namespace: settings.namespace, containerd: version?.version ?? 'not reachable at start' },
      // Not running is a warning, not an error: the daemon is fine, and this runtime is usable once it runs.
      async health(): Promise<HealthComponent[]> {
        try {
          const v = await ctr.version();
          return [
            { name: 'containerd socket', data: settings.address, level: 'ok' },
            { name: 'containerd version', data: v.version, level: 'ok' },
          ];
        } catch (err) {
          return [{ name: 'containerd socket', data: settings.address, level: 'warn', message: (err as Error).message }];
        }
      },
      async close() {
        ctr.close();
      },
    };
  },
});
