/**
 * A process tree as /proc shows it: the root and every descendant, found through each thread's `children` file.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/** Direct children of `pid` (of all its threads). Empty when the process is gone. */
async function childrenOf(pid: number): Promise<number[]> {
  const tids = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const out: number[] = [];
  for (const tid of tids) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    for (const word of text.split(/\s+/)) if (word) out.push(Number(word));
  }
  return out;
}

/** `root` and its descendants, parents before children; empty when `root` does not exist. */
export async function processTree(root: number): Promise<number[]> {
  const exists = await readFile(`/proc/${root}/stat`, 'utf8').then(
    () => true,
    () => false,
  );
  if (!exists) return [];
  const seen = new Set<number>([root]);
  const order = [root];
  for (let i = 0; i < order.length; i++) {
    for (const child of await childrenOf(order[i])) {
      if (!seen.has(child)) {
        seen.add(child);
        order.push(child);
      }
    }
  }
  return order;
}

/** True when `pid` has an NVIDIA device file open (`/dev/nvidia0`, `/dev/nvidiactl`, `/dev/nvidia-uvm`…). */
export async function holdsNvidiaDevice(pid: number): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith('/dev/nvidia')) return true;
  }
  return false;
}
