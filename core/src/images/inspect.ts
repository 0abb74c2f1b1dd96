/**
 * What a checkpoint's CRIU images hold, for `cedana job checkpoint inspect`: the process tree (pstree.img and
 * core-<pid>.img), the open files and sockets of each process (ids-<pid>.img → fdinfo-<files_id>.img →
 * files.img), and its memory (the mappings of mm-<pid>.img and the pages dumped, from pagemap-<pid>.img).
 *
 * Field numbers are those of CRIU's images/*.proto (pstree, core, mm, vma, pagemap, fdinfo, regfile, sk-inet,
 * sk-unix); only what is printed is decoded.
 */
import { readImage } from './criu-image';
import type { Message } from './protobuf';

import type { InspectType } from './inspect-types';

export { INSPECT_TYPES, type InspectType } from './inspect-types';

const PAGE_SIZE = 4096;
/** pagemap_entry.flags: the pages are in the pages image. */
const PE_PRESENT = 4;

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  comm: string;
  threads: number[];
}
export interface FileInfo {
  pid: number;
  fd: number;
  type: string;
  path: string;
}
export interface SocketInfo {
  pid: number;
  fd: number;
  family: string;
  type: string;
  state: string;
  local: string;
  remote: string;
}
export interface MemoryInfo {
  pid: number;
  /** Number of mappings (VMAs). */
  mappings: number;
  /** Their total size: the process's virtual size. */
  virtualBytes: number;
  /** Bytes of pages written to the pages images (the memory the restore brings back). */
  dumpedBytes: number;
}
export interface CheckpointImages {
  processes?: ProcessInfo[];
  files?: FileInfo[];
  sockets?: SocketInfo[];
  memory?: MemoryInfo[];
}

// fdinfo.proto's fd_types.
const FD_TYPES: Record<number, string> = {
  1: 'reg', 2: 'pipe', 3: 'fifo', 4: 'inetsk', 5: 'unixsk', 6: 'eventfd', 7: 'eventpoll', 8: 'inotify', 9: 'signalfd', 10: 'packetsk', 11: 'tty',
  12: 'fanotify', 13: 'netlinksk', 14: 'ns', 15: 'tunf', 16: 'ext', 17: 'timerfd', 18: 'memfd', 19: 'bpfmap', 20: 'pidfd', 65534: 'ctl_tty', 65535: 'autofs_pipe',
};
// file_entry: the field holding each type's entry.
const ENTRY_FIELD: Record<number, number> = { 1: 3, 2: 18, 3: 17, 4: 4, 5: 16, 10: 6, 13: 7 };
const SOCK_TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 5: 'seqpacket' };
const TCP_STATES: Record<number, string> = { 1: 'established', 2: 'syn_sent', 3: 'syn_recv', 4: 'fin_wait1', 5: 'fin_wait2', 6: 'time_wait', 7: 'close', 8: 'close_wait', 9: 'last_ack', 10: 'listen', 11: 'closing' };

function ipOf(words: number[], family: number): string {
  if (words.length === 0) return '';
  const bytes = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => bytes.writeUInt32LE(w >>> 0, i * 4));
  if (family === 2) return [...bytes.subarray(0, 4)].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function socketOf(type: number, e: Message): Omit<SocketInfo, 'pid' | 'fd'> {
  if (type === 4) {
    const family = e.num(3) ?? 0;
    // An unconnected socket's remote end is all zeros: shown as nothing.
    const ip = (words: number[], port: number | undefined) =>
      words.length && (port || words.some((w) => w !== 0)) ? `${family === 10 ? `[${ipOf(words, family)}]` : ipOf(words, family)}:${port ?? 0}` : '';
    return { family: family === 10 ? 'inet6' : 'inet', type: SOCK_TYPES[e.num(4) ?? 0] ?? String(e.num(4)), state: TCP_STATES[e.num(6) ?? 0] ?? String(e.num(6)), local: ip(e.nums(11), e.num(7)), remote: ip(e.nums(12), e.num(8)) };
  }
  if (type === 5) {
    const name = e.str(11)?.replace(/\0/g, '@') ?? '';
    return { family: 'unix', type: SOCK_TYPES[e.num(3) ?? 0] ?? String(e.num(3)), state: TCP_STATES[e.num(4) ?? 0] ?? String(e.num(4)), local: name, remote: e.num(8) ? `peer ${e.num(8)}` : '' };
  }
  return { family: type === 10 ? 'packet' : 'netlink', type: '', state: '', local: '', remote: '' };
}

