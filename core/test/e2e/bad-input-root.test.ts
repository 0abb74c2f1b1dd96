/**
 * Not root: the CLI run as `nobody` against a root daemon says it lacks permission (not that the daemon is
 * missing), and `daemon start` as `nobody` says it must run as root. Needs root (to switch user).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, TestEnv, type CliResult } from '../helpers/env';
import { expectError } from '../helpers/bad-input';
import { psJson } from '../helpers/e2e';

const NOBODY = 65534;

/**
 * Loads the CLI as root, then drops to nobody before running `cedana ARGS…`: the checkout may sit where nobody
 * cannot read (a root-owned home), and what is tested is the CLI's behaviour as nobody, not file permissions.
 */
const AS_NOBODY = `
  const { main } = require(${JSON.stringify(join(CLI, '..', '..', 'dist', 'src', 'cli', 'main.js'))});
  process.setgroups([]); process.setgid(${NOBODY}); process.setuid(${NOBODY}); process.chdir('/');
  main(process.argv.slice(1)).then((code) => { process.exitCode = code; });
`;

/** Runs `cedana ARGS…` as nobody, with the environment's variables (and `extra`). */
function asNobody(env: TestEnv, args: string[], extra: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, ['-e', AS_NOBODY, ...args], {
    env: { ...env.env, HOME: '/', ...extra },
    encoding: 'utf8',
    timeout: 60_000,
    cwd: '/',
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function asNobodyProbe(): string {
  const script = `process.setgroups([]); process.setgid(${NOBODY}); process.setuid(${NOBODY}); console.log(process.getuid())`;
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }).stdout;
}

describe('e2e: not root', function () {
  this.timeout(120_000);
  let env: TestEnv;

  before(async function () {
    assert.equal(process.getuid?.(), 0, 'the tests run as root');
    const probe = asNobodyProbe();
    assert.equal(probe.trim(), String(NOBODY), 'the CLI process runs as nobody');
    env = new TestEnv();
    await env.startDaemon();
  });

  after(async function () {
    if (env) {
      chmodSync(env.dir, 0o700);
      await env.cleanup();
    }
  });

  it('the socket sits in a directory nobody cannot enter: permission denied, not "not running"', function () {
    assert.equal(statSync(env.dir).mode & 0o777, 0o700);
    for (const args of [['ps'], ['dump', 'process', '1'], ['daemon', 'check']]) {
      const msg = expectError(asNobody(env, args), /permission denied/, new RegExp(env.socket), /root/);
      assert.doesNotMatch(msg, /not running/);
    }
  });

  it('the socket is root-only (0600) in a directory nobody can enter: permission denied', function () {
    chmodSync(env.dir, 0o711);
    try {
      assert.equal(statSync(env.socket).mode & 0o777, 0o600);
      expectError(asNobody(env, ['ps']), /permission denied/, new RegExp(env.socket), /run cedana as root/);
      expectError(asNobody(env, ['run', 'process', '--', 'sleep', '300']), /permission denied/);
    } finally {
      chmodSync(env.dir, 0o700);
    }
    assert.deepEqual(psJson(env), [], 'nothing was started');
  });

  it('daemon start as nobody: must run as root', function () {
    const dir = mkdtempSync(join(tmpdir(), 'cedana-nobody-'));
    chmodSync(dir, 0o777);
    try {
      const address = join(dir, 'nobody.sock');
      const r = asNobody(env, ['daemon', 'start'], { CEDANA_ADDRESS: address, CEDANA_DB_PATH: join(dir, 'nobody.db'), CEDANA_CONFIG_DIR: join(dir, 'config') });
      expectError(r, /daemon must run as root/, /sudo/);
      assert.equal(existsSync(address), false, 'no socket');
      assert.equal(existsSync(join(dir, 'nobody.db')), false, 'no database');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the root daemon is still there for root', function () {
    assert.deepEqual(psJson(env), []);
  });
});
