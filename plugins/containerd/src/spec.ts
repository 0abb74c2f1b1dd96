/**
 * The OCI runtime spec of a container the plugin creates: the image's command, environment and working
 * directory, the usual kernel filesystems, and the namespaces of a plain container. Sent to containerd as an
 * `Any` holding JSON, the form containerd's own client uses.
 */
import { anyOf } from './client';
import type { Any } from './generated/google/protobuf/any';
import type { ImageInfo } from './image';

/** The type URL containerd gives a runtime spec. */
export const SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';

/** The annotation runc reads a CRIU config file's path from (for checkpoint and restore). */
export const CRIU_CONFIG_ANNOTATION = 'org.criu.config';

/** Where the container's network namespace comes from. */
export type Network = { kind: 'private' } | { kind: 'host' } | { kind: 'path'; path: string };

/** An OCI runtime spec, as far as the plugin reads or changes it. */
export interface Spec {
  ociVersion: string;
  process: { args: string[]; env: string[]; cwd: string; terminal: boolean; user: { uid: number; gid: number } } & Record<string, unknown>;
  root: { path: string; readonly?: boolean };
  annotations?: Record<string, string>;
  linux: { namespaces: { type: string; path?: string }[]; cgroupsPath?: string } & Record<string, unknown>;
  [key: string]: unknown;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const mounts = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
];

const capabilities = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];

/** The spec of a new container `id` in `namespace` running `image` (or `args` in its place). */
export function buildSpec(opts: { id: string; namespace: string; image: ImageInfo; args: string[]; network: Network }): Spec {
  const c = opts.image.config;
  const args = opts.args.length > 0 ? opts.args : [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  const env = c.Env && c.Env.length > 0 ? c.Env : [DEFAULT_PATH];
  const namespaces: { type: string; path?: string }[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (opts.network.kind === 'private') namespaces.push({ type: 'network' });
  if (opts.network.kind === 'path') namespaces.push({ type: 'network', path: opts.network.path });
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env,
      cwd: c.WorkingDir || '/',
      capabilities: { bounding: capabilities, effective: capabilities, permitted: capabilities },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs' },
    hostname: opts.id.slice(0, 63),
    mounts: opts.network.kind === 'host' ? mounts : [...mounts],
    annotations: {},
    linux: {
      namespaces,
      cgroupsPath: `/${opts.namespace}/${opts.id}`,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** `spec` as containerd stores it. */
export function specAny(spec: Spec): Any {
  return anyOf(SPEC_TYPE_URL, Buffer.from(JSON.stringify(spec)));
}

/** The spec held in a container record. */
export function specOf(any: Any | undefined): Spec {
  return JSON.parse(Buffer.from(any?.value ?? []).toString('utf8') || '{}') as Spec;
}
