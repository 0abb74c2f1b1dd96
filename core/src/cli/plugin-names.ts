/**
 * Cedana's short plugin names (`cedana plugin install runc`) and the packages that provide them here. Other names
 * (package names, name@version, .tgz paths) pass through as they are.
 */
const SHORT_NAMES: Record<string, string> = {
  runc: '@cedana-ts/plugin-runc',
  containerd: '@cedana-ts/plugin-containerd',
  gpu: '@cedana-ts/plugin-gpu',
  'storage/s3': '@cedana-ts/plugin-storage-s3',
  'storage/gcs': '@cedana-ts/plugin-storage-gcs',
  streamer: '@cedana-ts/plugin-streamer',
  // CRIU comes with the process runtime, which drives it.
  criu: '@cedana-ts/plugin-process',
};

/** The package for a plugin name as a user typed it, keeping an `@version` suffix. */
export function pluginPackage(name: string): string {
  const at = name.lastIndexOf('@');
  const [base, version] = at > 0 ? [name.slice(0, at), name.slice(at)] : [name, ''];
  const pkg = SHORT_NAMES[base];
  return pkg ? `${pkg}${version}` : name;
}
