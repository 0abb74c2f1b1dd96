/**
 * Loads the configuration: defaults, then `<config dir>/config.json`, then `--config '<json>'`, then
 * `CEDANA_<SECTION>_<FIELD>` variables. A bad value is reported with the field and where it came from.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import { ConfigSchema, envAliases, type Config } from './schema';

export const DEFAULT_CONFIG_DIR = '/etc/cedana';
export const CONFIG_FILE = 'config.json';

/** Where configuration comes from. */
export interface ConfigSources {
  /** `--config-dir`, else `CEDANA_CONFIG_DIR`, else /etc/cedana. */
  configDir?: string;
  /** `--config '<json>'`, merged over the file. */
  configJson?: string;
  env?: NodeJS.ProcessEnv;
}

type Leaf = { path: string[]; kind: 'string' | 'number' | 'boolean' | 'array' };

/** Every leaf field of the schema with its value kind, found from the defaults. */
function leaves(obj: Record<string, unknown>, prefix: string[] = []): Leaf[] {
  const out: Leaf[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const path = [...prefix, k];
    if (Array.isArray(v)) out.push({ path, kind: 'array' });
    else if (v !== null && typeof v === 'object') out.push(...leaves(v as Record<string, unknown>, path));
    else out.push({ path, kind: typeof v as Leaf['kind'] });
  }
  return out;
}

/** The environment variable names that set the field at `path`. */
export function envNames(path: string[]): string[] {
  const names = [`CEDANA_${path.join('_').toUpperCase()}`];
  const alias = envAliases[path.join('.')];
  if (alias) names.push(alias);
  return names;
}

function parseEnvValue(raw: string, kind: Leaf['kind']): unknown {
  switch (kind) {
    case 'boolean':
      return /^(1|true|yes|on)$/i.test(raw) ? true : /^(0|false|no|off|)$/i.test(raw) ? false : raw;
    case 'number':
      return raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
    case 'array':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = target;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== 'object' || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? mergeDeep(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

function parseJson(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CedanaError(ErrorCode.InvalidArgument, `${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new CedanaError(ErrorCode.InvalidArgument, `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The config directory the sources name. */
export function configDirOf(sources: ConfigSources): string {
  return sources.configDir || (sources.env ?? process.env).CEDANA_CONFIG_DIR || DEFAULT_CONFIG_DIR;
}

/** The layered raw config, before validation, and which env variable set which field. */
function layered(sources: ConfigSources): { raw: Record<string, unknown>; fromEnv: Map<string, string> } {
  const env = sources.env ?? process.env;
  const file = join(configDirOf(sources), CONFIG_FILE);
  let raw: Record<string, unknown> = {};
  if (existsSync(file)) raw = parseJson(readFileSync(file, 'utf8'), `config file ${file}`);
  if (sources.configJson) raw = mergeDeep(raw, parseJson(sources.configJson, '--config'));
  const fromEnv = new Map<string, string>();
  for (const leaf of leaves(ConfigSchema.parse({}) as Record<string, unknown>)) {
    for (const name of envNames(leaf.path)) {
      const value = env[name];
      if (value === undefined) continue;
      setPath(raw, leaf.path, parseEnvValue(value, leaf.kind));
      fromEnv.set(leaf.path.join('.'), name);
    }
  }
  return { raw, fromEnv };
}

/** Loads and validates the configuration. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const { raw, fromEnv } = layered(sources);
  const result = ConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.join('.');
  const where = fromEnv.get(field) ?? (sources.configJson ? '--config or config file' : `${join(configDirOf(sources), CONFIG_FILE)}`);
  const message = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => (field ? `${field}.${k}` : k)).join(', ')}` : `${field}: ${issue.message}`;
  throw new CedanaError(ErrorCode.InvalidArgument, `bad config (${where}): ${message}`, {
    hint: 'fix the value or delete the field to use its default',
  });
}

/**
 * Writes the defaults (with env overrides) to `<config dir>/config.json` unless a file is there already; with
 * `merge`, writes the file there is with the defaults, `--config` and env overrides merged into it.
 * Returns the path and whether it was written.
 */
export function initConfig(sources: ConfigSources = {}, opts: { merge?: boolean } = {}): { path: string; written: boolean } {
  const dir = configDirOf(sources);
  const path = join(dir, CONFIG_FILE);
  if (existsSync(path) && !opts.merge) return { path, written: false };
  const cfg = loadConfig(sources);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(path, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
  return { path, written: true };
}

export type { Config };
