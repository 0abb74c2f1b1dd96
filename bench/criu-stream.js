#!/usr/bin/env node
/**
 * Staged images (what the product does) against CRIU's image streamer (`criu dump --stream`), on the same process
 * in the same run, both ending in the same place: every image file compressed with the SDK's lz4 stream.
 *
 *   staged  `criu dump` writes the images into a scratch directory; then each file is read and compressed.
 *   stream  `criu dump --stream` connects to streamer-capture.sock in the images directory and, for each image
 *           file, sends its name (a length-prefixed protobuf) and then the read end of a pipe (SCM_RIGHTS); the
 *           receiver here compresses every pipe as CRIU fills it. Node cannot receive a file descriptor, so the
 *           socket calls go through koffi (libc's socket/bind/listen/accept/recv/recvmsg) on koffi's threads.
 *
 * The process is dumped with --leave-running, so one process serves every round. Printed per mode: the medians of
 * the whole dump (CRIU and compression), of CRIU alone, and of how long CRIU kept the process frozen.
 *
 *   node bench/criu-stream.js [MiB=1024] [rounds=5]        # as root, after scripts/setup.sh
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');

const ROOT = path.resolve(__dirname, '..');
const koffi = require(require.resolve('koffi', { paths: [path.join(ROOT, 'plugins', 'gpu')] }));
const { compressor } = require(require.resolve('@cedana-ts/sdk/codecs', { paths: [path.join(ROOT, 'core')] }));
const { readCriuDumpStats } = require(path.join(ROOT, 'core', 'dist', 'src', 'pipeline', 'criu-stats.js'));

const MIB = Number(process.argv[2] ?? 1024);
const ROUNDS = Number(process.argv[3] ?? 5);
const CRIU = process.env.CRIU ?? 'criu';

// --- the libc calls Node has no API for -------------------------------------------------------------------
const libc = koffi.load('libc.so.6');
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const MSG_WAITALL = 0x100;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const IOVEC = koffi.struct('bench_iovec', { base: 'void *', len: 'size_t' });
const MSGHDR = koffi.struct('bench_msghdr', {
  name: 'void *', namelen: 'uint32_t', iov: 'void *', iovlen: 'size_t', control: 'void *', controllen: 'size_t', flags: 'int',
});
const sys = {
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  bind: libc.func('int bind(int fd, const uint8_t *addr, uint32_t len)'),
  listen: libc.func('int listen(int fd, int backlog)'),
  accept: libc.func('int accept(int fd, void *addr, void *len)'),
  recv: libc.func('intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)'),
  recvmsg: libc.func('intptr_t recvmsg(int fd, void *msg, int flags)'),
  close: libc.func('int close(int fd)'),
};
/** Runs a blocking libc call on koffi's worker thread. */
const call = (fn, ...args) => new Promise((resolve, reject) => fn.async(...args, (err, res) => (err ? reject(err) : resolve(Number(res)))));

/** A listening unix socket at `file`. */
function listenAt(file) {
  const fd = sys.socket(AF_UNIX, SOCK_STREAM, 0);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(file, 2);
  if (fd < 0 || sys.bind(fd, addr, addr.length) !== 0 || sys.listen(fd, 1) !== 0) throw new Error(`cannot listen at ${file}`);
  return fd;
}

/** Exactly `n` bytes from `fd`, or null at end of stream. */
async function recvExact(fd, n) {
  const buf = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const part = Buffer.alloc(n - got);
    const r = await call(sys.recv, fd, part, part.length, MSG_WAITALL);
    if (r === 0 && got === 0) return null;
    if (r <= 0) throw new Error(`recv: ${r}`);
    part.copy(buf, got, 0, r);
    got += r;
  }
  return buf;
}

/** The file descriptor CRIU sends next (one byte of data carries it). */
async function recvFd(fd) {
  const byte = koffi.alloc('uint8_t', 1);
  const control = koffi.alloc('uint8_t', 64);
  const iov = koffi.alloc(IOVEC, 1);
  koffi.encode(iov, IOVEC, { base: byte, len: 1 });
  const msg = koffi.alloc(MSGHDR, 1);
  koffi.encode(msg, MSGHDR, { name: null, namelen: 0, iov, iovlen: 1, control, controllen: 64, flags: 0 });
  try {
    const r = await call(sys.recvmsg, fd, msg, 0);
    if (r !== 1) throw new Error(`recvmsg: ${r}`);
    const cm = Buffer.from(koffi.decode(control, koffi.array('uint8_t', 64, 'Typed')));
    if (cm.readInt32LE(8) !== SOL_SOCKET || cm.readInt32LE(12) !== SCM_RIGHTS) throw new Error('no file descriptor came');
    return cm.readInt32LE(16);
  } finally {
    for (const p of [byte, control, iov, msg]) koffi.free(p);
  }
}

/** Field 1 (a string) of an img_streamer_request_entry. */
function requestedName(body) {
  if (body[0] !== 0x0a) throw new Error('not an image streamer request');
  let len = 0;
  let pos = 1;
  for (let shift = 0; ; shift += 7) {
    const b = body[pos++];
    len |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
  }
  return body.toString('utf8', pos, pos + len);
}

