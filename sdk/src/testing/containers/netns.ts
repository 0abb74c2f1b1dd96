/**
 * A network namespace that outlives the containers joining it, with lo up: what a pod sandbox or CNI provides.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { waitUntil } from './started-daemon';

/**
 * Held by a `sleep infinity` of its own. runc restores a container's own network namespace empty (it does not
 * manage network devices), so a TCP connection survives a restore only in a namespace like this one.
 */
export class NetnsHolder {
  private constructor(private readonly child: ChildProcess) {}

  /** The namespace's path, for config.json (or containerd's `network` option). */
  get path(): string {
    return `/proc/${this.child.pid}/ns/net`;
  }

  static async start(): Promise<NetnsHolder> {
    const child = spawn('unshare', ['--net', 'sleep', 'infinity'], { stdio: 'ignore' });
    const own = spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout.trim();
    await waitUntil(() => {
      const r = spawnSync('readlink', [`/proc/${child.pid}/ns/net`], { encoding: 'utf8' });
      return r.status === 0 && r.stdout.trim() !== own;
    }, 'the network namespace holder');
    const up = spawnSync('nsenter', [`--net=/proc/${child.pid}/ns/net`, 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
    assert.equal(up.status, 0, `ip link set lo up: ${up.stderr}`);
    return new NetnsHolder(child);
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
