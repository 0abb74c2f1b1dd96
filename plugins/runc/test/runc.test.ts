/**
 * The runc plugin's own parts: flags, option parsing, the reasons it quotes, and init against the real runc.
 * (Running, dumping and restoring containers is tested end to end in core/test/e2e/runc.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CedanaError, ErrorCode, PluginSkipped, type PluginContext, type PluginManifest } from '@cedana-ts/sdk';
import plugin from '../src/index';
import { criuErrorLines, runcLogErrors } from '../src/command';
import { absoluteDir, containerId, RuncOptions, runcSettings } from '../src/options';
import { criuFlags, Runc } from '../src/runc';

const noCriu = { leaveRunning: false, tcpEstablished: false, fileLocks: false, shellJob: false, extUnixSk: false };

function context(config: unknown): PluginContext {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  return {
    manifest: { type: 'runtime', id: 'runc', sdk: '^0.1.0', name: '@cedana-ts/plugin-runc', version: '0.1.0', main: 'dist/src/index.js' } as PluginManifest,
    logger: quiet,
    settings: { criuPath: 'criu', tmpDir: tmpdir() },
    children: { watch: () => new Promise(() => undefined) },
    config,
  };
}

describe('runc plugin', () => {
  describe('criuFlags', () => {
    it('passes each asked option as runc flag', () => {
      assert.deepEqual(criuFlags({ ...noCriu, leaveRunning: true, tcpEstablished: true, fileLocks: true }, 'checkpoint'), ['--leave-running', '--tcp-established', '--file-locks']);
      assert.deepEqual(criuFlags(noCriu, 'checkpoint'), []);
    });

    it('never passes --leave-running to a restore', () => {
      assert.deepEqual(criuFlags({ ...noCriu, leaveRunning: true, extUnixSk: true, shellJob: true }, 'restore'), ['--shell-job', '--ext-unix-sk']);
    });
  });

  describe('options', () => {
    it('accepts the documented flags and refuses others', () => {
      assert.deepEqual(RuncOptions.parse({ bundle: '/b', id: 'c1', root: '/r' }), { bundle: '/b', id: 'c1', root: '/r' });
      assert.equal(RuncOptions.safeParse({ bogus: 1 }).success, false);
    });

    it('takes a numeric --id as a string', () => {
      assert.equal(RuncOptions.parse({ id: 42 }).id, '42');
    });

    it('takes --preserve-fds as the CLI passes it (a string) and refuses what is no count', () => {
      assert.equal(RuncOptions.parse({ preserveFds: '2' }).preserveFds, 2);
      assert.equal(RuncOptions.safeParse({ preserveFds: 'two' }).success, false);
      assert.equal(RuncOptions.safeParse({ preserveFds: '-1' }).success, false);
    });

    it('refuses container ids runc would refuse', () => {
      assert.throws(() => containerId('a/b'), (e: CedanaError) => e.code === ErrorCode.InvalidArgument && /not a container id/.test(e.message));
      assert.equal(containerId('ok_id-1.2'), 'ok_id-1.2');
    });

    it('resolves a relative bundle from the caller’s directory, and refuses one without a directory', () => {
      assert.equal(absoluteDir('b', '/home/u', '--bundle'), '/home/u/b');
      assert.equal(absoluteDir('/abs', undefined, '--bundle'), '/abs');
      assert.throws(() => absoluteDir('b', undefined, '--bundle'), /--bundle b is not an absolute path/);
    });

    it('reads runc.binary and runc.root from the host config, with defaults', () => {
      assert.deepEqual(runcSettings({ runc: { binary: '/opt/runc', root: '/r' } }), { binary: '/opt/runc', root: '/r' });
      assert.deepEqual(runcSettings({}), { binary: 'runc', root: '/run/runc' });
      assert.deepEqual(runcSettings(undefined), { binary: 'runc', root: '/run/runc' });
    });
  });

  describe('reasons', () => {
    it('quotes the error entries of runc’s JSON log', () => {
      const log = ['{"level":"info","msg":"fine"}', '{"level":"error","msg":"container does not exist"}', 'not json but an error line'].join('\n');
      assert.deepEqual(runcLogErrors(log), ['container does not exist', 'not json but an error line']);
    });

    it('quotes CRIU’s Error lines, less the RLIMIT one it always prints', () => {
      const log = ['(00.01) Error (criu/util.c:1534): rlimit: Can\'t setup RLIMIT_NOFILE for self', '(00.14) Error (criu/files-reg.c:1790): Can\'t lookup mount=27 for fd=1', '(00.15) info'].join('\n');
      assert.deepEqual(criuErrorLines(log), ['Error (criu/files-reg.c:1790): Can\'t lookup mount=27 for fd=1']);
    });
  });

  describe('against the real runc', () => {
    let root: string;
    before(() => {
      root = mkdtempSync(join(tmpdir(), 'cedana-runc-unit-'));
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    it('reads runc’s version, and knows no container in an empty root', async () => {
      const runc = new Runc({ binary: 'runc', root, criu: 'criu', tmpDir: tmpdir() });
      assert.match((await runc.version()) ?? '', /^1\.\d+/);
      assert.equal(await runc.state('nothing-here'), null);
      await assert.rejects(runc.running('nothing-here'), (e: CedanaError) => e.code === ErrorCode.NotFound && e.message.includes(root));
    });

    it('init: ok with the dump and restore features where runc and CRIU run', async () => {
      const instance = await plugin.init(context({ runc: { binary: 'runc', root } }));
      assert.ok(instance.runtime);
      assert.equal(instance.runtime.type, 'runc');
      for (const f of ['run', 'manage', 'dump', 'restore', 'kill']) assert.ok(instance.features.includes(f as never), f);
      const health = await instance.health!();
      assert.equal(health.find((h) => h.name === 'runc version')?.level, 'ok');
    });

    it('init: skipped, with the reason, where runc is missing', async () => {
      await assert.rejects(plugin.init(context({ runc: { binary: '/nonexistent/runc', root } })), (e: Error) => e instanceof PluginSkipped && /runc not found/.test(e.message));
    });
  });
});
