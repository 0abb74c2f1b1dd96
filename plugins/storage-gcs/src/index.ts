/**
 * The GCS storage plugin: `gcs://` (and `gs://`) checkpoints on Google Cloud Storage, or on a server that speaks
 * its JSON API (an emulator, through gcs.endpoint or STORAGE_EMULATOR_HOST).
 */
import { definePlugin, Feature, lazyStorage, type HealthComponent } from '@cedana-ts/sdk';
import { resolveSettings } from './settings';

export { resolveSettings, type GcsSettings } from './settings';
export { parseGcsUrl } from './url';

export default definePlugin({
  async init(ctx) {
    // A bad gcs section does not stop the daemon: the plugin loads, and gcs:// requests say what is wrong.
    const settings = resolveSettings(ctx.config);
    if (settings.problem) ctx.logger.warn(`gcs storage: ${settings.problem}`);
    // The Google Cloud client is loaded on the first gcs:// request: a daemon that never uses GCS does not carry it.
    const storage = lazyStorage(['gcs', 'gs'], () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { GcsStorage } = require('./storage') as typeof import('./storage');
      return new GcsStorage(settings, ctx.logger);
    });
    const where = settings.endpoint ? 'custom endpoint' : 'Google Cloud Storage';
    const auth = !settings.authenticated ? 'no credentials (emulator)' : settings.keyFile ? 'service-account key file' : settings.adcFile ? 'GOOGLE_APPLICATION_CREDENTIALS' : 'Application Default Credentials';
    return {
      storage,
      features: [Feature.Storage],
      info: { schemes: 'gcs, gs', endpoint: where, credentials: auth, chunkSizeMiB: String(settings.chunkSize >> 20) },
      async health(): Promise<HealthComponent[]> {
        return [
          settings.problem
            ? { name: 'gcs storage', data: 'misconfigured', level: 'error', message: settings.problem }
            : { name: 'gcs storage', data: where, level: 'ok', message: auth },
        ];
      },
    };
  },
});
