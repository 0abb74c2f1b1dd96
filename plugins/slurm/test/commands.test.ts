/**
 * Reading Slurm's answers, the job id rules, and the resubmission's sbatch options and batch script.
 */
import assert from 'node:assert/strict';
import { CedanaError } from '@cedana-ts/sdk';
import { parseJobLine, parseListPids, reasonOf } from '../src/commands';
import { jobIdOf } from '../src/job';
import { restoreScript, sbatchArgs } from '../src/resubmit';

describe('slurm: parsing', () => {
  it('reads scontrol show job -o, values with spaces included', () => {
    const f = parseJobLine('JobId=7 JobName=count Partition=debug JobState=RUNNING BatchFlag=1 WorkDir=/w StdOut=/w/out 7.txt Power=');
    assert.equal(f.JobId, '7');
    assert.equal(f.JobState, 'RUNNING');
    assert.equal(f.StdOut, '/w/out 7.txt');
    assert.equal(f.Power, '');
  });

  it('reads scontrol listpids', () => {
    const rows = parseListPids('PID      JOBID    STEPID   LOCALID GLOBALID\n23779    1        batch    0       0\n23839    1        batch    -       -\n');
    assert.deepEqual(rows, [
      { pid: 23779, step: 'batch', localId: '0' },
      { pid: 23839, step: 'batch', localId: '-' },
    ]);
  });

  it('quotes a command\'s own reason without its prefix', () => {
    assert.equal(reasonOf({ code: 1, stdout: '', stderr: 'sbatch: error: Batch job submission failed: Invalid partition name specified\n' }), 'Batch job submission failed: Invalid partition name specified');
  });

  it('takes plain job ids and refuses array tasks and other words', () => {
    assert.equal(jobIdOf(' 42 '), '42');
    assert.throws(() => jobIdOf('42_1'), (e: CedanaError) => e.code === 'INVALID_ARGUMENT' && /job array/.test(e.message));
    assert.throws(() => jobIdOf('42.0'), (e: CedanaError) => e.code === 'INVALID_ARGUMENT' && /not a Slurm job id/.test(e.message));
  });

  it('resubmits with the recorded description, appending to its output; the caller\'s options last', () => {
    const d = { name: 'count', partition: 'debug', workDir: '/w', stdout: '/w/o', stderr: '/w/e', timeLimit: '00:10:00', nodeList: 'n1', command: '/w/c.sh' };
    const args = sbatchArgs(d, { partition: 'other', nodelist: 'n2', args: ['--qos=low'] });
    assert.deepEqual(args, ['--open-mode=append', '--requeue', '--job-name=count', '--partition=other', '--chdir=/w', '--output=/w/o', '--error=/w/e', '--time=00:10:00', '--nodelist=n2', '--qos=low']);
    assert.ok(!sbatchArgs({ ...d, timeLimit: 'UNLIMITED' }, {}).some((a) => a.startsWith('--time')));
  });

  it('the restore script runs this cedana installation with the daemon\'s CRIU, its own output apart', () => {
    const text = restoreScript({ imagesDir: "/r/it's", logPath: '/r/log', criuPath: '/usr/local/sbin/criu', spool: { path: '/s/job00001/slurm_script', mode: 0o100700, saved: '/r/saved' } });
    assert.ok(text.includes(`'${process.execPath}'`), text);
    assert.match(text, /restore process --path '\/r\/it'\\''s' --no-server --config '\{"criu":\{"binary_path":"\/usr\/local\/sbin\/criu"\}\}' >>'\/r\/log' 2>&1/);
    assert.match(text, /install -m 700 '\/r\/saved' '\/s\/job00001\/slurm_script'/);
  });
});
