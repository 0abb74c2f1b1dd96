/**
 * The conformance suites themselves: a correct storage passes every check, and each way of breaking the contract
 * fails the check meant to catch it. The storage here is a small one on real files, written for this test.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { z } from 'zod';
import { CedanaError, ErrorCode, Feature, parseManifest, PluginSkipped, type PluginInstance, type Storage, type Upload } from '../src';
import { daemonDownChecks, deadPort, pollingChildWatcher, runtimeChecks, storageChecks, storageSuite, testContext, writeRepeated } from '../src/testing';

/** Files under a directory, written to a hidden name and renamed on commit. */
class DirStorage implements Storage {
  readonly schemes = ['file'];
  constructor(private readonly flaw?: 'visible-early' | 'plain-errors' | 'stat-throws') {}

  async create(url: string): Promise<Upload> {
    const partial = this.flaw === 'visible-early' ? url : join(dirname(url), `.${basename(url)}.partial`);
    const stream = createWriteStream(partial);
    let done = false;
    return {
      stream,
      async commit() {
        if (!stream.writableFinished) await finished(stream);
        if (partial !== url) await rename(partial, url);
        done = true;
        return { size: (await stat(url)).size };
      },
      async abort() {
        if (done) return;
        done = true;
        stream.destroy();
        await rm(partial, { force: true });
      },
    };
  }
  async open(url: string) {
    if (!(await stat(url).catch(() => null))) {
      if (this.flaw === 'plain-errors') throw new Error('ENOENT');
      throw new CedanaError(ErrorCode.NotFound, `${url} not found`);
    }
    return createReadStream(url);
  }
  async stat(url: string) {
    const st = await stat(url).catch((err: Error) => {
      if (this.flaw === 'stat-throws') throw err;
      return null;
    });
    return st ? { url, size: st.size, modified: st.mtime } : null;
  }
  async list(prefix: string) {
    const dir = prefix.endsWith('/') ? prefix : dirname(prefix);
    const start = prefix.endsWith('/') ? '' : basename(prefix);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(start) && !n.startsWith('.'));
    return Promise.all(names.map(async (n) => ({ url: join(dir, n), size: (await stat(join(dir, n))).size, modified: new Date() })));
  }
  async delete(url: string) {
    await rm(url, { force: true });
  }
}

const made: string[] = [];
after(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function freshPrefix(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sdk-storage-'));
  made.push(dir);
  await mkdir(dir, { recursive: true });
  return `${dir}/`;
}

async function failures(storage: Storage): Promise<string[]> {
  const failed: string[] = [];
  for (const check of storageChecks()) {
    const ctx = { storage, prefix: await freshPrefix(), largeBytes: 3 << 20 };
    await check.run(ctx).catch(() => failed.push(check.name));
  }
  return failed;
}

describe('sdk/testing: storage suite', function () {
  this.timeout(30_000);

  it('a correct storage passes every check', async () => {
    assert.deepEqual(await failures(new DirStorage()), []);
  });

  it('catches an object visible before commit', async () => {
    assert.deepEqual(await failures(new DirStorage('visible-early')), ['an object is invisible until commit, then reads back byte for byte with its size']);
  });

  it('catches errors without a stable code, and a stat that throws for a missing object', async () => {
    assert.deepEqual(await failures(new DirStorage('plain-errors')), ['a missing object: open fails with NOT_FOUND, stat answers null, delete is no error']);
    const statFails = await failures(new DirStorage('stat-throws'));
    assert.ok(statFails.includes('a missing object: open fails with NOT_FOUND, stat answers null, delete is no error'), statFails.join('; '));
  });
});

// The suite as a plugin's tests register it, with mocha's own functions.
storageSuite({ describe, it, before, after }, {
  name: 'a directory storage',
  setup: async () => ({ storage: new DirStorage(), base: await freshPrefix() }),
  makePrefix: async (prefix) => void (await mkdir(prefix, { recursive: true })),
  largeBytes: 4 << 20,
});

describe('sdk/testing: runtime checks and test context', function () {
  this.timeout(30_000);
  const manifest = parseManifest({ name: 'x-runtime', version: '1.0.0', cedana: { type: 'runtime', id: 'xrt', sdk: '^0.1.0', provides: ['run'] } });

  function instanceWith(type: string, schema: z.ZodType<Record<string, unknown>>, features: Feature[]): PluginInstance {
    const fail = async () => {
      throw new CedanaError(ErrorCode.Unsupported, 'not in this test');
    };
    return { features, runtime: { type, optionsSchema: schema, run: fail, manage: fail, dump: fail, restore: fail, kill: fail } };
  }

  async function run(name: string, instance: PluginInstance): Promise<unknown> {
    const check = runtimeChecks({ manifest, setup: async () => instance, workload: () => ({}) }, ['run']).find((c) => c.name.startsWith(name));
    assert.ok(check, `no check named ${name}`);
    return check.run({ instance, runtime: instance.runtime!, dir: tmpdir(), started: [] }).then(() => null, (err: Error) => err);
  }

  it('catches a runtime whose type is not the plugin id, or that does not report a declared feature', async () => {
    assert.equal(await run('init returns', instanceWith('xrt', z.object({}).strict(), [Feature.Run])), null);
    assert.match(String(await run('init returns', instanceWith('other', z.object({}).strict(), [Feature.Run]))), /runtime\.type/);
    assert.match(String(await run('init returns', instanceWith('xrt', z.object({}).strict(), []))), /'run' is declared/);
  });

  it('catches an options schema that lets unknown options through', async () => {
    assert.equal(await run('its options schema', instanceWith('xrt', z.object({}).strict(), [])), null);
    assert.match(String(await run('its options schema', instanceWith('xrt', z.object({}).passthrough(), []))), /must be strict/);
  });

  it('testContext validates the manifest it is given', () => {
    assert.throws(() => testContext({ name: 'y', version: '1.0.0', cedana: { type: 'nope', id: 'y', sdk: '^0.1.0' } }), /type/);
    const ctx = testContext({ name: 'y', version: '1.0.0', cedana: { type: 'storage', id: 'y', sdk: '^0.1.0' } });
    assert.equal(ctx.manifest.id, 'y');
    assert.equal(ctx.settings.criuPath, 'criu');
  });

  it('pollingChildWatcher settles when the process ends', async () => {
    const child = spawn('sleep', ['0.3'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const started = Date.now();
    const status = await pollingChildWatcher(50).watch(child.pid!);
    assert.deepEqual(status, { code: null, signal: null });
    assert.ok(Date.now() - started >= 200, 'settled before the process ended');
  });
});

describe('sdk/testing: memory helpers', function () {
  this.timeout(20_000);

  it('writeRepeated writes everything with backpressure and samples the live buffers meanwhile', async () => {
    let received = 0;
    // A slow consumer with a small buffer: the producer must wait for it.
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        setTimeout(cb, 2);
      },
    });
    const { peak, samples } = await writeRepeated(sink, Buffer.alloc(64 * 1024, 1), 8 * 1024 * 1024);
    assert.equal(received, 8 * 1024 * 1024);
    assert.ok(sink.writableFinished, 'the stream was not ended');
    assert.ok(samples > 0, 'no sample was taken');
    // Backpressure kept what was waiting small: far below the 8 MiB written.
    assert.ok(peak > 0 && peak < 4 * 1024 * 1024, `peak ${peak}`);
  });

  it('writeRepeated stops at a destroyed stream instead of hanging', async () => {
    const sink = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, cb) {
        setTimeout(() => cb(new Error('gone')), 5);
      },
    });
    sink.on('error', () => undefined);
    await writeRepeated(sink, Buffer.alloc(4096), 1024 * 1024);
    assert.ok(sink.destroyed);
  });

  it('deadPort names a port where a connection is refused', async () => {
    const port = await deadPort();
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => connect(port, '127.0.0.1').once('error', resolve));
    assert.equal(err.code, 'ECONNREFUSED');
  });
});

