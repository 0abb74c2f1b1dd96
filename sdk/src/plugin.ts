/**
 * What a plugin module exports, and what the host hands it at start-up.
 */
import type { PluginManifest } from './manifest';
import type { Runtime, ExitStatus } from './runtime';
import type { Storage } from './storage';
import type { GpuCheckpointer } from './gpu';
import type { Streamer } from './streamer';

/** Leveled logging; fields are structured. Never pass secrets. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * Watches processes the daemon did not spawn itself but became the parent of (restored trees, orphans it
 * adopts as a child subreaper) and reports how they end.
 */
export interface ChildWatcher {
  /** Settles when `pid`, a child of the daemon, ends. */
  watch(pid: number): Promise<ExitStatus>;
}

/** Host settings a plugin may read. */
export interface HostSettings {
  /** CRIU binary to run: config `criu.binary_path`, or `criu` looked up on PATH. */
  criuPath: string;
  /** Where temporary files go. */
  tmpDir: string;
}

/** Handed to a plugin's `init`. */
export interface PluginContext {
  manifest: PluginManifest;
  logger: Logger;
  settings: HostSettings;
  children: ChildWatcher;
  /**
   * The host's config file, validated by the host against its own schema (e.g. `aws.*` for S3 storage,
   * `checkpoint.*`). Read-only. Validate the part you use with your own schema: the host's may grow.
   */
  config: unknown;
}

/** Features a plugin can provide; the feature matrix is computed from these. */
export const Feature = {
  Run: 'run',
  Manage: 'manage',
  Dump: 'dump',
  Restore: 'restore',
  RestoreNoServer: 'restore-no-server',
  RunNoServer: 'run-no-server',
  Kill: 'kill',
  Attach: 'attach',
  Gpu: 'gpu',
  Storage: 'storage',
  Streams: 'streams',
} as const;
export type Feature = (typeof Feature)[keyof typeof Feature];

/** One line of a health report. */
export interface HealthComponent {
  name: string;
  /** A value to show, such as a version. */
  data: string;
  level: 'ok' | 'warn' | 'error';
  message?: string;
}

/** What a plugin's init returns. */
export interface PluginInstance {
  /** Features this instance provides on this machine, found at init (not a fixed list). */
  features: Feature[];
  /** Facts found at init (binary versions, paths), shown by `daemon check`. */
  info?: Record<string, string>;
  runtime?: Runtime;
  storage?: Storage;
  /** A GPU plugin's checkpointer, called by the core around CRIU for trees that use a GPU. */
  gpu?: GpuCheckpointer;
  /** A streamer plugin's sharded writer and reader (`dump --streams N`). */
  streamer?: Streamer;
  /** Checks run by `cedana daemon check`. */
  /** `full`: also the slower checks (`cedana check --full`), such as each CRIU feature. */
  health?(opts?: { full?: boolean }): Promise<HealthComponent[]>;
  /** Releases what init acquired; called once at daemon stop. */
  close?(): Promise<void>;
}

/**
 * A plugin module's default export. `init` throws {@link PluginSkipped} when the plugin cannot work on this
 * machine, and anything else when it is broken.
 */
export interface PluginDefinition {
  init(ctx: PluginContext): Promise<PluginInstance>;
}

/** Identity function that gives a plugin definition its type. */
export function definePlugin(def: PluginDefinition): PluginDefinition {
  return def;
}