async function processes(dir: string): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  for (const e of await readImage(dir, 'pstree.img')) {
    const pid = e.num(1) ?? 0;
    const core = (await readImage(dir, `core-${pid}.img`))[0];
    out.push({ pid, ppid: e.num(2) ?? 0, pgid: e.num(3) ?? 0, sid: e.num(4) ?? 0, comm: core?.msg(3)?.str(6) ?? '', threads: e.nums(5) });
  }
  return out;
}

async function fds(dir: string, pids: number[]): Promise<{ files: FileInfo[]; sockets: SocketInfo[] }> {
  const entries = new Map<number, Message>();
  for (const f of await readImage(dir, 'files.img')) entries.set(f.num(2) ?? -1, f);
  const files: FileInfo[] = [];
  const sockets: SocketInfo[] = [];
  for (const pid of pids) {
    const filesId = (await readImage(dir, `ids-${pid}.img`))[0]?.num(2);
    if (filesId === undefined) continue;
    for (const fd of await readImage(dir, `fdinfo-${filesId}.img`)) {
      const type = fd.num(3) ?? 0;
      const n = fd.num(4) ?? -1;
      const file = entries.get(fd.num(1) ?? -1);
      const entry = file?.msg(ENTRY_FIELD[type] ?? -1);
      if ([4, 5, 10, 13].includes(type)) {
        sockets.push({ pid, fd: n, ...(entry ? socketOf(type, entry) : { family: FD_TYPES[type], type: '', state: '', local: '', remote: '' }) });
      }
      const path = type === 1 ? (entry?.str(6) ?? '') : type === 2 || type === 3 ? `pipe:[${entry?.num(2) ?? ''}]` : '';
      files.push({ pid, fd: n, type: FD_TYPES[type] ?? String(type), path });
    }
  }
  return { files, sockets };
}

async function memory(dir: string, pids: number[]): Promise<MemoryInfo[]> {
  const out: MemoryInfo[] = [];
  for (const pid of pids) {
    const mm = (await readImage(dir, `mm-${pid}.img`))[0];
    if (!mm) continue; // a thread shares its leader's memory; a zombie has none
    const vmas = mm.msgs(14);
    const virtualBytes = vmas.reduce((sum, v) => sum + ((v.num(2) ?? 0) - (v.num(1) ?? 0)), 0);
    // The first entry of a pagemap is its head (which pages image it describes).
    const pagemap = (await readImage(dir, `pagemap-${pid}.img`)).slice(1);
    const pages = pagemap.filter((p) => ((p.num(4) ?? PE_PRESENT) & PE_PRESENT) !== 0).reduce((sum, p) => sum + (p.num(5) ?? p.num(2) ?? 0), 0);
    out.push({ pid, mappings: vmas.length, virtualBytes, dumpedBytes: pages * PAGE_SIZE });
  }
  return out;
}

/** Reads the image directory `dir`; `types` selects the sections (all of them when empty). */
export async function inspectImages(dir: string, types: readonly InspectType[] = []): Promise<CheckpointImages> {
  const want = (t: InspectType) => types.length === 0 || types.includes(t);
  const procs = await processes(dir);
  const pids = procs.map((p) => p.pid);
  const out: CheckpointImages = {};
  if (want('ps')) out.processes = procs;
  if (want('fd') || want('sk')) {
    const { files, sockets } = await fds(dir, pids);
    if (want('fd')) out.files = files;
    if (want('sk')) out.sockets = sockets;
  }
  if (want('mem') || want('rss')) out.memory = await memory(dir, pids);
  return out;
}
