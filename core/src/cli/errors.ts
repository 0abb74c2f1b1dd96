/**
 * The one place where errors become what the CLI prints: one line on stderr, and an exit code.
 */
import { toCedanaError } from '@cedana-ts/sdk/errors';

/** Prints `Error: <message>: <hint>` and returns the exit code to use. */
export function reportError(err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const e = toCedanaError(err);
  const text = e.fullMessage.replace(/\s*\n\s*/g, ' ');
  write(`Error: ${text}\n`);
  return 1;
}
