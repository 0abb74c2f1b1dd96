/**
 * The runtime conformance suite: what every runtime plugin must do, run against the real thing. A plugin's own
 * mocha tests call {@link runtimeSuite} with a factory; the checks follow the features the plugin declares.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointMetadata, CriuOptions } from '../checkpoint';
import type { PluginManifest } from '../manifest';
import { Feature, type PluginInstance } from '../plugin';
import type { JobRef, Runtime, RunSpec, StartedJob } from '../runtime';
import { processAlive } from './context';
import { eventually, registerChecks, rejectsWithCode, type Check, type SuiteApi } from './suite-api';

/** What the suite needs to know about the runtime under test. */
export interface RuntimeSuiteOptions {
  /** The plugin's validated manifest (`parseManifest(require('../package.json'))`). */
  manifest: PluginManifest;
  /** Starts the plugin: usually `plugin.init(testContext(manifest))`. Called once. */
  setup(): Promise<PluginInstance>;
  /**
   * A job that runs until killed and keeps making progress: the RunSpec fields that differ from the defaults
   * (`args` for `process`, `options` for container runtimes). `logPath` is where its output should go. Make it
   * one process: the test process is no child subreaper (the daemon is), so a child the dump kills would stay a
   * zombie where PID 1 does not reap, and hold the PID the restore needs. (A container's workload may fork: it
   * runs in a PID namespace of its own, whose init reaps its children, and is restored under new host PIDs.)
   */
  workload(jid: string, logPath: string): Partial<RunSpec>;
  /** How far the job has got, a number that grows while it runs; default: the size of its log file. */
  progress?(job: StartedJob, logPath: string): Promise<number>;
  /** For `manage`: something running that the runtime can adopt, and how to stop it afterwards. */
  manageTarget?(): Promise<{ target: string; stop(): Promise<void> }>;
  /** Features the checks cover; default `manifest.provides`. */
  features?: readonly string[];
  /** Per check; default 60 s. */
  timeoutMs?: number;
  /** Runs after the checks (stop servers the workload needed). */
  teardown?(): Promise<void>;
}

interface RuntimeCtx {
  instance: PluginInstance;
  runtime: Runtime;
  dir: string;
  /** Jobs the checks started, killed at the end whatever happens. */
  started: number[];
}

const noCriu = CriuOptions.parse({});

/** A PID no process has now. */
async function unusedPid(): Promise<number> {
  for (let pid = 4_000_000; ; pid--) if (!(await stat(`/proc/${pid}`).catch(() => null))) return pid;
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => null))?.size ?? 0;
}

function runSpec(opts: RuntimeSuiteOptions, dir: string, jid: string): { spec: RunSpec; log: string } {
  const log = join(dir, `${jid}.log`);
  const spec: RunSpec = { jid, args: [], cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, logPath: log, options: {}, foreground: false };
  return { spec: { ...spec, ...opts.workload(jid, log) }, log };
}

/** Asserts that a dump of `job` fails with a stable code and leaves no CRIU images. */
async function dumpFailsCleanly(runtime: Runtime, dir: string, job: JobRef, what: string): Promise<void> {
  const images = await mkdtemp(join(dir, 'images-'));
  await rejectsWithCode(runtime.dump({ job, imagesDir: images, criu: noCriu, options: {} }), what);
  const left = (await readdir(images)).filter((n) => n.endsWith('.img'));
  assert.deepEqual(left, [], `${what}: the failed dump left CRIU images`);
}

