/** The version of this SDK; plugins declare the range of SDK versions they work with. */
// Kept in step with package.json by a test.
export const SDK_VERSION = '0.1.0';
