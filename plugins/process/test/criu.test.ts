import assert from 'node:assert/strict';
import { criuErrorLines, criuFlags, dumpedPids, parseCriuVersion, runCommand } from '../src/criu';

describe('criu helpers', () => {
  it('maps options to flags, leaving --leave-running out of restores', () => {
    const opts = { leaveRunning: true, tcpEstablished: true, fileLocks: false, shellJob: true, extUnixSk: false };
    assert.deepEqual(criuFlags(opts, 'dump'), ['--leave-running', '--tcp-established', '--shell-job']);
    assert.deepEqual(criuFlags(opts, 'restore'), ['--tcp-established', '--shell-job']);
  });

  it('picks the Error lines out of a CRIU log', () => {
    const log = [
      '(00.001) Version: 4.2.1',
      '(00.010) Error (criu/sk-unix.c:123): unix: Can\'t dump half of stream unix connection.',
      '(00.011) Warn  something harmless',
      '(00.012) Error (criu/cr-dump.c:2000): Dumping FAILED.',
    ].join('\n');
    assert.deepEqual(criuErrorLines(log), [
      "Error (criu/sk-unix.c:123): unix: Can't dump half of stream unix connection.",
      'Error (criu/cr-dump.c:2000): Dumping FAILED.',
    ]);
  });

  it('reads the dumped PIDs out of a CRIU dump log', () => {
    const log = [
      '(00.021987) Seized task 32102, state 1',
      '(00.022695) Dumping task (pid: 32102 comm: bash)',
      '(00.024369) Dumping task cwd id 0x16 root id 0x17',
      '(00.024425) Dumping task (pid: 32117 comm: sleep)',
      '(00.025685) Dumping pstree (pid: 32102)',
    ].join('\n');
    assert.deepEqual(dumpedPids(log), [32102, 32117]);
    assert.deepEqual(dumpedPids(''), []);
  });

  it('reads the version of the installed CRIU', async () => {
    assert.equal(parseCriuVersion('Version: 4.2.1\n'), '4.2.1');
    assert.equal(parseCriuVersion('nonsense'), null);
    const out = await runCommand('criu', ['--version']);
    const v = parseCriuVersion(out.stdout);
    assert.ok(v, `criu --version printed ${out.stdout}`);
    const [major, minor] = v.split('.').map(Number);
    assert.ok(major > 4 || (major === 4 && minor >= 2), `CRIU ${v} is older than 4.2`);
  });
});
