/**
 * The daemon's V8 heap settings. V8 lets the young generation grow to tens of MiB, which a long-lived daemon
 * that mostly moves Buffers (kept outside the heap) does not need: with a 2 MiB semi-space its idle memory is
 * about a third smaller. Heap sizes are fixed when the process starts, so `daemon start` replaces itself (same
 * PID, via execve) with a Node started with the flag, unless the flag is there already or the user chose one.
 */
const FLAG = '--max-semi-space-size';
const SEMI_SPACE_MIB = 2;
const MARK = 'CEDANA_DAEMON_HEAP_SET';

export function withDaemonHeap(): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  // Only from a script (the cedana CLI): code given with -e/-p would run again from its start.
  const evaluated = process.execArgv.some((a) => /^(-e|--eval|-p|--print)(=|$)/.test(a));
  if (typeof execve !== 'function' || evaluated || !process.argv[1]) return;
  if (process.env[MARK] || process.execArgv.some((a) => a.startsWith(FLAG)) || (process.env.NODE_OPTIONS ?? '').includes(FLAG)) return;
  const args = [process.execPath, `${FLAG}=${SEMI_SPACE_MIB}`, ...process.execArgv, ...process.argv.slice(1)];
  execve.call(process, process.execPath, args, { ...process.env, [MARK]: '1' });
}
