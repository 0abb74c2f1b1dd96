/**
 * The CRIU dump of a batch job's tree, with CRIU's own reason in the error when it fails.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode, type CriuOptions } from '@cedana-ts/sdk';
import { runCommand } from './commands';

/** The dump's CRIU flags (tcpClose and leaveStopped are restore-only; external is a list). */
const optionFlags: Partial<Record<keyof CriuOptions, string>> = {
  leaveRunning: '--leave-running',
  tcpEstablished: '--tcp-established',
  fileLocks: '--file-locks',
  shellJob: '--shell-job',
  extUnixSk: '--ext-unix-sk',
  skipInFlight: '--skip-in-flight',
  linkRemap: '--link-remap',
};

export async function criuDump(criuPath: string, pid: number, imagesDir: string, opts: CriuOptions): Promise<number[]> {
  const flags = (Object.keys(optionFlags) as (keyof CriuOptions)[]).filter((k) => opts[k]).map((k) => optionFlags[k]!);
  for (const e of opts.external ?? []) flags.push('--external', e);
  const r = await runCommand(criuPath, ['dump', '-t', String(pid), '-D', imagesDir, ...flags, '-o', 'dump.log', '-v4']).catch((err: Error) => {
    throw new CedanaError(ErrorCode.Unavailable, `cannot run CRIU at ${criuPath}: ${err.message}`, { hint: 'set criu.binary_path' });
  });
  const log = await readFile(join(imagesDir, 'dump.log'), 'utf8').catch(() => '');
  if (r.code !== 0) {
    const why = log.split('\n').filter((l) => /Error \(/.test(l) && !/RLIMIT_NOFILE/.test(l)).map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, '').trim());
    throw new CedanaError(ErrorCode.CheckpointFailed, `CRIU dump of PID ${pid} failed: ${why[0] ?? r.stderr.trim()}`, { hint: 'the job keeps running' });
  }
  return [...log.matchAll(/Dumping task \(pid: (\d+)/g)].map((m) => Number(m[1]));
}
