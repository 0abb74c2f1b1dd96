/**
 * A plugin context for calling the plugin's `init` directly, as the daemon's plugin host would.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest, type PluginContext, type PluginInstance } from '@cedana-ts/sdk';
import plugin from '../../src/index';

const PACKAGE_JSON = join(__dirname, '..', '..', '..', 'package.json');

/** Log lines the plugin wrote, as `level: message`. */
export const logged: string[] = [];

export function context(gpu: Record<string, unknown>): PluginContext {
  const log = (level: string) => (msg: string) => void logged.push(`${level}: ${msg}`);
  return {
    manifest: parseManifest(JSON.parse(readFileSync(PACKAGE_JSON, 'utf8'))),
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    settings: { criuPath: 'criu', tmpDir: tmpdir() },
    // The GPU plugin watches no process; this one is never called.
    children: { watch: () => new Promise(() => undefined) },
    config: { gpu },
  };
}

/**
 * Runs the plugin's init with `gpu` settings and the stand-in's variables in the environment (the stand-in reads
 * them at each call, so they stay set until `restoreEnv`).
 */
export async function initPlugin(gpu: Record<string, unknown>, env: Record<string, string> = {}): Promise<PluginInstance> {
  setEnv(env);
  return plugin.init(context(gpu));
}

const saved = new Map<string, string | undefined>();

export function setEnv(env: Record<string, string>): void {
  for (const [k, v] of Object.entries(env)) {
    if (!saved.has(k)) saved.set(k, process.env[k]);
    process.env[k] = v;
  }
}

export function restoreEnv(): void {
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  saved.clear();
}