describe('sdk/testing: runtime without its daemon', function () {
  this.timeout(10_000);
  const manifest = parseManifest({ name: 'x-daemon', version: '1.0.0', cedana: { type: 'runtime', id: 'xd', sdk: '^0.1.0' } });

  /** A plugin that looks for `xd-daemon` on PATH, then reports on `socket` as `health` says. */
  function plugin(behaviour: { notInstalled: 'skip' | 'plain-error'; health: 'warn' | 'ok' | 'no-socket' }) {
    return async (socket: string): Promise<PluginInstance> => {
      if ((process.env.PATH ?? '').startsWith('/nonexistent')) {
        if (behaviour.notInstalled === 'skip') throw new PluginSkipped('xd is not installed (no xd-daemon on PATH)');
        throw new Error('spawn xd-daemon ENOENT');
      }
      const fail = async () => {
        throw new CedanaError(ErrorCode.Unavailable, 'no daemon');
      };
      const message = behaviour.health === 'no-socket' ? 'cannot reach the daemon' : `cannot reach the daemon at ${socket}`;
      return {
        features: [],
        runtime: { type: 'xd', optionsSchema: z.object({}).strict(), run: fail, manage: fail, dump: fail, restore: fail, kill: fail },
        health: async () => [{ name: 'xd', data: '1.0', level: behaviour.health === 'ok' ? 'ok' : 'warn', message }],
      };
    };
  }

  async function outcomes(behaviour: Parameters<typeof plugin>[0]): Promise<(string | null)[]> {
    const checks = daemonDownChecks({ manifest, name: 'xd', init: plugin(behaviour), notInstalled: /xd is not installed/ });
    const out: (string | null)[] = [];
    for (const c of checks) out.push(await c.run({}).then(() => null, (err: Error) => err.message));
    return out;
  }

  it('passes a plugin that is skipped without its programs and warns without its daemon', async () => {
    assert.deepEqual(await outcomes({ notInstalled: 'skip', health: 'warn' }), [null, null]);
    assert.ok(!(process.env.PATH ?? '').startsWith('/nonexistent'), 'PATH was not put back');
  });

  it('catches a plain error instead of a skip, a healthy report and a warning that names no socket', async () => {
    assert.match(String((await outcomes({ notInstalled: 'plain-error', health: 'warn' }))[0]), /not PluginSkipped/);
    assert.match(String((await outcomes({ notInstalled: 'skip', health: 'ok' }))[1]), /health/);
    assert.match(String((await outcomes({ notInstalled: 'skip', health: 'no-socket' }))[1]), /does not name \/nonexistent\/xd\.sock/);
  });
});
