/**
 * Host identity (host.id / host.name and their defaults) and what job-database failures mean to the user.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { ConfigSchema } from '../../src/config/schema';
import { hostIdentity } from '../../src/daemon/host-identity';
import { isConnectionError, openFailure, queryFailure, redactUrl } from '../../src/db/db-errors';
import { JobStore } from '../../src/db/job-store';

describe('host identity', function () {
  it('defaults: /etc/machine-id and the hostname', function () {
    const id = readFileSync('/etc/machine-id', 'utf8').trim();
    assert.deepEqual(hostIdentity(ConfigSchema.parse({})), { id, name: hostname() });
  });

  it('host.id and host.name override them (two daemons on one machine are two hosts)', function () {
    assert.deepEqual(hostIdentity(ConfigSchema.parse({ host: { id: 'node-a', name: 'alpha' } })), { id: 'node-a', name: 'alpha' });
    assert.notEqual(hostIdentity(ConfigSchema.parse({ host: { id: 'node-a' } })).id, hostIdentity(ConfigSchema.parse({ host: { id: 'node-b' } })).id);
  });

  it('a host.id with a space or a slash is refused; a db.url that is not postgres:// too', function () {
    assert.equal(ConfigSchema.safeParse({ host: { id: 'a b' } }).success, false);
    assert.equal(ConfigSchema.safeParse({ host: { id: 'a/b' } }).success, false);
    assert.equal(ConfigSchema.safeParse({ db: { url: 'mysql://x@h/db' } }).success, false);
    assert.equal(ConfigSchema.safeParse({ db: { remote: true, url: 'postgresql://u:p@h:5432/db' } }).success, true);
  });
});

describe('job database errors', function () {
  it('URLs lose their password', function () {
    assert.equal(redactUrl('postgres://cedana:s3cret@db:5432/jobs'), 'postgres://cedana:***@db:5432/jobs');
    assert.equal(redactUrl('postgres://db/jobs'), 'postgres://db/jobs');
  });

  it('connection failures are UNAVAILABLE with what to do; other errors pass through', function () {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    assert.ok(isConnectionError(refused));
    assert.ok(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })));
    assert.ok(isConnectionError(new Error('Connection terminated unexpectedly')));
    const mapped = queryFailure(refused, 'postgres://u:***@h/db') as CedanaError;
    assert.equal(mapped.code, ErrorCode.Unavailable);
    assert.match(mapped.fullMessage, /postgres:\/\/u:\*\*\*@h\/db is unavailable: connect ECONNREFUSED.*running jobs go on/);
    const syntax = Object.assign(new Error('syntax error'), { code: '42601' });
    assert.equal(queryFailure(syntax, 'x'), syntax);
    assert.equal(openFailure(Object.assign(new Error('password authentication failed for user "u"'), { code: '28P01' }), 'x').code, ErrorCode.PermissionDenied);
    assert.match(openFailure(Object.assign(new Error('database "nope" does not exist'), { code: '3D000' }), 'x').message, /does not exist/);
  });

  it('db.remote without db.url, and a PostgreSQL server that is not there, are refused when the store opens', async function () {
    await assert.rejects(JobStore.connect({ remote: true, url: '', path: '' }), (err: unknown) => err instanceof CedanaError && err.code === ErrorCode.InvalidArgument && /db\.url is empty/.test(err.message));
    await assert.rejects(
      JobStore.connect({ remote: true, url: 'postgres://u:pw@127.0.0.1:1/db', path: '' }),
      (err: unknown) => err instanceof CedanaError && err.code === ErrorCode.Unavailable && /cannot reach job database postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/.test(err.message) && !err.fullMessage.includes(':pw@'),
    );
  });
});
