/**
 * The workspace's packages as separately versioned plugins: each has a version, a changelog and a valid manifest;
 * changesets bumps one package alone; and the store the build fills (scripts/setup-plugin-store.sh) holds every
 * plugin at its current version with every dependency it needs, so each installs with no registry.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { parseManifest, SDK_VERSION } from '@cedana-ts/sdk';
import { resolvePlugin } from '../../src/plugins/packages/resolve';
import { PackageSources } from '../../src/plugins/packages/source';
import { PluginStore } from '../../src/plugins/packages/store';
import { integrityOf } from '../../src/plugins/packages/tarball';
import { storePackages } from '../../src/plugins/packages/fill-store';
import { REPO_STORE, tempDir, WORKSPACE } from '../helpers/plugin-fixtures';

const pkgOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string; cedana?: unknown };
const pluginDirs = () =>
  readdirSync(join(WORKSPACE, 'plugins'))
    .map((n) => join(WORKSPACE, 'plugins', n))
    .filter((d) => existsSync(join(d, 'package.json')));

describe('workspace packages: versions, changelogs, store', function () {
  this.timeout(60_000);

  it('every package has a semver version and a changelog with an entry for it; every plugin a valid manifest', () => {
    assert.ok(pluginDirs().length >= 1, 'no plugins under plugins/');
    for (const dir of [join(WORKSPACE, 'sdk'), join(WORKSPACE, 'core'), ...pluginDirs()]) {
      const pkg = pkgOf(dir);
      assert.ok(semver.valid(pkg.version), `${pkg.name}: version ${pkg.version}`);
      const changelog = join(dir, 'CHANGELOG.md');
      assert.ok(existsSync(changelog), `${pkg.name} has no CHANGELOG.md`);
      assert.match(readFileSync(changelog, 'utf8'), new RegExp(`^## ${pkg.version.replace(/\./g, '\\.')}$`, 'm'), `${pkg.name}: CHANGELOG.md has no "## ${pkg.version}"`);
      if (dir.includes('/plugins/')) {
        const m = parseManifest(pkg);
        assert.ok(semver.satisfies(SDK_VERSION, m.sdk), `${pkg.name} needs SDK ${m.sdk}, the workspace has ${SDK_VERSION}`);
      }
    }
  });

  it('changesets bumps the package a changeset names, and writes its changelog', () => {
    const copy = tempDir('changesets');
    try {
      for (const f of ['package.json', 'pnpm-workspace.yaml']) copyFileSync(join(WORKSPACE, f), join(copy, f));
      mkdirSync(join(copy, '.changeset'));
      copyFileSync(join(WORKSPACE, '.changeset', 'config.json'), join(copy, '.changeset', 'config.json'));
      const dirs = [join(WORKSPACE, 'sdk'), join(WORKSPACE, 'core'), ...pluginDirs()];
      for (const dir of dirs) {
        const to = join(copy, dir.slice(WORKSPACE.length + 1));
        mkdirSync(to, { recursive: true });
        for (const f of ['package.json', 'CHANGELOG.md']) if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(to, f));
      }
      const target = pkgOf(join(WORKSPACE, 'plugins', 'process'));
      writeFileSync(join(copy, '.changeset', 'bump.md'), `---\n"${target.name}": minor\n---\n\nTell the changelog about it\n`);
      execFileSync(process.execPath, [join(WORKSPACE, 'node_modules', '@changesets', 'cli', 'bin.js'), 'version'], { cwd: copy, stdio: 'pipe' });

      const next = semver.inc(target.version, 'minor')!;
      assert.equal(pkgOf(join(copy, 'plugins', 'process')).version, next);
      const log = readFileSync(join(copy, 'plugins', 'process', 'CHANGELOG.md'), 'utf8');
      assert.match(log, new RegExp(`## ${next.replace(/\./g, '\\.')}[\\s\\S]*Tell the changelog about it`));
      assert.equal(pkgOf(join(copy, 'sdk')).version, pkgOf(join(WORKSPACE, 'sdk')).version, 'the SDK was bumped too');
      for (const dir of pluginDirs().filter((d) => !d.endsWith('/process'))) {
        assert.equal(pkgOf(join(copy, 'plugins', dir.split('/').pop()!)).version, pkgOf(dir).version, `${dir} was bumped too`);
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('the build filled the store with every plugin at its current version, with matching integrity', async () => {
    const store = new PluginStore(REPO_STORE);
    const entries = await store.entries();
    for (const dir of await storePackages(WORKSPACE)) {
      const pkg = pkgOf(dir);
      const e = entries.find((x) => x.name === pkg.name && x.version === pkg.version);
      assert.ok(e, `${pkg.name}@${pkg.version} is not in ${REPO_STORE}: run scripts/setup-plugin-store.sh`);
      assert.equal(integrityOf(readFileSync(join(REPO_STORE, e.file))), e.integrity, `${e.file} does not match the index`);
    }
  });

  it('every plugin in the store resolves with all its dependencies from the store alone', async () => {
    const sources = new PackageSources(new PluginStore(REPO_STORE), null);
    for (const dir of pluginDirs()) {
      const pkg = pkgOf(dir);
      const plan = await resolvePlugin({ kind: 'name', name: pkg.name, range: pkg.version }, sources, SDK_VERSION);
      assert.equal(plan.plugin.source.from, 'store');
      for (const p of plan.packages.values()) assert.equal(p.source.from, 'store', `${p.name} of ${pkg.name}`);
    }
  });
});
