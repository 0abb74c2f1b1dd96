/**
 * `cedana restore job <JID> [--path P]` and `cedana restore <type> --path P [--no-server]`.
 */
import type { Argv, CommandModule } from 'yargs';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import { attachTerminal } from '../attach';
import { absolute, daemonFrom, GLOBAL_FLAGS, localServices, type GlobalArgs } from '../context';
import { progressLineFor } from '../progress-line';
import { acceptRuntimeOptions, runtimeOptionsOf } from '../runtime-options';
import { refuseGpuFlags, RUNC_RUN_FLAGS, RUNC_SHORT } from '../cedana-flags';
import { criuOptsOverrides } from '../criu-opts';

const RESTORE_FLAGS = [...GLOBAL_FLAGS, 'type', 'jid', 'path', 'p', 'tcp-established', 'file-locks', 'shell-job', 'pid-file', 'no-server', 'attach', 'a', 'attachable', 'tcp-close', 'leave-stopped', 'link-remap', 'external', 'criu-opts', 'out', 'o', 'gpu-id', 'lazy', 'force', ...RUNC_SHORT];

/** The request fields `--criu-opts` may set in a restore. */
const RESTORE_CRIU = ['tcpEstablished', 'fileLocks', 'shellJob', 'linkRemap', 'tcpClose', 'leaveStopped', 'external'];

interface RestoreArgs extends GlobalArgs {
  type: string;
  jid?: string;
  path?: string;
  'tcp-established'?: boolean;
  'file-locks'?: boolean;
  'shell-job'?: boolean;
  'pid-file'?: string;
  'no-server'?: boolean;
  attach?: boolean;
  attachable?: boolean;
  lazy?: boolean;
  force?: boolean;
  'tcp-close'?: boolean;
  'leave-stopped'?: boolean;
  'link-remap'?: boolean;
  external?: string[];
  'criu-opts'?: string;
  out?: string;
  'gpu-id'?: string;
}

