/**
 * The stdio of an attachable job: three FIFOs in the daemon's I/O directory. FIFOs (not pipes or sockets)
 * because CRIU dumps and reopens them by path — so a restored job is wired back to the daemon with no extra
 * step — and because the daemon can reopen them after a restart.
 *
 * The job holds its stdout/stderr FIFOs read-write, so it never dies of SIGPIPE when no daemon reads (its writes
 * block once a FIFO's 64 KiB are full, until a daemon reads again). The daemon keeps an idle writer on each so
 * its reader sees no end-of-file while the job is dumped; it closes them when the job exits, drains what is
 * left, and reports the exit to the attacher. Its stdin is held open for writing by a small process of its own,
 * so that the daemon stopping is not end-of-input for the job (stdin-holder.ts).
 */
import { closeSync, constants, lstatSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { CedanaError, ErrorCode, type ExitStatus } from '@cedana-ts/sdk';
import { loadLibc } from '../proc/libc';
import { checkOwnFifo, ensurePrivateDir } from '../security/private-files';
import { Backlog } from './backlog';
import { holdStdin, releaseStdin } from './stdin-holder';

/** Output kept for the next attacher while nobody is attached; past this the job's writes wait for one. */
const BACKLOG_BYTES = 8 * 1024 * 1024;
/** How long to wait for the last output after the job exited before reporting the exit. */
const DRAIN_MS = 1_000;

export type OutputStream = 'stdout' | 'stderr';

/** The FIFO paths of a job. */
export interface IoPaths {
  dir: string;
  stdin: string;
  stdout: string;
  stderr: string;
}

export function ioPaths(dir: string): IoPaths {
  return { dir, stdin: join(dir, 'stdin'), stdout: join(dir, 'stdout'), stderr: join(dir, 'stderr') };
}

/** Who receives a job's output while attached. */
export interface Attacher {
  /** Takes output; false when it cannot take more for now: output then pauses until {@link Attachment.resume}. */
  output(stream: OutputStream, data: Buffer): boolean | void;
  exit(status: ExitStatus): void;
  /** The daemon stops: the job runs on, but this attachment ends. */
  closed(): void;
}

/** The handle an attacher gets. */
export interface Attachment {
  write(data: Buffer): void;
  endStdin(): void;
  /** The attacher can take output again. */
  resume(): void;
  detach(): void;
}

/** FIFOs are opened without following a symlink: one planted in their place fails with ELOOP instead. */
const NOFOLLOW = constants.O_NOFOLLOW;

/** Creates a FIFO; mkfifo never follows a symlink, and one that exists already (EEXIST) is refused. */
function makeFifo(path: string): void {
  if (loadLibc().mkfifo(path, 0o600) !== 0) {
    const errno = loadLibc().errno();
    throw new CedanaError(errno === 17 ? ErrorCode.PermissionDenied : ErrorCode.Internal, `cannot create FIFO ${path} (${errno === 17 ? 'something is there already' : `errno ${errno}`})`, {
      hint: 'remove it; the daemon creates the FIFOs of a new job itself',
    });
  }
}

export class JobIO {
  private readers: Socket[] = [];
  private keepers: number[] = [];
  private stdinWriter?: Socket;
  private readonly backlog = new Backlog(BACKLOG_BYTES);
  private attacher?: Attacher;
  private exitStatus?: ExitStatus;
  private endStatus?: ExitStatus;
  private ended = 0;
  private onDrained?: () => void;

  private constructor(readonly paths: IoPaths) {}

  /**
   * Opens the FIFOs of a job at `dir`: `fresh` for a job about to start (a new directory, 0700, new FIFOs; an
   * existing path is refused), else reopening FIFOs the daemon made earlier — checked to be
   * its own FIFOs in its own private directory (security/private-files.ts).
   */
  static open(dir: string, fresh = false): JobIO {
    const io = new JobIO(ioPaths(dir));
    const fifos = [io.paths.stdin, io.paths.stdout, io.paths.stderr];
    if (fresh) {
      mkdirSync(dir, { mode: 0o700 });
      ensurePrivateDir(dir);
      for (const p of fifos) makeFifo(p);
    } else {
      ensurePrivateDir(dir);
      for (const p of fifos) {
        checkOwnFifo(p);
        if (!lstatSync(p, { throwIfNoEntry: false })) makeFifo(p);
      }
    }
    io.openDaemonEnds();
    return io;
  }

  private openDaemonEnds(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const path = this.paths[stream];
      const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | NOFOLLOW);
      this.keepers.push(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | NOFOLLOW));
      const reader = new Socket({ fd: readFd, readable: true, writable: false });
      reader.on('data', (d: Buffer) => this.deliver(stream, d));
      reader.on('end', () => this.readerEnded());
      reader.on('error', () => this.readerEnded());
      this.readers.push(reader);
    }
    this.openStdinWriter();
  }

  private openStdinWriter(): void {
    const fd = openSync(this.paths.stdin, constants.O_RDWR | constants.O_NONBLOCK | NOFOLLOW);
    this.stdinWriter = new Socket({ fd, readable: false, writable: true });
    this.stdinWriter.on('error', () => undefined);
  }

  /** Keeps the job's stdin open for writing while no daemon does (see stdin-holder.ts); call once it runs. */
  holdStdin(jobPid: number): void {
    holdStdin(this.paths.stdin, jobPid);
  }

  /** Ends that, for a job that is deleted: no attacher can give it input any more. */
  releaseStdin(): void {
    releaseStdin(this.paths.stdin);
  }

  /** The job's ends, to hand to the process at start: stdin read-only, stdout/stderr read-write. */
  childFds(): { stdin: number; stdout: number; stderr: number } {
    return {
      stdin: openSync(this.paths.stdin, constants.O_RDONLY | NOFOLLOW),
      stdout: openSync(this.paths.stdout, constants.O_RDWR | NOFOLLOW),
      stderr: openSync(this.paths.stderr, constants.O_RDWR | NOFOLLOW),
    };
  }

  private deliver(stream: OutputStream, data: Buffer): void {
    if (this.attacher) {
      // A slow attacher holds the job back, as a slow terminal would (the FIFO fills, the job's writes wait) —
      // except once the job has ended: then everything left is read so that nothing is lost.
      if (this.attacher.output(stream, data) === false && !this.endStatus) this.setPaused(true);
      return;
    }
    this.backlog.push(stream, data);
    if (this.backlog.full && !this.endStatus) this.setPaused(true);
  }

  private setPaused(paused: boolean): void {
    for (const r of this.readers) {
      if (paused) r.pause();
      else r.resume();
    }
  }

  private readerEnded(): void {
    this.ended++;
    if (this.ended >= this.readers.length) this.onDrained?.();
  }

  /** Attaches; output kept since the last attacher comes first. One attacher at a time. */
  attach(jid: string, attacher: Attacher): Attachment {
    if (this.attacher) throw new CedanaError(ErrorCode.AlreadyExists, `job ${jid} already has an attacher`, { hint: 'detach the other one first (Ctrl+C)' });
    this.attacher = attacher;
    let full = false;
    for (const { stream, data } of this.backlog.take()) full = attacher.output(stream, data) === false || full;
    this.setPaused(full && !this.endStatus);
    if (this.exitStatus) attacher.exit(this.exitStatus);
    return {
      write: (data) => {
        if (this.exitStatus) return;
        if (!this.stdinWriter || this.stdinWriter.destroyed) this.openStdinWriter();
        this.stdinWriter!.write(data);
      },
      endStdin: () => {
        releaseStdin(this.paths.stdin);
        this.stdinWriter?.end();
        this.stdinWriter = undefined;
      },
      resume: () => {
        if (this.attacher === attacher) this.setPaused(false);
      },
      detach: () => {
        if (this.attacher !== attacher) return;
        this.attacher = undefined;
        this.setPaused(false);
      },
    };
  }

  /** The output kept for the next attacher, handed over (to a log, when the job stops being attachable). */
  takeUnread(): Buffer[] {
    return this.backlog.take().map(({ data }) => data);
  }

  get attached(): boolean {
    return this.attacher !== undefined;
  }

  /** True once the job's exit was reported here (its last output may still be draining). */
  get hasEnded(): boolean {
    return this.endStatus !== undefined;
  }

  /** The job ended: let the readers drain, then tell the attacher (or keep the status for the next one). */
  exited(status: ExitStatus): void {
    if (this.exitStatus) return;
    this.endStatus = status;
    this.setPaused(false);
    releaseStdin(this.paths.stdin);
    for (const fd of this.keepers.splice(0)) closeSync(fd);
    const report = () => {
      if (this.exitStatus) return;
      this.exitStatus = status;
      this.attacher?.exit(status);
      this.closeReaders();
    };
    this.onDrained = report;
    if (this.ended >= this.readers.length) report();
    setTimeout(report, DRAIN_MS).unref();
  }

  private closeReaders(): void {
    for (const r of this.readers) r.destroy();
    this.stdinWriter?.destroy();
    this.stdinWriter = undefined;
  }

  /** Closes the daemon's ends (daemon stop); the FIFOs stay for the job and the next daemon. */
  close(): void {
    for (const fd of this.keepers.splice(0)) closeSync(fd);
    this.closeReaders();
    const attacher = this.attacher;
    this.attacher = undefined;
    attacher?.closed();
  }
}
