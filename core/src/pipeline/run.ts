/**
 * `run`: start a new job with its runtime, and record it only once it has started.
 */
import { closeSync } from 'node:fs';
import { RunRequest, CedanaError, ErrorCode, openLogFile, type ExitStatus, type StartedJob } from '@cedana-ts/sdk';
import type { Job } from '../generated/daemon';
import { requireIo, requireStore, runtimeOptions, writePidFile } from './helpers';
import { jobView } from './job-view';
import { withStartTime } from './job-status';
import { randomJobName } from './names';
import type { Services } from './services';
import { validate } from './validate';
import { requireGpu } from './gpu';

/** Where a job's output goes unless `--log` says otherwise. */
export function defaultLogPath(jid: string): string {
  return `/var/log/cedana-output-${jid}.log`;
}

/** Starts a job under the daemon and records it. */
export async function runJob(s: Services, input: RunRequest): Promise<Job> {
  const req = validate(RunRequest, input, 'run');
  const store = requireStore(s);
  const runtime = s.plugins.runtime(req.type);
  const options = runtimeOptions(runtime, req.options);
  if (req.gpuEnabled) requireGpu(s, 'a GPU job (--gpu-enabled)');
  let jid = req.jid;
  if (jid && (await store.getJob(jid))) {
    throw new CedanaError(ErrorCode.AlreadyExists, `job ${jid} exists already`, { hint: 'choose another --jid, or `cedana job delete` it' });
  }
  while (!jid || (await store.getJob(jid))) jid = randomJobName();
  if (req.attachable && req.logPath) throw new CedanaError(ErrorCode.InvalidArgument, '--attachable and --log exclude each other', { hint: 'an attachable job’s output goes to its attacher' });
  const io = req.attachable ? requireIo(s).create(jid) : undefined;
  const logPath = io ? '' : (req.logPath ?? defaultLogPath(jid));
  // Checked here for every runtime: a FIFO or device as the log is refused, and opening it never blocks.
  if (logPath) await (await openLogFile(logPath)).close();
  const stdio = io?.childFds();
  let started: StartedJob;
  try {
    started = await runtime.run({ jid, args: req.args, cwd: req.cwd, env: req.env, logPath, stdio, options, foreground: false });
  } catch (err) {
    if (io) s.io?.remove(jid);
    throw err;
  } finally {
    if (stdio) for (const fd of Object.values(stdio)) closeSync(fd);
  }
  if (io) {
    started.details = { ...started.details, io: { dir: io.paths.dir } };
    io.holdStdin(started.pid);
  }
  started.details = await withStartTime(started.details, started.pid);
  await store.insertJob({
    jid,
    type: req.type,
    pid: started.pid,
    cmdline: JSON.stringify(req.args),
    log: logPath,
    details: JSON.stringify(started.details),
    host: s.host,
    gpu: req.gpuEnabled ? 1 : 0,
    created_at: Date.now(),
    exit_code: null,
    exit_signal: null,
  });
  s.exits.track(jid, started.pid, started.exited);
  await writePidFile(req.pidFile, started.pid);
  s.logger.info(`job ${jid} started`, { type: req.type, pid: started.pid });
  return jobView((await store.getJob(jid))!, s.host);
}

/** `run --no-server`: the command runs in the foreground with the caller's stdio; nothing is recorded. */
export async function runForeground(s: Services, input: RunRequest): Promise<ExitStatus> {
  const req = validate(RunRequest, input, 'run');
  const runtime = s.plugins.runtime(req.type);
  const options = runtimeOptions(runtime, req.options);
  const started = await runtime.run({ jid: req.jid ?? 'foreground', args: req.args, cwd: req.cwd, env: req.env, logPath: '', options, foreground: true });
  await writePidFile(req.pidFile, started.pid);
  if (!started.exited) throw new CedanaError(ErrorCode.Unsupported, `the ${req.type} runtime cannot run in the foreground`);
  return started.exited;
}
