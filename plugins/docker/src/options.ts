/**
 * The docker runtime's options (the flags after `cedana run|manage|dump|restore docker`) and its part of the host
 * config.
 */
import { z } from 'zod';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** A Docker container name (Docker's own rule). */
const ContainerName = z.coerce.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a container name is letters, digits, "_", "." or "-", starting with a letter or digit');

/** Flags of every operation; each operation uses those that apply to it. */
export const DockerOptions = z
  .object({
    /** run: the image to run. */
    image: z.string().min(1).optional(),
    /** run: the container's name (default: the job id); restore: restore into a new container of that name. */
    name: ContainerName.optional(),
    /** run: the network mode (`none`, `host`, a network name); default Docker's. */
    network: z.string().min(1).optional(),
  })
  .strict();
export type DockerOptions = z.infer<typeof DockerOptions>;

const DockerConfig = z.object({ docker: z.object({ address: z.string().min(1).default('/var/run/docker.sock') }).prefault({}) });

/** The Engine API socket from the host config (default /var/run/docker.sock). */
export function dockerAddress(config: unknown): string {
  const parsed = DockerConfig.safeParse(config ?? {});
  return parsed.success ? parsed.data.docker.address : '/var/run/docker.sock';
}

/** `name` as a container name, or INVALID_ARGUMENT. */
export function containerName(name: string): string {
  const r = ContainerName.safeParse(name);
  if (!r.success) throw new CedanaError(ErrorCode.InvalidArgument, `'${name}' is not a container name: ${r.error.issues[0].message}`);
  return r.data;
}
