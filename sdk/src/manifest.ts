/**
 * The plugin manifest: what a plugin says about itself in the `cedana` field of its package.json. The host
 * validates it before any of the plugin's code runs.
 */
import semver from 'semver';
import { z } from 'zod';

/** Kinds of plugin the host knows how to wire. */
export const PluginType = z.enum(['runtime', 'storage', 'gpu', 'streamer']);
export type PluginType = z.infer<typeof PluginType>;

/** The `cedana` field of a plugin's package.json. */
export const ManifestField = z
  .object({
    /** What the plugin is. */
    type: PluginType,
    /** Unique within its type: a runtime's job type (`process`, `runc`), a storage's name (`s3`). */
    id: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'lower-case letters, digits and dashes, starting with a letter'),
    /** The SDK versions this plugin works with, as a semver range (`^0.1.0`). */
    sdk: z.string().refine((r) => semver.validRange(r) !== null, 'not a valid semver range'),
    /** Human summary shown by `cedana plugin list`. */
    description: z.string().max(200).optional(),
    /**
     * Features the plugin says it provides (`run`, `dump`, `gpu`, …, see `Feature`). What works on a machine comes
     * from `init`; this list is shown for a plugin that could not start there, and checked by the conformance suites.
     */
    provides: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'a feature name')).max(64).optional(),
  })
  .strict();
export type ManifestField = z.infer<typeof ManifestField>;

/** The parts of package.json the host reads. */
export const PluginPackageJson = z.object({
  name: z.string().min(1),
  version: z.string().refine((v) => semver.valid(v) !== null, 'not a semver version'),
  main: z.string().optional(),
  cedana: ManifestField,
});

/** A validated manifest: the `cedana` field plus the package's name, version and entry file. */
export interface PluginManifest extends ManifestField {
  /** npm package name. */
  name: string;
  /** Package version (semver). */
  version: string;
  /** Entry file, relative to the package root. */
  main: string;
}

/**
 * Validates a parsed package.json and returns its manifest, or throws a zod error naming the bad field.
 */
export function parseManifest(pkg: unknown): PluginManifest {
  const parsed = PluginPackageJson.parse(pkg);
  return { ...parsed.cedana, name: parsed.name, version: parsed.version, main: parsed.main ?? 'index.js' };
}

/** The address of a plugin: `type.id`, unique among loaded plugins. */
export function pluginAddress(m: Pick<ManifestField, 'type' | 'id'>): string {
  return `${m.type}.${m.id}`;
}
