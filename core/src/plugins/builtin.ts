/**
 * The plugins that ship with the daemon, by package name. Everything else is found in the plugin directory.
 */
export const BUILTIN_PLUGINS: readonly string[] = [
  '@cedana-ts/plugin-process',
  '@cedana-ts/plugin-runc',
  '@cedana-ts/plugin-containerd',
  '@cedana-ts/plugin-docker',
  '@cedana-ts/plugin-gpu',
  '@cedana-ts/plugin-storage-s3',
  '@cedana-ts/plugin-storage-gcs',
  '@cedana-ts/plugin-streamer',
  '@cedana-ts/plugin-slurm',
];
