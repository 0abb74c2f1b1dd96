import assert from 'node:assert/strict';
import { pluginPackage } from '../../src/cli/plugin-names';

describe('Cedana plugin short names', () => {
  it('maps each short name to its package, keeping a version', () => {
    assert.equal(pluginPackage('runc'), '@cedana-ts/plugin-runc');
    assert.equal(pluginPackage('storage/s3'), '@cedana-ts/plugin-storage-s3');
    assert.equal(pluginPackage('storage/gcs@0.1.0'), '@cedana-ts/plugin-storage-gcs@0.1.0');
    assert.equal(pluginPackage('criu'), '@cedana-ts/plugin-process');
    assert.equal(pluginPackage('gpu'), '@cedana-ts/plugin-gpu');
    assert.equal(pluginPackage('@x/other@1.0.0'), '@x/other@1.0.0');
  });
});
