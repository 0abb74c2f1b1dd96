/**
 * The daemon's configuration: the fields and defaults of `config.json`, following Cedana's layout so an existing
 * config file and its `CEDANA_<SECTION>_<FIELD>` variables keep working.
 */
import { z } from 'zod';
import { CompressionInput } from '@cedana-ts/sdk/checkpoint';

const LogLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error']);

export const ConfigSchema = z.strictObject({
  /** Socket path (unix) or host:port (tcp); empty means the protocol's default. */
  address: z.string().default(''),
  protocol: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['unix', 'tcp'], { error: (i) => `unknown protocol '${String(i.input)}' (use unix or tcp)` }))
    .default('unix'),
  /**
   * TLS for `protocol: tcp` (required there): PEM files. The daemon serves `cert`/`key` and accepts only clients
   * whose certificate `ca` signed; the CLI presents its own `cert`/`key` and trusts a daemon that `ca` signed.
   */
  tls: z
    .strictObject({ ca: z.string().default(''), cert: z.string().default(''), key: z.string().default('') })
    .prefault({}),
  log_level: LogLevel.default('info'),
  log_level_no_server: LogLevel.default('warn'),
  checkpoint: z
    .strictObject({
      dir: z.string().min(1).default('/tmp'),
      compression: CompressionInput.default('none'),
      streams: z.number().int().min(0).max(64).default(0),
    })
    .prefault({}),
  db: z
    .strictObject({
      /** True: the shared PostgreSQL database at `url` (docs/fleet.md); false: the SQLite file at `path`. */
      remote: z.boolean().default(false),
      /** Its directory also holds the attach FIFOs (`cedana-io/`): root-only (see docs/security.md). */
      path: z.string().min(1).default('/var/lib/cedana/cedana.db'),
      /** postgres://user:password@host:port/database (also CEDANA_DB_URL); used when `remote` is true. */
      url: z
        .string()
        .refine((u) => u === '' || /^postgres(ql)?:\/\/[^\s]+$/.test(u), 'a postgres:// URL (postgres://user:password@host:port/database)')
        .default(''),
    })
    .prefault({}),
  /** This daemon's identity among the daemons that share one job database (docs/fleet.md). */
  host: z
    .strictObject({
      /** Stable ID recorded on jobs and checkpoints; empty: /etc/machine-id (else the hostname). */
      id: z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, dot, dash and underscore only').max(128).default(''),
      /** Shown in `ps --all`; empty: the hostname. */
      name: z.string().max(128).default(''),
      /** Where other daemons reach this one for `job migrate --to` (unix path or host:port); empty: its listen address. */
      address: z.string().default(''),
    })
    .prefault({}),
  client: z.strictObject({ wait_for_ready: z.boolean().default(false) }).prefault({}),
  criu: z
    .strictObject({
      binary_path: z.string().default(''),
      leave_running: z.boolean().default(false),
      manage_cgroups: z.string().default('ignore'),
      log_level: z.number().int().min(0).max(4).default(2),
    })
    .prefault({}),
  plugins: z
    .strictObject({
      /** Where installed plugin packages live. */
      lib_dir: z.string().min(1).default('/usr/local/lib/cedana/plugins'),
      bin_dir: z.string().min(1).default('/usr/local/bin'),
      /** Plugins (by `type.id` or id) whose failure stops the daemon. */
      required: z.array(z.string()).default([]),
      /** The local plugin store: packed plugins (and their dependencies) that install with no registry. */
      store: z.string().min(1).default('/usr/local/lib/cedana/store'),
      /** An npm-compatible registry, asked after the store; empty: none (everything comes from the store). */
      registry: z
        .string()
        .refine((u) => u === '' || /^https?:\/\/[^\s]+$/.test(u), 'an http:// or https:// URL, or empty for none')
        .default(''),
    })
    .prefault({}),
  aws: z
    .strictObject({
      access_key_id: z.string().default(''),
      secret_access_key: z.string().default(''),
      region: z.string().default(''),
      endpoint: z.string().default(''),
      /** Temporary credentials (STS) go with the key pair. */
      session_token: z.string().default(''),
      /** s3:// uploads go in parts of this size; memory held per upload is a few parts. */
      part_size_mib: z.number().int().min(5).max(512).default(16),
    })
    .prefault({}),
  /** The gcs:// storage plugin. Empty fields fall back to Google's usual sources (GOOGLE_APPLICATION_CREDENTIALS…). */
  gcs: z
    .strictObject({
      /** A service-account key file (JSON). */
      credentials_file: z.string().default(''),
      project_id: z.string().default(''),
      /** A custom endpoint (an emulator, a private endpoint); STORAGE_EMULATOR_HOST works too. */
      endpoint: z.string().default(''),
      /** gcs:// uploads go in chunks of this size; memory held per upload is a few chunks. */
      chunk_size_mib: z.number().int().min(1).max(512).default(16),
    })
    .prefault({}),
  /** The runc runtime plugin: its binary and the state directory of its containers (runc --root). */
  runc: z.strictObject({ binary: z.string().min(1).default('runc'), root: z.string().min(1).default('/run/runc') }).prefault({}),
  /** The containerd runtime plugin: containerd's gRPC socket and the namespace used when none is given. */
  containerd: z
    .strictObject({ address: z.string().min(1).default('/run/containerd/containerd.sock'), namespace: z.string().min(1).default('default') })
    .prefault({}),
  /** The cuda GPU plugin (see docs/gpu.md): the driver library, NVML, and how long driver calls may take. */
  gpu: z
    .strictObject({
      library: z.string().min(1).default('libcuda.so.1'),
      nvml_library: z.string().default('libnvidia-ml.so.1'),
      lock_timeout_seconds: z.number().positive().max(3600).default(10),
      timeout_seconds: z.number().positive().max(86_400).default(300),
    })
    .prefault({}),
  /** The docker runtime plugin: the Docker Engine API socket. */
  docker: z.strictObject({ address: z.string().min(1).default('/var/run/docker.sock') }).prefault({}),
});

export type Config = z.output<typeof ConfigSchema>;

/** Environment variables that set a field under another name than `CEDANA_<SECTION>_<FIELD>`. */
export const envAliases: Record<string, string> = {
  'plugins.lib_dir': 'CEDANA_PLUGINS_LIB_DIR',
  'client.wait_for_ready': 'CEDANA_WAIT_FOR_READY',
  'aws.access_key_id': 'AWS_ACCESS_KEY_ID',
  'aws.secret_access_key': 'AWS_SECRET_ACCESS_KEY',
  'aws.region': 'AWS_REGION',
  'aws.endpoint': 'AWS_ENDPOINT',
  'aws.session_token': 'AWS_SESSION_TOKEN',
};

/** Fields never printed or logged. */
export const secretFields = new Set(['aws.secret_access_key', 'aws.access_key_id', 'aws.session_token']);

/** Where the daemon listens, with the protocol's default filled in. */
export function listenAddress(cfg: Pick<Config, 'address' | 'protocol'>): string {
  if (cfg.address) return cfg.address;
  return cfg.protocol === 'tcp' ? '127.0.0.1:8080' : '/run/cedana.sock';
}
