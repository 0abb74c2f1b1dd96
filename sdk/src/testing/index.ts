/**
 * `@cedana-ts/sdk/testing`: conformance suites, a test context and container fixtures for a plugin's own tests.
 * Imported by tests only; nothing here is loaded by the daemon. The suites take `describe`/`it`/`before`/`after` from the caller,
 * so the SDK does not depend on a test framework.
 * @packageDocumentation
 */
export { runtimeSuite, runtimeChecks, type RuntimeSuiteOptions } from './runtime-suite';
export { storageSuite, storageChecks, type StorageSuiteOptions } from './storage-suite';
export { daemonDownChecks, daemonDownSuite, type DaemonDownSuiteOptions } from './daemon-down-suite';
export { testContext, memoryLogger, pollingChildWatcher, processAlive, type MemoryLogger, type TestContextOptions } from './context';
export { TestServerProcess } from './server-process';
export { deadPort, liveBuffers, writeRepeated } from './memory';
export { SlurmTestCluster, slurmInstalled } from './slurm-cluster';
export { registerChecks, rejectsWithCode, eventually, type Check, type SuiteApi, type SuiteContext } from './suite-api';
export {
  boxCounter,
  boxTcpPair,
  busyboxRootfs,
  NetnsHolder,
  ociImageTar,
  PrivateContainerd,
  PrivateDockerd,
  runcBundle,
  runcWithCriuConfig,
  staticBusybox,
  tarOf,
  type DockerReply,
} from './containers';
