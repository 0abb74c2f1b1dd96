/**
 * Keeps an attachable job's stdin FIFO open for writing while no daemon does, so that a daemon stopping (or
 * being killed) does not look like end-of-input to the job — a shell would exit on it.
 *
 * The holder is a small process of its own, `tail --pid=<job> -f /dev/null`, with the FIFO's write end as its
 * stdout: it writes nothing, and ends by itself when the job does. It is found again (after a daemon restart,
 * say) by the name it runs under, which names the FIFO. End-of-input for the job, when the attacher's input
 * ends, is: release the holder, then close the daemon's own write end.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readFileSync } from 'node:fs';

const MARK = 'cedana-stdin-holder';

function holderName(stdinPath: string): string {
  return `${MARK}:${stdinPath}`;
}

/** Ends every holder of the FIFO at `stdinPath` (ours, or left by an earlier daemon). */
export function releaseStdin(stdinPath: string): void {
  const name = holderName(stdinPath);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv0: string;
    try {
      argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
    } catch {
      continue;
    }
    if (argv0 !== name) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
}

/**
 * Starts a holder for the FIFO at `stdinPath` of the job `jobPid`, replacing any earlier one. Needs a reader
 * on the FIFO (the job, or the daemon's own read-write end).
 */
export function holdStdin(stdinPath: string, jobPid: number): void {
  releaseStdin(stdinPath);
  let fd: number;
  try {
    fd = openSync(stdinPath, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (err) {
    // No reader: the job's input ended before (an attacher with no input, then a dump and restore). Nothing to hold.
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') return;
    throw err;
  }
  try {
    const holder = spawn('tail', [`--pid=${jobPid}`, '-f', '/dev/null'], {
      argv0: holderName(stdinPath),
      detached: true,
      stdio: ['ignore', fd, 'ignore'],
    });
    holder.on('error', () => undefined);
    holder.unref();
  } finally {
    closeSync(fd);
  }
}
