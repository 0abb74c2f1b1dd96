/**
 * Runtime-specific flags (`cedana run runc --bundle DIR --id ID`): the CLI does not know them; every flag that
 * the command does not declare is passed to the runtime plugin, whose own schema accepts or refuses it.
 */
import type { Argv } from 'yargs';
import { containerdAddress } from './context';

/** Keys yargs always puts in argv. */
const builtinKeys = new Set(['_', '$0', '--', 'help', 'version']);

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Lets the command accept undeclared flags (runtime options); call it last in the builder. The global
 * `.strict()` would otherwise refuse them before the runtime could say whether they are its own. Their values stay
 * the strings given (`--id 007` is the container `007`, not the number 7); declared number flags still are numbers.
 */
export function acceptRuntimeOptions<T>(y: Argv<T>): Argv<T> {
  return y.strict(false).parserConfiguration({ 'populate--': true, 'halt-at-non-option': false, 'boolean-negation': false, 'parse-numbers': false });
}

/** The flags in `argv` that `declared` (the command's own and global options, with aliases) does not name. */
export function runtimeOptionsOf(argv: Record<string, unknown>, declared: readonly string[]): Record<string, unknown> {
  const known = new Set<string>([...builtinKeys, ...declared, ...declared.map(camel)]);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(argv)) {
    if (known.has(key) || key.includes('-')) continue; // yargs also keeps the dashed spelling; the camel one is used
    if (value === undefined) continue;
    out[key] = value;
  }
  const address = containerdAddress(argv);
  if (address !== undefined) out.address = address;
  return out;
}
