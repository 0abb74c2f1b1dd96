/**
 * The container fixtures of the e2e tests: busybox rootfs, runc bundles, OCI and Docker images made from it (no
 * registry is reachable), and containerd and dockerd on private sockets and state directories. They live in the
 * SDK's testing subpath, where plugin authors (and the built-in plugins' conformance tests) use them too.
 */
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
  type DockerReply,
} from '@cedana-ts/sdk/testing';
