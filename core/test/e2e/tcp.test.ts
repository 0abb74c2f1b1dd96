/**
 * Established loopback TCP connections survive a dump and restore: with the peer outside the dumped tree (a
 * server in this test process, the connection auto-detected) and with both ends inside it (--tcp-established).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { sleep, TestEnv, waitFor } from '../helpers/env';
import { dumpedPath, job, logLines, PYTHON, restoredPid, runPid, teardown, writeScript } from '../helpers/e2e';

/** Sends 0, 1, 2, … one line at a time to 127.0.0.1:PORT, printing each reply. */
const CLIENT_SCRIPT = `
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb", buffering=0)
i = 0
while True:
    s.sendall(f"{i}\\n".encode())
    line = f.readline()
    if not line:
        print("EOF", flush=True)
        sys.exit(3)
    print(line.decode().strip(), flush=True)
    i += 1
    time.sleep(0.05)
`;

/** Both ends of a loopback connection in one process: the client sends 0, 1, 2, …, the server answers. */
const PAIR_SCRIPT = `
import socket, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
c = socket.create_connection(l.getsockname())
s, _ = l.accept()
cf = c.makefile("rb", buffering=0)
sf = s.makefile("rb", buffering=0)
i = 0
while True:
    c.sendall(f"{i}\\n".encode())
    got = sf.readline()
    s.sendall(b"ack " + got)
    print(cf.readline().decode().strip(), flush=True)
    i += 1
    time.sleep(0.05)
`;

/** The replies a client printed: `ack 0`, `ack 1`, …; asserts they are consecutive from 0. */
function assertAcks(log: string): number {
  const lines = logLines(log);
  lines.forEach((l, i) => assert.equal(l, `ack ${i}`, `${log} line ${i}`));
  return lines.length;
}

/** A line server that answers `ack N` to each N, and remembers what it saw. */
class AckServer {
  readonly server: Server;
  readonly sockets: Socket[] = [];
  readonly received: number[] = [];
  readonly events: string[] = [];

  constructor() {
    this.server = createServer((sock) => {
      this.sockets.push(sock);
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString();
        for (let k = buf.indexOf('\n'); k >= 0; k = buf.indexOf('\n')) {
          const n = Number(buf.slice(0, k));
          buf = buf.slice(k + 1);
          this.received.push(n);
          sock.write(`ack ${n}\n`);
        }
      });
      sock.on('end', () => this.events.push('end'));
      sock.on('close', () => this.events.push('close'));
      sock.on('error', (e) => this.events.push(`error ${e.message}`));
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as AddressInfo).port)));
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

/**
 * Drops CRIU's network-lock rules for connections to `port`: a dump with --tcp-established leaves them in place
 * until the restore, so a test that fails in between would leave them behind.
 */
function unlockPort(port: number): void {
  const rules = spawnSync('iptables', ['-S'], { encoding: 'utf8' });
  if (rules.status !== 0) return;
  for (const rule of rules.stdout.split('\n')) {
    if (!rule.startsWith('-A ') || !rule.includes('0xc114') || !new RegExp(`--[sd]port ${port}\\b`).test(rule)) continue;
    spawnSync('iptables', ['-D', ...rule.slice(3).split(' ')]);
  }
}

describe('e2e: TCP connections', function () {
  this.timeout(60_000);
  let env: TestEnv | undefined;
  let server: AckServer | undefined;

  afterEach(async () => {
    await teardown(env);
    if (server?.server.listening) unlockPort((server.server.address() as AddressInfo).port);
    server?.close();
    env = undefined;
    server = undefined;
  });

  it('keeps a connection to a peer outside the tree, detecting it without --tcp-established', async () => {
    server = new AckServer();
    const port = await server.listen();
    env = new TestEnv();
    await env.startDaemon();
    const script = writeScript(env, 'client.py', CLIENT_SCRIPT);
    const log = join(env.dir, 'client.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'client', '--log', log, '--', PYTHON, script, String(port)]));
    await waitFor(() => server!.received.length >= 5, 10_000, 'the client to talk');

    const path = dumpedPath(env.ok(['dump', 'job', 'client', '--compression', 'none']));
    const meta = JSON.parse(readFileSync(join(path, 'cedana.json'), 'utf8')) as { criu: { tcpEstablished: boolean } };
    assert.equal(meta.criu.tcpEstablished, true, 'the established connection was not detected');
    assert.equal(job(env, 'client').status, 'halted');
    // The CLI ran synchronously: let this process read what the client sent before it was frozen.
    await sleep(200);
    const atDump = server.received.length;
    await sleep(300);
    // The dump sent neither FIN nor RST: this end is still open, and the client is silent.
    assert.deepEqual(server.events, []);
    assert.equal(server.received.length, atDump);

    assert.equal(restoredPid(env.ok(['restore', 'job', 'client'])), pid);
    await waitFor(() => server!.received.length >= atDump + 5, 10_000, 'the restored client to talk again');
    assert.equal(server.sockets.length, 1, 'the client connected again instead of keeping its connection');
    assert.deepEqual(server.events, []);
    assert.deepEqual(server.received, server.received.map((_, i) => i), 'the numbers on the connection are not consecutive');
    assert.ok(assertAcks(log) >= atDump + 4);
  });

  it('restores both ends of a connection inside the tree with explicit --tcp-established', async () => {
    env = new TestEnv();
    await env.startDaemon();
    const script = writeScript(env, 'pair.py', PAIR_SCRIPT);
    const log = join(env.dir, 'pair.log');
    const pid = runPid(env.ok(['run', 'process', '--jid', 'pair', '--log', log, '--', PYTHON, script]));
    await waitFor(() => logLines(log).length >= 5, 10_000, 'the pair to talk');

    const path = dumpedPath(env.ok(['dump', 'job', 'pair', '--tcp-established', '--compression', 'tar']));
    const atDump = logLines(log).length;
    assert.equal(job(env, 'pair').status, 'halted');
    assert.equal(job(env, 'pair').latestCheckpoint?.path, path);

    assert.equal(restoredPid(env.ok(['restore', 'job', 'pair', '--tcp-established'])), pid);
    await waitFor(() => logLines(log).length >= atDump + 5, 10_000, 'the restored pair to talk again');
    assertAcks(log);
  });
});
