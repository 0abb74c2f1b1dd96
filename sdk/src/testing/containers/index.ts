/**
 * Fixtures for testing container runtimes against the real thing, with no registry and nothing shared with the
 * machine: busybox root filesystems, runc bundles and images made from them, a network namespace to join, and
 * containerd and dockerd on private sockets and directories.
 */
export { boxCounter, boxTcpPair, busyboxRootfs, runcBundle, staticBusybox, tarOf } from './busybox';
export { NetnsHolder } from './netns';
export { ociImageTar } from './oci-image';
export { PrivateContainerd } from './private-containerd';
export { PrivateDockerd, runcWithCriuConfig, type DockerReply } from './private-dockerd';
