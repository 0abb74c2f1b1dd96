/**
 * `cedana plugin list|install|remove|features|reload` and the top-level `cedana features`. Install and remove work
 * on the plugin directory from this process (no daemon needed); when a daemon runs, it is told to reload.
 */
import type { Argv, CommandModule } from 'yargs';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import type { Config } from '../../config/schema';
import type { GetFeaturesResp, Plugin } from '../../generated/daemon';
import type { Daemon } from '../../client/client';
import type { CatalogRow, LoadOutcomes } from '../../plugins/packages/catalog';
import type { PluginDirs } from '../../plugins/packages/install';
import type { PackageSources } from '../../plugins/packages/source';
import { configFrom, daemonFrom, localServices, type GlobalArgs } from '../context';
import { formatSize, table } from '../format';
import { pluginPackage } from '../plugin-names';
import { lazy } from '../lazy';

/** The plugin store, registry and installer: loaded when a plugin command runs. */
const pkg = lazy(() => ({
  ...(require('@cedana-ts/sdk') as typeof import('@cedana-ts/sdk')),
  ...(require('../../plugins/builtin') as typeof import('../../plugins/builtin')),
  ...(require('../../plugins/packages/catalog') as typeof import('../../plugins/packages/catalog')),
  ...(require('../../plugins/packages/install') as typeof import('../../plugins/packages/install')),
  ...(require('../../plugins/packages/registry') as typeof import('../../plugins/packages/registry')),
  ...(require('../../plugins/packages/source') as typeof import('../../plugins/packages/source')),
  ...(require('../../plugins/packages/store') as typeof import('../../plugins/packages/store')),
  ...(require('../../plugins/packages/usage') as typeof import('../../plugins/packages/usage')),
}));

interface ListArgs extends GlobalArgs {
  filter?: string;
  json?: boolean;
}
interface InstallArgs extends GlobalArgs {
  plugins: string[];
}
interface RemoveArgs extends GlobalArgs {
  plugins?: string[];
  all?: boolean;
}
interface FeaturesArgs extends GlobalArgs {
  plugins?: string[];
  errors?: boolean;
  json?: boolean;
}

function dirsOf(cfg: Config): PluginDirs {
  return { libDir: cfg.plugins.lib_dir, builtins: pkg().BUILTIN_PLUGINS };
}

function sourcesOf(cfg: Config): PackageSources {
  return new (pkg().PackageSources)(new (pkg().PluginStore)(cfg.plugins.store), cfg.plugins.registry ? new (pkg().RegistryClient)(cfg.plugins.registry) : null);
}

/** Runs `fn` with the daemon when one answers; null when none runs. */
async function withRunningDaemon<T>(argv: GlobalArgs, fn: (d: Daemon) => Promise<T>): Promise<T | null> {
  let daemon: Daemon;
  try {
    daemon = daemonFrom(argv);
  } catch (err) {
    if ((err as CedanaError).code === ErrorCode.Unavailable) return null;
    throw err;
  }
  try {
    return await fn(daemon);
  } catch (err) {
    if ((err as CedanaError).code === ErrorCode.Unavailable) return null;
    throw err;
  } finally {
    daemon.close();
  }
}

/** Tells a running daemon to reload, and says how each of `names` came out. */
async function reloadAfter(argv: GlobalArgs, names: string[]): Promise<void> {
  const plugins = await withRunningDaemon(argv, async (d) => (await d.reloadPlugins({})).plugins);
  if (plugins === null) {
    console.log('No daemon is running: the change takes effect when it starts');
    return;
  }
  console.log('The daemon reloaded its plugins');
  for (const p of plugins.filter((x) => names.includes(x.name) && x.status !== 'ok')) console.log(`${p.name} ${p.version}: ${p.status} (${p.reason})`);
}

const date = (iso?: string) => (iso && !Number.isNaN(Date.parse(iso)) ? new Date(iso).toISOString().slice(0, 10) : '');

/** The `cedana plugin list` table. */
export function catalogTable(rows: CatalogRow[]): string {
  return table(
    ['Name', 'Version', 'Status', 'Size', 'Published'],
    rows.map((r) => [r.name, r.latest ? `${r.version} → ${r.latest}` : r.version, r.status, formatSize(r.size), date(r.published)]),
    ['Size'],
  );
}

