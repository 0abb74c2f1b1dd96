/**
 * Container and task steps the runtime combines: find a task, wait for it, delete it, the runc shim's option
 * messages, and the CRIU config file that restores established TCP connections and file locks.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CedanaError, ErrorCode, type CriuOptions, type ExitStatus } from '@cedana-ts/sdk';
import { anyOf, ClosedError, type Containerd } from './client';
import type { Container } from './generated/containers';
import type { Any } from './generated/google/protobuf/any';
import { CheckpointOptions, Options } from './generated/runc';
import { Status, type Process } from './generated/task';

/** The runtime every container the plugin creates uses: containerd's runc shim. */
export const RUNC_RUNTIME = 'io.containerd.runc.v2';

/** The runc shim's checkpoint options as an `Any`. */
export function checkpointOptions(o: Partial<CheckpointOptions>): Any {
  return anyOf('containerd.runc.v1.CheckpointOptions', CheckpointOptions.encode(CheckpointOptions.fromPartial(o)).finish());
}

/** The runc shim's task options as an `Any`: where to restore CRIU images from. */
export function restoreOptions(imagePath: string, workPath: string, noPivotRoot = false): Any {
  return taskOptions({ criuImagePath: imagePath, criuWorkPath: workPath, noPivotRoot });
}

/** The runc shim's task options as an `Any`. */
export function taskOptions(o: Partial<Options>): Any {
  return anyOf('containerd.runc.v1.Options', Options.encode(Options.fromPartial(o)).finish());
}

/** The task of container `id`, or null when it has none. */
export async function taskOf(ctr: Containerd, ns: string, id: string): Promise<Process | null> {
  const t = ctr.tasks;
  try {
    const res = await ctr.call(t, t.get, { containerId: id, execId: '' }, ns, `task ${id}`, { deadlineMs: 10_000 });
    return res.process ?? null;
  } catch (err) {
    if (err instanceof CedanaError && err.code === ErrorCode.NotFound) return null;
    throw err;
  }
}

/** The container record `id`, or null. */
export async function containerOf(ctr: Containerd, ns: string, id: string): Promise<Container | null> {
  const c = ctr.containers;
  try {
    return (await ctr.call(c, c.get, { id }, ns, `container ${id}`, { deadlineMs: 10_000 })).container ?? null;
  } catch (err) {
    if (err instanceof CedanaError && err.code === ErrorCode.NotFound) return null;
    throw err;
  }
}

/** The running task of container `id`, or NOT_FOUND / FAILED_PRECONDITION saying why not. */
export async function runningTask(ctr: Containerd, ns: string, id: string): Promise<Process> {
  const task = await taskOf(ctr, ns, id);
  if (!task) {
    const exists = await containerOf(ctr, ns, id);
    if (!exists) throw new CedanaError(ErrorCode.NotFound, `no containerd container '${id}' in namespace ${ns}`, { hint: 'see `ctr -n ' + ns + ' containers ls`; give --namespace if it lives elsewhere' });
    throw new CedanaError(ErrorCode.FailedPrecondition, `containerd container '${id}' is not running (it has no task)`);
  }
  if (task.status !== Status.RUNNING) {
    throw new CedanaError(ErrorCode.FailedPrecondition, `containerd container '${id}' is not running (status: ${Status[task.status]?.toLowerCase() ?? task.status})`);
  }
  return task;
}

/** Settles when the task of `id` exits. */
export async function waitTask(ctr: Containerd, ns: string, id: string): Promise<ExitStatus> {
  const t = ctr.tasks;
  const res = await ctr.call(t, t.wait, { containerId: id, execId: '' }, ns, `waiting for ${id}`).catch((err: unknown) => {
    // The daemon is stopping: the container has not ended, so this never settles (and holds nothing open).
    if (err instanceof ClosedError) return new Promise<never>(() => undefined);
    throw err;
  });
  const code = res.exitStatus;
  // runc reports a signal death as 128 + the signal number.
  return code > 128 && code < 128 + 65 ? { code: null, signal: signalName(code - 128) } : { code, signal: null };
}

function signalName(n: number): string {
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 9: 'SIGKILL', 15: 'SIGTERM', 6: 'SIGABRT', 11: 'SIGSEGV' };
  return names[n] ?? `SIG${n}`;
}

/** Deletes the (stopped) task of `id`; no error when it has none. */
export async function deleteTask(ctr: Containerd, ns: string, id: string): Promise<void> {
  const t = ctr.tasks;
  await ctr.call(t, t.delete, { containerId: id }, ns, `deleting task ${id}`, { deadlineMs: 30_000 }).catch((err: CedanaError) => {
    if (err.code !== ErrorCode.NotFound) throw err;
  });
}

/** Waits until the task of `id` has stopped (after a checkpoint that ends it), then deletes it. */
export async function reapTask(ctr: Containerd, ns: string, id: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const task = await taskOf(ctr, ns, id);
    if (!task) return;
    if (task.status === Status.STOPPED) return deleteTask(ctr, ns, id);
    if (Date.now() > deadline) throw new CedanaError(ErrorCode.CheckpointFailed, `the task of ${id} did not stop after its checkpoint`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A CRIU config file for runc with the options a restore must repeat (runc passes none of them itself when
 * containerd restores): its path, or undefined when none is needed.
 */
export async function criuConfigFile(tmpDir: string, ns: string, id: string, criu: CriuOptions): Promise<string | undefined> {
  const lines = [criu.tcpEstablished && 'tcp-established', criu.fileLocks && 'file-locks', criu.extUnixSk && 'ext-unix-sk'].filter(Boolean);
  if (lines.length === 0) return undefined;
  const path = join(tmpDir, `cedana-criu-containerd-${ns}-${id}.conf`);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}
