/**
 * Run inside a new PID namespace by inspect.test.ts: starts a child in this process's session (whose leader is
 * outside the namespace), inspects it, tries to dump it, and prints what happened as one JSON line.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest } from '@cedana-ts/sdk';
import { testContext } from '@cedana-ts/sdk/testing';
import { inspectTree } from '../src/inspect';
import { ProcessRuntime } from '../src/runtime';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const manifest = parseManifest(require('../../package.json'));

async function main(): Promise<void> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const pid = child.pid!;
  const found = await inspectTree(pid);
  const runtime = new ProcessRuntime(testContext(manifest));
  const imagesDir = mkdtempSync(join(tmpdir(), 'cedana-hidden-session-'));
  const criu = { leaveRunning: false, tcpEstablished: false, fileLocks: false, shellJob: true, extUnixSk: false };
  const dump = await runtime.dump({ job: { jid: 'probe', pid, details: {} }, imagesDir, criu, options: {} }).then(
    () => ({ ok: true }),
    (err: { code?: string; message: string; hint?: string }) => ({ ok: false, code: err.code, message: err.message, hint: err.hint }),
  );
  const running = child.exitCode === null && child.signalCode === null;
  child.kill('SIGKILL');
  console.log(JSON.stringify({ pid, found, dump, running }));
}

void main();
