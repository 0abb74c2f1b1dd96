/**
 * Plugins get the daemon's own SDK. A plugin declares the SDK as a peer dependency and the installer never
 * installs a copy (packages/resolve.ts), so `require('@cedana-ts/sdk')` from a plugin's code is resolved as if the
 * core had asked: one SDK per process, the very version the plugin's SDK range was checked against, and one
 * `CedanaError` class for `instanceof` across the boundary.
 */
import { registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';

const SDK = '@cedana-ts/sdk';
let linked = false;

/** Installs the resolve hook once per process. */
export function linkSdk(): void {
  if (linked) return;
  linked = true;
  // require's own resolution ignores a changed parentURL, so the hook answers with the core's resolution; the
  // flag keeps that require.resolve from coming back into the hook.
  let resolving = false;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (resolving || !(specifier === SDK || specifier.startsWith(`${SDK}/`))) return nextResolve(specifier, context);
      resolving = true;
      try {
        return { url: pathToFileURL(require.resolve(specifier)).href, format: 'commonjs', shortCircuit: true };
      } finally {
        resolving = false;
      }
    },
  });
}
