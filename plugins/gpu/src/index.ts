/**
 * The `cuda` GPU plugin: finds out at start whether this machine can checkpoint CUDA processes (driver library,
 * driver version, checkpoint API, GPUs) and, when it can, gives the core its checkpointer. Anything missing makes
 * the plugin "skipped" with the reason; GPU requests then fail with that reason.
 */
import { definePlugin, Feature, PluginSkipped, type HealthComponent } from '@cedana-ts/sdk';
import { CudaCheckpointer } from './checkpointer';
import { CudaCallError, CudaDriver, DriverUnavailable, MIN_CHECKPOINT_API } from './driver';
import { Nvml } from './nvml';
import { apiVersionString, MIN_REMAP_API } from './remap';
import { gpuSettings } from './settings';

export default definePlugin({
  async init(ctx) {
    const settings = gpuSettings(ctx.config);
    let driver: CudaDriver;
    try {
      driver = CudaDriver.load(settings.library, settings.timeout_seconds * 1000);
    } catch (err) {
      if (err instanceof DriverUnavailable) throw new PluginSkipped(err.message);
      throw err;
    }
    const version = await driver.version();
    if (version < MIN_CHECKPOINT_API) {
      throw new PluginSkipped(`the NVIDIA driver has API ${apiVersionString(version)}; checkpointing needs ${apiVersionString(MIN_CHECKPOINT_API)} or newer (driver 570+)`);
    }
    try {
      await driver.init();
    } catch (err) {
      if (err instanceof CudaCallError) throw new PluginSkipped(`no usable GPU: cuInit returned ${err.codeName}`);
      throw err;
    }
    const devices = await driver.devices();
    if (devices.length === 0) throw new PluginSkipped('the NVIDIA driver lists no GPU');
    const nvml = await Nvml.open(settings.nvml_library);
    if (typeof nvml === 'string') ctx.logger.warn(`gpu: NVML not usable (${nvml}): device memory sizes will be unknown`);

    const info: Record<string, string> = {
      library: settings.library,
      driverApi: apiVersionString(version),
      gpus: String(devices.length),
      remap: version >= MIN_REMAP_API ? 'yes' : `no (needs driver API ${apiVersionString(MIN_REMAP_API)})`,
      nvml: typeof nvml === 'string' ? `unavailable: ${nvml}` : 'ok',
    };
    if (typeof nvml !== 'string' && nvml.driverVersion) info.driver = nvml.driverVersion;
    devices.forEach((d, i) => (info[`gpu${i}`] = `${d.name} ${d.uuid}`));

    return {
      features: [Feature.Gpu],
      info,
      gpu: new CudaCheckpointer({
        pluginId: ctx.manifest.id,
        driver,
        driverVersion: version,
        devices,
        nvml: typeof nvml === 'string' ? null : nvml,
        settings,
        logger: ctx.logger,
      }),
      async health(): Promise<HealthComponent[]> {
        return [
          { name: 'nvidia driver', data: info.driver ?? `API ${info.driverApi}`, level: 'ok' },
          { name: 'gpus', data: devices.map((d) => d.name).join(', '), level: 'ok' },
          { name: 'gpu remapping', data: info.remap, level: version >= MIN_REMAP_API ? 'ok' : 'warn' },
          { name: 'nvml', data: info.nvml, level: info.nvml === 'ok' ? 'ok' : 'warn', message: info.nvml === 'ok' ? undefined : 'device memory sizes will be unknown' },
        ];
      },
    };
  },
});
