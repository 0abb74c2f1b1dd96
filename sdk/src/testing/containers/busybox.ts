/**
 * Busybox root filesystems for container tests (no registry needed): the rootfs itself, a runc bundle around it,
 * a tar of it, and the shell workloads the container tests run in it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, copyFileSync, chmodSync, existsSync, mkdirSync, openSync, readFileSync, readSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The applets linked in each rootfs. */
const APPLETS = ['sh', 'sleep', 'echo', 'cat', 'nc', 'ip', 'ls', 'ps', 'true', 'seq', 'grep', 'head', 'tail', 'kill', 'wc'];

/** True when the ELF file at `path` has no program interpreter, i.e. is statically linked. */
function isStaticElf(path: string): boolean {
  const buf = Buffer.alloc(64 * 1024);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return false;
  const wide = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const phoff = wide ? Number(le ? buf.readBigUInt64LE(0x20) : buf.readBigUInt64BE(0x20)) : u32(0x1c);
  const size = u16(wide ? 0x36 : 0x2a);
  const count = u16(wide ? 0x38 : 0x2c);
  for (let i = 0; i < count; i++) {
    const at = phoff + i * size;
    if (at + 4 > n) return false;
    if (u32(at) === 3) return false; // PT_INTERP: dynamically linked
  }
  return true;
}

/** Per search path, the busybox found there. */
const found = new Map<string, string>();

/**
 * The busybox the root filesystems are made of: the first `busybox` on `searchPath` (default PATH), which must be
 * statically linked (the rootfs holds nothing else). Debian and Ubuntu ship one in the package busybox-static.
 */
export function staticBusybox(searchPath = process.env.PATH ?? ''): string {
  const known = found.get(searchPath);
  if (known) return known;
  const candidates = searchPath.split(delimiter).filter(Boolean).map((d) => join(d, 'busybox'));
  const path = candidates.find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!path) throw new Error('no busybox on PATH: container fixtures need a statically linked busybox (package busybox-static)');
  if (!isStaticElf(path)) throw new Error(`${path} is dynamically linked: container fixtures need a static busybox (package busybox-static)`);
  found.set(searchPath, path);
  return path;
}

/** Makes `dir` a busybox root filesystem (/bin with the applets, /etc/passwd, empty mount points); returns `dir`. */
export function busyboxRootfs(dir: string, busybox = staticBusybox()): string {
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(busybox, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) if (!existsSync(join(dir, 'bin', a))) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  return dir;
}

/** A busybox shell counter: prints 0, 1, 2, … one line every `periodMs`. */
export function boxCounter(periodMs = 100): string[] {
  return ['sh', '-c', `i=0; while true; do echo $i; i=$((i+1)); sleep ${(periodMs / 1000).toFixed(2)}; done`];
}

/**
 * A busybox shell script holding an established loopback TCP connection: a server answers each line with the
 * line, a client sends a counter over the one connection and prints each answer (`echo <n>`).
 */
export function boxTcpPair(port = 5555): string[] {
  const server = `nc -l -p ${port} -e cat &`;
  const client = `i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done | nc 127.0.0.1 ${port} | while read l; do echo "echo $l"; done`;
  return ['sh', '-c', `ip link set lo up; ${server} sleep 0.3; ${client}`];
}

/**
 * A runc bundle in `dir`: a busybox rootfs and a config.json from `runc spec` running `args` without a terminal,
 * in the network namespace at `netns` when given (else a new one). Returns `dir`.
 */
export function runcBundle(dir: string, args: string[], netns?: string): string {
  mkdirSync(dir, { recursive: true });
  busyboxRootfs(join(dir, 'rootfs'));
  const r = spawnSync('runc', ['spec'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `runc spec: ${r.stderr}`);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
    process: { terminal: boolean; args: string[] };
    linux: { namespaces: { type: string; path?: string }[] };
  };
  config.process.terminal = false;
  config.process.args = args;
  if (netns) config.linux.namespaces = config.linux.namespaces.map((n) => (n.type === 'network' ? { type: 'network', path: netns } : n));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

/** A tar of `dir`'s contents (paths relative to it, numeric owners). */
export function tarOf(dir: string): Buffer {
  const r = spawnSync('tar', ['-C', dir, '--numeric-owner', '-cf', '-', '.'], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `tar: ${r.stderr?.toString()}`);
  return r.stdout;
}
