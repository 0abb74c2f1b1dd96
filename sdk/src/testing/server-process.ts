/**
 * A test server run as a child Node process on 127.0.0.1, for a storage plugin's tests (an S3 or GCS stand-in, say).
 * The server script prints `{"listening":PORT}` once it is ready, then one JSON line per request it answered. A test
 * can wait for a request, kill the server mid-transfer (open connections are cut), and start it again on the same
 * port and directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

export abstract class TestServerProcess<Req> {
  readonly requests: Req[] = [];
  port = 0;
  private child?: ChildProcess;

  /** `dir`: the server's own directory, removed by {@link stop}. */
  protected constructor(readonly dir: string) {}

  /** What the server is, for error messages ("s3 test server"). */
  protected abstract readonly title: string;

  /** The Node arguments that start the server on `port` (0: any free port): its script, then its flags. */
  protected abstract command(port: number): string[];

  /** What the requests seen so far were, for the message of a wait that timed out. */
  protected seen(): string {
    return `${this.requests.length} request(s)`;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server on `port` and waits until it listens. */
  protected async launch(port: number): Promise<void> {
    const child = spawn(process.execPath, this.command(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout! });
    this.port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`${this.title} exited ${code}: ${stderr}`)));
      lines.on('line', (line) => {
        if (!line.startsWith('{')) return;
        const msg = JSON.parse(line) as { listening?: number };
        if (msg.listening !== undefined) resolve(msg.listening);
        else this.requests.push(msg as Req);
      });
    });
  }

  /** Waits until a request matching `pred` has been answered. */
  async waitForRequest(pred: (r: Req) => boolean, ms = 30_000): Promise<Req> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.requests.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching request within ${ms} ms (saw ${this.seen()})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** SIGKILLs the server: open connections are cut. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts the server again on the same port and directory (after {@link kill}). */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch(this.port);
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
