/**
 * The CLI loads only what the command it runs needs: `--help` reads every command's flags but must not load the
 * gRPC client, zod or the job database, and a daemon call (`ps`) must not load the database, the plugin store
 * or the archive code. Each case runs the CLI in a fresh Node process and lists the packages it loaded.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const MAIN = join(__dirname, '..', '..', 'src', 'cli', 'main.js');

/** The packages (node_modules names) a CLI run with `args` loaded. */
function packagesLoaded(args: string[]): Set<string> {
  const script = `
    require(${JSON.stringify(MAIN)}).main(${JSON.stringify(args)}).then(() => {
      const names = Object.keys(require.cache).map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\/(?!.*node_modules)/.exec(f)?.[1]);
      process.stderr.write('\\nLOADED ' + JSON.stringify([...new Set(names.filter(Boolean))]) + '\\n');
    });`;
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, CEDANA_ADDRESS: '/nonexistent/cedana.sock', CEDANA_PROTOCOL: 'unix' },
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  assert.ok(line, `no module list from the child: ${r.stderr}`);
  return new Set(JSON.parse(line.slice('LOADED '.length)) as string[]);
}

describe('CLI start: modules loaded per command', function () {
  this.timeout(30_000);

  it('--help loads yargs but not the gRPC client, zod or the database', () => {
    const loaded = packagesLoaded(['--help']);
    assert.ok(loaded.has('yargs'), `yargs should be loaded: ${[...loaded].join(', ')}`);
    for (const heavy of ['@grpc/grpc-js', 'zod', 'kysely', 'better-sqlite3', 'pg', 'tar-stream', 'semver', 'tsyringe']) {
      assert.ok(!loaded.has(heavy), `--help loaded ${heavy}`);
    }
  });

  it('ps loads the gRPC client and the config schema, not the database, plugin store or archives', () => {
    const loaded = packagesLoaded(['ps']);
    assert.ok(loaded.has('@grpc/grpc-js') && loaded.has('zod'), `ps should load grpc-js and zod: ${[...loaded].join(', ')}`);
    for (const heavy of ['kysely', 'better-sqlite3', 'pg', 'tar-stream', 'semver', 'tsyringe', 'lz4-napi']) {
      assert.ok(!loaded.has(heavy), `ps loaded ${heavy}`);
    }
  });
});
