/**
 * `cedana check [--full]` (in this process, no daemon needed) and `cedana daemon check [--full]` (the running
 * daemon's view). Both print the same report, from the same health check.
 */
import type { Argv, CommandModule } from 'yargs';
import type { HealthResult } from '../../generated/daemon';
import { daemonFrom, localServices, type GlobalArgs } from '../context';
import { table } from '../format';

interface CheckArgs extends GlobalArgs {
  full?: boolean;
}

const marks = { ok: '✔', warn: '•', error: '✖', skipped: '–' } as const;

/** The health report as text (a table per component, then one verdict line), and its error and warning counts. */
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

function print(results: HealthResult[]): void {
  const report = renderHealth(results);
  console.log(report.text);
  if (report.errors > 0) process.exitCode = 1;
}

const fullFlag = (y: Argv<GlobalArgs>) => y.option('full', { type: 'boolean', describe: 'also the slower checks (each CRIU feature)' }) as Argv<CheckArgs>;

export const checkCommand: CommandModule<GlobalArgs, CheckArgs> = {
  command: 'check',
  describe: 'Check CRIU and every plugin in this process, without a daemon',
  builder: fullFlag,
  handler: async (argv) => {
    const wired = await localServices(argv);
    try {
      const { healthCheck } = await import('../../pipeline/health.js');
      print(await healthCheck(wired.services, { full: argv.full ?? false }));
    } finally {
      await wired.close();
    }
  },
};

export const daemonCheckCommand: CommandModule<GlobalArgs, CheckArgs> = {
  command: 'check',
  describe: 'Ask the running daemon to check CRIU and every plugin',
  builder: fullFlag,
  handler: async (argv) => {
    const daemon = daemonFrom(argv);
    try {
      print((await daemon.healthCheck({ full: argv.full ?? false })).results);
    } finally {
      daemon.close();
    }
  },
};
