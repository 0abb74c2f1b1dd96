/**
 * Every command and flag of Cedana's CLI reference (docs/references/cli/*.md of cedana/cedana at fe39c08), as
 * command lines with what each must make the CLI do: the daemon call it reaches (method and request fields), or,
 * for commands that need no daemon, what they print. `options` matches the runtime options (RunReq.optionsJson…),
 * whose values are the strings given (the runtime plugin types them).
 *
 * Global flags (--config, --config-dir, --address, --protocol, --profiling, --profiling-path, --init-config,
 * --merge-config) are covered by the root entries. The test names the daemon by CEDANA_ADDRESS, so that
 * `--address` of the containerd commands (containerd's socket, as in Cedana) can be checked.
 */
export interface Entry {
  /** The words after `cedana`. */
  argv: string[];
  /** The daemon method the command must call… */
  rpc?: string;
  /** …with (at least) these request fields. */
  request?: Record<string, unknown>;
  /** For commands that run without a daemon: stdout must match. */
  stdout?: RegExp;
  /** stderr must match (refusals). */
  stderr?: RegExp;
  /** Expected exit code (default 0). */
  exit?: number;
}

const P = '/ckpt/p.tar';

export const REFERENCE: Entry[] = [
  // root
  { argv: ['version'], stdout: /^\d+\.\d+\.\d+\n$/ },
  { argv: ['--version'], stdout: /^\d+\.\d+\.\d+\n$/ },
  { argv: ['--protocol', 'vsock', 'ps'], stderr: /^Error: the vsock protocol is not supported/, exit: 1 },
  { argv: ['--protocol', 'unix', 'ps'], rpc: 'listJobs' },
  { argv: ['--address', '@DAEMON', 'ps'], rpc: 'listJobs' },
  { argv: ['--config-dir', '@TMP', 'ps'], rpc: 'listJobs' },
  { argv: ['--config', '{"log_level":"debug"}', 'ps'], rpc: 'listJobs' },
  { argv: ['--profiling', 'ps'], rpc: 'listJobs', stderr: /^Profiling: ps took [\d.]+ ms/ },
  { argv: ['--profiling', '--profiling-path', '@TMP/prof.json', 'ps'], rpc: 'listJobs' },
  { argv: ['--init-config', 'ps'], rpc: 'listJobs', stderr: /Wrote config to|exists; left as it is/ },
  { argv: ['--merge-config', 'ps'], rpc: 'listJobs', stderr: /Wrote config to/ },
  { argv: ['completion', 'bash'], stdout: /cedana/ },
  { argv: ['completion', 'zsh'], stdout: /compdef|cedana/ },
  { argv: ['completion', 'fish'], stdout: /complete -c cedana/ },
  { argv: ['completion', 'bash', '--no-descriptions'], stdout: /cedana/ },
  { argv: ['completion', 'powershell'], stdout: /Register-ArgumentCompleter -Native -CommandName cedana/ },
  { argv: ['completion', 'tcsh'], stderr: /^Error: no completion script for 'tcsh'/, exit: 1 },
  { argv: [], stderr: /^Error: name a command: see cedana --help\n$/, exit: 1 },

  // check, daemon check
  { argv: ['daemon', 'check'], rpc: 'healthCheck', request: { full: false }, stdout: /All good\./ },
  { argv: ['daemon', 'check', '--full'], rpc: 'healthCheck', request: { full: true } },

  // run, exec
  { argv: ['run', 'process', 'echo', 'hello', '--jid', 'X'], rpc: 'run', request: { type: 'process', jid: 'X', args: ['echo', 'hello'] } },
  { argv: ['run', 'process', '-j', 'X', '--', 'ls', '-la'], rpc: 'run', request: { jid: 'X', args: ['ls', '-la'] } },
  { argv: ['exec', 'echo', 'hello', '--jid', 'X'], rpc: 'run', request: { type: 'process', jid: 'X', args: ['echo', 'hello'] } },
  { argv: ['exec', '-j', 'X', 'echo', 'hi'], rpc: 'run', request: { type: 'process', jid: 'X', args: ['echo', 'hi'] } },
  { argv: ['run', 'process', '-o', '/tmp/o.log', 'true'], rpc: 'run', request: { logPath: '/tmp/o.log' } },
  { argv: ['run', 'process', '--out', '/tmp/o.log', 'true'], rpc: 'run', request: { logPath: '/tmp/o.log' } },
  { argv: ['run', 'process', '--pid-file', '/tmp/p.pid', 'true'], rpc: 'run', request: { pidFile: '/tmp/p.pid' } },
  { argv: ['run', 'process', '--attachable', 'true'], rpc: 'run', request: { attachable: true } },
  { argv: ['run', 'process', '-a', 'true'], rpc: 'run', request: { attachable: true } },
  { argv: ['run', 'process', '--attach', 'true'], rpc: 'run', request: { attachable: true } },
  { argv: ['run', 'process', '-g', 'true'], rpc: 'run', request: { gpuEnabled: true } },
  { argv: ['run', 'process', '--gpu-enabled', 'true'], rpc: 'run', request: { gpuEnabled: true } },
  { argv: ['run', 'process', '--as-root', 'true'], rpc: 'run', request: { type: 'process' } },
  { argv: ['run', 'process', '--gpu-tracing', 'true'], stderr: /--gpu-tracing is not supported/, exit: 1 },
  { argv: ['run', 'process', '--gpu-id', 'g0', 'true'], stderr: /--gpu-id is not supported/, exit: 1 },
  { argv: ['run', 'runc', '--bundle', '/b', '--jid', 'J', '--detach'], rpc: 'run', request: { type: 'runc', jid: 'J', options: { bundle: '/b', detach: true } } },
  { argv: ['run', 'runc', '-b', '/b', '-d', 'ID'], rpc: 'run', request: { args: ['ID'], options: { bundle: '/b', detach: true } } },
  { argv: ['run', 'runc', '-b', '/b', '--root', '/r', '--console-socket', '/s.sock', '--no-pivot', '--no-new-keyring', '--no-subreaper', '--preserve-fds', '2', '--rootless', 'true', '--systemd-cgroup', '--log', '/l', '--log-format', 'json'], rpc: 'run', request: { logPath: '/l', options: { bundle: '/b', root: '/r', consoleSocket: '/s.sock', noPivot: true, noNewKeyring: true, noSubreaper: true, preserveFds: '2', rootless: 'true', systemdCgroup: true, logFormat: 'json' } } },
  { argv: ['run', 'containerd', 'docker.io/library/busybox:latest', 'sleep', '1', '--id', 'c1', '--address', '/run/containerd/containerd.sock', '--namespace', 'ns', '--gpus', '0', '--env', 'A=1', '--snapshotter', 'overlayfs', '--no-pivot'], rpc: 'run', request: { type: 'containerd', args: ['docker.io/library/busybox:latest', 'sleep', '1'], options: { address: '/run/containerd/containerd.sock', id: 'c1', namespace: 'ns', gpus: '0', env: 'A=1', snapshotter: 'overlayfs', noPivot: true } } },

  // manage
  { argv: ['manage', 'process', '123', '-j', 'M', '--upcoming', '--pid-file', '/tmp/m.pid'], rpc: 'manage', request: { type: 'process', target: '123', jid: 'M', upcoming: true } },
  { argv: ['manage', 'process', '123', '-g'], rpc: 'manage', request: { gpuEnabled: true } },
  { argv: ['manage', 'process', '123', '--gpu-tracing'], stderr: /--gpu-tracing is not supported/, exit: 1 },
  { argv: ['manage', 'runc', 'c1', '-b', '/b', '--root', '/r'], rpc: 'manage', request: { type: 'runc', target: 'c1', options: { bundle: '/b', root: '/r' } } },
  { argv: ['manage', 'containerd', 'c1', '--image', 'img', '--namespace', 'ns'], rpc: 'manage', request: { type: 'containerd', options: { image: 'img', namespace: 'ns' } } },

  // dump
  { argv: ['dump', 'process', '123', '-d', '/ck', '--name', 'n1', '--compression', 'lz4', '--streams', '2'], rpc: 'dump', request: { type: 'process', target: '123', dir: '/ck', name: 'n1', compression: 'lz4', streams: 2 } },
  { argv: ['dump', 'job', 'J', '--leave-running', '--tcp-established', '--skip-in-flight', '--file-locks', '--shell-job', '--link-remap'], rpc: 'dump', request: { jid: 'J', leaveRunning: true, tcpEstablished: true, skipInFlight: true, fileLocks: true, shellJob: true, linkRemap: true } },
  { argv: ['dump', 'job', 'J', '--external', 'mnt[/a]:a', '--external', 'net[1]:veth'], rpc: 'dump', request: { external: ['mnt[/a]:a', 'net[1]:veth'] } },
  { argv: ['dump', 'job', 'J', '--tcp-established', '--criu-opts', '{"tcp_established":false,"leave_running":true}'], rpc: 'dump', request: { tcpEstablished: false, leaveRunning: true } },
  { argv: ['dump', 'job', 'J', '--criu-opts', '{"bogus":1}'], stderr: /^Error: --criu-opts: unknown option bogus/, exit: 1 },
  { argv: ['dump', 'job', 'J', '--criu-opts', '{"leave_running":"yes"}'], stderr: /^Error: --criu-opts: leave_running:/, exit: 1 },
  { argv: ['dump', 'job', 'J', '--criu-opts', 'not json'], stderr: /^Error: --criu-opts: not JSON/, exit: 1 },
  { argv: ['dump', 'job', 'J', '--result-file', '@TMP/result.json'], rpc: 'dump', stdout: /Dumped to \/ckpt\/rec\.tar/ },
  { argv: ['dump', 'runc', 'c1', '--root', '/r'], rpc: 'dump', request: { type: 'runc', target: 'c1', options: { root: '/r' } } },
  { argv: ['dump', 'containerd', 'c1', '--address', '/run/containerd/containerd.sock', '--namespace', 'ns', '--image', 'img', '--rootfs', '--rootfs-only'], rpc: 'dump', request: { type: 'containerd', options: { address: '/run/containerd/containerd.sock', namespace: 'ns', image: 'img', rootfs: true, rootfsOnly: true } } },

  // restore
  { argv: ['restore', 'process', '-p', P], rpc: 'restore', request: { type: 'process', path: P } },
  { argv: ['restore', 'process', '--path', P, '--pid-file', '/tmp/r.pid', '--tcp-established', '--tcp-close', '--leave-stopped', '--file-locks', '--shell-job', '--link-remap'], rpc: 'restore', request: { pidFile: '/tmp/r.pid', tcpEstablished: true, tcpClose: true, leaveStopped: true, fileLocks: true, shellJob: true, linkRemap: true } },
  { argv: ['restore', 'process', '-p', P, '--external', 'mnt[a]:/x', '--external', 'net[1]:v'], rpc: 'restore', request: { external: ['mnt[a]:/x', 'net[1]:v'] } },
  { argv: ['restore', 'process', '-p', P, '--criu-opts', '{"tcp_close":true,"leave_stopped":true}'], rpc: 'restore', request: { tcpClose: true, leaveStopped: true } },
  { argv: ['restore', 'process', '-p', P, '--criu-opts', '{"leave_running":true}'], stderr: /leave_running does not apply/, exit: 1 },
  { argv: ['restore', 'process', '-p', P, '--attachable'], rpc: 'restore', request: { attachable: true } },
  { argv: ['restore', 'process', '-p', P, '-a'], rpc: 'restore', request: { attachable: true } },
  { argv: ['restore', 'process', '-p', P, '-o', '/tmp/o'], rpc: 'restore', request: { out: '/tmp/o', attachable: false } },
  { argv: ['restore', 'job', 'J', '--out', '/tmp/o'], rpc: 'restore', request: { jid: 'J', out: '/tmp/o' } },
  { argv: ['restore', 'process', '-p', P, '-o', '/tmp/o', '--attach'], stderr: /^Error: --out cannot be used with --attach/, exit: 1 },
  { argv: ['restore', 'process', '-p', P, '--gpu-id', 'g'], stderr: /--gpu-id is not supported/, exit: 1 },
  { argv: ['restore', 'job', 'J'], rpc: 'restore', request: { jid: 'J' } },
  { argv: ['restore', 'job', 'J', '-p', P, '-b', '/b', '-d'], rpc: 'restore', request: { jid: 'J', path: P, options: { bundle: '/b', detach: true } } },
  { argv: ['restore', 'runc', '-p', P, '--id', 'c2', '--bundle', '/b', '--root', '/r', '--detach', '--console-socket', '/s', '--netns-eth0-ipv4-addr', '10.0.0.2', '--no-pivot', '--no-new-keyring', '--no-subreaper', '--rootless', 'auto', '--systemd-cgroup', '--log', '/l', '--log-format', 'text'], rpc: 'restore', request: { type: 'runc', options: { id: 'c2', bundle: '/b', root: '/r', detach: true, consoleSocket: '/s', netnsEth0Ipv4Addr: '10.0.0.2', noPivot: true, noNewKeyring: true, noSubreaper: true, rootless: 'auto', systemdCgroup: true, log: '/l', logFormat: 'text' } } },
  { argv: ['restore', 'containerd', '-p', P, '--id', 'c2', '--image', 'img', '--namespace', 'ns', '--env', 'A=1', '--gpus', '0', '--no-pivot'], rpc: 'restore', request: { type: 'containerd', options: { id: 'c2', image: 'img', namespace: 'ns', env: 'A=1', gpus: '0', noPivot: true } } },

  // jobs
  { argv: ['job', 'list'], rpc: 'listJobs' },
  { argv: ['job', 'ls', '--all'], rpc: 'listJobs' },
  { argv: ['ps', '-a'], rpc: 'listJobs' },
  { argv: ['jobs'], rpc: 'listJobs' },
  { argv: ['job', 'kill', 'J1', 'J2'], rpc: 'killJobs', request: { jids: ['J1', 'J2'] } },
  { argv: ['job', 'kill', '-a'], rpc: 'killJobs', request: { all: true } },
  { argv: ['kill', '--all'], rpc: 'killJobs', request: { all: true } },
  { argv: ['job', 'delete', 'J1'], rpc: 'deleteJobs', request: { jids: ['J1'] } },
  { argv: ['delete', '-a'], rpc: 'deleteJobs', request: { all: true } },
  { argv: ['job', 'inspect', 'rec-job'], rpc: 'listJobs', request: { jids: ['rec-job'] }, stdout: /^jid: rec-job$/m },
  { argv: ['job', 'inspect', 'rec-job', '--json'], rpc: 'listJobs', stdout: /"jid": "rec-job"/ },
  { argv: ['job', 'checkpoints', 'J'], rpc: 'listCheckpoints', request: { jid: 'J' } },
  { argv: ['checkpoints', 'J'], rpc: 'listCheckpoints', request: { jid: 'J' } },
  { argv: ['job', 'checkpoint', 'list', 'J'], rpc: 'listCheckpoints', request: { jid: 'J' } },
  { argv: ['checkpoint', 'list', 'J'], rpc: 'listCheckpoints', request: { jid: 'J' } },
  { argv: ['job', 'checkpoint', 'inspect', 'ck1'], rpc: 'inspectCheckpoint', request: { id: 'ck1', path: '', types: [] }, stdout: /^processes:\n(.*\n)*\s*4242\s+1\s+4242\s+4242\s+rec\s+1$/m },
  { argv: ['job', 'checkpoint', 'inspect', 'ck1', '-t', 'ps'], rpc: 'inspectCheckpoint', request: { id: 'ck1', types: ['ps'] } },
  { argv: ['job', 'checkpoint', 'inspect', 'ck1', '--type', 'mem'], rpc: 'inspectCheckpoint', request: { id: 'ck1', types: ['mem'] } },
  { argv: ['checkpoint', 'inspect', '--path', P, '--json'], rpc: 'inspectCheckpoint', request: { id: '', path: P }, stdout: /"comm": "rec"/ },
  { argv: ['job', 'checkpoint', 'inspect', 'ck1', '-t', 'gpu'], stderr: /^Error: --type gpu is not supported/, exit: 1 },
  { argv: ['job', 'checkpoint', 'inspect'], stderr: /^Error: name the checkpoint by its ID or by --path/, exit: 1 },
  { argv: ['job', 'attach', 'J'], rpc: 'attach', request: { jid: 'J' } },
  { argv: ['attach', '77'], rpc: 'attach', request: { pid: 77 } },

  // plugins
  { argv: ['plugin', 'list'], rpc: 'listPlugins' },
  { argv: ['plugins'], rpc: 'listPlugins' },
  { argv: ['plugin', 'list', 'runc'], rpc: 'listPlugins' },
  { argv: ['plugin', 'features'], rpc: 'getFeatures' },
  { argv: ['plugin', 'features', '--errors'], rpc: 'getFeatures' },
  { argv: ['features'], rpc: 'getFeatures' },
  { argv: ['features', '--errors'], rpc: 'getFeatures' },
  { argv: ['features', 'runc'], rpc: 'getFeatures', stdout: /^FEATURE\s+RUNC\n(.*\n)*attach\s+✔\n/m },
  { argv: ['plugin', 'features', 'criu', '--errors'], rpc: 'getFeatures', stdout: /^FEATURE\s+PROCESS\n/m },

  // freeze, unfreeze (runtime flags go in options; a job's are its own)
  { argv: ['freeze', 'process', '123'], rpc: 'freeze', request: { type: 'process', target: '123', jid: '' } },
  { argv: ['freeze', 'job', 'J', '--root', '/r', '--namespace', 'ns'], rpc: 'freeze', request: { jid: 'J', type: '' } },
  { argv: ['freeze', 'runc', 'c1', '--root', '/r'], rpc: 'freeze', request: { type: 'runc', target: 'c1', options: { root: '/r' } } },
  { argv: ['freeze', 'containerd', 'c1', '--address', '/run/containerd/containerd.sock', '--namespace', 'ns'], rpc: 'freeze', request: { type: 'containerd', target: 'c1', options: { address: '/run/containerd/containerd.sock', namespace: 'ns' } } },
  { argv: ['freeze', 'pod', 'x'], stderr: /Invalid values/, exit: 1 },
  { argv: ['unfreeze', 'process', '123'], rpc: 'unfreeze', request: { type: 'process', target: '123' } },
  { argv: ['unfreeze', 'job', 'J', '--root', '/r', '--namespace', 'ns'], rpc: 'unfreeze', request: { jid: 'J' } },
  { argv: ['unfreeze', 'runc', 'c1', '--root', '/r'], rpc: 'unfreeze', request: { type: 'runc', target: 'c1', options: { root: '/r' } } },
  { argv: ['unfreeze', 'containerd', 'c1', '--namespace', 'ns'], rpc: 'unfreeze', request: { type: 'containerd', target: 'c1', options: { namespace: 'ns' } } },

  // query
  { argv: ['query', 'process', '1', '2', '--tree', '-i'], rpc: 'query', request: { type: 'process', ids: ['1', '2'], tree: true }, stdout: /^\s*PID\s+STATUS\s+UID\s+GID\s+COMMAND\b/m },
  { argv: ['query', 'process', '1', '-t'], rpc: 'query', request: { ids: ['1'], tree: true }, stdout: /--inspect` for details/ },
  { argv: ['query', 'runc', 'c1', '--root', '/r', '-t', '--inspect'], rpc: 'query', request: { type: 'runc', ids: ['c1'], tree: true, options: { root: '/r' } } },
  { argv: ['query', 'containerd', 'c1', '--namespace', 'ns'], rpc: 'query', request: { type: 'containerd', ids: ['c1'], tree: false, options: { namespace: 'ns' } } },
];
