/**
 * The process runtime plugin: registration, capability discovery and health.
 */
import { definePlugin, Feature, PluginSkipped, type HealthComponent } from '@cedana-ts/sdk';
import { parseCriuVersion, runCommand } from './criu';
import { criuFeatures } from './criu-features';
import { ProcessRuntime } from './runtime';

/** CRIU releases older than this cannot dump on current kernels. */
const MIN_CRIU = [4, 2];

function atLeast(version: string, min: number[]): boolean {
  const parts = version.split('.').map(Number);
  for (let i = 0; i < min.length; i++) {
    if ((parts[i] ?? 0) !== min[i]) return (parts[i] ?? 0) > min[i];
  }
  return true;
}

export default definePlugin({
  async init(ctx) {
    const criu = ctx.settings.criuPath;
    const out = await runCommand(criu, ['--version']).catch(() => null);
    const version = out ? parseCriuVersion(out.stdout) : null;
    if (!version) throw new PluginSkipped(`CRIU not found or not runnable at '${criu}' (set criu.binary_path)`);
    if (!atLeast(version, MIN_CRIU)) throw new PluginSkipped(`CRIU ${version} at '${criu}' is too old: ${MIN_CRIU.join('.')} or newer is needed`);

    const runtime = new ProcessRuntime(ctx);
    return {
      runtime,
      features: [
        Feature.Run,
        Feature.RunNoServer,
        Feature.Manage,
        Feature.Dump,
        Feature.Restore,
        Feature.RestoreNoServer,
        Feature.Kill,
        // Its jobs' stdio can go through the daemon (run/restore --attach, --attachable).
        Feature.Attach,
      ],
      info: { criu: version, criuPath: criu },
      async health(opts?: { full?: boolean }): Promise<HealthComponent[]> {
        const check = await runCommand(criu, ['check']).catch((e: Error) => ({ code: 1, stdout: '', stderr: e.message }));
        const text = `${check.stdout}\n${check.stderr}`.trim().split('\n').filter((l) => !/RLIMIT_NOFILE/.test(l));
        const last = text[text.length - 1] ?? '';
        return [
          { name: 'criu version', data: version, level: 'ok' },
          check.code === 0
            ? { name: 'criu check', data: 'available', level: 'ok' }
            : { name: 'criu check', data: 'unavailable', level: 'error', message: last },
          ...(opts?.full ? await criuFeatures(criu) : []),
        ];
      },
    };
  },
});
