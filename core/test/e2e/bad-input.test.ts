/**
 * Bad input on the command line: each mistake gets one `Error: …` line that says what is wrong (and mostly what
 * to do), a non-zero exit, and changes nothing: jobs keep running with the same PID, no checkpoint is recorded.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, waitFor } from '../helpers/env';
import { expectError, sha256, unusedPid } from '../helpers/bad-input';
import { counter, isAlive, job, killGroup, lastNumber, psJson, runPid, teardown } from '../helpers/e2e';

describe('e2e: bad input', function () {
  this.timeout(120_000);
  let env: TestEnv;
  let runner: { jid: string; pid: number; log: string };
  const strays: ChildProcess[] = [];

  /** Asserts the counter job is untouched: same PID, alive, still counting. */
  async function runnerUntouched(): Promise<void> {
    const j = job(env, runner.jid);
    assert.equal(j.pid, runner.pid, 'same PID');
    assert.ok(isAlive(runner.pid), 'still alive');
    assert.notEqual(j.status, 'halted');
    const before = lastNumber(runner.log);
    await waitFor(() => lastNumber(runner.log) > before, 10_000, 'the counter to go on counting');
  }

  function checkpointsOf(jid: string): unknown[] {
    return JSON.parse(env.ok(['job', 'checkpoints', jid, '--json'])) as unknown[];
  }

  /** A `sleep` that is no job (yet), as `manage` finds processes. */
  function stray(): number {
    const child = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
    strays.push(child);
    return child.pid!;
  }

  before(async function () {
    env = new TestEnv();
    await env.startDaemon();
    const log = join(env.dir, 'runner.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'runner', '--log', log, '--', ...counter()]));
    runner = { jid: 'runner', pid, log };
    await waitFor(() => lastNumber(log) >= 2, 10_000, 'the counter to start');
  });

  after(async function () {
    for (const c of strays) killGroup(c.pid!);
    await teardown(env, [runner?.pid ?? 0]);
  });

  describe('unknown things', function () {
    it('dump process of a PID that does not exist', function () {
      const pid = unusedPid();
      expectError(env.cli(['dump', 'process', String(pid)]), new RegExp(`no process with PID ${pid}`));
    });

    it('manage process of a PID that does not exist', function () {
      const pid = unusedPid();
      expectError(env.cli(['manage', 'process', String(pid)]), new RegExp(`no process with PID ${pid}`));
      assert.deepEqual(psJson(env).map((j) => j.jid), ['runner']);
    });

    const jidCommands: string[][] = [
      ['dump', 'job', 'nosuchjob'],
      ['restore', 'job', 'nosuchjob'],
      ['job', 'kill', 'nosuchjob'],
      ['kill', 'nosuchjob'],
      ['job', 'inspect', 'nosuchjob'],
      ['job', 'checkpoints', 'nosuchjob'],
      ['checkpoints', 'nosuchjob'],
      ['job', 'delete', 'nosuchjob'],
    ];
    for (const args of jidCommands) {
      it(`${args.join(' ')}: the JID is unknown`, function () {
        expectError(env.cli(args), /job nosuchjob not found/, /cedana ps/);
      });
    }

    it('job kill of a known and an unknown JID kills neither', async function () {
      expectError(env.cli(['job', 'kill', 'runner', 'nosuchjob']), /job nosuchjob not found/);
      await runnerUntouched();
    });

    it('a PID that is not a number', function () {
      expectError(env.cli(['dump', 'process', 'abc']), /'abc' is not a PID/, /cedana dump process <PID>/);
      expectError(env.cli(['dump', 'process', '12abc']), /'12abc' is not a PID/);
      expectError(env.cli(['dump', 'process', '0']), /'0' is not a PID/);
      expectError(env.cli(['manage', 'process', 'abc']), /no process named abc/);
      expectError(env.cli(['manage', 'process', 'a b$c']), /'a b\$c' is not a PID, a pid file or a process name/);
    });

    it('a JID that cannot be one', function () {
      expectError(env.cli(['run', 'process', '--jid', 'a/b', '--', 'true']), /JID/, /letters, digits/);
      expectError(env.cli(['manage', 'process', String(stray()), '--jid', 'has space']), /JID/);
      assert.deepEqual(psJson(env).map((j) => j.jid), ['runner']);
    });
  });

  describe('things that exist already', function () {
    it('manage of a PID that is managed already, with or without another --jid', function () {
      const pid = stray();
      env.ok(['manage', 'process', String(pid), '--jid', 'adopted']);
      expectError(env.cli(['manage', 'process', String(pid)]), new RegExp(`PID ${pid} is managed already, as job adopted`));
      expectError(env.cli(['manage', 'process', String(pid), '--jid', 'adopted-again']), new RegExp(`PID ${pid} is managed already, as job adopted`));
      const jobs = psJson(env);
      assert.deepEqual(jobs.map((j) => j.jid).sort(), ['adopted', 'runner']);
      assert.equal(job(env, 'adopted').pid, pid);
      assert.ok(isAlive(pid));
    });

    it('manage of the PID of a running job', function () {
      expectError(env.cli(['manage', 'process', String(runner.pid)]), new RegExp(`PID ${runner.pid} is managed already, as job runner`));
    });

    it('a --jid that is taken, for manage and run', async function () {
      const pid = stray();
      expectError(env.cli(['manage', 'process', String(pid), '--jid', 'runner']), /job runner exists already/, /another --jid/);
      expectError(env.cli(['run', 'process', '--jid', 'runner', '--', 'sleep', '300']), /job runner exists already/, /another --jid/);
      assert.equal(psJson(env).filter((j) => j.pid === pid).length, 0, 'the stray was not recorded');
      await runnerUntouched();
    });
  });

  describe('restore refused', function () {
    it('restore job of a job that has no checkpoint', async function () {
      const log = join(env.dir, 'quick.log');
      env.ok(['run', 'process', '--jid', 'quick', '--log', log, '--', 'true']);
      await waitFor(() => job(env, 'quick').status === 'halted', 10_000, 'the job to end');
      expectError(env.cli(['restore', 'job', 'quick']), /job quick has no checkpoint/, /cedana dump job/);
      assert.equal(job(env, 'quick').status, 'halted');
    });

    it('restore job of a running job, even with a checkpoint to restore from', async function () {
      const ckptDir = join(env.dir, 'running-ckpt');
      mkdirSync(ckptDir);
      env.ok(['dump', 'job', 'runner', '--leave-running', '--dir', ckptDir, '--compression', 'gzip']);
      assert.equal(checkpointsOf('runner').length, 1);
      expectError(env.cli(['restore', 'job', 'runner']), new RegExp(`job runner is still running \\(PID ${runner.pid}`), /dump it|kill it/);
      await runnerUntouched();
      assert.equal(psJson(env).filter((j) => j.jid === 'runner').length, 1);
    });

    it('restore job without a JID, restore process without --path', function () {
      expectError(env.cli(['restore', 'job']), /restore job needs a JID/, /cedana restore job <JID>/);
      expectError(env.cli(['restore', 'process']), /restore process needs --path/);
    });
  });

  describe('paths that are not checkpoints', function () {
    it('--path that does not exist', function () {
      const path = join(env.dir, 'no', 'such', 'ckpt.tar.gz');
      expectError(env.cli(['restore', 'process', '--path', path]), new RegExp(`${path} does not exist`));
    });

    it('a file of random bytes, an empty file, a text file; each left as it was', function () {
      const random = join(env.dir, 'random.bin');
      const bytes = Buffer.alloc(64 * 1024);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
      bytes[0] = 0; // no magic number by chance
      writeFileSync(random, bytes);
      const empty = join(env.dir, 'empty.tar.gz');
      writeFileSync(empty, '');
      const text = join(env.dir, 'notes.tar.lz4');
      writeFileSync(text, 'not a checkpoint\n');
      const jobsBefore = psJson(env).map((j) => j.jid);
      for (const path of [random, empty, text]) {
        const before = sha256(path);
        expectError(env.cli(['restore', 'process', '--path', path]), new RegExp(`${path} is not a checkpoint archive`), /cedana dump/);
        assert.equal(sha256(path), before);
      }
      assert.deepEqual(psJson(env).map((j) => j.jid), jobsBefore, 'no job was recorded');
    });

    it('an empty directory, and a directory of other files, left as they were', function () {
      const empty = join(env.dir, 'empty-dir');
      mkdirSync(empty);
      expectError(env.cli(['restore', 'process', '--path', empty]), new RegExp(`${empty} is not a checkpoint \\(no cedana\\.json\\)`), /cedana dump/);
      assert.deepEqual(readdirSync(empty), []);
      const other = join(env.dir, 'other-dir');
      mkdirSync(other);
      writeFileSync(join(other, 'cedana.json'), '{"version": 99}');
      expectError(env.cli(['restore', 'process', '--path', other]), new RegExp(`${other} has unreadable metadata`));
      assert.deepEqual(readdirSync(other), ['cedana.json']);
    });
  });

  describe('bad dump options', function () {
    it('--compression rar', async function () {
      const before = checkpointsOf('runner').length;
      expectError(env.cli(['dump', 'job', 'runner', '--compression', 'rar']), /unknown compression 'rar'/, /none, tar, gzip, lz4, zlib/);
      assert.equal(checkpointsOf('runner').length, before);
      await runnerUntouched();
    });

    it('--name with a slash', async function () {
      const dir = join(env.dir, 'named');
      mkdirSync(dir);
      expectError(env.cli(['dump', 'job', 'runner', '--dir', dir, '--name', 'a/b']), /--name/, /no slashes/);
      expectError(env.cli(['dump', 'job', 'runner', '--dir', dir, '--name', '../escape']), /--name/);
      assert.deepEqual(readdirSync(dir), []);
      assert.deepEqual(readdirSync(env.dir).filter((n) => n === 'escape' || n.startsWith('escape.')), []);
      await runnerUntouched();
    });

    it('--name of a checkpoint that exists already', async function () {
      const dir = join(env.dir, 'taken');
      mkdirSync(dir);
      writeFileSync(join(dir, 'mine.tar.gz'), 'precious');
      const before = sha256(join(dir, 'mine.tar.gz'));
      expectError(env.cli(['dump', 'job', 'runner', '--dir', dir, '--name', 'mine', '--compression', 'gzip']), /mine\.tar\.gz exists already/, /another --name/);
      assert.equal(sha256(join(dir, 'mine.tar.gz')), before);
      assert.deepEqual(readdirSync(dir), ['mine.tar.gz']);
      await runnerUntouched();
    });
  });

  describe('the command line itself', function () {
    it('an unknown command', function () {
      expectError(env.cli(['frobnicate']), /frobnicate/, /cedana --help/);
      expectError(env.cli(['dum', 'job', 'runner']), /dum\b/, /did you mean dump/);
      expectError(env.cli(['job', 'frobnicate']), /frobnicate/);
    });

    it('no command, or missing arguments', function () {
      expectError(env.cli([]), /name a command/);
      expectError(env.cli(['dump', 'process']), /argument/);
      expectError(env.cli(['manage']), /argument/);
    });

    it('run with no command (its hint is not plain ASCII): refused, and the daemon lives on', async function () {
      expectError(env.cli(['run', 'process']), /no command given/, /cedana run process -- CMD ARGS/);
      expectError(env.cli(['run', 'process', '--jid', 'empty', '--']), /no command given/);
      assert.equal(psJson(env).filter((j) => j.jid === 'empty').length, 0);
      await runnerUntouched();
    });

    it('an unknown flag on ps', function () {
      expectError(env.cli(['ps', '--bogus']), /bogus/);
    });

    it('an unknown flag on run starts nothing', function () {
      expectError(env.cli(['run', 'process', '--jid', 'typo', '--bogus', '--', 'sleep', '300']), /bogus/);
      assert.equal(psJson(env).filter((j) => j.jid === 'typo').length, 0);
    });

    it('an unknown flag on dump dumps nothing and leaves the job running', async function () {
      const before = checkpointsOf('runner').length;
      expectError(env.cli(['dump', 'job', 'runner', '--levae-running']), /levae-running/);
      assert.equal(checkpointsOf('runner').length, before);
      await runnerUntouched();
    });

    it('an unknown flag on kill kills nothing', async function () {
      expectError(env.cli(['job', 'kill', 'runner', '--sginal', 'KILL']), /sginal/);
      await runnerUntouched();
    });

    it('an unknown signal', async function () {
      expectError(env.cli(['job', 'kill', 'runner', '--signal', 'NOPE']), /--signal/);
      await runnerUntouched();
    });
  });

  describe('bad configuration', function () {
    let configFile: string;

    before(function () {
      mkdirSync(env.env.CEDANA_CONFIG_DIR!, { recursive: true });
      configFile = join(env.env.CEDANA_CONFIG_DIR!, 'config.json');
    });

    afterEach(function () {
      rmSync(configFile, { force: true });
    });

    it('config.json with an unknown compression', function () {
      writeFileSync(configFile, JSON.stringify({ checkpoint: { compression: 'rar' } }));
      expectError(env.cli(['ps']), /bad config/, new RegExp(configFile), /checkpoint\.compression/, /unknown compression 'rar'/);
    });

    it('config.json with an unknown field', function () {
      writeFileSync(configFile, JSON.stringify({ checkpoint: { compresion: 'gzip' } }));
      expectError(env.cli(['ps']), /unknown field checkpoint\.compresion/, new RegExp(configFile));
    });

    it('config.json that is not JSON', function () {
      writeFileSync(configFile, '{"checkpoint": {');
      expectError(env.cli(['ps']), new RegExp(`config file ${configFile} is not valid JSON`));
    });

    it('a good config.json is used (it is not just ignored)', function () {
      writeFileSync(configFile, JSON.stringify({ protocol: 'udp' }));
      expectError(env.cli(['ps']), /unknown protocol 'udp'/);
    });

    it('CEDANA_CHECKPOINT_COMPRESSION=rar names the variable', function () {
      expectError(env.cli(['ps'], { env: { CEDANA_CHECKPOINT_COMPRESSION: 'rar' } }), /CEDANA_CHECKPOINT_COMPRESSION/, /unknown compression 'rar'/);
      expectError(env.cli(['dump', 'job', 'runner'], { env: { CEDANA_CHECKPOINT_COMPRESSION: 'rar' } }), /CEDANA_CHECKPOINT_COMPRESSION/);
    });

    it("--config '{bad'", function () {
      expectError(env.cli(['ps', '--config', '{bad']), /--config is not valid JSON/);
      expectError(env.cli(['ps', '--config', '{"checkpoint": {"compression": "rar"}}']), /--config/, /unknown compression 'rar'/);
    });

    it('--protocol that is neither unix nor tcp', function () {
      expectError(env.cli(['ps', '--protocol', 'udp']), /unknown protocol 'udp'/);
    });

    it('a daemon with a bad config does not start', function () {
      const address = join(env.dir, 'second.sock');
      const r = env.cli(['daemon', 'start'], { env: { CEDANA_ADDRESS: address, CEDANA_CHECKPOINT_COMPRESSION: 'rar' }, timeoutMs: 30_000 });
      expectError(r, /CEDANA_CHECKPOINT_COMPRESSION/);
      writeFileSync(configFile, '{"criu": {"log_level": 9}}');
      expectError(env.cli(['daemon', 'start'], { env: { CEDANA_ADDRESS: address }, timeoutMs: 30_000 }), /criu\.log_level/, new RegExp(configFile));
      assert.deepEqual(readdirSync(env.dir).filter((n) => n === 'second.sock'), []);
    });

    it('leaves the running daemon and its jobs alone', async function () {
      await runnerUntouched();
    });
  });
});

