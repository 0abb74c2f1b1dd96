/**
 * Turns job rows into what the API returns, with the status derived from the live process.
 */
import { CheckpointStats, type Checkpoint, type Job } from '../generated/daemon';
import type { CheckpointRow, JobRow } from '../db/tables';
import { statusOf } from './job-status';

export function checkpointView(row: CheckpointRow): Checkpoint {
  // Through fromPartial: stats recorded by an older version lack newer fields, which the encoder needs set.
  const stats = row.stats ? CheckpointStats.fromPartial(JSON.parse(row.stats) as Partial<CheckpointStats>) : undefined;
  return { id: row.id, jid: row.jid ?? '', type: row.type, path: row.path, time: row.time, size: row.size, compression: row.compression, host: row.host ?? '', ...(stats ? { stats } : {}) };
}

/**
 * The job as the API shows it. `hostNames` maps host IDs to names (the hosts table); a host not in it shows its ID.
 */
export async function jobView(row: JobRow, host: string, latest?: CheckpointRow, live?: ReadonlySet<number>, hostNames?: ReadonlyMap<string, string>): Promise<Job> {
  const cmdline = JSON.parse(row.cmdline) as string[];
  const status = await statusOf(row, host, live);
  const exited = row.exit_code !== null || row.exit_signal !== null;
  const details = JSON.parse(row.details) as { io?: { dir?: string } };
  const attachable = typeof details.io?.dir === 'string';
  return {
    jid: row.jid,
    type: row.type,
    pid: row.pid,
    status,
    gpu: row.gpu === 1,
    log: attachable && !['halted', 'zombie', 'stale', 'remote'].includes(status) ? '[Attachable]' : row.log,
    cmdline,
    detailsJson: row.details,
    host: row.host,
    createdAt: row.created_at,
    latestCheckpoint: latest ? checkpointView(latest) : undefined,
    exited,
    exitCode: row.exit_code ?? 0,
    exitSignal: row.exit_signal ?? '',
    attachable,
    hostName: hostNames?.get(row.host) ?? row.host,
    ...(row.notice ? { notice: row.notice } : {}),
  };
}
