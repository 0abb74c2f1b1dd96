/**
 * For a runtime whose work is done by a daemon of its own (containerd, dockerd, …): how the plugin behaves when
 * that daemon is not there. Where its programs are not installed the plugin is skipped, saying so; where they are
 * installed but the daemon is not running, the plugin loads (the daemon may start later) and its health warns,
 * naming the socket it tried.
 */
import assert from 'node:assert/strict';
import { PluginSkipped } from '../errors';
import type { PluginManifest } from '../manifest';
import type { PluginInstance } from '../plugin';
import { registerChecks, type Check, type SuiteApi } from './suite-api';

export interface DaemonDownSuiteOptions {
  /** The plugin's validated manifest: its runtime's type is its id. */
  manifest: PluginManifest;
  /** The runtime's name in the titles: `containerd`, `Docker`. */
  name: string;
  /** Starts the plugin with its config pointing at `socket`: usually `plugin.init(testContext(manifest, { config }))`. */
  init(socket: string): Promise<PluginInstance>;
  /** What the skip reason says when the runtime's programs are not on PATH. */
  notInstalled: RegExp;
  /** A socket where no daemon listens; default `/nonexistent/<name>.sock`. */
  socket?: string;
}

/** The checks, runnable on their own (each throws when the plugin breaks the contract). */
export function daemonDownChecks(opts: DaemonDownSuiteOptions): Check<object>[] {
  const socket = opts.socket ?? `/nonexistent/${opts.name.toLowerCase()}.sock`;
  return [
    {
      name: `init is skipped, with the reason, where ${opts.name} is not installed`,
      run: async () => {
        const saved = process.env.PATH;
        process.env.PATH = '/nonexistent';
        try {
          await assert.rejects(opts.init(socket), (e: Error) => {
            assert.ok(e instanceof PluginSkipped, `init failed with ${e.name}: ${e.message}, not PluginSkipped`);
            assert.match(e.message, opts.notInstalled);
            return true;
          });
        } finally {
          process.env.PATH = saved;
        }
      },
    },
    {
      name: `init is ok where ${opts.name} is installed but not running; health warns, naming the socket`,
      run: async () => {
        const instance = await opts.init(socket);
        try {
          assert.equal(instance.runtime?.type, opts.manifest.id, 'the plugin brought no runtime of its id');
          const health = await instance.health!();
          assert.equal(health[0].level, 'warn', `health: ${JSON.stringify(health)}`);
          assert.ok((health[0].message ?? '').includes(socket), `health does not name ${socket}: ${health[0].message}`);
        } finally {
          await instance.close?.();
        }
      },
    },
  ];
}

/** Registers the checks as one describe block. */
export function daemonDownSuite(api: SuiteApi, opts: DaemonDownSuiteOptions): void {
  registerChecks(api, `runtime without its daemon: ${opts.name}`, 30_000, async () => ({}), daemonDownChecks(opts), async () => undefined);
}
