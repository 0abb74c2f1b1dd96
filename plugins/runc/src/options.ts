/**
 * The runc runtime's options (the flags after `cedana run|manage|dump|restore runc`) and its part of the host
 * config.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** A runc container id (runc's own rule). */
export const ContainerId = z.coerce
  .string()
  .regex(/^[\w+.-]+$/, 'a container id is letters, digits, "_", "+", "." or "-"');

/** Flags of every operation; each operation uses those that apply to it. */
export const RuncOptions = z
  .object({
    /** run, restore: the OCI bundle directory (config.json and rootfs). */
    bundle: z.string().min(1).optional(),
    /** run, restore: the container id (run: default the job id; restore: default the checkpointed one). */
    id: ContainerId.optional(),
    /** every operation: runc's state directory (default config runc.root). */
    root: z.string().min(1).optional(),
    /** run, restore: runc's own flags (see run-flags.ts). With the daemon a container always runs detached. */
    detach: z.boolean().optional(),
    consoleSocket: z.string().min(1).optional(),
    noPivot: z.boolean().optional(),
    noNewKeyring: z.boolean().optional(),
    noSubreaper: z.boolean().optional(),
    // Coerced: the CLI passes runtime flag values as the strings given.
    preserveFds: z.coerce.number().int('--preserve-fds is a count of descriptors').min(0, '--preserve-fds cannot be negative').optional(),
    rootless: z.enum(['true', 'false', 'auto'], { error: '--rootless is true, false or auto' }).optional(),
    systemdCgroup: z.boolean().optional(),
    /** --no-server only, as in Cedana: runc's own log file and its format. */
    log: z.string().min(1).optional(),
    logFormat: z.enum(['text', 'json'], { error: '--log-format is text or json' }).optional(),
    /** restore: a new eth0 address (refused: see run-flags.ts). */
    netnsEth0Ipv4Addr: z.string().min(1).optional(),
  })
  .strict();
export type RuncOptions = z.infer<typeof RuncOptions>;

/** The `runc` section of the host config (absent from older hosts: defaults then). */
const RuncConfig = z.object({
  runc: z.object({ binary: z.string().min(1).default('runc'), root: z.string().min(1).default('/run/runc') }).prefault({}),
});

/** runc settings from the host config. */
export function runcSettings(config: unknown): { binary: string; root: string } {
  const parsed = RuncConfig.safeParse(config ?? {});
  return parsed.success ? parsed.data.runc : { binary: 'runc', root: '/run/runc' };
}

/** An absolute path for a user-given directory; relative paths are taken from `cwd` when there is one. */
export function absoluteDir(path: string, cwd: string | undefined, flag: string): string {
  if (isAbsolute(path)) return path;
  if (cwd) return resolve(cwd, path);
  throw new CedanaError(ErrorCode.InvalidArgument, `${flag} ${path} is not an absolute path`, { hint: `give ${flag} as an absolute path` });
}

/** `id` as a container id, or INVALID_ARGUMENT. */
export function containerId(id: string): string {
  const r = ContainerId.safeParse(id);
  if (!r.success) throw new CedanaError(ErrorCode.InvalidArgument, `'${id}' is not a container id: ${r.error.issues[0].message}`);
  return r.data;
}
