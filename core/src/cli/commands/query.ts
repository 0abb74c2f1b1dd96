/**
 * `cedana query process|runc|containerd <ID…> [--tree] [--inspect]`: a table of the processes the IDs resolve to;
 * `--inspect` adds every detail of the first.
 */
import type { Argv, CommandModule } from 'yargs';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';
import { daemonFrom, GLOBAL_FLAGS, type GlobalArgs } from '../context';
import { formatSize, keyValues, table } from '../format';
import { acceptRuntimeOptions, runtimeOptionsOf } from '../runtime-options';

const QUERY_FLAGS = [...GLOBAL_FLAGS, 'type', 'ids', 'tree', 't', 'inspect', 'i'];

interface QueryArgs extends GlobalArgs {
  type: string;
  ids: string[];
  tree?: boolean;
  inspect?: boolean;
}

export const queryCommand: CommandModule<GlobalArgs, QueryArgs> = {
  command: 'query <type> <ids..>',
  describe: 'Show what process or container IDs resolve to',
  builder: (y: Argv<GlobalArgs>) =>
    acceptRuntimeOptions(y)
      .positional('type', { type: 'string', demandOption: true, choices: ['process', 'runc', 'containerd'], describe: 'what the IDs name' })
      .positional('ids', { type: 'string', array: true, demandOption: true, describe: 'PIDs or container ids' })
      .option('tree', { alias: 't', type: 'boolean', describe: 'include each one’s whole process tree' })
      .option('inspect', { alias: 'i', type: 'boolean', describe: 'print every detail of the first result' }) as Argv<QueryArgs>,
  handler: async (argv) => {
    const ids = argv.ids.map(String);
    if (ids.length === 0) throw new CedanaError(ErrorCode.InvalidArgument, 'name at least one ID', { hint: `cedana query ${argv.type} <ID…>` });
    const daemon = daemonFrom(argv);
    try {
      const { processes } = await daemon.query({ type: argv.type, ids, tree: argv.tree ?? false, optionsJson: JSON.stringify(runtimeOptionsOf(argv as QueryArgs & Record<string, unknown>, QUERY_FLAGS)) });
      if (processes.length === 0) return void console.log('No results found');
      const rows = processes.map((p) => [String(p.pid), p.status, String(p.uid), String(p.gid), p.cmdline.join(' ')]);
      console.log(table(['PID', 'Status', 'UID', 'GID', 'Command'], rows, ['PID', 'UID', 'GID']));
      if (argv.inspect) {
        const first = (require('../../generated/daemon') as typeof import('../../generated/daemon')).QueryProcess.toJSON(processes[0]) as Record<string, unknown>;
        console.log(`\n${keyValues({ ...first, rssBytes: undefined, memory: formatSize(processes[0].rssBytes) })}`);
      } else {
        console.log(`\nUse \`cedana query ${argv.type} <ID> --inspect\` for details on a specific result`);
      }
    } finally {
      daemon.close();
    }
  },
};