describe('e2e: no daemon', function () {
  this.timeout(120_000);
  let env: TestEnv;

  before(function () {
    env = new TestEnv();
  });

  after(async function () {
    await env.cleanup();
  });

  const commands = [['ps'], ['dump', 'job', 'x'], ['restore', 'job', 'x'], ['run', 'process', '--', 'true'], ['daemon', 'check'], ['job', 'kill', '--all']];
  for (const args of commands) {
    it(`${args.join(' ')}: says the daemon is not running and how to start it`, function () {
      expectError(env.cli(args), /daemon is not running/, new RegExp(env.socket), /cedana daemon start/);
    });
  }

  it('a socket left behind by a killed daemon: cannot reach it, and how to start it', async function () {
    await env.startDaemon();
    env.ok(['ps']);
    await env.stopDaemon('SIGKILL');
    const r = env.cli(['ps'], { timeoutMs: 30_000 });
    expectError(r, /cannot reach the daemon/, new RegExp(env.socket), /cedana daemon start/);
  });

  it('a daemon started over that socket serves again', async function () {
    await env.startDaemon(); // returns at once: the old socket is there
    await waitFor(() => env.cli(['ps']).code === 0, 20_000, 'the new daemon to answer');
    assert.equal(env.ok(['ps']).trim(), 'No jobs found');
  });
});
