import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest, SDK_VERSION, DumpRequest, CompressionInput, CedanaError, ErrorCode, toCedanaError } from '../src';

describe('sdk', () => {
  it('SDK_VERSION matches package.json', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
    assert.equal(SDK_VERSION, pkg.version);
  });

  describe('parseManifest', () => {
    const good = { name: '@x/p', version: '1.2.3', main: 'dist/index.js', cedana: { type: 'runtime', id: 'proc', sdk: '^0.1.0' } };
    it('accepts a valid package.json', () => {
      const m = parseManifest(good);
      assert.equal(m.id, 'proc');
      assert.equal(m.main, 'dist/index.js');
    });
    it('names the bad field', () => {
      assert.throws(() => parseManifest({ ...good, cedana: { ...good.cedana, sdk: 'not a range!' } }), /sdk|semver/);
      assert.throws(() => parseManifest({ ...good, cedana: { ...good.cedana, type: 'weird' } }), /type/);
      assert.throws(() => parseManifest({ ...good, version: 'x' }), /version/);
      assert.throws(() => parseManifest({ name: 'a', version: '1.0.0' }), /cedana/);
    });
  });

  describe('requests', () => {
    it('parses compression aliases and refuses unknown ones', () => {
      assert.equal(CompressionInput.parse('gz'), 'gzip');
      assert.equal(CompressionInput.parse('LZ4'), 'lz4');
      const r = CompressionInput.safeParse('rar');
      assert.equal(r.success, false);
      assert.match(String(r.error?.issues[0]?.message), /unknown compression 'rar'/);
    });
    it('dump needs a job or a target, not both', () => {
      assert.equal(DumpRequest.safeParse({ jid: 'a' }).success, true);
      assert.equal(DumpRequest.safeParse({ type: 'process', target: '12' }).success, true);
      assert.equal(DumpRequest.safeParse({}).success, false);
      assert.equal(DumpRequest.safeParse({ jid: 'a', type: 'process', target: '1' }).success, false);
    });
  });

  describe('errors', () => {
    it('keeps codes through toCedanaError', () => {
      const e = new CedanaError(ErrorCode.NotFound, 'job x not found', { hint: 'see cedana ps' });
      assert.equal(toCedanaError(e), e);
      assert.equal(e.fullMessage, 'job x not found: see cedana ps');
      assert.equal(toCedanaError(new Error('boom')).code, ErrorCode.Internal);
      assert.equal(toCedanaError({ code: 'NOT_FOUND', message: 'm' }).code, ErrorCode.NotFound);
    });
  });
});
