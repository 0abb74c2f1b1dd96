/**
 * The slurm runtime plugin: registration, discovery of Slurm's client commands and controller, and health.
 */
import { definePlugin, Feature, PluginSkipped, type HealthComponent } from '@cedana-ts/sdk';
import { Slurm } from './commands';
import { SlurmRuntime } from './runtime';

export default definePlugin({
  async init(ctx) {
    const slurm = new Slurm();
    const v = await slurm.run('scontrol', ['--version']).catch(() => null);
    const version = v && v.code === 0 ? v.stdout.trim().replace(/^slurm(-wlm)?\s*/, '') : null;
    if (!version) throw new PluginSkipped('Slurm is not installed: no scontrol on PATH (apt-get install slurm-client)');
    return {
      runtime: new SlurmRuntime(ctx, slurm),
      features: [Feature.Manage, Feature.Dump, Feature.Restore, Feature.Kill],
      info: { slurm: version },
      async health(): Promise<HealthComponent[]> {
        const out: HealthComponent[] = [{ name: 'slurm version', data: version, level: 'ok' }];
        try {
          out.push({ name: 'slurm controller', data: await slurm.ping(), level: 'ok' });
        } catch (err) {
          out.push({ name: 'slurm controller', data: 'unreachable', level: 'error', message: (err as Error).message });
        }
        return out;
      },
    };
  },
});
