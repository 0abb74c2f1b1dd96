import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { inspectTree, neededOptions, processTree } from '../src/inspect';

const noOptions = { leaveRunning: false, tcpEstablished: false, fileLocks: false, shellJob: false, extUnixSk: false };

function waitForLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('error', reject);
  });
}

describe('inspectTree', () => {
  const children: ChildProcess[] = [];
  let server: Server | undefined;
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    server?.close();
    server = undefined;
  });

  it('finds the whole tree of a shell and its child', async () => {
    const sh = spawn('sh', ['-c', 'sleep 30 & echo ready; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(sh);
    await waitForLine(sh);
    const pids = await processTree(sh.pid!);
    assert.equal(pids[0], sh.pid);
    assert.equal(pids.length, 2, `tree was ${pids.join(',')}`);
    process.kill(-sh.pid!, 'SIGKILL');
  });

  it('turns on tcp-established for an established connection, and nothing for a plain detached process', async () => {
    server = createServer((s) => s.on('data', () => undefined));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const script = `const s=require('net').connect(${port},'127.0.0.1',()=>console.log('up'));setInterval(()=>{},1000)`;
    const client = spawn(process.execPath, ['-e', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(client);
    await waitForLine(client);
    const found = await inspectTree(client.pid!);
    assert.equal(found.tcpEstablished, true);
    assert.equal(found.foreignSession, false, 'a detached process leads its own session');
    assert.equal(neededOptions(noOptions, found).tcpEstablished, true);

    const plain = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    children.push(plain);
    await new Promise((r) => plain.once('spawn', r));
    const quiet = await inspectTree(plain.pid!);
    assert.deepEqual(neededOptions(noOptions, quiet), noOptions);
  });

  it('asks for shell-job when the session leader is outside the tree', async () => {
    // The shell leads a session of its own; its child shares it, so the tree rooted at the child does not hold it.
    const sh = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(sh);
    const child = Number(await waitForLine(sh));
    const found = await inspectTree(child);
    assert.deepEqual(found.pids, [child]);
    assert.equal(found.foreignSession, true);
    assert.equal(found.hiddenSession, null);
    assert.equal(neededOptions(noOptions, found).shellJob, true);
    process.kill(-sh.pid!, 'SIGKILL');
  });

  it('names a process whose session is led from outside this PID namespace, and dump refuses it, leaving it running', async () => {
    // Inside a new PID namespace, /proc shows session 0 for a process whose session leader lives outside it; CRIU
    // cannot dump such a process even with --shell-job.
    const probe = require.resolve('./hidden-session-probe');
    const out = await new Promise<string>((resolve, reject) => {
      const u = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, probe], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      u.stdout!.on('data', (d: Buffer) => (text += d.toString()));
      u.once('error', reject);
      u.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`unshare exited ${code}`))));
    });
    const r = JSON.parse(out) as {
      pid: number;
      found: { hiddenSession: number | null; foreignSession: boolean };
      dump: { ok: boolean; code?: string; message?: string; hint?: string };
      running: boolean;
    };
    assert.equal(r.found.hiddenSession, r.pid);
    assert.equal(r.found.foreignSession, true);
    assert.equal(r.dump.ok, false);
    assert.equal(r.dump.code, 'FAILED_PRECONDITION');
    assert.match(r.dump.message!, new RegExp(`PID ${r.pid} belongs to a session led from outside this PID namespace`));
    assert.match(r.dump.hint!, /session of its own/);
    assert.equal(r.running, true, 'the refused dump left the process running');
  });
});
