/**
 * The terminal end of `attach`: this process's stdin goes to the job, the job's stdout and stderr come here, and
 * the job's exit code becomes ours. Ctrl+C detaches and leaves the job running.
 */
import { constants } from 'node:os';
import type { ServiceError } from '@grpc/grpc-js';
import type { Daemon } from '../client/client';
import { AttachIn, type AttachOut } from '../generated/daemon';
import { fromServiceError } from '../server/status';

/** The exit code a shell would report for a status. */
function exitCodeOf(m: AttachOut): number {
  if (m.exitSignal) return 128 + ((constants.signals as Record<string, number>)[m.exitSignal] ?? 0);
  return m.exitCode;
}

/** Attaches to the job named by `target`; resolves with the job's exit code, or 0 on detach. */
export function attachTerminal(daemon: Daemon, target: { jid?: string; pid?: number }, label: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = daemon.attachStream();
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      process.removeListener('SIGINT', onSigint);
      process.stdin.removeListener('data', onStdin);
      process.stdin.removeListener('end', onStdinEnd);
      process.stdin.pause();
      fn();
    };
    const onStdin = (d: Buffer) => call.write(AttachIn.fromPartial({ stdin: d }));
    const onStdinEnd = () => call.write(AttachIn.fromPartial({ stdinEof: true }));
    const onSigint = () =>
      finish(() => {
        process.stderr.write(`\nDetached from ${label}; it keeps running (cedana job attach to come back)\n`);
        call.cancel();
        resolve(0);
      });
    call.write(AttachIn.fromPartial({ jid: target.jid ?? '', pid: target.pid ?? 0 }));
    call.on('data', (m: AttachOut) => {
      if (m.stdout.length > 0) process.stdout.write(m.stdout);
      if (m.stderr.length > 0) process.stderr.write(m.stderr);
      if (m.exited) finish(() => resolve(exitCodeOf(m)));
    });
    call.on('error', (err: ServiceError) => finish(() => reject(fromServiceError(err, daemon.address))));
    // Our own output closed (piped into `head`, say): detach quietly; the job goes on.
    const onOutputClosed = () => finish(() => {
      call.cancel();
      resolve(0);
    });
    process.stdout.once('error', onOutputClosed);
    process.stderr.once('error', onOutputClosed);
    call.on('end', () => finish(() => resolve(0)));
    process.on('SIGINT', onSigint);
    process.stdin.on('data', onStdin);
    process.stdin.on('end', onStdinEnd);
    process.stdin.resume();
  });
}
