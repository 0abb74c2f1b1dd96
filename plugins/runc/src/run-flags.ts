/**
 * runc's flags of `run` and `restore` given to `cedana run|restore runc`, as runc's command line takes them.
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { RuncOptions } from './options';

/** runc's global flags (before the subcommand) that the options ask for. */
export function globalFlags(o: RuncOptions, foreground: boolean): string[] {
  const out: string[] = [];
  if (o.rootless) out.push('--rootless', o.rootless);
  if (o.systemdCgroup) out.push('--systemd-cgroup');
  // With the daemon runc's log is the plugin's own (it quotes runc's errors from it), as Cedana ignores --log there.
  if (foreground && o.log) out.push('--log', o.log);
  if (foreground && o.logFormat) out.push('--log-format', o.logFormat);
  return out;
}

/** Flags of `runc run` or `runc restore` (before the container id). */
export function actionFlags(o: RuncOptions, action: 'run' | 'restore'): string[] {
  if (o.netnsEth0Ipv4Addr) {
    throw new CedanaError(ErrorCode.Unsupported, '--netns-eth0-ipv4-addr is not supported: the restored network namespace keeps its address', { hint: 'drop --netns-eth0-ipv4-addr' });
  }
  const out: string[] = [];
  if (o.consoleSocket) out.push('--console-socket', o.consoleSocket);
  if (o.noPivot) out.push('--no-pivot');
  if (o.noSubreaper) out.push('--no-subreaper');
  if (action === 'run' && o.noNewKeyring) out.push('--no-new-keyring');
  if (action === 'run' && o.preserveFds !== undefined) out.push('--preserve-fds', String(o.preserveFds));
  return out;
}
