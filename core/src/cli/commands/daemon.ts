/**
 * `cedana daemon start [--init-config]` and `cedana daemon check`.
 */
import type { Argv, CommandModule } from 'yargs';
import type { HealthResult } from '../../generated/daemon';
import { initConfig } from '../../config/load';
import { createLogger } from '../../logger';
import { withDaemonHeap } from '../../daemon/heap';
import { configFrom, daemonFrom, type GlobalArgs } from '../context';
import { table } from '../format';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

interface StartArgs extends GlobalArgs {
  'init-config'?: boolean;
  db?: string;
}

const marks = { ok: '✔', warn: '•', error: '✖', skipped: '–' } as const;

/** The health report as text, and how many errors and warnings it has. */
export function renderHealth(results: HealthResult[]): { text: string; errors: number; warnings: number } {
  const lines: string[] = [];
  let errors = 0;
  let warnings = 0;
  for (const r of results) {
    lines.push(r.name.toUpperCase());
    const rows = r.components.map((c) => {
      if (c.level === 'error') errors++;
      if (c.level === 'warn') warnings++;
      return [`  ${c.name}`, c.data, marks[c.level as keyof typeof marks] ?? c.level, c.message];
    });
    lines.push(table(['', '', '', ''], rows).split('\n').slice(1).join('\n'));
  }
  lines.push('');
  if (errors > 0) lines.push(`Failed with ${errors} error(s)${warnings > 0 ? ` and ${warnings} warning(s)` : ''}.`);
  else if (warnings > 0) lines.push(`Looks good, with ${warnings} warning(s).`);
  else lines.push('All good.');
  return { text: lines.join('\n'), errors, warnings };
}

const start: CommandModule<GlobalArgs, StartArgs> = {
  command: 'start',
  describe: 'Start the daemon (as root)',
  builder: (y) =>
    y
      .option('init-config', { type: 'boolean', describe: 'write the default config file if there is none' })
      .option('db', { type: 'string', describe: 'job database path (default: db.path)' }) as Argv<StartArgs>,
  handler: async (argv) => {
    withDaemonHeap();
    if (argv['init-config']) {
      const { path, written } = initConfig({ configDir: argv['config-dir'], configJson: argv.config });
      console.log(written ? `Wrote default config to ${path}` : `Config ${path} exists; left as it is`);
    }
    const cfg = configFrom(argv);
    if (argv.db) cfg.db.path = argv.db;
    const logger = createLogger(cfg.log_level);
    const { startDaemon } = await import('../../daemon/daemon.js');
    const daemon = await startDaemon(cfg, logger);
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => {
        logger.info(`${sig} received, stopping`);
        // Within 5 s whatever is in flight: what stop() has not ended by then (a hung call) does not hold the exit.
        setTimeout(() => {
          logger.warn('stopping took too long: exiting now');
          process.exit(1);
        }, 4_500).unref();
        daemon.stop().then(resolve, resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
  },
};

const check: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'check',
  describe: 'Check the daemon, CRIU and every plugin',
  handler: async (argv) => {
    const daemon = daemonFrom(argv);
    try {
      const { results } = await daemon.healthCheck({ full: true });
      const report = renderHealth(results);
      console.log(report.text);
      if (report.errors > 0) process.exitCode = 1;
    } finally {
      daemon.close();
    }
  },
};

export const daemonCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'daemon',
  describe: 'Run or check the daemon',
  builder: (y) => y.command(start).command(check).demandCommand(1, 'name a daemon subcommand'),
  handler: () => {
    throw new CedanaError(ErrorCode.InvalidArgument, 'name a daemon subcommand (start, check)');
  },
};
