/**
 * `check` and `daemon check`: one result per component (the daemon itself, then each plugin with its own checks).
 * Checks report problems as results; they do not throw. Every plugin is checked; `full` asks each for its slower
 * checks too (each CRIU feature).
 */
import type { HealthResult, Plugin } from '../generated/daemon';
import type { Services } from './services';

const CORE_VERSION: string = (require('../../../package.json') as { version: string }).version;

export async function healthCheck(s: Services, opts: { full?: boolean } = {}): Promise<HealthResult[]> {
  const full = opts.full ?? false;
  const results: HealthResult[] = [
    {
      name: 'daemon',
      components: [
        { name: 'version', data: CORE_VERSION, level: 'ok', message: '' },
        { name: 'database', data: s.config.db.path, level: s.store ? 'ok' : 'skipped', message: s.store ? '' : 'not opened (checked without the daemon)' },
        { name: 'storage', data: s.storage.schemes().join(', '), level: 'ok', message: '' },
      ],
    },
  ];
  for (const rec of s.plugins.list()) {
    // A plugin that cannot work on this machine is reported, but is neither a warning nor an error.
    const level = rec.status === 'ok' ? 'ok' : rec.status === 'skipped' ? 'skipped' : 'error';
    const components = [{ name: 'plugin', data: `${rec.manifest?.version ?? '?'} ${rec.status}`, level, message: rec.reason ?? '' }];
    if (rec.instance?.health) {
      try {
        for (const c of await rec.instance.health({ full })) components.push({ ...c, message: c.message ?? '' });
      } catch (err) {
        components.push({ name: 'health', data: 'failed', level: 'error', message: (err as Error).message });
      }
    }
    results.push({ name: rec.manifest?.id ?? rec.name, components });
  }
  return results;
}

export function pluginList(s: Services): Plugin[] {
  return s.plugins.list().map((r) => ({
    name: r.name,
    type: r.manifest?.type ?? '',
    id: r.manifest?.id ?? '',
    version: r.manifest?.version ?? '',
    status: r.status,
    reason: r.reason ?? '',
    features: r.instance?.features ?? [],
    source: r.source,
    info: r.instance?.info ?? {},
  }));
}
