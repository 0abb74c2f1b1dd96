/**
 * `query`: what process or container IDs resolve to, from the live system: each process (with `tree`, its
 * descendants too) with its state, command line, cgroup and the job that holds it.
 */
import { readFile, readlink } from 'node:fs/promises';
import { z } from 'zod';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { QueryProcess } from '../generated/daemon';
import { freezerOf, processTree } from '../proc/freezer';
import { jobStatus, processCmdline } from '../proc/procfs';
import { runtimeOptions } from './helpers';
import type { Services } from './services';
import { validate } from './validate';

const QueryRequest = z.object({
  type: z.string().min(1, 'name a type: process, runc or containerd'),
  ids: z.array(z.string().min(1)).min(1, 'name at least one ID'),
  tree: z.boolean().default(false),
  options: z.record(z.string(), z.unknown()).default({}),
});

/** One process as /proc describes it, or null once it is gone. */
async function describe(s: Services, pid: number, id: string): Promise<QueryProcess | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = (await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')).split('\n');
  const field = (name: string) => status.find((l) => l.startsWith(`${name}:`))?.split(/\s+/)[1];
  const cmdline = (await processCmdline(pid)) ?? [];
  const job = s.store ? await s.store.findJobByPid(pid, s.host) : undefined;
  return {
    pid,
    ppid: Number(fields[1]),
    status: await jobStatus({ pid, host: s.host, cmdline }, s.host),
    cmdline,
    id,
    jid: job?.jid ?? '',
    cgroup: (await freezerOf(pid))?.path ?? '',
    cwd: await readlink(`/proc/${pid}/cwd`).catch(() => ''),
    rssBytes: Number(field('VmRSS') ?? 0) * 1024,
    threads: Number(field('Threads') ?? 0),
    uid: Number(field('Uid') ?? 0),
    gid: Number(field('Gid') ?? 0),
  };
}

export async function queryTargets(s: Services, input: unknown): Promise<QueryProcess[]> {
  const req = validate(QueryRequest, input, 'query');
  const runtime = s.plugins.runtime(req.type);
  const out: QueryProcess[] = [];
  for (const id of req.ids) {
    let pid: number;
    let runtimeStatus: string | undefined;
    if (req.type === 'process') {
      pid = Number(id);
      if (!/^\d+$/.test(id) || !Number.isSafeInteger(pid) || pid <= 0) throw new CedanaError(ErrorCode.InvalidArgument, `'${id}' is not a PID`, { hint: 'cedana query process <PID…>' });
    } else {
      if (!runtime.locate) throw new CedanaError(ErrorCode.Unsupported, `the ${req.type} runtime cannot be queried`);
      const found = await runtime.locate(id, runtimeOptions(runtime, req.options));
      if (!found) throw new CedanaError(ErrorCode.NotFound, `no ${req.type} container '${id}'`, { hint: 'check the ID (and --root or --namespace)' });
      if (found.pid <= 0) throw new CedanaError(ErrorCode.FailedPrecondition, `${req.type} container '${id}' has no process (status: ${found.status})`);
      pid = found.pid;
      runtimeStatus = found.status;
    }
    const pids = req.tree ? await processTree(pid) : [pid];
    const found = (await Promise.all(pids.map((p) => describe(s, p, id)))).filter((p): p is QueryProcess => p !== null);
    if (found.length === 0) throw new CedanaError(ErrorCode.NotFound, `no process ${pid}`, { hint: 'check the PID' });
    // A paused container: the runtime's word for it.
    if (runtimeStatus === 'paused') found[0].status = 'frozen';
    out.push(...found);
  }
  return out;
}
