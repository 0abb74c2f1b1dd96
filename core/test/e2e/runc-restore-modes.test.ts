/**
 * Every restore mode of a runc container started outside cedana with its output in a host file and an all-digit
 * id (as Cedana's scripts start them), on real runc and CRIU: `cedana dump runc ID`, then
 * `cedana restore runc --id ID --path P --bundle B` plain, with --pid-file, --detach, --attach, --no-server and
 * --no-server --detach. Each checks that the one counter carries on (in the host file, or on the caller's stdout
 * where runc copied it there) and what the CLI says (its exit code, the PID it writes). Also
 * `cedana run runc --no-server` with --detach and --pid-file.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, TestEnv, waitFor } from '../helpers/env';
import {
  assertHostFileCounts,
  digitsId,
  dumpedPath,
  hostFileLast,
  killGroup,
  removeContainer,
  restoredPid,
  runcState,
  runcToFile,
  teardown,
} from '../helpers/e2e';
import { boxCounter, runcBundle } from '@cedana-ts/sdk/testing';

describe('e2e: restore modes of a runc container started outside cedana', function () {
  this.timeout(120_000);
  let env: TestEnv;
  let root: string;
  let bundle: string;
  let containers: string[] = [];
  let clis: ChildProcess[] = [];
  const pids: number[] = [];

  before(async () => {
    env = new TestEnv();
    root = join(env.dir, 'runc-root');
    env.env.CEDANA_RUNC_ROOT = root;
    bundle = runcBundle(join(env.dir, 'bundle'), boxCounter(50));
    await env.startDaemon();
  });

  afterEach(() => {
    for (const cli of clis) if (cli.exitCode === null) killGroup(cli.pid!);
    for (const id of containers) removeContainer(root, id);
    for (const pid of pids.splice(0)) killGroup(pid);
    containers = [];
    clis = [];
  });

  after(async () => {
    await teardown(env);
  });

  /** The CLI in the background (as `cedana … &`), its output collected; resolves with its exit code. */
  function background(args: string[]): { cli: ChildProcess; output: () => string; exit: Promise<number | null> } {
    const cli = spawn(process.execPath, [CLI, ...args], {
      env: env.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    clis.push(cli);
    let output = '';
    cli.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    cli.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exit = new Promise<number | null>((resolve) => cli.once('close', (code) => resolve(code)));
    return { cli, output: () => output, exit };
  }

  /** Runs the CLI to its end, its stdout and stderr in the file `out` (`cedana … > out 2>&1`); its exit code. */
  function cliToFile(args: string[], out: string): number | null {
    const fd = openSync(out, 'w');
    try {
      return spawnSync(process.execPath, [CLI, ...args], { env: env.env, stdio: ['ignore', fd, fd], timeout: 30_000 })
        .status;
    } finally {
      closeSync(fd);
    }
  }

  /** A container counting into a host file, dumped: its id, the host file, the checkpoint and the count at the dump. */
  async function dumped(
    how: 'detached' | 'foreground' = 'detached',
  ): Promise<{ id: string; out: string; path: string; at: number }> {
    const id = digitsId();
    const out = join(env.dir, `${id}.out`);
    containers.push(id);
    const runc = runcToFile(root, bundle, id, out, how);
    if (runc) pids.push(runc);
    await waitFor(
      () => runcState(root, id)?.status === 'running' && hostFileLast(out) >= 3,
      15_000,
      'the container counting into its host file',
    );
    const path = dumpedPath(env.ok(['dump', 'runc', id]));
    assert.ok(path.includes(id), `the checkpoint is named for the container: ${path}`);
    assert.equal(runcState(root, id), null, 'the dump stopped the container');
    return { id, out, path, at: hostFileLast(out) };
  }

  /** The container runs as `pid` and counts on in its host file from where it was dumped. */
  async function countsOn(c: { id: string; out: string; at: number }, pid?: number): Promise<number> {
    await waitFor(() => runcState(root, c.id)?.status === 'running', 15_000, 'the restored container running');
    const state = runcState(root, c.id)!;
    if (pid !== undefined) assert.equal(state.pid, pid, 'the PID given is the container init’s');
    await waitFor(() => hostFileLast(c.out) >= c.at + 3, 15_000, 'the restored container counting on in the host file');
    assertHostFileCounts(c.out);
    return state.pid;
  }

  const restoreArgs = (c: { id: string; path: string }): string[] => [
    'restore',
    'runc',
    '--id',
    c.id,
    '--path',
    c.path,
    '--bundle',
    bundle,
  ];

  for (const how of ['detached', 'foreground'] as const) {
    it(`plain restore of a container run ${how} into a host file: it counts on there`, async () => {
      const c = await dumped(how);
      await countsOn(c, restoredPid(env.ok(restoreArgs(c))));
    });
  }

  it('restore --pid-file writes the container init’s PID', async () => {
    const c = await dumped();
    const pidFile = join(env.dir, `${c.id}.pid`);
    const pid = restoredPid(env.ok([...restoreArgs(c), '--pid-file', pidFile]));
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(pid));
    await countsOn(c, pid);
  });

  it('restore --detach: the command returns and the container counts on', async () => {
    const c = await dumped();
    await countsOn(c, restoredPid(env.ok([...restoreArgs(c), '--detach'])));
  });

  it('restore --attach: the output stays in the host file; the command ends with the container (137)', async () => {
    const c = await dumped();
    const attached = background([...restoreArgs(c), '--attach']);
    await countsOn(c);
    assert.equal(attached.cli.exitCode, null, 'the attached command waits for the container');
    assert.doesNotMatch(attached.output(), /^\d+$/m, 'the container still writes into its host file, not here');
    killGroup(runcState(root, c.id)!.pid);
    assert.equal(await attached.exit, 137, attached.output());
  });

  /** `restore --no-server` in the background with --pid-file; resolves once the pid file names the container. */
  async function noServer(c: {
    id: string;
    path: string;
  }): Promise<{ fg: ReturnType<typeof background>; pid: number }> {
    const pidFile = join(env.dir, `${c.id}.pid`);
    const fg = background([...restoreArgs(c), '--no-server', '--pid-file', pidFile]);
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 20_000, 'the pid file');
    return { fg, pid: Number(readFileSync(pidFile, 'utf8')) };
  }

  it('restore --no-server: the command waits, writes its PID, and ends with it; the host file goes on', async () => {
    const c = await dumped();
    const { fg, pid } = await noServer(c);
    await countsOn(c, pid);
    assert.equal(fg.cli.exitCode, null, `the command waits for the container: ${fg.output()}`);
    killGroup(pid);
    assert.equal(await fg.exit, 137, fg.output());
  });

  it('restore --no-server of a container whose runc copied its output: the output is the command’s now', async () => {
    const c = await dumped('foreground');
    const { fg, pid } = await noServer(c);
    assert.equal(runcState(root, c.id)?.pid, pid);
    const printed = () =>
      fg
        .output()
        .split('\n')
        .filter((l) => /^\d+$/.test(l))
        .map(Number);
    await waitFor(() => printed().length >= 3, 15_000, 'the counter on the command’s stdout');
    assert.equal(printed()[0], c.at + 1, `it carries on from ${c.at}: ${printed().join(' ')}`);
    killGroup(pid);
    assert.equal(await fg.exit, 137, fg.output());
  });

  it('restore --no-server --detach: the command ends at once (0), the container counts on', async () => {
    const c = await dumped();
    const pidFile = join(env.dir, `${c.id}.pid`);
    const log = join(env.dir, `${c.id}.cli`);
    assert.equal(
      cliToFile([...restoreArgs(c), '--no-server', '--detach', '--pid-file', pidFile], log),
      0,
      readFileSync(log, 'utf8'),
    );
    await countsOn(c, Number(readFileSync(pidFile, 'utf8')));
  });

  it('run runc --no-server --detach --pid-file: the command ends (0); the container runs on, that PID', async () => {
    const jid = digitsId();
    containers.push(jid);
    const pidFile = join(env.dir, `${jid}.pid`);
    // From a shell whose stdout is a file: the container keeps that file as its stdout.
    const out = join(env.dir, `${jid}.out`);
    const code = cliToFile(
      ['run', 'runc', '--bundle', bundle, '--jid', jid, '--no-server', '--detach', '--pid-file', pidFile],
      out,
    );
    assert.equal(code, 0, readFileSync(out, 'utf8'));
    await waitFor(() => hostFileLast(out) >= 3, 15_000, 'the container counting into the command’s stdout');
    assert.equal(runcState(root, jid)?.status, 'running');
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(runcState(root, jid)!.pid));
  });

  it('run runc --no-server --pid-file: the command waits, writes the container’s PID, and ends with it', async () => {
    const jid = digitsId();
    containers.push(jid);
    const pidFile = join(env.dir, `${jid}.pid`);
    const fg = background(['run', 'runc', '--bundle', bundle, '--jid', jid, '--no-server', '--pid-file', pidFile]);
    await waitFor(() => /^3$/m.test(fg.output()), 20_000, 'the container counting on the command’s stdout');
    const pid = runcState(root, jid)!.pid;
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(pid));
    killGroup(pid);
    assert.equal(await fg.exit, 137, fg.output());
  });
});