/** Compresses one image into `outDir` (CRIU's stats are kept as they are, to be read afterwards). */
function store(source, name, outDir) {
  if (name === 'stats-dump') return pipeline(source, fs.createWriteStream(path.join(outDir, name)));
  return pipeline(source, compressor('lz4'), fs.createWriteStream(path.join(outDir, `${name}.lz4`)));
}

// --- the two ways -----------------------------------------------------------------------------------------
function criuArgs(pid, dir, extra) {
  return ['dump', '-t', String(pid), '-D', dir, '--leave-running', '-o', 'dump.log', '-v2', ...extra];
}

function runCriu(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(CRIU, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`criu ${args.join(' ')} exited ${code}`))));
  });
}

async function staged(pid, dir, outDir) {
  const t0 = performance.now();
  await runCriu(criuArgs(pid, dir, []));
  const criu = performance.now() - t0;
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.img') || n === 'stats-dump');
  await Promise.all(names.map((n) => store(fs.createReadStream(path.join(dir, n), { highWaterMark: 1 << 20 }), n, outDir)));
  return { total: performance.now() - t0, criu };
}

async function streamed(pid, dir, outDir) {
  const t0 = performance.now();
  const listener = listenAt(path.join(dir, 'streamer-capture.sock'));
  const criuDone = runCriu(criuArgs(pid, dir, ['--stream'])).then(() => performance.now() - t0);
  const conn = await call(sys.accept, listener, null, null);
  const files = [];
  try {
    for (;;) {
      const head = await recvExact(conn, 4);
      if (!head) break; // CRIU is done with the streamer
      const name = requestedName(await recvExact(conn, head.readUInt32LE(0)));
      const fd = await recvFd(conn);
      files.push(store(new net.Socket({ fd, readable: true, writable: false }), name, outDir));
    }
  } finally {
    sys.close(conn);
    sys.close(listener);
  }
  const criu = await criuDone;
  await Promise.all(files);
  return { total: performance.now() - t0, criu };
}

// --- the run ----------------------------------------------------------------------------------------------
function dropCaches() {
  spawnSync('sync');
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function sizeOf(dir, filter) {
  return fs.readdirSync(dir).filter(filter).reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).size, 0);
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cedana-stream-bench-'));
  const log = path.join(work, 'heap.log');
  const heap = spawn('python3', ['-u', path.join(__dirname, 'heap.py'), String(MIB)], {
    detached: true,
    stdio: ['ignore', fs.openSync(log, 'w'), 'ignore'],
  });
  try {
    while (!fs.readFileSync(log, 'utf8').includes('ready')) await new Promise((r) => setTimeout(r, 200));
    const results = { staged: [], stream: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so neither always finds a warmer machine.
      const order = round % 2 ? ['stream', 'staged'] : ['staged', 'stream'];
      for (const mode of order) {
        const dir = fs.mkdtempSync(path.join(work, `${mode}-`));
        const outDir = fs.mkdtempSync(path.join(work, `${mode}-out-`));
        dropCaches();
        const t = await (mode === 'staged' ? staged : streamed)(heap.pid, dir, outDir);
        // CRIU writes its stats into the images directory itself, even when it streams the images.
        const stats = (await readCriuDumpStats(outDir)) ?? (await readCriuDumpStats(dir));
        const images = mode === 'staged' ? sizeOf(dir, (n) => n.endsWith('.img')) : null;
        results[mode].push({ ...t, frozen: stats ? stats.frozenMs : NaN, stored: sizeOf(outDir, (n) => n.endsWith('.lz4')), images });
        fs.rmSync(dir, { recursive: true, force: true });
        fs.rmSync(outDir, { recursive: true, force: true });
      }
      process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
    const images = median(results.staged.map((r) => r.images));
    console.log(`\n${(images / 1048576).toFixed(0)} MiB of images, lz4; medians of ${ROUNDS}, in seconds\n`);
    console.log('mode      dump total   criu   frozen   stored MiB');
    const med = {};
    for (const mode of ['staged', 'stream']) {
      const rs = results[mode];
      med[mode] = { total: median(rs.map((r) => r.total)) / 1000, criu: median(rs.map((r) => r.criu)) / 1000, frozen: median(rs.map((r) => r.frozen)) / 1000, stored: median(rs.map((r) => r.stored)) };
      const m = med[mode];
      console.log(`${mode.padEnd(9)} ${m.total.toFixed(3).padStart(10)} ${m.criu.toFixed(3).padStart(6)} ${m.frozen.toFixed(3).padStart(8)} ${(m.stored / 1048576).toFixed(0).padStart(12)}`);
    }
    console.log(`\nstream / staged: dump ${(med.stream.total / med.staged.total).toFixed(2)}×, frozen ${(med.stream.frozen / med.staged.frozen).toFixed(2)}×`);
    fs.writeFileSync(path.join(__dirname, 'criu-stream-results.json'), `${JSON.stringify({ mib: MIB, rounds: ROUNDS, images, medians: med, samples: results }, null, 1)}\n`);
  } finally {
    process.kill(-heap.pid, 'SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
