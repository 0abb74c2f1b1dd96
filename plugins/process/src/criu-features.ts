/**
 * The CRIU features `cedana check --full` lists, each from `criu check --feature NAME`. A missing feature is a
 * warning: dumps that do not need it still work.
 */
import type { HealthComponent } from '@cedana-ts/sdk';
import { runCommand } from './criu';

/** Feature name for CRIU, and what it gives. */
const FEATURES: [string, string][] = [
  ['mem_dirty_track', 'incremental memory dumps'],
  ['uffd-noncoop', 'lazy restore of memory'],
  ['pidfd_store', 'PID reuse detection across pre-dumps'],
  ['network_lock_nftables', 'network lock with nftables'],
  ['link_nsid', 'network namespaces of veth peers'],
  ['timens', 'time namespaces'],
];

/** One health line per feature. */
export async function criuFeatures(criu: string): Promise<HealthComponent[]> {
  return Promise.all(
    FEATURES.map(async ([name, what]): Promise<HealthComponent> => {
      const r = await runCommand(criu, ['check', '--feature', name]).catch((e: Error) => ({ code: 1, stdout: '', stderr: e.message }));
      const last = `${r.stdout}\n${r.stderr}`.trim().split('\n').pop() ?? '';
      const ok = r.code === 0 && !/^(Warn|Error)/.test(last);
      return ok ? { name: `criu ${name}`, data: 'available', level: 'ok', message: what } : { name: `criu ${name}`, data: 'unavailable', level: 'warn', message: `${what}: ${last.replace(/^\w+\s*\([^)]*\):\s*/, '')}` };
    }),
  );
}
