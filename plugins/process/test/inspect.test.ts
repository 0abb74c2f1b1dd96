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
    const child = spawn('sleep', ['30'], { stdio: 'ignore' }); // same session as this test
    children.push(child);
    await new Promise((r) => child.once('spawn', r));
    const found = await inspectTree(child.pid!);
    assert.equal(found.foreignSession, true);
    assert.equal(neededOptions(noOptions, found).shellJob, true);
  });
});
