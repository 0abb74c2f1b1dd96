/**
 * Capability detection at plugin start. The real driver library is tried first: this machine has no NVIDIA
 * driver, so that is a real "skipped". Every other case uses the stand-in libcuda (a fake, built by the test: no GPU
 * can run here) to play a driver that is too old, has no GPU, or works.
 */
import assert from 'node:assert/strict';
import koffi from 'koffi';
import { ErrorCode, Feature, PluginSkipped } from '@cedana-ts/sdk';
import { buildFakeCuda, FakeCudaState } from './helpers/fake-cuda';
import { initPlugin, restoreEnv } from './helpers/context';

async function skipReason(gpu: Record<string, unknown>, env: Record<string, string> = {}): Promise<string> {
  try {
    await initPlugin(gpu, env);
  } catch (err) {
    assert.ok(err instanceof PluginSkipped, `expected PluginSkipped, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.PluginSkipped);
    return err.message;
  }
  assert.fail('init succeeded, but the plugin should have been skipped');
}

describe('gpu plugin: detection', () => {
  let fake: string;
  let old: string;
  const state = new FakeCudaState();

  before(() => {
    fake = buildFakeCuda();
    old = buildFakeCuda({ checkpointApi: false });
  });
  afterEach(restoreEnv);
  after(() => state.remove());

  it('with the default library: skipped without an NVIDIA driver (as here), naming the library; loaded with one', async () => {
    let driverHere = true;
    try {
      koffi.load('libcuda.so.1');
    } catch {
      driverHere = false;
    }
    if (driverHere) {
      const instance = await initPlugin({});
      assert.ok(instance.gpu, 'a machine with libcuda.so.1 loads the plugin');
    } else {
      const reason = await skipReason({});
      assert.match(reason, /^no NVIDIA driver: libcuda\.so\.1 cannot be loaded \(/);
    }
  });

  it('is skipped when the library is not a driver library', async () => {
    const reason = await skipReason({ library: 'libc.so.6', nvml_library: '' });
    assert.match(reason, /libc\.so\.6 is not an NVIDIA driver library \(no cuInit/);
  });

  it('is skipped when the driver has no checkpoint API (older than 570)', async () => {
    const reason = await skipReason({ library: old }, state.env());
    assert.match(reason, /has no checkpoint API \(no cuCheckpointProcessGetRestoreThreadId.*\): driver 570 or newer is needed/);
  });

  it('is skipped when the driver API is older than 12.8', async () => {
    const reason = await skipReason({ library: fake }, state.env({ FAKE_CUDA_DRIVER_VERSION: '12040' }));
    assert.equal(reason, 'the NVIDIA driver has API 12.4; checkpointing needs 12.8 or newer (driver 570+)');
  });

  it('is skipped when cuInit finds no device', async () => {
    const reason = await skipReason({ library: fake }, state.env({ FAKE_CUDA_INIT_RESULT: '100' }));
    assert.equal(reason, 'no usable GPU: cuInit returned CUDA_ERROR_NO_DEVICE');
  });

  it('is skipped when the driver lists no GPU', async () => {
    const reason = await skipReason({ library: fake }, state.env({ FAKE_CUDA_GPUS: '' }));
    assert.equal(reason, 'the NVIDIA driver lists no GPU');
  });

  it('fails (not skipped) on a bad gpu config section', async () => {
    await assert.rejects(initPlugin({ library: fake, lock_timeout_seconds: -1 }, state.env()), (err: Error) => {
      assert.ok(!(err instanceof PluginSkipped));
      assert.match(err.message, /^config gpu\.lock_timeout_seconds: /);
      return true;
    });
  });

  it('finds the driver version, the GPUs with their UUIDs, and NVML', async () => {
    const gpus = '00112233445566778899aabbccddeeff:NVIDIA H100 80GB HBM3:81559,ffeeddccbbaa99887766554433221100:NVIDIA H100 80GB HBM3:81559';
    const instance = await initPlugin({ library: fake, nvml_library: fake }, state.env({ FAKE_CUDA_GPUS: gpus }));
    assert.deepEqual(instance.features, [Feature.Gpu]);
    assert.ok(instance.gpu, 'the instance has a checkpointer');
    assert.equal(instance.info?.driverApi, '13.0');
    assert.equal(instance.info?.driver, '580.65.06');
    assert.equal(instance.info?.gpus, '2');
    assert.equal(instance.info?.gpu0, 'NVIDIA H100 80GB HBM3 GPU-00112233-4455-6677-8899-aabbccddeeff');
    assert.equal(instance.info?.gpu1, 'NVIDIA H100 80GB HBM3 GPU-ffeeddcc-bbaa-9988-7766-554433221100');
    assert.equal(instance.info?.remap, 'yes');
    assert.equal(instance.info?.nvml, 'ok');
    const health = await instance.health!();
    assert.deepEqual(
      health.map((h) => [h.name, h.level]),
      [
        ['nvidia driver', 'ok'],
        ['gpus', 'ok'],
        ['gpu remapping', 'ok'],
        ['nvml', 'ok'],
      ],
    );
  });

  it('says when remapping onto another GPU is not possible, and when NVML is missing', async () => {
    const instance = await initPlugin({ library: fake, nvml_library: '/nonexistent/libnvidia-ml.so.1' }, state.env({ FAKE_CUDA_DRIVER_VERSION: '12080' }));
    assert.equal(instance.info?.driverApi, '12.8');
    assert.equal(instance.info?.remap, 'no (needs driver API 13.0)');
    assert.match(instance.info!.nvml, /^unavailable: /);
    assert.equal(instance.info?.driver, undefined);
    const health = await instance.health!();
    assert.equal(health.find((h) => h.name === 'gpu remapping')?.level, 'warn');
    assert.equal(health.find((h) => h.name === 'nvml')?.level, 'warn');
  });
});
