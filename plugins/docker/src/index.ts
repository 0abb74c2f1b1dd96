/**
 * The docker runtime plugin: registration, what works on this machine, health.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { definePlugin, Feature, PluginSkipped, type HealthComponent } from '@cedana-ts/sdk';
import { Engine } from './engine';
import { dockerAddress } from './options';
import { DockerRuntime } from './runtime';

/** True when `name` is an executable on PATH. */
async function onPath(name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (await access(join(dir, name), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

export default definePlugin({
  async init(ctx) {
    const engine = new Engine(dockerAddress(ctx.config));
    const version = await engine.version().catch(() => null);
    // Docker that is installed but not running now is not "skipped": it may be started later; each call says so.
    if (!version && !(await onPath('dockerd'))) {
      throw new PluginSkipped(`Docker is not installed (no dockerd on PATH, no Docker daemon answering at ${engine.socket})`);
    }
    return {
      runtime: new DockerRuntime(ctx, engine),
      features: [Feature.Run, Feature.Manage, Feature.Dump, Feature.Restore, Feature.Kill],
      info: { socket: engine.socket, docker: version?.version ?? 'not reachable at start' },
      // Not running is a warning, not an error: the daemon is fine, and this runtime is usable once it runs.
      async health(): Promise<HealthComponent[]> {
        try {
          const v = await engine.version();
          const info = JSON.parse((await engine.must('GET', '/info', 'docker info')).body) as { ExperimentalBuild?: boolean };
          const ping = await engine.open('GET', '/_ping');
          ping.resume();
          const experimental = ping.headers['docker-experimental'] === 'true' || info.ExperimentalBuild === true;
          return [
            { name: 'docker socket', data: engine.socket, level: 'ok' },
            { name: 'docker version', data: `${v.version} (API ${v.apiVersion})`, level: 'ok' },
            experimental
              ? { name: 'checkpoint/restore', data: 'available', level: 'ok' }
              : { name: 'checkpoint/restore', data: 'unavailable', level: 'warn', message: 'dockerd runs without --experimental, which checkpoints need' },
          ];
        } catch (err) {
          return [{ name: 'docker socket', data: engine.socket, level: 'warn', message: (err as Error).message }];
        }
      },
      async close() {
        engine.close();
      },
    };
  },
});
