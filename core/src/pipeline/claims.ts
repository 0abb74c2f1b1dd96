/**
 * Claims on a job: which operation, on which host, may change it now. A claim is taken under the row's lock
 * (JobStore.claimJob), so two daemons that share the database never both move or restore one job.
 *
 *   migrate:<to>   the job's host is moving it to host <to> (job migrate); <to>'s restore goes on under it
 *   restore:<host> that host is restoring it (restore job)
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { JobRow } from '../db/tables';
import { requireStore } from './helpers';
import type { Services } from './services';

export interface RestoreClaim {
  /** True when this restore took the claim (and so must let it go); false under a migrate's claim. */
  own: boolean;
  /** The host the job belonged to before. */
  from: string;
}

function exited(row: JobRow): boolean {
  return row.exit_code !== null || row.exit_signal !== null;
}

/** The refusal for a job that another operation holds. */
export function claimedError(jid: string, claim: string): CedanaError {
  const [op, host] = claim.split(':');
  return new CedanaError(ErrorCode.FailedPrecondition, `job ${jid} is being ${op === 'migrate' ? `migrated to host ${host}` : `restored by host ${host}`} already`, {
    hint: 'wait for that to finish, then see `cedana ps --all`',
  });
}

/** Claims job `jid` for a restore on this host; refused while the job runs on another host or is claimed. */
export async function claimForRestore(s: Services, jid: string): Promise<RestoreClaim> {
  let result: RestoreClaim | undefined;
  await requireStore(s).claimJob(jid, (row) => {
    if (!row) throw new CedanaError(ErrorCode.NotFound, `job ${jid} not found`, { hint: 'see `cedana ps --all` for the jobs there are' });
    if (row.claim && row.claim !== `migrate:${s.host}`) throw claimedError(jid, row.claim);
    if (row.host !== s.host && row.released !== 1 && !exited(row)) {
      throw new CedanaError(ErrorCode.FailedPrecondition, `job ${jid} is still running on host ${row.host} (PID ${row.pid})`, {
        hint: `dump it there first (cedana dump job ${jid} --dir s3://…), or move it from there with cedana job migrate ${jid} --to ${s.host}`,
      });
    }
    result = { own: !row.claim, from: row.host };
    return row.claim ? {} : { claim: `restore:${s.host}` };
  });
  return result!;
}
