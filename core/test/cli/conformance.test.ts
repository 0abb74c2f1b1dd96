/**
 * The CLI conformance table (cedana-reference.ts): each command line of Cedana's reference runs through the real
 * CLI (parsing, handler, gRPC client) in this process, against a daemon stand-in that records what reaches it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { RecordingDaemon } from '../helpers/recording-daemon';
import { REFERENCE, type Entry } from './cedana-reference';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cedana <argv>` in this process with its output captured. */
async function cedana(argv: string[]): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const log = console.log;
  process.stdout.write = ((s: string | Uint8Array) => ((stdout += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((stderr += String(s)), true)) as typeof process.stderr.write;
  console.log = (...a: unknown[]) => void (stdout += `${a.map(String).join(' ')}\n`);
  process.exitCode = undefined;
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    console.log = log;
    process.exitCode = undefined;
  }
}

/** `actual` has every field of `expected` (arrays and scalars equal; objects compared field by field). */
function assertHas(actual: Record<string, unknown>, expected: Record<string, unknown>, where: string): void {
  for (const [k, v] of Object.entries(expected)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) assertHas((actual[k] ?? {}) as Record<string, unknown>, v as Record<string, unknown>, `${where}.${k}`);
    else assert.deepEqual(actual[k], v, `${where}.${k}`);
  }
}

