/**
 * The S3 storage plugin: `s3://` checkpoints on Amazon S3 and S3-compatible stores (MinIO, Ceph, R2…).
 */
import { definePlugin, Feature, lazyStorage, type HealthComponent } from '@cedana-ts/sdk';
import { resolveSettings } from './settings';

export { resolveSettings, type S3Settings } from './settings';
export { parseS3Url } from './url';

export default definePlugin({
  async init(ctx) {
    // A bad aws section does not stop the daemon: the plugin loads, and s3:// requests say what is wrong.
    const settings = resolveSettings(ctx.config);
    if (settings.problem) ctx.logger.warn(`s3 storage: ${settings.problem}`);
    // The AWS SDK is loaded on the first s3:// request: a daemon that never uses S3 does not carry it.
    const storage = lazyStorage(['s3'], () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { S3Storage } = require('./storage') as typeof import('./storage');
      return new S3Storage(settings, ctx.logger);
    });
    const where = settings.endpoint ? 'custom endpoint' : `AWS, region ${settings.region}`;
    return {
      storage,
      features: [Feature.Storage],
      info: { schemes: 's3', endpoint: where, partSizeMiB: String(settings.partSize >> 20) },
      async health(): Promise<HealthComponent[]> {
        return [
          settings.problem
            ? { name: 's3 storage', data: 'misconfigured', level: 'error', message: settings.problem }
            : { name: 's3 storage', data: where, level: 'ok', message: settings.credentials ? 'credentials from config' : 'credentials from the AWS default chain' },
        ];
      },
      async close() {
        storage.loaded()?.close();
      },
    };
  },
});
