/**
 * One operation at a time per job: dump, restore, kill and delete of a job wait for the one in progress, so that a
 * restore during a dump's compression restores the new checkpoint (not the one before), and two dumps never run
 * CRIU on one tree at once.
 */
export class JobLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` once every earlier operation on `jid` has ended; without a jid, at once. */
  async run<T>(jid: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (!jid) return fn();
    const before = this.tails.get(jid) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(fn);
    const tail = mine.catch(() => undefined);
    this.tails.set(jid, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(jid) === tail) this.tails.delete(jid);
    }
  }

  /** True while an operation on `jid` runs or waits. */
  busy(jid: string): boolean {
    return this.tails.has(jid);
  }
}
