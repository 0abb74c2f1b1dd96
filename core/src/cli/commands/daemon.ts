/**
 * `cedana daemon start [--init-config] [--db PATH]` and `cedana daemon check` (see check.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import { configFrom, type GlobalArgs } from '../context';
import { daemonCheckCommand } from './check';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';

interface StartArgs extends GlobalArgs {
  'init-config'?: boolean;
  db?: string;
}

const start: CommandModule<GlobalArgs, StartArgs> = {
  command: 'start',
  describe: 'Start the daemon (as root)',
  builder: (y) =>
    y
      .option('init-config', { type: 'boolean', describe: 'write the default config file if there is none' })
      .option('db', { type: 'string', describe: 'job database path (default: db.path)' }) as Argv<StartArgs>,
  handler: async (argv) => {
    const { withDaemonHeap } = require('../../daemon/heap') as typeof import('../../daemon/heap');
    const { initConfig } = require('../../config/load') as typeof import('../../config/load');
    const { createLogger } = require('../../logger') as typeof import('../../logger');
    withDaemonHeap();
    if (argv['init-config']) {
      const { path, written } = initConfig({ configDir: argv['config-dir'], configJson: argv.config });
      console.log(written ? `Wrote default config to ${path}` : `Config ${path} exists; left as it is`);
    }
    const cfg = configFrom(argv);
    if (argv.db) cfg.db.path = argv.db;
    const logger = createLogger(cfg.log_level);
    // Listen for the stop signals before the socket exists: a client that sees the socket may signal at once,
    // and a signal with no handler yet would kill the daemon without removing its socket.
    const signalled = new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    const { startDaemon } = await import('../../daemon/daemon.js');
    const daemon = await startDaemon(cfg, logger);
    const sig = await signalled;
    logger.info(`${sig} received, stopping`);
    // Within 5 s whatever is in flight: what stop() has not ended by then (a hung call) does not hold the exit.
    setTimeout(() => {
      logger.warn('stopping took too long: exiting now');
      process.exit(1);
    }, 4_500).unref();
    await daemon.stop().catch(() => undefined);
  },
};

export const daemonCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'daemon',
  describe: 'Run or check the daemon',
  builder: (y) => y.command(start).command(daemonCheckCommand).demandCommand(1, 'name a daemon subcommand'),
  handler: () => {
    throw new CedanaError(ErrorCode.InvalidArgument, 'name a daemon subcommand (start, check)');
  },
};
