/**
 * Where the GCS plugin's settings come from, and how gcs:// URLs are read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { resolveSettings } from '../src/settings';
import { parseGcsUrl } from '../src/url';

describe('gcs settings', () => {
  let dir: string;
  let key: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cedana-gcs-settings-'));
    key = join(dir, 'key.json');
    writeFileSync(key, JSON.stringify({ type: 'service_account', client_email: 'a@b.iam.gserviceaccount.com', private_key: 'SECRET-PEM' }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('takes the gcs section of the config first', () => {
    const s = resolveSettings({ gcs: { credentials_file: key, project_id: 'p1', endpoint: 'http://127.0.0.1:4443', chunk_size_mib: 8 } }, { STORAGE_EMULATOR_HOST: 'http://other', GOOGLE_CLOUD_PROJECT: 'p2' });
    assert.deepEqual(
      { ...s },
      { keyFile: key, adcFile: undefined, projectId: 'p1', endpoint: 'http://127.0.0.1:4443', authenticated: true, selfSignedJwt: true, chunkSize: 8 << 20, problem: undefined },
    );
  });

  it('falls back to GOOGLE_APPLICATION_CREDENTIALS, STORAGE_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT', () => {
    const s = resolveSettings({}, { GOOGLE_APPLICATION_CREDENTIALS: key, STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9023', GOOGLE_CLOUD_PROJECT: 'p2' });
    assert.equal(s.keyFile, undefined, 'Application Default Credentials read the variable themselves');
    assert.equal(s.adcFile, key);
    assert.equal(s.selfSignedJwt, true);
    assert.equal(s.endpoint, 'http://127.0.0.1:9023');
    assert.equal(s.projectId, 'p2');
    assert.equal(s.authenticated, true);
  });

  it('sends no credentials to an emulator without a key, and exchanges keys with Google as usual', () => {
    const emu = resolveSettings({}, { STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9023' });
    assert.equal(emu.authenticated, false);
    assert.equal(emu.selfSignedJwt, false);
    const google = resolveSettings({ gcs: { credentials_file: key } }, {});
    assert.equal(google.endpoint, undefined);
    assert.equal(google.selfSignedJwt, false, 'at Google, keys go through the usual token exchange');
    const psc = resolveSettings({ gcs: { credentials_file: key, endpoint: 'https://storage-myendpoint.p.googleapis.com' } }, {});
    assert.equal(psc.selfSignedJwt, false, 'a googleapis.com endpoint is Google');
    const adc = resolveSettings({}, {});
    assert.equal(adc.authenticated, true);
    assert.equal(adc.keyFile, undefined);
  });

  it('reports an unusable key file without quoting it', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, 'SECRET-PEM not json');
    assert.match(resolveSettings({ gcs: { credentials_file: bad } }, {}).problem ?? '', /gcs\.credentials_file .*bad\.json is not JSON$/);
    const half = join(dir, 'half.json');
    writeFileSync(half, JSON.stringify({ type: 'service_account', private_key: 'SECRET-PEM' }));
    const p = resolveSettings({}, { GOOGLE_APPLICATION_CREDENTIALS: half }).problem ?? '';
    assert.match(p, /^GOOGLE_APPLICATION_CREDENTIALS .*half\.json is a service-account key without client_email or private_key$/);
    assert.ok(!p.includes('SECRET-PEM'));
    assert.match(resolveSettings({ gcs: { chunk_size_mib: 0 } }, {}).problem ?? '', /bad config gcs\.chunk_size_mib/);
    const user = join(dir, 'user.json');
    writeFileSync(user, JSON.stringify({ type: 'authorized_user', refresh_token: 'SECRET-PEM' }));
    assert.match(resolveSettings({ gcs: { credentials_file: user } }, {}).problem ?? '', /is not a service-account key \(type "authorized_user"\); for other credentials use GOOGLE_APPLICATION_CREDENTIALS$/);
    assert.equal(resolveSettings({}, { GOOGLE_APPLICATION_CREDENTIALS: user }).problem, undefined);
  });
});

describe('gcs URLs', () => {
  it('splits bucket and name, for gcs:// and gs://', () => {
    assert.deepEqual(parseGcsUrl('gcs://my-bucket/a/b.tar.gz', true), { scheme: 'gcs', bucket: 'my-bucket', name: 'a/b.tar.gz' });
    assert.deepEqual(parseGcsUrl('gs://my-bucket/a/', false), { scheme: 'gs', bucket: 'my-bucket', name: 'a/' });
  });

  it('refuses URLs with no valid bucket, or no object where one is needed', () => {
    for (const [url, pattern] of [
      ['gcs://My_Bucket/x', /not a gcs:\/\/ URL with a bucket name/],
      ['gcs:///x', /not a gcs:\/\/ URL/],
      ['s3://bucket/x', /not a gcs:\/\/ URL/],
      ['gcs://bucket', /names a bucket or folder, not an object/],
    ] as const) {
      assert.throws(() => parseGcsUrl(url, true), (e: unknown) => e instanceof CedanaError && e.code === ErrorCode.InvalidArgument && pattern.test(e.message));
    }
  });
});
