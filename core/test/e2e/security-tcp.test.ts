/**
 * tcp is served only with mutual TLS: the daemon refuses to start without it, a client without a certificate
 * the configured CA signed is refused, and the CLI with its certificate works. Certificates are made here with
 * openssl, for this test only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { connectDaemon } from '../../src/client/client';
import { TestEnv } from '../helpers/env';
import { expectError } from '../helpers/bad-input';
import { teardown } from '../helpers/e2e';

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA, and a certificate it signed for `name` (server: with 127.0.0.1 as its address). */
function makeCa(dir: string, ca: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=${ca}`], dir);
}
function makeCert(dir: string, ca: string, name: string, server: boolean): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  writeFileSync(join(dir, `${name}.ext`), server ? 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`], dir);
  chmodSync(join(dir, `${name}.key`), 0o600);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('e2e: tcp needs mutual TLS', function () {
  this.timeout(90_000);
  let env: TestEnv | undefined;

  afterEach(async () => {
    await teardown(env);
    env = undefined;
  });

  it('a daemon on tcp without TLS refuses to start, in one line', async () => {
    const port = await freePort();
    env = new TestEnv({ CEDANA_PROTOCOL: 'tcp', CEDANA_ADDRESS: `127.0.0.1:${port}` });
    const r = env.cli(['daemon', 'start'], { timeoutMs: 20_000 });
    expectError(r, /^the daemon refuses to serve tcp without TLS client authentication: tls\.ca, tls\.cert, tls\.key not set: set tls\.ca/);
    // And the CLI does not send requests in the clear either.
    expectError(env.cli(['ps']), /^tcp needs TLS: tls\.ca, tls\.cert, tls\.key not set/);
  });

  it('serves a client whose certificate the CA signed, and no other', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    env = new TestEnv({ CEDANA_PROTOCOL: 'tcp', CEDANA_ADDRESS: address });
    const d = env.dir;
    makeCa(d, 'ca');
    makeCa(d, 'other-ca');
    makeCert(d, 'ca', 'server', true);
    makeCert(d, 'ca', 'client', false);
    makeCert(d, 'other-ca', 'intruder', false);
    const serverTls = { CEDANA_TLS_CA: join(d, 'ca.pem'), CEDANA_TLS_CERT: join(d, 'server.pem'), CEDANA_TLS_KEY: join(d, 'server.key') };
    const clientTls = { CEDANA_TLS_CA: join(d, 'ca.pem'), CEDANA_TLS_CERT: join(d, 'client.pem'), CEDANA_TLS_KEY: join(d, 'client.key') };
    Object.assign(env.env, serverTls);
    const probe = () => env!.cli(['ps'], { env: clientTls, timeoutMs: 10_000 }).code === 0;
    await env.startDaemon([], probe);
    const ok = env.cli(['ps'], { env: clientTls });
    assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, 'No jobs found\n', '']);

    // No certificate at all: a plain-text client gets nothing.
    const plain = connectDaemon({ address, protocol: 'tcp', credentials: credentials.createInsecure() });
    await assert.rejects(plain.listJobs({ jids: [] }));
    plain.close();
    // A certificate from another CA: refused in the handshake.
    const intruder = { CEDANA_TLS_CA: join(d, 'ca.pem'), CEDANA_TLS_CERT: join(d, 'intruder.pem'), CEDANA_TLS_KEY: join(d, 'intruder.key') };
    const r = env.cli(['ps'], { env: intruder, timeoutMs: 20_000 });
    assert.notEqual(r.code, 0, `a client of another CA was served: ${r.stdout}`);
    assert.match(r.stderr, /^Error: [^\n]+\n$/);
  });

  it('refuses a TLS key other users can read', async () => {
    const port = await freePort();
    env = new TestEnv({ CEDANA_PROTOCOL: 'tcp', CEDANA_ADDRESS: `127.0.0.1:${port}` });
    makeCa(env.dir, 'ca');
    makeCert(env.dir, 'ca', 'server', true);
    chmodSync(join(env.dir, 'server.key'), 0o644);
    const tls = { CEDANA_TLS_CA: join(env.dir, 'ca.pem'), CEDANA_TLS_CERT: join(env.dir, 'server.pem'), CEDANA_TLS_KEY: join(env.dir, 'server.key') };
    expectError(env.cli(['daemon', 'start'], { env: tls, timeoutMs: 20_000 }), /server\.key is readable by other users \(mode 644\): chmod 600 /);
  });
});
