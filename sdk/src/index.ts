/**
 * The cedana-ts SDK: the whole contract between the daemon and its plugins. A plugin imports this package and
 * nothing else from the host.
 * @packageDocumentation
 */
export * from './errors';
export * from './manifest';
export * from './version';
export * from './checkpoint';
export * from './runtime';
export * from './storage';
export * from './gpu';
export * from './streamer';
export * from './plugin';
export * from './requests';
export * from './log-file';
