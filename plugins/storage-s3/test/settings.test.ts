/**
 * Where the S3 plugin's settings come from, and how s3:// URLs are read.
 */
import assert from 'node:assert/strict';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { redactUrl, resolveSettings } from '../src/settings';
import { parseS3Url } from '../src/url';

describe('s3 settings', () => {
  it('takes the aws section of the config first', () => {
    const s = resolveSettings(
      { aws: { access_key_id: 'AKIA1', secret_access_key: 'sec', session_token: 'tok', region: 'eu-west-3', endpoint: 'http://minio:9000', part_size_mib: 32 } },
      { AWS_ENDPOINT_URL_S3: 'http://other', AWS_DEFAULT_REGION: 'us-west-2' },
    );
    assert.deepEqual(s.credentials, { accessKeyId: 'AKIA1', secretAccessKey: 'sec', sessionToken: 'tok' });
    assert.equal(s.region, 'eu-west-3');
    assert.equal(s.endpoint, 'http://minio:9000');
    assert.equal(s.partSize, 32 << 20);
    assert.equal(s.problem, undefined);
  });

  it('falls back to AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION and the SDK chain', () => {
    const s = resolveSettings({}, { AWS_ENDPOINT_URL: 'http://generic', AWS_DEFAULT_REGION: 'ap-south-1' });
    assert.equal(s.endpoint, 'http://generic');
    assert.equal(s.region, 'ap-south-1');
    assert.equal(s.credentials, undefined, 'no key pair: the AWS SDK chain decides');
    assert.equal(resolveSettings({}, { AWS_ENDPOINT_URL_S3: 'http://s3only', AWS_ENDPOINT_URL: 'http://generic' }).endpoint, 'http://s3only');
    const d = resolveSettings(undefined, {});
    assert.equal(d.region, 'us-east-1');
    assert.equal(d.endpoint, undefined);
    assert.equal(d.partSize, 16 << 20);
  });

  it('reports a bad endpoint or half a key pair without the secret', () => {
    assert.match(resolveSettings({ aws: { endpoint: 'minio:9000' } }, {}).problem ?? '', /not an http:\/\/ or https:\/\/ URL/);
    const half = resolveSettings({ aws: { secret_access_key: 'topsecret' } }, {});
    assert.match(half.problem ?? '', /aws\.access_key_id \(AWS_ACCESS_KEY_ID\) is not set/);
    assert.ok(!half.problem!.includes('topsecret'));
    assert.match(resolveSettings({ aws: { part_size_mib: 2 } }, {}).problem ?? '', /bad config aws\.part_size_mib/);
  });

  it('hides the user:password of an endpoint URL', () => {
    assert.equal(redactUrl('https://user:pw@minio.local:9000/x'), 'https://***@minio.local:9000/x');
    assert.equal(redactUrl('http://127.0.0.1:9000'), 'http://127.0.0.1:9000');
  });
});

describe('s3 URLs', () => {
  it('splits bucket and key', () => {
    assert.deepEqual(parseS3Url('s3://bucket/a/b/c.tar.lz4', true), { bucket: 'bucket', key: 'a/b/c.tar.lz4' });
    assert.deepEqual(parseS3Url('s3://bucket', false), { bucket: 'bucket', key: '' });
    assert.deepEqual(parseS3Url('s3://bucket/pre/', false), { bucket: 'bucket', key: 'pre/' });
  });

  it('refuses URLs with no bucket, or no object where one is needed', () => {
    for (const [url, needKey, pattern] of [
      ['s3:///key', true, /not an s3:\/\/ URL with a bucket name/],
      ['gcs://bucket/key', true, /not an s3:\/\/ URL/],
      ['s3://bucket', true, /names a bucket or folder, not an object/],
      ['s3://bucket/dir/', true, /names a bucket or folder/],
    ] as const) {
      assert.throws(() => parseS3Url(url, needKey), (e: unknown) => e instanceof CedanaError && e.code === ErrorCode.InvalidArgument && pattern.test(e.message));
    }
  });
});
