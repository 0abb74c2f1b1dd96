/**
 * The Runtime interface: what a runtime plugin (process, runc, containerd, docker…) implements so the core can
 * run, manage, dump, restore and kill its jobs.
 */
import type { z } from 'zod';
import type { CheckpointMetadata, CriuOptions } from './checkpoint';

/** How a process ended. */
export interface ExitStatus {
  /** Exit code when it exited normally. */
  code: number | null;
  /** Signal name when a signal ended it. */
  signal: string | null;
}

/** A job as the runtime sees it: enough to find its process again. */
export interface JobRef {
  jid: string;
  pid: number;
  /** What the runtime recorded at run/manage/restore time. */
  details: Record<string, unknown>;
}

/** A job process the runtime started or restored. */
export interface StartedJob {
  pid: number;
  /** Runtime-specific details stored on the job (a container id, the command line…). */
  details: Record<string, unknown>;
  /** Settles when the job's process ends. Absent when the runtime cannot observe the end. */
  exited?: Promise<ExitStatus>;
  /**
   * A lazy restore (`RestoreSpec.lazy`): settles once all of the job's memory is in. Rejects when its page source
   * was lost first; the runtime has then killed the job, whose memory could not be completed.
   */
  pagesIn?: Promise<void>;
}

/** `cedana run <type>`. */
export interface RunSpec {
  jid: string;
  /** The command and its arguments (for `process`; container runtimes may ignore it). */
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Where stdout and stderr go (opened for append), unless `stdio` is given. */
  logPath: string;
  /** File descriptors to give the job as stdin, stdout and stderr (an attachable job's FIFOs). */
  stdio?: { stdin: number; stdout: number; stderr: number };
  /** Runtime-specific options, already validated against {@link Runtime.optionsSchema}. */
  options: Record<string, unknown>;
  /** Run in the foreground with the caller's stdio (`--no-server`). */
  foreground: boolean;
}

/** `cedana manage <type> <target>`. */
export interface ManageSpec {
  jid: string;
  /** What to manage: a PID for `process`, a container id for container runtimes. */
  target: string;
  options: Record<string, unknown>;
}

/** `cedana dump …`: write CRIU images of the job into `imagesDir`. */
export interface DumpSpec {
  job: JobRef;
  imagesDir: string;
  criu: CriuOptions;
  options: Record<string, unknown>;
}

/** What a dump produced. */
export interface DumpResult {
  /** The CRIU options actually used (the runtime may turn some on after inspecting the process). */
  criu: CriuOptions;
  /** Runtime-specific details to keep in the checkpoint's metadata. */
  details: Record<string, unknown>;
  /** PIDs of the dumped tree, which the dump stopped unless it left them running. */
  pids?: number[];
}

/** `cedana restore …`: bring the job back from the images in `imagesDir`. */
export interface RestoreSpec {
  imagesDir: string;
  metadata: CheckpointMetadata;
  criu: CriuOptions;
  options: Record<string, unknown>;
  /** Restore as a child of the caller and wait for it (`--no-server`). */
  foreground: boolean;
  /** Start the job before its memory is in, and fill it in the background (`--lazy`; see `Runtime.lazyRestore`). */
  lazy?: boolean;
  /**
   * File descriptors that replace the restored job's stdio as it was dumped: the FIFOs of a job restored
   * attachable, its log file, or the caller's own stdio (`--no-server`). Left out: each comes back as it was
   * (a file reopened by path). `stdin` left out alone keeps the dumped stdin.
   */
  stdio?: { stdin?: number; stdout: number; stderr: number };
}

/** A runtime plugin's main object. */
export interface Runtime {
  /** The job type this runtime serves, equal to the plugin id (`process`). */
  readonly type: string;
  /** zod schema of the runtime-specific options of run/manage/dump/restore; unknown options are refused. */
  readonly optionsSchema: z.ZodType<Record<string, unknown>>;
  /** Whether `restore` takes `lazy` (memory filled after the job runs again). */
  readonly lazyRestore?: boolean;
  run(spec: RunSpec): Promise<StartedJob>;
  manage(spec: ManageSpec): Promise<StartedJob>;
  dump(spec: DumpSpec): Promise<DumpResult>;
  restore(spec: RestoreSpec): Promise<StartedJob>;
  /** Sends `signal` to the job. */
  kill(job: JobRef, signal: NodeJS.Signals): Promise<void>;
  /**
   * `restore <type>` without --path: writes a checkpoint the runtime keeps itself, named by its options (a
   * containerd checkpoint image, say), into `dir` as an image directory with its cedana.json. Returns false when
   * the options name none.
   */
  fetchCheckpoint?(options: Record<string, unknown>, dir: string): Promise<boolean>;
  /**
   * Freezes the job the runtime's own way (`runc pause`, a containerd task pause): every process of it stops where
   * it is until {@link Runtime.unfreeze}. Absent: the host freezes it (SIGSTOP of the process tree).
   */
  freeze?(job: JobRef): Promise<void>;
  /** `cedana query <type> ID`: the container's init PID and the runtime's status of it, or null when there is none. */
  locate?(target: string, options: Record<string, unknown>): Promise<{ pid: number; status: string } | null>;
  unfreeze?(job: JobRef): Promise<void>;
}
