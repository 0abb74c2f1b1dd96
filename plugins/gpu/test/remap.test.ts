/**
 * The choice of GPUs on restore (a pure function: no driver involved).
 */
import assert from 'node:assert/strict';
import { CedanaError, ErrorCode, type GpuDevice } from '@cedana-ts/sdk';
import { apiVersionString, planRemap } from '../src/remap';

const h100 = (uuid: string, used?: boolean): GpuDevice => ({ uuid, name: 'NVIDIA H100 80GB HBM3', memoryBytes: 85_520_809_984, ...(used === undefined ? {} : { used }) });
const a100 = (uuid: string): GpuDevice => ({ uuid, name: 'NVIDIA A100-SXM4-40GB', memoryBytes: 42_949_672_960 });

describe('gpu plugin: GPU remapping plan', () => {
  it('needs no pairs when every recorded GPU is here', () => {
    assert.deepEqual(planRemap([h100('GPU-a'), h100('GPU-b')], [h100('GPU-b'), h100('GPU-a'), h100('GPU-c')], 12080), { pairs: [], remapped: {} });
  });

  it('maps a missing GPU onto a free one of the same name and lists every recorded GPU', () => {
    const plan = planRemap([h100('GPU-a'), h100('GPU-b')], [h100('GPU-b'), a100('GPU-x'), h100('GPU-c')], 13000);
    assert.deepEqual(plan.remapped, { 'GPU-a': 'GPU-c' });
    assert.deepEqual(plan.pairs, [
      { from: 'GPU-a', to: 'GPU-c' },
      { from: 'GPU-b', to: 'GPU-b' },
    ]);
  });

  it('never maps two GPUs onto one', () => {
    assert.throws(
      () => planRemap([h100('GPU-a'), h100('GPU-b')], [h100('GPU-c')], 13000),
      (err: CedanaError) => err.code === ErrorCode.FailedPrecondition && /GPU-b \(NVIDIA H100 80GB HBM3\) is not on this machine/.test(err.message),
    );
  });

  it('drops a GPU the process did not use when no target is free', () => {
    const plan = planRemap([h100('GPU-a', true), h100('GPU-b', false)], [h100('GPU-c')], 13000);
    assert.deepEqual(plan.pairs, [{ from: 'GPU-a', to: 'GPU-c' }]);
  });

  it('needs every GPU when no usage was measured', () => {
    assert.throws(() => planRemap([h100('GPU-a', false), h100('GPU-b', false)], [h100('GPU-c')], 13000), /GPU-b .* is not on this machine/);
  });

  it('names the GPUs there are when none is of the same kind', () => {
    assert.throws(
      () => planRemap([h100('GPU-a')], [a100('GPU-x')], 13000),
      (err: CedanaError) => err.hint === 'restore it on a machine with a NVIDIA H100 80GB HBM3 (GPUs here: NVIDIA A100-SXM4-40GB)',
    );
  });

  it('refuses a remap on a driver API older than 13.0', () => {
    assert.throws(() => planRemap([h100('GPU-a')], [h100('GPU-c')], 12090), (err: CedanaError) => err.code === ErrorCode.Unsupported && /this driver has 12\.9$/.test(err.message));
  });

  it('prints driver API versions as CUDA does', () => {
    assert.equal(apiVersionString(13000), '13.0');
    assert.equal(apiVersionString(12080), '12.8');
    assert.equal(apiVersionString(12090), '12.9');
  });
});
