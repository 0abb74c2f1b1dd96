/**
 * The runc runtime plugin: registration, what works on this machine, health.
 */
import { access } from 'node:fs/promises';
import { definePlugin, Feature, PluginSkipped, type HealthComponent } from '@cedana-ts/sdk';
import { runCommand } from './command';
import { runcSettings } from './options';
import { Runc } from './runc';
import { RuncRuntime } from './runtime';

export default definePlugin({
  async init(ctx) {
    const settings = runcSettings(ctx.config);
    const probe = new Runc({ binary: settings.binary, root: settings.root, criu: ctx.settings.criuPath, tmpDir: ctx.settings.tmpDir });
    const version = await probe.version();
    if (!version) throw new PluginSkipped(`runc not found or not runnable at '${settings.binary}' (install runc or set runc.binary)`);
    const criu = await runCommand(ctx.settings.criuPath, ['--version']).catch(() => null);
    const criuVersion = criu ? (/Version:\s*([\d.]+)/.exec(criu.stdout)?.[1] ?? null) : null;

    const runtime = new RuncRuntime(ctx, settings);
    // Without CRIU runc still runs and adopts containers; only checkpoint and restore need it.
    const features: Feature[] = [Feature.Run, Feature.RunNoServer, Feature.Manage, Feature.Kill, Feature.Attach];
    if (criuVersion) features.push(Feature.Dump, Feature.Restore, Feature.RestoreNoServer);
    return {
      runtime,
      features,
      info: { runc: version, runcPath: settings.binary, root: settings.root, criu: criuVersion ?? 'not found' },
      async health(): Promise<HealthComponent[]> {
        const rootOk = await access(settings.root).then(
          () => true,
          () => false,
        );
        return [
          { name: 'runc version', data: version, level: 'ok' },
          { name: 'runc root', data: settings.root, level: 'ok', message: rootOk ? '' : 'not created yet (runc creates it on the first run)' },
          criuVersion
            ? { name: 'checkpoint/restore', data: `criu ${criuVersion}`, level: 'ok' }
            : { name: 'checkpoint/restore', data: 'unavailable', level: 'warn', message: `CRIU not found at '${ctx.settings.criuPath}'` },
        ];
      },
    };
  },
});
