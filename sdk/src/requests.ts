/**
 * Request schemas of the four operations and the job commands. The CLI, the gRPC server and `--no-server`
 * all validate with these, so a mistake gets the same one-line answer whichever way it arrives.
 */
import { z } from 'zod';
import { CompressionInput } from './checkpoint';

/** A job id: what users type after `job kill`, so no spaces or slashes. */
export const Jid = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'a job id is 1–128 letters, digits, "_", "." or "-"');

/** A job type, which is the id of the runtime plugin serving it. */
export const JobType = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'not a job type');

const Pid = z.coerce.number().int('a PID is a whole number').positive('a PID is a positive number');

/** Runtime-specific options, passed to the plugin, which validates them. */
const RuntimeOptions = z.record(z.string(), z.unknown()).default({});

export const RunRequest = z.object({
  type: JobType,
  jid: Jid.optional(),
  args: z.array(z.string()).default([]),
  cwd: z.string().min(1).default('/'),
  env: z.record(z.string(), z.string()).default({}),
  /** Output file; default `/var/log/cedana-output-<jid>.log`. */
  logPath: z.string().min(1).optional(),
  /** File to write the job's PID to. */
  pidFile: z.string().min(1).optional(),
  /** Stdio through the daemon (`cedana attach`) instead of a log file. */
  attachable: z.boolean().default(false),
  /** A GPU job (`--gpu-enabled`): its dumps and restores need a GPU plugin. */
  gpuEnabled: z.boolean().default(false),
  options: RuntimeOptions,
});
export type RunRequest = z.input<typeof RunRequest>;

export const ManageRequest = z.object({
  type: JobType,
  /** A PID for `process`; a container id for container runtimes. */
  target: z.string().min(1, 'name what to manage'),
  jid: Jid.optional(),
  /** Wait for the target to appear (a name or pid file for `process`). */
  upcoming: z.boolean().default(false),
  /** How long to wait with `upcoming`. */
  timeoutSeconds: z.number().positive('the timeout must be positive').max(86_400).default(60),
  /** A GPU job (`--gpu-enabled`): its dumps and restores need a GPU plugin. */
  gpuEnabled: z.boolean().default(false),
  options: RuntimeOptions,
});
export type ManageRequest = z.input<typeof ManageRequest>;

const DumpCriuFlags = {
  leaveRunning: z.boolean().default(false),
  tcpEstablished: z.boolean().default(false),
  fileLocks: z.boolean().default(false),
  shellJob: z.boolean().default(false),
  skipInFlight: z.boolean().default(false),
  linkRemap: z.boolean().default(false),
  external: z.array(z.string().min(1)).default([]),
};

export const DumpRequest = z
  .object({
    /** Dump a job by id… */
    jid: Jid.optional(),
    /** …or something of a type that is not (yet) a job: `process` + a PID. */
    type: JobType.optional(),
    target: z.string().min(1).optional(),
    /** Directory or storage URL; default from config `checkpoint.dir`. */
    dir: z.string().min(1).optional(),
    /** File or directory name, without extension. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/, 'a checkpoint name is letters, digits, "_", ".", ":" or "-", no slashes')
      .optional(),
    compression: CompressionInput.optional(),
    /** Shards written in parallel by the streamer plugin; absent: config `checkpoint.streams` (0: one archive). */
    streams: z.number().int('--streams is a whole number').min(0, '--streams cannot be negative').max(64, '--streams is at most 64').optional(),
    ...DumpCriuFlags,
    options: RuntimeOptions,
  })
  .refine((r) => (r.jid !== undefined) !== (r.type !== undefined && r.target !== undefined), {
    message: 'name either a job (dump job <JID>) or a target (dump <type> <ID>)',
  });
export type DumpRequest = z.input<typeof DumpRequest>;

export const RestoreRequest = z
  .object({
    /** Restore a job (from its latest checkpoint unless `path` is given)… */
    jid: Jid.optional(),
    /** …or restore a checkpoint file as a new job of this type. */
    type: JobType.optional(),
    path: z.string().min(1).optional(),
    tcpEstablished: z.boolean().default(false),
    fileLocks: z.boolean().default(false),
    shellJob: z.boolean().default(false),
    tcpClose: z.boolean().default(false),
    leaveStopped: z.boolean().default(false),
    linkRemap: z.boolean().default(false),
    external: z.array(z.string().min(1)).default([]),
    pidFile: z.string().min(1).optional(),
    /** Stdio through the daemon after the restore. */
    attachable: z.boolean().default(false),
    /** A file for the restored process's stdout and stderr, in place of those it was dumped with (`--out`). */
    out: z.string().min(1, '--out names a file').optional(),
    /** Run the job again before its memory is in, and fill it in the background (`--lazy`). */
    lazy: z.boolean().default(false),
    /** `restore job A --path P` where P is a checkpoint of another job: only with this. */
    force: z.boolean().default(false),
    options: RuntimeOptions,
  })
  // A type without --path: the runtime may hold the checkpoint itself (Runtime.fetchCheckpoint), else it is refused.
  .refine((r) => r.jid !== undefined || r.path !== undefined || r.type !== undefined, {
    message: 'name a checkpoint with --path, or a job with restore job <JID>',
  })
  .refine((r) => !(r.out && r.attachable), { message: '--out and --attach/--attachable cannot be used together' });
export type RestoreRequest = z.input<typeof RestoreRequest>;

/** `job migrate`: move a job of this host to another host that shares the job database. */
export const MigrateRequest = z.object({
  jid: Jid,
  /** The host's ID or name. */
  toHost: z.string().min(1, 'name the host to move the job to (--to HOST; see `cedana ps --all`)'),
  /** Where the checkpoint goes, reachable from both hosts; absent: config `checkpoint.dir`. */
  dir: z.string().min(1).optional(),
  compression: CompressionInput.optional(),
});
export type MigrateRequest = z.input<typeof MigrateRequest>;

/** Signals `job kill` accepts. */
export const SignalName = z
  .string()
  .transform((s) => (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`))
  .pipe(z.enum(['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGSTOP', 'SIGCONT']));

export const KillRequest = z.object({
  jids: z.array(Jid).default([]),
  all: z.boolean().default(false),
  /** Send only this signal. Without it: TERM, then KILL after the grace period. */
  signal: SignalName.optional(),
  graceSeconds: z.number().min(0, 'the grace period cannot be negative').max(3600).default(10),
});
export const DeleteRequest = z.object({
  jids: z.array(Jid).default([]),
  all: z.boolean().default(false),
});
