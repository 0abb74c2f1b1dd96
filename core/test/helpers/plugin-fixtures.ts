/**
 * Plugin packages made by the tests: written as plain JavaScript packages in temporary directories and packed
 * with the real `pnpm pack`, as a plugin author would.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The workspace root (this file is core/dist/test/helpers/plugin-fixtures.js). */
export const WORKSPACE = join(__dirname, '..', '..', '..', '..');
/** The repo-local plugin store that scripts/setup-plugin-store.sh fills. */
export const REPO_STORE = join(WORKSPACE, '.store');

/** Writes a package: its package.json and files (relative path → content). Returns its directory. */
export function writePackage(dir: string, pkg: Record<string, unknown>, files: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

/** `pnpm pack` of a package directory into `dest`; returns the tarball's path. */
export function pnpmPack(dir: string, dest: string): string {
  mkdirSync(dest, { recursive: true });
  const before = new Set(readdirSync(dest));
  execFileSync('pnpm', ['pack', '--pack-destination', dest], { cwd: dir, stdio: 'pipe' });
  const made = readdirSync(dest).find((n) => n.endsWith('.tgz') && !before.has(n));
  if (!made) throw new Error(`pnpm pack in ${dir} made no tarball in ${dest}`);
  return join(dest, made);
}

export interface FixturePlugin {
  name: string;
  version?: string;
  type?: string;
  id: string;
  sdk?: string;
  provides?: string[];
  dependencies?: Record<string, string>;
  /** The body of `init(ctx)`; default: a runtime that runs commands (see {@link RUNTIME_INIT}). */
  init?: string;
  /** Extra fields for the `cedana` manifest (to make it invalid, say). */
  manifest?: Record<string, unknown>;
  keywords?: string[];
}

/**
 * A small runtime: `run` starts the command detached with its output in the log, `kill` signals it. Enough to
 * hold a running job; dump and restore are refused.
 */
export const RUNTIME_INIT = `
    const { spawn } = require('node:child_process');
    const { openSync, closeSync } = require('node:fs');
    const refuse = async () => { throw new CedanaError(ErrorCode.Unsupported, 'not supported by this runtime'); };
    const runtime = {
      type: ctx.manifest.id,
      // No zod here (a fixture needs no dependencies): an object that answers like a strict empty zod schema.
      optionsSchema: {
        safeParse: (v) => Object.keys(v).length
          ? { success: false, error: { issues: [{ path: [], code: 'unrecognized_keys', keys: Object.keys(v), message: 'unknown option' }] } }
          : { success: true, data: v },
      },
      async run(spec) {
        const fd = openSync(spec.logPath, 'a');
        const child = spawn(spec.args[0], spec.args.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
        closeSync(fd);
        await new Promise((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
        child.unref();
        return { pid: child.pid, details: { cmdline: spec.args }, exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))) };
      },
      manage: refuse, dump: refuse, restore: refuse,
      async kill(job, signal) {
        try { process.kill(job.pid, signal); } catch { throw new CedanaError(ErrorCode.FailedPrecondition, 'job ' + job.jid + ' is not running'); }
      },
    };
    return { runtime, features: [Feature.Run, Feature.Kill], info: { fixture: 'yes' } };`;

/** Writes a fixture plugin package (plain JS, requiring only the SDK) under `parent`; returns its directory. */
export function fixturePlugin(parent: string, f: FixturePlugin): string {
  const dir = join(parent, `${f.name.replace(/^@/, '').replace('/', '-')}-${f.version ?? '1.0.0'}`);
  const pkg = {
    name: f.name,
    version: f.version ?? '1.0.0',
    main: 'index.js',
    keywords: f.keywords ?? ['cedana-plugin'],
    cedana: { type: f.type ?? 'runtime', id: f.id, sdk: f.sdk ?? '^0.1.0', ...(f.provides ? { provides: f.provides } : {}), ...f.manifest },
    peerDependencies: { '@cedana-ts/sdk': '^0.1.0' },
    dependencies: f.dependencies ?? {},
  };
  const index = `'use strict';
const { definePlugin, Feature, CedanaError, ErrorCode, PluginSkipped } = require('@cedana-ts/sdk');
module.exports = definePlugin({
  async init(ctx) {${f.init ?? RUNTIME_INIT}
  },
});
`;
  return writePackage(dir, pkg, { 'index.js': index });
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cedana-${prefix}-`));
}
