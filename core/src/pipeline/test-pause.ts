/**
 * A test-only hook: with CEDANA_TEST_PAUSE_DIR set in the daemon's environment, an operation reaching the named
 * phase `P` appends a line to `<dir>/at-P` and waits while `<dir>/hold-P` exists. The fault-injection tests use it
 * to kill the daemon, or send a second request, at an exact point of a dump. Unset (always, outside tests), it
 * costs nothing.
 */
import { appendFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Phases of a dump: destination opened, nothing frozen · images complete · checkpoint committed, not recorded. */
export type PausePoint = 'dump-opened' | 'dump-imaged' | 'dump-archived';

export async function pauseAt(point: PausePoint): Promise<void> {
  const dir = process.env.CEDANA_TEST_PAUSE_DIR;
  if (!dir) return;
  await appendFile(join(dir, `at-${point}`), `${process.pid}\n`);
  while (await stat(join(dir, `hold-${point}`)).catch(() => null)) await new Promise((r) => setTimeout(r, 20));
}
