/**
 * The terminal end of `attach`: this process's stdin goes to the job, the job's stdout and stderr come here, and
 * the job's exit code becomes ours. Ctrl+C detaches and leaves the job running.
 */
import { constants } from 'node:os';
import type { ServiceError } from '@grpc/grpc-js';
import type { Daemon } from '../client/client';
import type { AttachOut } from '../generated/daemon';
import { lazy } from './lazy';

const wire = lazy(() => ({
  ...(require('../generated/daemon') as typeof import('../generated/daemon')),
  ...(require('../server/status') as typeof import('../server/status')),
}));

/** How long a detach waits for the output already on its way before it gives up on it. */
const DETACH_WAIT_MS = 3_000;

/** The exit code a shell would report for a status; -1 when the daemon does not know it. */
function exitCodeOf(m: AttachOut): number {
  if (m.exitSignal) return 128 + ((constants.signals as Record<string, number>)[m.exitSignal] ?? 0);
  return m.exitCode;
}

/**
 * Attaches to the job named by `target`; resolves with the job's exit code, or 0 on detach.
 *
 * Ctrl+C detaches in two steps, so that no output is lost: we half-close the call, the daemon detaches us and
 * ends the call after the output it had already sent, which we print. A second Ctrl+C does not wait.
 */
export function attachTerminal(daemon: Daemon, target: { jid?: string; pid?: number }, label: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = daemon.attachStream();
    let done = false;
    let detaching = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      process.removeListener('SIGINT', onSigint);
      process.stdin.removeListener('data', onStdin);
      process.stdin.removeListener('end', onStdinEnd);
      process.stdin.pause();
      fn();
    };
    const detached = () =>
      finish(() => {
        process.stderr.write(`\nDetached from ${label}; it keeps running (cedana job attach to come back)\n`);
        resolve(0);
      });
    const onStdin = (d: Buffer) => call.write(wire().AttachIn.fromPartial({ stdin: d }));
    const onStdinEnd = () => call.write(wire().AttachIn.fromPartial({ stdinEof: true }));
    const onSigint = () => {
      if (detaching) {
        call.cancel();
        return detached();
      }
      detaching = true;
      process.stdin.removeListener('data', onStdin);
      process.stdin.removeListener('end', onStdinEnd);
      call.end();
      setTimeout(() => {
        call.cancel();
        detached();
      }, DETACH_WAIT_MS).unref();
    };
    call.write(wire().AttachIn.fromPartial({ jid: target.jid ?? '', pid: target.pid ?? 0 }));
    // Our output is slow (a pipe, a slow terminal): pause the stream, and so the job, rather than pile it up here.
    const write = (out: NodeJS.WriteStream, data: Uint8Array) => {
      if (!out.write(data)) {
        call.pause();
        out.once('drain', () => call.resume());
      }
    };
    call.on('data', (m: AttachOut) => {
      if (done) return;
      if (m.stdout.length > 0) write(process.stdout, m.stdout);
      if (m.stderr.length > 0) write(process.stderr, m.stderr);
      if (!m.exited) return;
      const code = exitCodeOf(m);
      finish(() => {
        if (code < 0) process.stderr.write(`${label} ended; its exit code is unknown (it was started before the daemon last restarted)\n`);
        resolve(code < 0 ? 1 : code);
      });
    });
    call.on('error', (err: ServiceError) => {
      if (detaching) return detached();
      finish(() => reject(wire().fromServiceError(err, daemon.address)));
    });
    // Our own output closed (piped into `head`, say): detach quietly; the job goes on.
    const onOutputClosed = () =>
      finish(() => {
        call.cancel();
        resolve(0);
      });
    process.stdout.once('error', onOutputClosed);
    process.stderr.once('error', onOutputClosed);
    call.on('end', () => (detaching ? detached() : finish(() => resolve(0))));
    process.on('SIGINT', onSigint);
    process.stdin.on('data', onStdin);
    process.stdin.on('end', onStdinEnd);
    process.stdin.resume();
  });
}
