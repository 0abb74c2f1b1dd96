/**
 * A third-party plugin, built the way docs/plugins.md tells: a TypeScript package in a directory outside the
 * workspace that depends on the packed SDK from the store (its build tools come from pnpm's store), its own mocha
 * test running the SDK's runtime conformance suite, `pnpm pack`, `cedana plugin install ./x.tgz`. Then a real
 * daemon loads it, runs a job with it, refuses to remove it while that job runs, and reloads without it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PluginStore } from '../../src/plugins/packages/store';
import { TestEnv, waitFor } from '../helpers/env';
import { isAlive, logLines, teardown } from '../helpers/e2e';
import { expectError } from '../helpers/bad-input';
import { pnpmPack, REPO_STORE, tempDir, writePackage } from '../helpers/plugin-fixtures';

const NAME = '@acme/cedana-plugin-sleeper';

const INDEX_TS = `/**
 * The sleeper runtime: runs a command as a job, and kills it. No checkpoints.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { z } from 'zod';
import { CedanaError, ErrorCode, Feature, definePlugin, type JobRef, type Runtime, type RunSpec, type StartedJob } from '@cedana-ts/sdk';

class SleeperRuntime implements Runtime {
  readonly optionsSchema = z.object({}).strict();
  constructor(readonly type: string) {}

  async run(spec: RunSpec): Promise<StartedJob> {
    const fd = openSync(spec.logPath, 'a');
    const child = spawn(spec.args[0], spec.args.slice(1), { cwd: spec.cwd, detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    await new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    return { pid: child.pid!, details: { cmdline: spec.args }, exited };
  }
  async manage(): Promise<StartedJob> {
    throw new CedanaError(ErrorCode.Unsupported, 'the sleeper runtime cannot manage processes');
  }
  async dump(): Promise<never> {
    throw new CedanaError(ErrorCode.Unsupported, 'the sleeper runtime cannot checkpoint');
  }
  async restore(): Promise<never> {
    throw new CedanaError(ErrorCode.Unsupported, 'the sleeper runtime cannot restore');
  }
  async kill(job: JobRef, signal: NodeJS.Signals): Promise<void> {
    try {
      process.kill(-job.pid, signal); // the job leads its own process group
    } catch {
      throw new CedanaError(ErrorCode.FailedPrecondition, \`job \${job.jid} is not running\`);
    }
  }
}

export default definePlugin({
  async init(ctx) {
    return { runtime: new SleeperRuntime(ctx.manifest.id), features: [Feature.Run, Feature.Kill], info: { author: 'acme' } };
  },
});
`;

const TEST_TS = `import { parseManifest } from '@cedana-ts/sdk';
import { runtimeSuite, testContext } from '@cedana-ts/sdk/testing';
import plugin from '../src';

const manifest = parseManifest(require('../../package.json'));

runtimeSuite({ describe, it, before, after }, {
  manifest,
  setup: () => plugin.init(testContext(manifest)),
  // One process, as the suite asks: a shell's sleep child would outlive a kill as a zombie in the job's group.
  workload: () => ({ args: ['python3', '-u', '-c', 'import time\\nwhile True:\\n    print("tick")\\n    time.sleep(0.1)'] }),
});
`;

interface FeaturesJson {
  plugins: { name: string; id: string; status: string }[];
  features: { feature: string; plugins: Record<string, string> }[];
}

describe('e2e: a third-party plugin, from the SDK alone', function () {
  this.timeout(180_000);
  let env: TestEnv | undefined;
  let dir: string | undefined;

  after(async () => {
    await teardown(env);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('builds, passes the conformance suite, packs, installs, loads, runs a job, and is removed', async () => {
    const sdk = (await new PluginStore(REPO_STORE).entries()).find((e) => e.name === '@cedana-ts/sdk');
    assert.ok(sdk, `no packed SDK in ${REPO_STORE}: run scripts/setup-plugin-store.sh`);
    dir = tempDir('third-party');
    writePackage(
      dir,
      {
        name: NAME,
        version: '1.0.0',
        description: 'Runs commands as jobs; a test plugin',
        main: 'dist/src/index.js',
        files: ['dist/src'],
        keywords: ['cedana-plugin'],
        cedana: { type: 'runtime', id: 'sleeper', sdk: '^0.1.0', provides: ['run', 'kill'], description: 'commands as jobs, no checkpoints' },
        scripts: { build: 'tsc -p tsconfig.json', test: "mocha --forbid-only --timeout 30000 'dist/test/**/*.test.js'" },
        peerDependencies: { '@cedana-ts/sdk': `^${sdk.version}` },
        dependencies: { zod: '^4.1.0' },
        devDependencies: {
          '@cedana-ts/sdk': `file:${join(REPO_STORE, sdk.file)}`,
          typescript: '~5.9.3',
          '@types/node': '^24.0.0',
          mocha: '^11.7.0',
          '@types/mocha': '^10.0.10',
        },
      },
      {
        'tsconfig.json': JSON.stringify({
          compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, rootDir: '.', outDir: 'dist', esModuleInterop: true, skipLibCheck: true, types: ['node', 'mocha'] },
          include: ['src', 'test'],
        }),
        'src/index.ts': INDEX_TS,
        'test/conformance.test.ts': TEST_TS,
      },
    );
    const sh = (cmd: string, args: string[]): string => {
      try {
        return execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(`${cmd} ${args.join(' ')} failed\nstdout: ${e.stdout?.slice(-3000)}\nstderr: ${e.stderr?.slice(-3000)}`);
      }
    };
    // Prefer pnpm's store (filled by the workspace install): offline when it has everything, the registry otherwise.
    sh('pnpm', ['install', '--prefer-offline', '--reporter=silent']);
    sh('pnpm', ['run', 'build']);
    const tested = sh('pnpm', ['test']);
    assert.match(tested, /runtime conformance: @acme\/cedana-plugin-sleeper \(sleeper\)/);
    assert.match(tested, /✔ run starts a job that makes progress/);
    assert.match(tested, /(\d+) passing/);
    assert.doesNotMatch(tested, /failing/);
    const tgz = pnpmPack(dir, join(dir, 'out'));

    env = new TestEnv({ CEDANA_PLUGINS_STORE: REPO_STORE });
    copyFileSync(tgz, join(env.dir, basename(tgz)));
    const out = env.ok(['plugin', 'install', `./${basename(tgz)}`]);
    assert.equal(out.split('\n')[0], `Installed ${NAME}@1.0.0 from ${join(env.dir, basename(tgz))} with 1 dependency`);

    await env.startDaemon();
    const list = env.ok(['plugin', 'list', 'sleeper']).trim().split('\n');
    assert.equal(list.length, 2, list.join('\n'));
    assert.deepEqual(list[1].trim().split(/\s{2,}/).slice(0, 3), [NAME, '1.0.0', 'installed']);
    const features = JSON.parse(env.ok(['features', '--json'])) as FeaturesJson;
    assert.equal(features.plugins.find((p) => p.name === NAME)?.status, 'ok');
    const cell = (f: string) => features.features.find((x) => x.feature === f)!.plugins[NAME];
    assert.deepEqual([cell('run'), cell('kill'), cell('dump')], ['available', 'available', 'none']);
    assert.match(env.ok(['features']), /^FEATURE\s+PROCESS.*SLEEPER/m);

    const log = join(env.dir, 'sleeper.log');
    const ran = env.ok(['run', 'sleeper', '--jid', 'nap', '--log', log, '--', 'sh', '-c', 'while :; do echo zzz; sleep 0.1; done']);
    const pid = Number(/^Running managed sleeper PID (\d+)$/m.exec(ran)?.[1]);
    assert.ok(pid > 0, ran);
    await waitFor(() => logLines(log).length > 2, 10_000, 'the sleeper job to write');
    const refused = expectError(env.cli(['plugin', 'remove', 'sleeper']), /^@acme\/cedana-plugin-sleeper is in use by running job nap: /);
    assert.match(refused, /cedana job kill nap/);

    env.ok(['job', 'kill', 'nap', '--signal', 'KILL']);
    await waitFor(() => !isAlive(pid), 10_000, 'the job to end');
    const removed = env.ok(['plugin', 'remove', 'sleeper']);
    assert.match(removed, /^Removed @acme\/cedana-plugin-sleeper@1\.0\.0\nThe daemon reloaded its plugins\n/);
    const now = JSON.parse(env.ok(['features', '--json'])) as FeaturesJson;
    assert.ok(!now.plugins.some((p) => p.name === NAME), 'the reloaded daemon still has the plugin');
    expectError(env.cli(['run', 'sleeper', '--', 'true']), /no runtime plugin for job type 'sleeper'/);
  });
});