export const restoreCommand: CommandModule<GlobalArgs, RestoreArgs> = {
  command: 'restore <type> [jid]',
  describe: 'Restore a job (restore job <JID>) or a checkpoint (restore process --path P)',
  builder: (y: Argv<GlobalArgs>) =>
    acceptRuntimeOptions(y)
      .positional('type', { type: 'string', demandOption: true, describe: '"job", or a job type such as process' })
      .positional('jid', { type: 'string', describe: 'the job to restore (restore job)' })
      .option('path', { alias: 'p', type: 'string', describe: 'checkpoint file, directory or URL' })
      .option('tcp-established', { type: 'boolean', describe: 'restore established TCP connections' })
      .option('file-locks', { type: 'boolean', describe: 'restore file locks' })
      .option('shell-job', { type: 'boolean', describe: 'the process was started from a terminal' })
      .option('pid-file', { type: 'string', describe: 'write the restored PID here' })
      .option('no-server', { type: 'boolean', describe: 'restore as a child of this command, without the daemon' })
      .option('attach', { alias: 'a', type: 'boolean', describe: 'stream the restored job’s stdio here; Ctrl+C detaches' })
      .option('attachable', { type: 'boolean', describe: 'keep the restored job attachable' })
      .option('lazy', { type: 'boolean', describe: 'run the job at once and fill its memory in the background' })
      .option('force', { type: 'boolean', describe: 'restore job J --path P even when P is a checkpoint of another job' })
      .option('tcp-close', { type: 'boolean', describe: 'restore established TCP connections closed (listening sockets may exist)' })
      .option('leave-stopped', { type: 'boolean', describe: 'leave the restored process stopped (continue it with SIGCONT)' })
      .option('link-remap', { type: 'boolean', describe: 'restore deleted but open files through links' })
      .option('external', { type: 'string', array: true, describe: 'a resource outside the namespaces, as CRIU --external takes it (repeatable)' })
      .option('criu-opts', { type: 'string', describe: 'CRIU options as JSON ({"tcp_close":true,…}); they override the flags' })
      .option('out', {
        alias: 'o',
        type: 'string',
        describe: 'file for the restored stdout and stderr (not with --attach)',
      })
      .option('gpu-id', { type: 'string', describe: 'attach to an existing GPU controller (refused: see docs/cli.md)' })
      .options(RUNC_RUN_FLAGS) as Argv<RestoreArgs>,
  handler: async (argv) => {
    refuseGpuFlags(argv);
    if (argv.out !== undefined && (argv.attach || argv.attachable)) {
      throw new CedanaError(ErrorCode.InvalidArgument, '--out cannot be used with --attach or --attachable', {
        hint: 'drop --out, or --attach',
      });
    }
    if (argv['no-server'] && (argv.out !== undefined || argv.attach || argv.attachable)) {
      // As Cedana: a warning, and the restore goes on.
      process.stderr.write(
        "Warning: with --no-server, --out, --attach and --attachable are ignored: the output is this command's\n",
      );
    }
    const isJob = argv.type === 'job';
    if (isJob && !argv.jid) throw new CedanaError(ErrorCode.InvalidArgument, 'restore job needs a JID', { hint: 'cedana restore job <JID>' });
    if (!isJob && argv.jid) throw new CedanaError(ErrorCode.InvalidArgument, `unexpected argument '${argv.jid}'`, { hint: `cedana restore ${argv.type} --path P` });
    // Without --path but with runtime flags (restore containerd --image REF) the runtime may hold the checkpoint.
    if (!isJob && !argv.path && Object.keys(runtimeOptionsOf(argv, RESTORE_FLAGS)).length === 0) throw new CedanaError(ErrorCode.InvalidArgument, `restore ${argv.type} needs --path`, { hint: `cedana restore ${argv.type} --path P` });
    const request = {
      jid: isJob ? argv.jid : undefined,
      type: isJob ? undefined : argv.type,
      path: absolute(argv.path),
      tcpEstablished: argv['tcp-established'] ?? false,
      fileLocks: argv['file-locks'] ?? false,
      shellJob: argv['shell-job'] ?? false,
      tcpClose: argv['tcp-close'] ?? false,
      leaveStopped: argv['leave-stopped'] ?? false,
      linkRemap: argv['link-remap'] ?? false,
      external: (argv.external ?? []).map(String),
      pidFile: absolute(argv['pid-file']),
      out: argv['no-server'] ? undefined : absolute(argv.out),
      lazy: argv.lazy ?? false,
      // Words after `--` go to the runtime as `args` (restore slurm: extra sbatch options).
      options: { ...runtimeOptionsOf(argv, RESTORE_FLAGS), ...((argv as { '--'?: string[] })['--']?.length ? { args: (argv as { '--'?: string[] })['--']!.map(String) } : {}) },
      ...criuOptsOverrides(argv['criu-opts'], RESTORE_CRIU),
    };
    // On a terminal, a progress line on stderr; in scripts, nothing extra.
    const line = progressLineFor(process.stderr);
    if (argv['no-server']) {
      const wired = await localServices(argv);
      try {
        const { restoreForeground } = await import('../../pipeline/restore.js');
        // The line is erased once the process is restored, before it can write to this terminal.
        const sink = line && { update: line.update.bind(line), done: line.clear.bind(line) };
        const status = await restoreForeground(wired.services, request, sink);
        process.exitCode = status.code ?? 128 + 9;
      } finally {
        line?.clear();
        await wired.close();
      }
      return;
    }
    const daemon = daemonFrom(argv);
    try {
      const req = {
        jid: request.jid ?? '',
        type: request.type ?? '',
        path: request.path ?? '',
        tcpEstablished: request.tcpEstablished,
        fileLocks: request.fileLocks,
        shellJob: request.shellJob,
        tcpClose: request.tcpClose,
        leaveStopped: request.leaveStopped,
        linkRemap: request.linkRemap,
        external: request.external,
        pidFile: request.pidFile ?? '',
        optionsJson: JSON.stringify(request.options),
        attachable: Boolean(argv.attach || argv.attachable),
        out: request.out,
        lazy: request.lazy,
        force: argv.force ?? false,
      };
      const { job } = line ? await daemon.restoreWatch(req, (p) => line.update(p)).finally(() => line.clear()) : await daemon.restore(req);
      if (argv.attach) {
        process.exitCode = await attachTerminal(daemon, { jid: job!.jid }, `job ${job!.jid}`);
        return;
      }
      console.log(`Restored successfully, PID: ${job!.pid}`);
      // A runtime that restores into a scheduler's job (slurm) names that job too.
      const slurmJobId = (JSON.parse(job!.detailsJson || '{}') as { slurmJobId?: string }).slurmJobId;
      if (slurmJobId) console.log(`Slurm job ID: ${slurmJobId}`);
    } finally {
      daemon.close();
    }
  },
};
