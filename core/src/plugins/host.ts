/**
 * Loads plugins at start-up and keeps each one's outcome: ok, skipped (not usable on this machine) or error.
 * Manifests are validated before any plugin code runs; one broken plugin is reported, never fatal, unless the
 * config marks it required. Loaded plugins live in their own child DI container.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import type { DependencyContainer } from 'tsyringe';
import {
  CedanaError,
  ErrorCode,
  PluginSkipped,
  SDK_VERSION,
  pluginAddress,
  type ChildWatcher,
  type HostSettings,
  type Logger,
  type PluginDefinition,
  type PluginInstance,
  type PluginManifest,
  type Runtime,
} from '@cedana-ts/sdk';
import type { Candidate } from './discover';
import { builtinCandidates, installedCandidates } from './discover';
import { BUILTIN_PLUGINS } from './builtin';
import { linkSdk } from './sdk-link';

/** What became of one plugin. */
export interface PluginRecord {
  name: string;
  source: Candidate['source'];
  manifest?: PluginManifest;
  status: 'ok' | 'skipped' | 'error';
  reason?: string;
  loadMs: number;
  instance?: PluginInstance;
}

/** How long a plugin's init may take. */
const INIT_TIMEOUT_MS = 20_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface PluginHostOptions {
  container: DependencyContainer;
  logger: Logger;
  settings: HostSettings;
  children: ChildWatcher;
  libDir: string;
  required: string[];
  /** The validated host config; each plugin reads (and validates) the part it needs. */
  config: unknown;
  builtins?: readonly string[];
}

export class PluginHost {
  private records: PluginRecord[] = [];
  private scope: DependencyContainer;
  /** Which plugin set is current: a reload makes a new one. */
  private generation = 0;
  /** Operations running per plugin set. */
  private readonly running = new Map<number, number>();
  /** Sets a reload replaced, waiting for their last operation to end before they are closed. */
  private readonly retired = new Map<number, PluginRecord[]>();

  constructor(private readonly opts: PluginHostOptions) {
    this.scope = opts.container.createChildContainer();
    linkSdk();
  }

  /** Discovers, validates and initialises every plugin. Throws only when a required plugin is not ok. */
  async load(): Promise<PluginRecord[]> {
    const installed = await installedCandidates(this.opts.libDir);
    const candidates = [
      // An installed package with a built-in's name replaces it: built-ins are upgraded like any plugin.
      ...(await builtinCandidates(this.opts.builtins ?? BUILTIN_PLUGINS)).filter((b) => !installed.some((i) => i.name === b.name)),
      ...installed,
    ];
    const taken = new Map<string, string>();
    const records: PluginRecord[] = [];
    for (const c of candidates) records.push(await this.loadOne(c, taken));
    this.records = records;
    const broken = records.filter((r) => r.status !== 'ok' && this.isRequired(r));
    const missing = this.opts.required.filter((req) => !records.some((r) => r.manifest && this.matches(r.manifest, req)));
    if (broken.length > 0 || missing.length > 0) {
      const lines = [...broken.map((r) => `${r.name}: ${r.reason}`), ...missing.map((m) => `${m}: not installed`)];
      throw new CedanaError(ErrorCode.PluginFailed, `required plugin not usable: ${lines.join('; ')}`);
    }
    return records;
  }

  private matches(m: PluginManifest, ref: string): boolean {
    return ref === m.id || ref === pluginAddress(m) || ref === m.name;
  }

  private isRequired(r: PluginRecord): boolean {
    return r.manifest !== undefined && this.opts.required.some((ref) => this.matches(r.manifest!, ref));
  }