describe('CLI conformance with Cedana’s reference', function () {
  this.timeout(30_000);
  const daemon = new RecordingDaemon();
  const tmp = mkdtempSync(join(tmpdir(), 'cedana-conf-'));
  const saved = { address: process.env.CEDANA_ADDRESS, dir: process.env.CEDANA_CONFIG_DIR };

  before(async () => {
    await daemon.start();
    process.env.CEDANA_ADDRESS = daemon.socket;
    process.env.CEDANA_CONFIG_DIR = join(tmp, 'config');
  });
  after(async () => {
    process.env.CEDANA_ADDRESS = saved.address;
    process.env.CEDANA_CONFIG_DIR = saved.dir;
    if (saved.address === undefined) delete process.env.CEDANA_ADDRESS;
    if (saved.dir === undefined) delete process.env.CEDANA_CONFIG_DIR;
    await daemon.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const check = (e: Entry) =>
    it(`cedana ${e.argv.join(' ')}`, async () => {
      const argv = e.argv.map((a) => a.replace('@TMP', tmp).replace('@DAEMON', daemon.socket));
      daemon.take();
      const r = await cedana(argv);
      const ctx = `exit ${r.code}; stdout: ${r.stdout.slice(0, 300)}; stderr: ${r.stderr.slice(0, 300)}`;
      assert.equal(r.code, e.exit ?? 0, ctx);
      if (e.stdout) assert.match(r.stdout, e.stdout, ctx);
      if (e.stderr) assert.match(r.stderr, e.stderr, ctx);
      const calls = daemon.take();
      if (e.rpc) {
        const call = calls.find((c) => c.method === e.rpc);
        assert.ok(call, `no ${e.rpc} call reached the daemon (calls: ${calls.map((c) => c.method).join(', ') || 'none'}); ${ctx}`);
        const { options, ...fields } = e.request ?? {};
        assertHas(call.request, fields, e.rpc);
        if (options) assertHas(JSON.parse(String(call.request.optionsJson || '{}')) as Record<string, unknown>, options as Record<string, unknown>, 'options');
      } else if ((e.exit ?? 0) !== 0) {
        assert.equal(calls.length, 0, `a refused command line must not reach the daemon (${calls.map((c) => c.method).join(', ')})`);
      }
    });

  describe('commands and flags', () => REFERENCE.forEach(check));

  it('completion leaves the caller’s SHELL as it found it, unset included', async () => {
    const saved = process.env.SHELL;
    try {
      delete process.env.SHELL;
      assert.equal((await cedana(['completion', 'zsh'])).code, 0);
      assert.equal(process.env.SHELL, undefined, 'SHELL was set by completion');
      process.env.SHELL = '/bin/dash';
      assert.equal((await cedana(['completion', 'zsh'])).code, 0);
      assert.equal(process.env.SHELL, '/bin/dash');
    } finally {
      if (saved === undefined) delete process.env.SHELL;
      else process.env.SHELL = saved;
    }
  });

  it('--profiling-path writes how long the command took as JSON', async () => {
    const path = join(tmp, 'prof2.json');
    assert.equal((await cedana(['--profiling', '--profiling-path', path, 'ps'])).code, 0);
    const prof = JSON.parse(readFileSync(path, 'utf8')) as { command: string; durationMs: number; exitCode: number };
    assert.equal(prof.command, 'ps');
    assert.equal(prof.exitCode, 0);
    assert.ok(prof.durationMs > 0);
  });

  it('--result-file holds the dump response as JSON', async () => {
    const path = join(tmp, 'result2.json');
    assert.equal((await cedana(['dump', 'job', 'J', '--result-file', path])).code, 0);
    assert.equal((JSON.parse(readFileSync(path, 'utf8')) as { checkpoint: { path: string } }).checkpoint.path, '/ckpt/rec.tar');
  });

  it('accepts every CEDANA_* variable Cedana reads (pkg/config at fe39c08), ignoring those it has no use for', async () => {
    const cedanaEnv: Record<string, string> = {
      CEDANA_PROTOCOL: 'UNIX', CEDANA_LOG_LEVEL: 'debug', CEDANA_LOG_LEVEL_NO_SERVER: 'warn', CEDANA_METRICS: 'false', CEDANA_METRICS_ENABLED: 'false',
      CEDANA_CONNECTION_URL: 'https://example.invalid/v1', CEDANA_URL: 'https://example.invalid/v1', CEDANA_CONNECTION_AUTH_TOKEN: 't', CEDANA_AUTH_TOKEN: 't',
      CEDANA_CONNECTION_CLUSTER_ID: 'c', CEDANA_CLUSTER_ID: 'c', CEDANA_CHECKPOINT_DIR: '/tmp', CEDANA_CHECKPOINT_COMPRESSION: 'lz4', CEDANA_CHECKPOINT_STREAMS: '0',
      CEDANA_CHECKPOINT_STREAM_MEMORY_LIMIT: '4000', CEDANA_CHECKPOINT_ASYNC: 'false', CEDANA_DB_REMOTE: 'false', CEDANA_REMOTE: 'false', CEDANA_DB_PATH: join(tmp, 'env.db'),
      CEDANA_PROFILING_ENABLED: 'true', CEDANA_PROFILING_DETAILED: 'true', CEDANA_PROFILING_PRECISION: 'auto', CEDANA_CLIENT_WAIT_FOR_READY: 'false', CEDANA_WAIT_FOR_READY: 'false',
      CEDANA_CRIU_BINARY_PATH: '', CEDANA_CRIU_LEAVE_RUNNING: 'false', CEDANA_CRIU_MANAGE_CGROUPS: 'ignore', CEDANA_CRIU_LOG_LEVEL: '2',
      CEDANA_GPU_POOL_SIZE: '0', CEDANA_GPU_LOG_DIR: '/tmp', CEDANA_GPU_SOCK_DIR: '/tmp', CEDANA_GPU_SHM_SIZE: '8589934592', CEDANA_GPU_DEDUP_ENABLED: 'false',
      CEDANA_GPU_TEMPLATES_ENABLED: 'false', CEDANA_GPU_DEBUG: 'false', CEDANA_PLUGINS_BIN_DIR: '/usr/local/bin', CEDANA_PLUGINS_LIB_DIR: join(tmp, 'plugins'),
      CEDANA_PLUGINS_BUILDS: 'release', CEDANA_PLUGINS_BUILD: 'release', CEDANA_PLUGINS_LOCAL_SEARCH_PATH: '/tmp', CEDANA_SLURM_DB_HOST: 'h', CEDANA_SLURM_DB_SOCKET: '/s',
      CEDANA_SLURM_DB_PORT: '3306', CEDANA_SLURM_DB_NAME: 'slurm_acct_db', CEDANA_AWS_ACCESS_KEY_ID: 'k', CEDANA_AWS_SECRET_ACCESS_KEY: 's', CEDANA_AWS_REGION: 'us-east-1',
      CEDANA_AWS_ENDPOINT: 'http://127.0.0.1:1', CEDANA_UNPRIVILEGED: 'false',
    };
    for (const [k, v] of Object.entries(cedanaEnv)) process.env[k] = v;
    try {
      const r = await cedana(['ps']);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      for (const k of Object.keys(cedanaEnv)) delete process.env[k];
    }
  });

  it('--init-config writes the config file into --config-dir', async () => {
    const dir = join(tmp, 'init');
    assert.equal((await cedana(['--config-dir', dir, '--init-config', 'version'])).code, 0);
    assert.ok(existsSync(join(dir, 'config.json')));
  });
});
