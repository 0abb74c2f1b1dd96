/**
 * The plugin operations of the API: reload the plugins without restarting the daemon, and the feature matrix.
 */
import type { GetFeaturesResp, Plugin } from '../generated/daemon';
import { featureMatrix } from '../plugins/features';
import { StorageRegistry } from '../storage/registry';
import { pluginList } from './health';
import type { Services } from './services';

/** Loads every plugin again and serves the storages of the new set; returns each plugin's outcome. */
export async function reloadPlugins(s: Services): Promise<Plugin[]> {
  await s.plugins.reload();
  const storage = new StorageRegistry();
  for (const rec of s.plugins.list()) if (rec.instance?.storage) storage.add(rec.instance.storage);
  s.storage = storage;
  s.logger.info(`plugins reloaded: ${s.plugins.list().map((r) => `${r.name} ${r.status}`).join(', ')}`);
  return pluginList(s);
}

/** The feature matrix of the loaded plugins. */
export function features(s: Services): GetFeaturesResp {
  const matrix = featureMatrix(s.plugins.list());
  return { plugins: pluginList(s), rows: matrix.rows.map((r) => ({ feature: r.feature, cells: r.cells })) };
}
