/**
 * Helpers for the remote-storage e2e tests: the plugins' test servers (s3rver, and the GCS JSON API test server —
 * the one fake, see plugins/storage-gcs/test/helpers/gcs-fake.ts), a CLI call that does not block the test's event
 * loop (so a test can act while a dump runs), and the daemon's memory high-water mark.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { CLI, type CliResult, type TestEnv } from './env';

export { S3TestServer } from '@cedana-ts/plugin-storage-s3/dist/test/helpers/s3-server';
export { GcsTestServer, makeServiceAccount } from '@cedana-ts/plugin-storage-gcs/dist/test/helpers/gcs-server';

/** Runs `cedana ARGS…` in the background; resolves when it exits. */
export function cliAsync(env: TestEnv, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...env.env, ...opts.env }, cwd: env.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The PID of the daemon serving `env` (a `cedana daemon start` whose CEDANA_ADDRESS is the env's socket). */
export function daemonPid(env: TestEnv): number {
  const want = `CEDANA_ADDRESS=${env.socket}`;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!(cmdline.includes(CLI) && cmdline.includes('daemon') && cmdline.includes('start'))) continue;
      if (readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(want)) return Number(name);
    } catch {
      /* the process went away */
    }
  }
  throw new Error(`no daemon found for ${env.socket}`);
}

/** A process's peak resident memory (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for PID ${pid}`);
  return Number(m[1]) / 1024;
}

/** Resets a process's VmHWM to its current RSS (Linux ≥ 4.0, `5` to clear_refs), to measure one phase. */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/**
 * A python job holding `mib` MiB of incompressible memory that prints 0, 1, 2, … every 50 ms, and
 * `sha256 <hex>` of its memory on SIGUSR1.
 */
export function memoryCounterScript(mib: number): string {
  return `
import hashlib, signal, sys, time
buf = hashlib.shake_256(b"cedana-remote-storage").digest(${mib} * 1024 * 1024)
def report(*_):
    print("sha256 " + hashlib.sha256(buf).hexdigest(), flush=True)
signal.signal(signal.SIGUSR1, report)
i = 0
while True:
    print(i, flush=True)
    i += 1
    time.sleep(0.05)
`;
}
