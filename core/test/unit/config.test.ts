/**
 * Configuration loading: defaults, config.json, `--config` JSON, `CEDANA_<SECTION>_<FIELD>` variables, their
 * precedence, the errors for bad values (naming where the value came from), and `initConfig`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { CONFIG_FILE, DEFAULT_CONFIG_DIR, configDirOf, envNames, initConfig, loadConfig } from '../../src/config/load';
import { ConfigSchema, listenAddress } from '../../src/config/schema';

function badConfig(fn: () => unknown, ...patterns: RegExp[]): CedanaError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CedanaError, `expected a CedanaError, got ${String(caught)}`);
  assert.equal(caught.code, ErrorCode.InvalidArgument);
  for (const p of patterns) assert.match(caught.fullMessage, p);
  assert.doesNotMatch(caught.fullMessage, /\n/, 'one line');
  return caught;
}

describe('config', function () {
  let dir: string;
  let configDir: string;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'cedana-unit-config-'));
    configDir = join(dir, 'conf');
    mkdirSync(configDir);
  });

  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  const writeFile = (value: unknown) => writeFileSync(join(configDir, CONFIG_FILE), typeof value === 'string' ? value : JSON.stringify(value));

  describe('defaults', function () {
    it('are Cedana’s when there is no file, no --config and no variables', function () {
      const cfg = loadConfig({ configDir, env: {} });
      assert.deepEqual(cfg, ConfigSchema.parse({}));
      assert.equal(cfg.address, '');
      assert.equal(cfg.protocol, 'unix');
      assert.equal(cfg.log_level, 'info');
      assert.equal(cfg.checkpoint.dir, '/tmp');
      assert.equal(cfg.checkpoint.compression, 'none');
      assert.equal(cfg.db.path, '/var/lib/cedana/cedana.db');
      assert.equal(cfg.db.remote, false);
      assert.equal(cfg.criu.binary_path, '');
      assert.deepEqual(cfg.plugins.required, []);
      assert.equal(listenAddress(cfg), '/run/cedana.sock');
      assert.equal(listenAddress({ address: '', protocol: 'tcp' }), '127.0.0.1:8080', 'loopback unless told otherwise');
      assert.equal(listenAddress({ address: '/x.sock', protocol: 'unix' }), '/x.sock');
    });

    it('live in /etc/cedana unless --config-dir or CEDANA_CONFIG_DIR says otherwise', function () {
      assert.equal(configDirOf({ env: {} }), DEFAULT_CONFIG_DIR);
      assert.equal(configDirOf({ env: { CEDANA_CONFIG_DIR: '/a' } }), '/a');
      assert.equal(configDirOf({ configDir: '/b', env: { CEDANA_CONFIG_DIR: '/a' } }), '/b');
    });

    it('CEDANA_CONFIG_DIR of the process is used when no env is passed (as the CLI calls it)', function () {
      writeFile({ checkpoint: { compression: 'lz4' } });
      const saved = process.env.CEDANA_CONFIG_DIR;
      process.env.CEDANA_CONFIG_DIR = configDir;
      try {
        assert.equal(configDirOf({}), configDir);
        assert.equal(loadConfig({}).checkpoint.compression, 'lz4');
      } finally {
        if (saved === undefined) delete process.env.CEDANA_CONFIG_DIR;
        else process.env.CEDANA_CONFIG_DIR = saved;
      }
    });
  });

  describe('config.json', function () {
    it('sets fields and keeps the defaults of the others', function () {
      writeFile({ checkpoint: { dir: '/var/ckpt', compression: 'gz' }, log_level: 'debug', plugins: { required: ['runtime.process'] } });
      const cfg = loadConfig({ configDir, env: {} });
      assert.equal(cfg.checkpoint.dir, '/var/ckpt');
      assert.equal(cfg.checkpoint.compression, 'gzip', 'the gz alias');
      assert.equal(cfg.checkpoint.streams, 0);
      assert.equal(cfg.log_level, 'debug');
      assert.deepEqual(cfg.plugins.required, ['runtime.process']);
      assert.equal(cfg.db.path, '/var/lib/cedana/cedana.db');
    });

    it('a bad value names the field, the file and what to do', function () {
      writeFile({ checkpoint: { compression: 'rar' } });
      badConfig(() => loadConfig({ configDir, env: {} }), /^bad config \(.*conf\/config\.json\)/, /checkpoint\.compression/, /unknown compression 'rar'/, /none, tar, gzip, lz4, zlib/, /fix the value or delete the field/);
    });

    it('an unknown field is refused, nested or not', function () {
      writeFile({ checkpoint: { compresion: 'gzip' } });
      badConfig(() => loadConfig({ configDir, env: {} }), /unknown field checkpoint\.compresion/, /config\.json/);
      writeFile({ colour: true });
      badConfig(() => loadConfig({ configDir, env: {} }), /unknown field colour/);
    });

    it('invalid JSON, or JSON that is not an object, is refused naming the file', function () {
      writeFile('{"checkpoint": ');
      badConfig(() => loadConfig({ configDir, env: {} }), /config file .*config\.json is not valid JSON/);
      writeFile('[1, 2]');
      badConfig(() => loadConfig({ configDir, env: {} }), /config file .*config\.json must be a JSON object/);
      writeFile('null');
      badConfig(() => loadConfig({ configDir, env: {} }), /must be a JSON object/);
    });

    it('wrong types are refused', function () {
      writeFile({ checkpoint: { streams: 'four' } });
      badConfig(() => loadConfig({ configDir, env: {} }), /checkpoint\.streams/);
      writeFile({ checkpoint: { streams: 65 } });
      badConfig(() => loadConfig({ configDir, env: {} }), /checkpoint\.streams/);
      writeFile({ protocol: 'udp' });
      badConfig(() => loadConfig({ configDir, env: {} }), /unknown protocol 'udp' \(use unix or tcp\)/);
    });
  });

  describe('--config', function () {
    it('is merged over the file, field by field', function () {
      writeFile({ checkpoint: { dir: '/from-file', compression: 'lz4' }, log_level: 'warn' });
      const cfg = loadConfig({ configDir, env: {}, configJson: '{"checkpoint": {"compression": "zlib"}}' });
      assert.equal(cfg.checkpoint.compression, 'zlib');
      assert.equal(cfg.checkpoint.dir, '/from-file', 'sibling fields of the file survive the merge');
      assert.equal(cfg.log_level, 'warn');
    });

    it('replaces arrays rather than merging them', function () {
      writeFile({ plugins: { required: ['a', 'b'] } });
      assert.deepEqual(loadConfig({ configDir, env: {}, configJson: '{"plugins": {"required": ["c"]}}' }).plugins.required, ['c']);
    });

    it('bad JSON is refused as --config', function () {
      badConfig(() => loadConfig({ configDir, env: {}, configJson: '{bad' }), /^--config is not valid JSON/);
      badConfig(() => loadConfig({ configDir, env: {}, configJson: '"a string"' }), /^--config must be a JSON object/);
    });

    it('a bad value in it is refused', function () {
      badConfig(() => loadConfig({ configDir, env: {}, configJson: '{"checkpoint": {"compression": "rar"}}' }), /--config/, /unknown compression 'rar'/);
      badConfig(() => loadConfig({ configDir, env: {}, configJson: '{"nope": 1}' }), /unknown field nope/);
    });
  });

  describe('environment variables', function () {
    const cases: [string, string, (c: ReturnType<typeof loadConfig>) => unknown, unknown][] = [
      ['CEDANA_ADDRESS', '/run/other.sock', (c) => c.address, '/run/other.sock'],
      ['CEDANA_PROTOCOL', 'TCP', (c) => c.protocol, 'tcp'],
      ['CEDANA_DB_PATH', '/var/lib/cedana/jobs.db', (c) => c.db.path, '/var/lib/cedana/jobs.db'],
      ['CEDANA_DB_REMOTE', 'true', (c) => c.db.remote, true],
      ['CEDANA_CHECKPOINT_DIR', '/data/ckpt', (c) => c.checkpoint.dir, '/data/ckpt'],
      ['CEDANA_CHECKPOINT_COMPRESSION', 'LZ4', (c) => c.checkpoint.compression, 'lz4'],
      ['CEDANA_CHECKPOINT_STREAMS', '4', (c) => c.checkpoint.streams, 4],
      ['CEDANA_LOG_LEVEL', 'debug', (c) => c.log_level, 'debug'],
      ['CEDANA_LOG_LEVEL_NO_SERVER', 'error', (c) => c.log_level_no_server, 'error'],
      ['CEDANA_CRIU_BINARY_PATH', '/opt/criu/sbin/criu', (c) => c.criu.binary_path, '/opt/criu/sbin/criu'],
      ['CEDANA_CRIU_LEAVE_RUNNING', 'yes', (c) => c.criu.leave_running, true],
      ['CEDANA_CRIU_LOG_LEVEL', '4', (c) => c.criu.log_level, 4],
      ['CEDANA_PLUGINS_LIB_DIR', '/opt/plugins', (c) => c.plugins.lib_dir, '/opt/plugins'],
      ['CEDANA_PLUGINS_REQUIRED', 'runtime.process, storage.s3', (c) => c.plugins.required, ['runtime.process', 'storage.s3']],
      ['CEDANA_WAIT_FOR_READY', '1', (c) => c.client.wait_for_ready, true],
      ['CEDANA_CLIENT_WAIT_FOR_READY', 'on', (c) => c.client.wait_for_ready, true],
      ['AWS_REGION', 'eu-west-1', (c) => c.aws.region, 'eu-west-1'],
      ['CEDANA_AWS_REGION', 'us-east-2', (c) => c.aws.region, 'us-east-2'],
    ];
    for (const [name, value, get, want] of cases) {
      it(`${name}=${value}`, function () {
        assert.deepEqual(get(loadConfig({ configDir, env: { [name]: value } })), want);
      });
    }

    it('names follow CEDANA_<SECTION>_<FIELD>, plus the aliases', function () {
      assert.deepEqual(envNames(['checkpoint', 'compression']), ['CEDANA_CHECKPOINT_COMPRESSION']);
      assert.deepEqual(envNames(['address']), ['CEDANA_ADDRESS']);
      assert.deepEqual(envNames(['aws', 'secret_access_key']), ['CEDANA_AWS_SECRET_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY']);
      assert.deepEqual(envNames(['client', 'wait_for_ready']), ['CEDANA_CLIENT_WAIT_FOR_READY', 'CEDANA_WAIT_FOR_READY']);
    });

    it('false-ish booleans are false', function () {
      for (const v of ['0', 'false', 'no', 'off', 'FALSE', '']) {
        assert.equal(loadConfig({ configDir, env: { CEDANA_CRIU_LEAVE_RUNNING: v } }).criu.leave_running, false, v);
      }
    });

    it('a bad value names the variable', function () {
      badConfig(() => loadConfig({ configDir, env: { CEDANA_CHECKPOINT_COMPRESSION: 'rar' } }), /^bad config \(CEDANA_CHECKPOINT_COMPRESSION\)/, /unknown compression 'rar'/);
      badConfig(() => loadConfig({ configDir, env: { CEDANA_CHECKPOINT_STREAMS: 'many' } }), /\(CEDANA_CHECKPOINT_STREAMS\)/, /checkpoint\.streams/);
      badConfig(() => loadConfig({ configDir, env: { CEDANA_DB_REMOTE: 'maybe' } }), /\(CEDANA_DB_REMOTE\)/);
      badConfig(() => loadConfig({ configDir, env: { CEDANA_PROTOCOL: 'udp' } }), /\(CEDANA_PROTOCOL\)/, /unknown protocol 'udp'/);
      badConfig(() => loadConfig({ configDir, env: { CEDANA_LOG_LEVEL: 'loud' } }), /\(CEDANA_LOG_LEVEL\)/, /log_level/);
    });

    it('unrelated CEDANA_ variables are ignored', function () {
      assert.deepEqual(loadConfig({ configDir, env: { CEDANA_SOMETHING_ELSE: 'x', CEDANA_CONFIG_DIR: configDir } }), ConfigSchema.parse({}));
    });
  });

  describe('precedence', function () {
    it('variables beat --config, which beats the file, which beats the defaults', function () {
      writeFile({ checkpoint: { compression: 'tar', dir: '/file-dir' }, db: { path: '/file.db' }, log_level: 'warn' });
      const configJson = JSON.stringify({ checkpoint: { compression: 'gzip', dir: '/json-dir' } });
      const cfg = loadConfig({ configDir, configJson, env: { CEDANA_CHECKPOINT_COMPRESSION: 'lz4' } });
      assert.equal(cfg.checkpoint.compression, 'lz4', 'env over --config');
      assert.equal(cfg.checkpoint.dir, '/json-dir', '--config over file');
      assert.equal(cfg.db.path, '/file.db', 'file over default');
      assert.equal(cfg.log_level, 'warn');
      assert.equal(cfg.criu.log_level, 2, 'default');
    });

    it('a good variable rescues a bad file value', function () {
      writeFile({ checkpoint: { compression: 'rar' } });
      assert.equal(loadConfig({ configDir, env: { CEDANA_CHECKPOINT_COMPRESSION: 'zlib' } }).checkpoint.compression, 'zlib');
    });
  });

  describe('initConfig', function () {
    it('writes the defaults with variable overrides, root-readable only, once', function () {
      const fresh = join(dir, 'new-conf');
      const first = initConfig({ configDir: fresh, env: { CEDANA_CHECKPOINT_DIR: '/ckpt' } });
      assert.deepEqual(first, { path: join(fresh, CONFIG_FILE), written: true });
      assert.equal(statSync(first.path).mode & 0o777, 0o600);
      const written = JSON.parse(readFileSync(first.path, 'utf8')) as ReturnType<typeof loadConfig>;
      assert.equal(written.checkpoint.dir, '/ckpt');
      assert.deepEqual(written, loadConfig({ configDir: fresh, env: {} }), 'the file loads back to the same config');

      // An edited file is left as it is.
      writeFileSync(first.path, JSON.stringify({ log_level: 'error' }));
      const second = initConfig({ configDir: fresh, env: { CEDANA_CHECKPOINT_DIR: '/elsewhere' } });
      assert.deepEqual(second, { path: first.path, written: false });
      assert.deepEqual(JSON.parse(readFileSync(first.path, 'utf8')), { log_level: 'error' });
    });

    it('writes nothing when the config is bad', function () {
      const fresh = join(dir, 'bad-conf');
      assert.throws(() => initConfig({ configDir: fresh, env: { CEDANA_CHECKPOINT_COMPRESSION: 'rar' } }), /CEDANA_CHECKPOINT_COMPRESSION/);
      assert.throws(() => statSync(join(fresh, CONFIG_FILE)), /ENOENT/);
    });
  });
});