/** The checks, in the order they run; `features` decides which apply. */
export function runtimeChecks(opts: RuntimeSuiteOptions, features: readonly string[]): Check<RuntimeCtx>[] {
  const has = (f: string) => features.includes(f);
  const progress = (job: StartedJob, log: string) => (opts.progress ? opts.progress(job, log) : fileSize(log));
  const checks: Check<RuntimeCtx>[] = [
    {
      name: 'init returns a runtime of the manifest id and the features it declares',
      async run({ instance, runtime }) {
        assert.equal(runtime.type, opts.manifest.id, 'runtime.type must equal the plugin id (it is the job type)');
        const known = new Set<string>(Object.values(Feature));
        for (const f of instance.features) assert.ok(known.has(f), `init reported an unknown feature '${f}'`);
        for (const f of features) assert.ok(instance.features.includes(f as Feature), `'${f}' is declared but init did not report it`);
      },
    },
    {
      name: 'its options schema refuses options it does not know',
      async run({ runtime }) {
        const r = runtime.optionsSchema.safeParse({ conformanceUnknownOption: 1 });
        assert.equal(r.success, false, 'an unknown option was accepted: the schema must be strict');
      },
    },
  ];
  if (has(Feature.Run)) {
    checks.push({
      name: 'run starts a job that makes progress',
      async run(ctx) {
        const { spec, log } = runSpec(opts, ctx.dir, 'conformance-run');
        const job = await ctx.runtime.run(spec);
        ctx.started.push(job.pid);
        assert.ok(Number.isInteger(job.pid) && job.pid > 0, `run returned PID ${job.pid}`);
        assert.ok(await processAlive(job.pid), `PID ${job.pid} is not running`);
        const first = await progress(job, log);
        await eventually(async () => (await progress(job, log)) > first, 15_000, 'the job to make progress');
        if (has(Feature.Kill)) {
          const ref: JobRef = { jid: spec.jid, pid: job.pid, details: job.details };
          await ctx.runtime.kill(ref, 'SIGKILL');
          await eventually(async () => !(await processAlive(job.pid)), 10_000, `PID ${job.pid} to end after SIGKILL`);
          if (job.exited) await job.exited;
          // With the details the runtime gave (a container runtime finds its container by them, now stopped).
          await rejectsWithCode(ctx.runtime.kill(ref, 'SIGTERM'), 'kill of a job that has ended');
          if (has(Feature.Dump)) await dumpFailsCleanly(ctx.runtime, ctx.dir, ref, 'dump of a job that has ended');
        }
      },
    });
  }
  if (has(Feature.Kill)) {
    checks.push({
      name: 'kill of a job whose process is gone fails with a stable error code',
      async run({ runtime }) {
        const gone: JobRef = { jid: 'conformance-gone', pid: await unusedPid(), details: {} };
        await rejectsWithCode(runtime.kill(gone, 'SIGTERM'), 'kill of a gone job');
      },
    });
  }
  if (has(Feature.Dump)) {
    checks.push({
      name: 'dump of a process that does not exist fails with a stable error code and writes no images',
      async run({ runtime, dir }) {
        const gone: JobRef = { jid: 'conformance-gone', pid: await unusedPid(), details: {} };
        await dumpFailsCleanly(runtime, dir, gone, 'dump of a gone job');
      },
    });
  }
  if (has(Feature.Run) && has(Feature.Dump) && has(Feature.Restore)) {
    checks.push({
      name: 'dump writes CRIU images, and restore brings the job back to go on from where it was',
      async run(ctx) {
        const { spec, log } = runSpec(opts, ctx.dir, 'conformance-dump');
        const job = await ctx.runtime.run(spec);
        ctx.started.push(job.pid);
        await eventually(async () => (await progress(job, log)) > 0, 15_000, 'the job to make progress');
        const images = await mkdtemp(join(ctx.dir, 'images-'));
        const ref: JobRef = { jid: spec.jid, pid: job.pid, details: job.details };
        const result = await ctx.runtime.dump({ job: ref, imagesDir: images, criu: noCriu, options: {} });
        assert.ok((await readdir(images)).includes('inventory.img'), `no inventory.img in ${images}`);
        await eventually(async () => !(await processAlive(job.pid)), 10_000, 'the dumped job to stop');
        if (job.exited) await job.exited;
        const atDump = await progress(job, log);

        const metadata = CheckpointMetadata.parse({
          version: 1,
          type: opts.manifest.id,
          runtimeVersion: opts.manifest.version,
          jid: spec.jid,
          pid: job.pid,
          host: hostname(),
          createdAt: Date.now(),
          criu: result.criu,
          details: result.details,
        });
        const back = await ctx.runtime.restore({ imagesDir: images, metadata, criu: result.criu, options: {}, foreground: false });
        ctx.started.push(back.pid);
        assert.ok(await processAlive(back.pid), `restored PID ${back.pid} is not running`);
        await eventually(async () => (await progress(back, log)) > atDump, 15_000, 'the restored job to make progress');
        assert.ok((await readdir(images)).includes('inventory.img'), 'restore changed the images');
        if (has(Feature.Kill)) {
          await ctx.runtime.kill({ jid: spec.jid, pid: back.pid, details: back.details }, 'SIGKILL');
          await eventually(async () => !(await processAlive(back.pid)), 10_000, 'the restored job to end after SIGKILL');
        }
      },
    });
  }
  if (has(Feature.Manage)) {
    checks.push({
      name: 'manage refuses a target that does not exist, with a stable error code',
      async run({ runtime }) {
        await rejectsWithCode(runtime.manage({ jid: 'conformance-none', target: `${await unusedPid()}`, options: {} }), 'manage of a missing target');
      },
    });
    if (opts.manageTarget) {
      const makeTarget = opts.manageTarget;
      checks.push({
        name: 'manage adopts a running target',
        async run({ runtime }) {
          const target = await makeTarget();
          try {
            const job = await runtime.manage({ jid: 'conformance-managed', target: target.target, options: {} });
            assert.ok(await processAlive(job.pid), `manage returned PID ${job.pid}, which is not running`);
          } finally {
            await target.stop();
          }
        },
      });
    }
  }
  checks.push({
    name: 'health checks report levels ok, warn or error',
    async run({ instance }) {
      for (const c of (await instance.health?.()) ?? []) {
        assert.ok(['ok', 'warn', 'error'].includes(c.level), `health component ${c.name} has level ${c.level}`);
        assert.equal(typeof c.name, 'string');
      }
    },
  });
  return checks;
}

/**
 * Registers the runtime conformance suite: `runtimeSuite({ describe, it, before, after }, { manifest, setup, … })`.
 */
export function runtimeSuite(api: SuiteApi, opts: RuntimeSuiteOptions): void {
  const features = opts.features ?? opts.manifest.provides ?? [];
  registerChecks<RuntimeCtx>(
    api,
    `runtime conformance: ${opts.manifest.name} (${opts.manifest.id})`,
    opts.timeoutMs ?? 60_000,
    async () => {
      const instance = await opts.setup();
      assert.ok(instance.runtime, 'init returned no runtime');
      return { instance, runtime: instance.runtime, dir: await mkdtemp(join(tmpdir(), 'cedana-conformance-')), started: [] };
    },
    runtimeChecks(opts, features),
    async (ctx) => {
      for (const pid of ctx?.started ?? []) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // ended already
        }
      }
      await ctx?.instance.close?.();
      await ctx?.instance.close?.(); // closing twice must be safe
      if (ctx) await rm(ctx.dir, { recursive: true, force: true });
      await opts.teardown?.();
    },
  );
}
