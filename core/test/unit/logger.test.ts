/**
 * The daemon's logger: levels, line format, and secrets that must never reach the log.
 */
import assert from 'node:assert/strict';
import { ConfigSchema, secretFields } from '../../src/config/schema';
import { createLogger, redact } from '../../src/logger';

function capture(level: Parameters<typeof createLogger>[0]) {
  const lines: string[] = [];
  return { lines, logger: createLogger(level, (l) => lines.push(l)) };
}

describe('logger', function () {
  it('writes one line per event at or above its level', function () {
    const { lines, logger } = capture('info');
    logger.debug('hidden');
    logger.info('job a started', { pid: 7 });
    logger.warn('careful');
    logger.error('broken');
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  job a started \{"pid":7\}\n$/);
    assert.match(lines[1], / WARN  careful\n$/);
    assert.match(lines[2], / ERROR broken\n$/);
  });

  it('debug shows everything; error only errors', function () {
    const all = capture('debug');
    all.logger.debug('d');
    assert.equal(all.lines.length, 1);
    const few = capture('error');
    few.logger.warn('w');
    few.logger.info('i');
    few.logger.error('e');
    assert.equal(few.lines.length, 1);
  });

  describe('redaction', function () {
    const SECRETS = ['AKIAEXAMPLEKEYID0001', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'hunter2', 'ghp_tokenvalue', 'PRIVATE-PEM', 'cred-123'];

    function assertNoSecrets(text: string) {
      for (const s of SECRETS) assert.ok(!text.includes(s), `secret ${s} leaked: ${text}`);
    }

    it('masks the aws keys of a logged config, whatever the nesting', function () {
      const cfg = ConfigSchema.parse({ aws: { access_key_id: SECRETS[0], secret_access_key: SECRETS[1], region: 'eu-west-1' } });
      const { lines, logger } = capture('debug');
      logger.info('config', cfg as unknown as Record<string, unknown>);
      logger.info('wrapped', { config: cfg });
      assertNoSecrets(lines.join(''));
      assert.match(lines[0], /"region":"eu-west-1"/, 'other fields are still printed');
      assert.match(lines[0], /"secret_access_key":"\*\*\*"/);
      for (const field of secretFields) assert.match(lines[0], new RegExp(`"${field.split('.')[1]}":"\\*\\*\\*"`));
    });

    it('masks the password of a URL in any value (db.url)', function () {
      const { lines, logger } = capture('debug');
      logger.info('db', { db: { url: `postgres://cedana:${SECRETS[2]}@db.example:5432/jobs` }, list: [`postgresql://u:${SECRETS[3]}@h/x`] });
      assertNoSecrets(lines.join(''));
      assert.match(lines[0], /postgres:\/\/cedana:\*\*\*@db\.example:5432\/jobs/);
      assert.match(lines[0], /postgresql:\/\/u:\*\*\*@h\/x/);
    });

    it('masks secret-looking keys in environment maps and inside arrays', function () {
      const { lines, logger } = capture('debug');
      logger.debug('run', {
        env: { PATH: '/usr/bin', AWS_SECRET_ACCESS_KEY: SECRETS[1], DB_PASSWORD: SECRETS[2], GITHUB_TOKEN: SECRETS[3] },
        plugins: [{ name: 'storage', settings: { private_key: SECRETS[4] } }, [{ credentials: SECRETS[5] }]],
        access_key_id: SECRETS[0],
      });
      assertNoSecrets(lines.join(''));
      assert.match(lines[0], /"PATH":"\/usr\/bin"/);
      assert.match(lines[0], /"name":"storage"/);
    });

    it('does not change what it is given', function () {
      const fields = { password: 'p', nested: { token: 't' }, list: [{ secret: 's' }] };
      const copy = structuredClone(fields);
      const out = redact(fields);
      assert.deepEqual(fields, copy);
      assert.deepEqual(out, { password: '***', nested: { token: '***' }, list: [{ secret: '***' }] });
    });

    it('keeps plain values, null and arrays of scalars', function () {
      assert.deepEqual(redact({ a: 1, b: null, c: ['x', 2], d: true, e: 'secretive value, harmless key' }), { a: 1, b: null, c: ['x', 2], d: true, e: 'secretive value, harmless key' });
    });
  });
});