const list: CommandModule<GlobalArgs, ListArgs> = {
  command: ['list [filter]', 'ls'],
  describe: 'List plugins: installed, built in, and available from the store and the registry',
  builder: (y) =>
    y
      .positional('filter', { type: 'string', describe: 'one plugin: name or name@version' })
      .option('json', { type: 'boolean', describe: 'print JSON' }) as Argv<ListArgs>,
  handler: async (argv) => {
    const cfg = configFrom(argv);
    const loaded = await withRunningDaemon(argv, async (d) => {
      const out: LoadOutcomes = new Map();
      for (const p of (await d.listPlugins({})).plugins) out.set(p.name, { status: p.status, reason: p.reason });
      return out;
    });
    const { rows, notes } = await pkg().catalog(dirsOf(cfg), sourcesOf(cfg), { sdkVersion: pkg().SDK_VERSION, loaded: loaded ?? undefined, filter: argv.filter === undefined ? undefined : pluginPackage(String(argv.filter)) });
    for (const note of notes) process.stderr.write(`Warning: ${note}; showing what is installed and in the store\n`);
    if (argv.json) return console.log(JSON.stringify(rows, null, 2));
    if (rows.length === 0) return console.log('No plugins found');
    console.log(catalogTable(rows));
    for (const r of rows.filter((x) => x.status === 'error')) console.log(`\n${r.name}: ${r.reason}`);
  },
};

const install: CommandModule<GlobalArgs, InstallArgs> = {
  command: ['install <plugins..>', 'add'],
  describe: 'Install plugins from the store, the registry, or .tgz files',
  builder: (y) => y.positional('plugins', { type: 'string', array: true, demandOption: true, describe: 'name, name@version|range, or a path to a .tgz' }) as Argv<InstallArgs>,
  handler: async (argv) => {
    const cfg = configFrom(argv);
    const done = await pkg().installPlugins(argv.plugins.map((p) => pluginPackage(String(p))), dirsOf(cfg), sourcesOf(cfg), pkg().SDK_VERSION);
    for (const r of done) {
      const where = r.from === 'file' ? r.where : `the ${r.from} (${r.where})`;
      const deps = r.dependencies > 0 ? ` with ${r.dependencies} dependenc${r.dependencies === 1 ? 'y' : 'ies'}` : '';
      const replaced = r.replaced ? `, replacing ${r.replaced}` : '';
      console.log(`Installed ${r.name}@${r.version} from ${where}${deps}${replaced}`);
    }
    await reloadAfter(argv, done.map((r) => r.name));
  },
};

const remove: CommandModule<GlobalArgs, RemoveArgs> = {
  command: ['remove [plugins..]', 'rm', 'uninstall'],
  describe: 'Remove installed plugins',
  builder: (y) =>
    y
      .positional('plugins', { type: 'string', array: true, describe: 'plugin names' })
      .option('all', { alias: 'a', type: 'boolean', describe: 'every installed plugin' }) as Argv<RemoveArgs>,
  handler: async (argv) => {
    const cfg = configFrom(argv);
    const removed = await pkg().removePlugins((argv.plugins ?? []).map((p) => pluginPackage(String(p))), argv.all ?? false, dirsOf(cfg), (type) => pkg().runningJobsOfType(cfg, type));
    if (removed.length === 0) return console.log('No plugins installed');
    for (const r of removed) console.log(`Removed ${r.name}@${r.version}`);
    await reloadAfter(argv, []);
  },
};

const marks: Record<string, string> = { available: '✔', unavailable: '✖', '': '-' };

/** Column titles: plugin ids, or `type.id` where two plugins share an id. */
function columnTitles(plugins: Plugin[]): string[] {
  return plugins.map((p) => {
    if (!p.id) return p.name;
    return plugins.filter((o) => o.id === p.id).length > 1 ? `${p.type}.${p.id}` : p.id;
  });
}

