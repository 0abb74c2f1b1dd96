/**
 * A `PluginContext` for a plugin's own tests: what the daemon would hand its `init`, without a daemon.
 */
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest, type PluginManifest } from '../manifest';
import type { ChildWatcher, Logger, PluginContext } from '../plugin';
import type { ExitStatus } from '../runtime';

/** A logger that keeps its lines (`level message {fields}`) for assertions. */
export interface MemoryLogger extends Logger {
  readonly lines: string[];
}

export function memoryLogger(): MemoryLogger {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** True while `pid` exists and is not a zombie. */
export async function processAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/**
 * A ChildWatcher that polls /proc. The daemon reaps the processes it adopts and so learns their exit codes; a test
 * process is no child subreaper, so this one only learns that the process ended (code and signal are null).
 */
export function pollingChildWatcher(intervalMs = 100): ChildWatcher {
  return {
    watch(pid: number): Promise<ExitStatus> {
      return new Promise((resolve) => {
        const timer = setInterval(() => {
          void processAlive(pid).then((alive) => {
            if (alive) return;
            clearInterval(timer);
            resolve({ code: null, signal: null });
          });
        }, intervalMs);
        timer.unref();
      });
    },
  };
}

/** What a test may set in the context; the rest has working defaults. */
export interface TestContextOptions {
  /** The host config the plugin reads (`ctx.config`); default `{}`. */
  config?: unknown;
  /** CRIU binary; default `criu` on PATH. */
  criuPath?: string;
  /** Scratch directory; default a fresh one under the system's temporary directory. */
  tmpDir?: string;
  logger?: Logger;
  children?: ChildWatcher;
}

/**
 * The context `init` gets from the daemon, for tests. `manifest` is a validated manifest or the plugin's parsed
 * package.json (validated here, so a bad manifest fails the test at once).
 */
export function testContext(manifest: PluginManifest | Record<string, unknown>, opts: TestContextOptions = {}): PluginContext & { logger: Logger } {
  const m = 'cedana' in manifest ? parseManifest(manifest) : (manifest as PluginManifest);
  return {
    manifest: m,
    logger: opts.logger ?? memoryLogger(),
    settings: {
      criuPath: opts.criuPath ?? 'criu',
      tmpDir: opts.tmpDir ?? mkdtempSync(join(tmpdir(), `cedana-${m.id}-test-`)),
    },
    children: opts.children ?? pollingChildWatcher(),
    config: opts.config ?? {},
  };
}
