/**
 * Flags of Cedana's CLI that belong to a runtime (runc's run and restore flags) but must be declared here: a
 * boolean left undeclared would take the next word as its value (`--detach ID`), and a short form (`-b`) needs its
 * long name. Their values still go to the runtime plugin, whose schema accepts or refuses them.
 */
import type { Options } from 'yargs';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk/errors';

/** runc flags of `run runc` and `restore runc` that yargs must know the kind of. */
export const RUNC_RUN_FLAGS: Record<string, Options> = {
  bundle: { alias: 'b', type: 'string', describe: '(runc) the OCI bundle directory' },
  detach: { alias: 'd', type: 'boolean', describe: '(runc) detach from the container (with the daemon it always is)' },
  'no-pivot': { type: 'boolean', describe: '(runc, containerd) do not use pivot_root to jail the process' },
  'no-new-keyring': { type: 'boolean', describe: '(runc) do not create a new session keyring' },
  'no-subreaper': { type: 'boolean', describe: '(runc) do not use a subreaper for re-parented processes' },
  'systemd-cgroup': { type: 'boolean', describe: '(runc) systemd cgroups (cgroupsPath as slice:prefix:name)' },
};

/** The short forms above, which the runtime must not see as options of their own. */
export const RUNC_SHORT = ['b', 'd'];


/** GPU flags of Cedana that need what this project does not have (GPU call tracing, shared GPU controllers). */
export function refuseGpuFlags(argv: { 'gpu-id'?: string; 'gpu-tracing'?: boolean }): void {
  if (argv['gpu-tracing']) {
    throw new CedanaError(ErrorCode.Unsupported, '--gpu-tracing is not supported: there is no GPU call tracer here', { hint: 'drop --gpu-tracing; --gpu-enabled checkpoints GPU memory' });
  }
  if (argv['gpu-id'] !== undefined) {
    throw new CedanaError(ErrorCode.Unsupported, '--gpu-id is not supported: GPU jobs here have no shared GPU controller to attach to', { hint: 'drop --gpu-id' });
  }
}
