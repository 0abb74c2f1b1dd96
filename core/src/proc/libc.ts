/**
 * The few libc calls Node does not offer (through koffi): prctl, waitpid, mkfifo. Loaded once, on first use.
 */
import koffi from 'koffi';

export interface Libc {
  prctl(option: number, a2: number, a3: number, a4: number, a5: number): number;
  waitpid(pid: number, status: number[], options: number): number;
  mkfifo(path: string, mode: number): number;
  errno(): number;
}

let libc: Libc | undefined;

export function loadLibc(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    prctl: lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    waitpid: lib.func('int waitpid(int pid, _Out_ int *wstatus, int options)'),
    mkfifo: lib.func('int mkfifo(const char *path, unsigned int mode)'),
    errno: () => koffi.errno(),
  };
  return libc;
}