/** The `cedana features` text. */
export function featuresText(resp: GetFeaturesResp, errors: boolean): string {
  const titles = columnTitles(resp.plugins);
  const rows = [['status', ...resp.plugins.map((p) => p.status)], ...resp.rows.map((r) => [r.feature, ...r.cells.map((c) => marks[c] ?? c)])];
  const lines = [table(['Feature', ...titles], rows), '', '✔ available  ✖ declared by the plugin, not usable here  - not provided'];
  const broken = resp.plugins.filter((p) => p.status !== 'ok');
  if (errors) {
    for (const p of broken) lines.push(`${p.status === 'error' ? '✖' : '•'} ${p.name}: ${p.status}: ${p.reason}`);
  } else if (broken.length > 0) {
    lines.push(`${broken.length} plugin(s) not usable here: see cedana plugin features --errors`);
  }
  return lines.join('\n');
}

export const featuresCommand: CommandModule<GlobalArgs, FeaturesArgs> = {
  command: 'features [plugins..]',
  describe: 'The feature matrix: what each plugin provides on this machine',
  builder: (y) =>
    y
      .positional('plugins', { type: 'string', array: true, describe: 'only these plugins (runc, criu, storage/s3, or package names)' })
      .option('errors', { type: 'boolean', describe: 'also say why plugins are not usable' })
      .option('json', { type: 'boolean', describe: 'print JSON' }) as Argv<FeaturesArgs>,
  handler: async (argv) => {
    // The running daemon's view; with none running, the plugins are loaded in this process, as it would load them.
    const resp = onlyPlugins((await withRunningDaemon(argv, (d) => d.getFeatures({}))) ?? (await localFeatures(argv)), (argv.plugins ?? []).map((p) => pluginPackage(String(p))));
    if (argv.json) {
      const plugins = resp.plugins.map(({ name, type, id, version, status, reason }) => ({ name, type, id, version, status, reason }));
      const features = resp.rows.map((r) => ({ feature: r.feature, plugins: Object.fromEntries(resp.plugins.map((p, i) => [p.name, r.cells[i] || 'none'])) }));
      console.log(JSON.stringify(argv.errors ? { errors: plugins.filter((p) => p.status !== 'ok') } : { plugins, features }, null, 2));
      return;
    }
    console.log(featuresText(resp, argv.errors ?? false));
  },
};

/** The matrix with only the columns of `names` (all of them when empty). */
function onlyPlugins(resp: GetFeaturesResp, names: string[]): GetFeaturesResp {
  if (names.length === 0) return resp;
  const keep = resp.plugins.map((p, i) => (names.includes(p.name) || names.includes(p.id) ? i : -1)).filter((i) => i >= 0);
  if (keep.length === 0) throw new CedanaError(ErrorCode.NotFound, `no plugin named ${names.join(', ')}`, { hint: 'see cedana plugin list' });
  return { plugins: keep.map((i) => resp.plugins[i]), rows: resp.rows.map((r) => ({ ...r, cells: keep.map((i) => r.cells[i]) })) };
}

/** The feature matrix of the plugins this machine has, computed without a daemon. */
async function localFeatures(argv: GlobalArgs): Promise<GetFeaturesResp> {
  const wired = await localServices(argv);
  try {
    const { features } = await import('../../pipeline/plugins.js');
    return features(wired.services);
  } finally {
    await wired.close();
  }
}

const reload: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'reload',
  describe: 'Make the running daemon load its plugins again',
  handler: async (argv) => {
    const daemon = daemonFrom(argv);
    try {
      const { plugins } = await daemon.reloadPlugins({});
      console.log(table(['Name', 'Version', 'Status', 'Reason'], plugins.map((p) => [p.name, p.version, p.status, p.reason])));
    } finally {
      daemon.close();
    }
  },
};

/** `cedana plugins [plugin]…`: Cedana's shortcut for `plugin list`. */
export const pluginsCommand: CommandModule<GlobalArgs, ListArgs> = { ...list, command: 'plugins [filter]' };

export const pluginCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'plugin',
  describe: 'Manage plugins',
  builder: (y) =>
    y
      .command(list)
      .command(install)
      .command(remove)
      .command(featuresCommand)
      .command(reload)
      .demandCommand(1, 'name a plugin subcommand'),
  handler: () => {
    throw new CedanaError(ErrorCode.InvalidArgument, 'name a plugin subcommand (list, install, remove, features, reload)');
  },
};
