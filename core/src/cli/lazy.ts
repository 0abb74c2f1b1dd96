/**
 * Modules the CLI loads on first use. Every command's builder is read for `--help` and for parsing, so a module
 * imported at the top of a command file is paid for by every command; those that only a handler needs (the gRPC
 * client, the config schema, the plugin store, the image readers) are loaded through here when the handler runs.
 */
export function lazy<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}
