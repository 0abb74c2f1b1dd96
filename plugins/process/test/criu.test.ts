import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { criuErrorLines, criuFlags, dumpedPids, parseCriuVersion, pidTaken, runCommand } from '../src/criu';

describe('criu helpers', () => {
  it('maps options to flags, leaving --leave-running out of restores', () => {
    const opts = { leaveRunning: true, tcpEstablished: true, fileLocks: false, shellJob: true, extUnixSk: false };
    assert.deepEqual(criuFlags(opts, 'dump'), ['--leave-running', '--tcp-established', '--shell-job']);
    assert.deepEqual(criuFlags(opts, 'restore'), ['--tcp-established', '--shell-job']);
  });

  it('maps the dump-only, restore-only and repeatable options to the flags of each action', () => {
    const base = { leaveRunning: false, tcpEstablished: false, fileLocks: false, shellJob: false, extUnixSk: false };
    const opts = { ...base, skipInFlight: true, linkRemap: true, tcpClose: true, leaveStopped: true, external: ['mnt[/a]:a', 'net[1]:v'] };
    assert.deepEqual(criuFlags(opts, 'dump'), ['--skip-in-flight', '--link-remap', '--external', 'mnt[/a]:a', '--external', 'net[1]:v']);
    assert.deepEqual(criuFlags(opts, 'restore'), ['--link-remap', '--tcp-close', '--leave-stopped', '--external', 'mnt[/a]:a', '--external', 'net[1]:v']);
  });

  it('picks the Error lines out of a CRIU log', () => {
    const log = [
      '(00.001) Version: 4.2.1',
      '(00.010) Error (criu/sk-unix.c:123): unix: Can\'t dump half of stream unix connection.',
      '(00.011) Warn  something harmless',
      '(00.011) Error (criu/util.c:1534): rlimit: Can\'t setup RLIMIT_NOFILE for self: Operation not permitted',
      '(00.012) Error (criu/cr-dump.c:2000): Dumping FAILED.',
    ].join('\n');
    assert.deepEqual(criuErrorLines(log), [
      "Error (criu/sk-unix.c:123): unix: Can't dump half of stream unix connection.",
      'Error (criu/cr-dump.c:2000): Dumping FAILED.',
    ]);
  });

  it('names the process that holds the PID a restore needs', async () => {
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => holder.once('spawn', r));
    try {
      const log = `(00.1) Error (criu/cr-restore.c:1237): Can't fork for ${holder.pid}: File exists\n`;
      const said = await pidTaken(log);
      assert.match(said, new RegExp(`^ \\(PID ${holder.pid} is taken by sleep \\(PID ${holder.pid}, state [SR], parent PID ${process.pid} [^)]+\\): a restored process needs its old PID free\\)$`));
    } finally {
      holder.kill('SIGKILL');
    }
    await new Promise((r) => holder.once('exit', r));
    assert.match(await pidTaken(`Can't fork for ${holder.pid}: File exists`), /was taken by another process, which is gone now/);
    assert.equal(await pidTaken('Error (criu/cr-restore.c:1): Restoring FAILED.'), '');
  });

  it('names the process whose session holds the PID, after the session leader is gone', async () => {
    // The leader exits at once; its background child lives on in the leader's session (and process group).
    const leader = spawn('sh', ['-c', 'sleep 30 & echo $!; exit 0'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    leader.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => leader.once('exit', r));
    // The child may still be the forked shell, not yet sleep: wait for its exec.
    const child = Number(out.trim());
    for (let i = 0; i < 100 && (await readFile(`/proc/${child}/comm`, 'utf8').catch(() => '')).trim() !== 'sleep'; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    try {
      const said = await pidTaken(`Can't fork for ${leader.pid}: File exists`);
      assert.match(said, new RegExp(`^ \\(PID ${leader.pid} is taken by sleep \\(PID ${child}, state S, parent PID \\d+[^)]*\\), whose session it is: a restored process needs its old PID free\\)$`));
    } finally {
      process.kill(-leader.pid!, 'SIGKILL');
    }
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
