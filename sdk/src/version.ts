/** The version of this SDK; plugins declare the range of SDK versions they work with. */
// Read from package.json, so a version bump (changesets) needs no code change.
export const SDK_VERSION: string = (require('../../package.json') as { version: string }).version;