  private async loadOne(c: Candidate, taken: Map<string, string>): Promise<PluginRecord> {
    const start = performance.now();
    const done = (status: PluginRecord['status'], reason?: string, instance?: PluginInstance): PluginRecord => {
      const rec = { name: c.name, source: c.source, manifest: c.manifest, status, reason, instance, loadMs: performance.now() - start };
      // Skipped is normal (no GPU here, say): worth a line, not a warning.
      const log = status === 'ok' ? this.opts.logger.debug : status === 'skipped' ? this.opts.logger.info : this.opts.logger.warn;
      log.call(this.opts.logger, `plugin ${c.name}: ${status}${reason ? ` (${reason})` : ''}`);
      return rec;
    };
    if (!c.manifest) return done('error', c.error);
    const m = c.manifest;
    if (!semver.satisfies(SDK_VERSION, m.sdk)) {
      return done('error', `needs SDK ${m.sdk}, but this daemon has SDK ${SDK_VERSION}`);
    }
    const address = pluginAddress(m);
    const other = taken.get(address);
    if (other) return done('error', `${address} is provided by ${other} already`);
    taken.set(address, c.name);
    let def: PluginDefinition;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      // The real path: an upgrade swaps the symlink of an installed plugin, and require's own realpath cache
      // would still answer with the old target.
      const mod = require(join(realpathSync(c.root), m.main)) as { default?: PluginDefinition };
      def = mod.default ?? (mod as unknown as PluginDefinition);
      if (typeof def?.init !== 'function') return done('error', 'its module exports no plugin definition (default export with init)');
    } catch (err) {
      // The first line: Node appends the require stack, which says nothing about the plugin.
      return done('error', `cannot load its code: ${String((err as Error).message).split('\n')[0]}`);
    }
    try {
      const ctx = { manifest: m, logger: this.opts.logger, settings: this.opts.settings, children: this.opts.children, config: this.opts.config };
      const instance = await withTimeout(def.init(ctx), INIT_TIMEOUT_MS, 'init');
      if (m.type === 'runtime' && instance.runtime?.type !== m.id) return done('error', `a runtime plugin must provide a runtime of type '${m.id}'`);
      this.scope.register(`plugin:${address}`, { useValue: instance });
      return done('ok', undefined, instance);
    } catch (err) {
      if (err instanceof PluginSkipped || (err as { code?: unknown })?.code === ErrorCode.PluginSkipped) return done('skipped', (err as Error).message);
      return done('error', `init failed: ${(err as Error).message}`);
    }
  }

  /** Every plugin's outcome, in load order. */
  list(): readonly PluginRecord[] {
    return this.records;
  }

  private ok(): PluginRecord[] {
    return this.records.filter((r) => r.status === 'ok');
  }

  /** The runtime serving job type `type`, or UNSUPPORTED saying which types are served or why this one is not. */
  runtime(type: string): Runtime {
    const rec = this.ok().find((r) => r.manifest?.type === 'runtime' && r.manifest.id === type);
    if (rec?.instance?.runtime) return rec.instance.runtime;
    const failed = this.records.find((r) => r.manifest?.type === 'runtime' && r.manifest.id === type);
    if (failed) throw new CedanaError(ErrorCode.Unsupported, `the ${type} plugin is ${failed.status}: ${failed.reason}`);
    const types = this.ok().filter((r) => r.manifest?.type === 'runtime').map((r) => r.manifest!.id);
    throw new CedanaError(ErrorCode.Unsupported, `no runtime plugin for job type '${type}'`, { hint: `available: ${types.join(', ') || 'none'}` });
  }

  /** The version of the plugin serving runtime `type`. */
  runtimeVersion(type: string): string {
    return this.ok().find((r) => r.manifest?.type === 'runtime' && r.manifest.id === type)?.manifest?.version ?? '0.0.0';
  }

  /**
   * Runs `op` on the current plugin set: a reload while it runs swaps a new set in for later operations, and
   * closes this one only once `op` (and every other operation on it) has ended.
   */
  async hold<T>(op: () => Promise<T>): Promise<T> {
    const gen = this.generation;
    this.running.set(gen, (this.running.get(gen) ?? 0) + 1);
    try {
      return await op();
    } finally {
      const left = (this.running.get(gen) ?? 1) - 1;
      if (left > 0) this.running.set(gen, left);
      else {
        this.running.delete(gen);
        await this.closeRetired(gen);
      }
    }
  }

  /**
   * Loads every plugin again — new installs, removals, upgrades — and swaps the new set in. The old instances are
   * closed once no operation holds them (see {@link hold}). When a required plugin fails, the old set stays in
   * use and the error is thrown.
   */
  async reload(): Promise<PluginRecord[]> {
    const before = { records: this.records, scope: this.scope };
    this.forgetInstalledCode();
    this.scope = this.opts.container.createChildContainer();
    try {
      await this.load();
    } catch (err) {
      if (this.records !== before.records) await this.closeInstances(this.ok());
      this.records = before.records;
      this.scope = before.scope;
      throw err;
    }
    const old = this.generation++;
    this.retired.set(old, before.records.filter((r) => r.status === 'ok'));
    if (!this.running.has(old)) await this.closeRetired(old);
    return this.records;
  }

  private async closeRetired(gen: number): Promise<void> {
    const recs = this.retired.get(gen);
    if (!recs) return;
    this.retired.delete(gen);
    await this.closeInstances(recs);
  }

  /** Drops installed plugins' modules from require's cache, so a reload runs the code now on disk. */
  private forgetInstalledCode(): void {
    let root: string;
    try {
      root = `${realpathSync(this.opts.libDir)}/`;
    } catch {
      return;
    }
    for (const key of Object.keys(require.cache)) if (key.startsWith(root)) delete require.cache[key];
  }

  private async closeInstances(recs: PluginRecord[]): Promise<void> {
    for (const r of recs) await r.instance?.close?.().catch((err: Error) => this.opts.logger.warn(`plugin ${r.name} close: ${err.message}`));
  }

  /** Closes every loaded plugin, and those a reload retired; safe to call twice. */
  async close(): Promise<void> {
    const recs = [...this.ok(), ...[...this.retired.values()].flat()];
    this.retired.clear();
    this.records = this.records.map((r) => ({ ...r, instance: undefined }));
    for (const r of recs) await r.instance?.close?.().catch((err: Error) => this.opts.logger.warn(`plugin ${r.name} close: ${err.message}`));
  }
}
