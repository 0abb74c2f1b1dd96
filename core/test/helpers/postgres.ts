/**
 * A real PostgreSQL 15 server for the tests: its own data directory and port, run as the `postgres` user (initdb
 * refuses root), started with pg_ctl and stopped by its PID. Logins use a password (scram-sha-256).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const BIN = '/usr/lib/postgresql/15/bin';
export const PG_USER = 'cedana';
export const PG_PASSWORD = 'cedana-test-pw';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user: install postgresql-15 (scripts/setup-system.sh)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export class PostgresServer {
  readonly dir: string;
  readonly data: string;
  port = 0;
  private pid = 0;
  private readonly ids = postgresIds();

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'cedana-pg-'));
    this.data = join(this.dir, 'data');
  }

  /** initdb (once) and start; resolves when it takes connections. */
  async start(): Promise<void> {
    const as = { uid: this.ids.uid, gid: this.ids.gid, stdio: 'pipe' as const, cwd: this.dir };
    if (!existsSync(this.data)) {
      chownSync(this.dir, this.ids.uid, this.ids.gid);
      const pw = join(this.dir, 'pw');
      writeFileSync(pw, `${PG_PASSWORD}\n`);
      chownSync(pw, this.ids.uid, this.ids.gid);
      execFileSync(join(BIN, 'initdb'), ['-D', this.data, '-U', PG_USER, '--pwfile', pw, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync'], as);
      this.port = await freePort();
    }
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    execFileSync(join(BIN, 'pg_ctl'), ['start', '-D', this.data, '-w', '-t', '60', '-l', join(this.dir, 'log'), '-o', opts], as);
    this.pid = Number(readFileSync(join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  /** Fast shutdown by PID (SIGINT); resolves when the server is gone. */
  async stop(): Promise<void> {
    if (!this.pid) return;
    const pid = this.pid;
    this.pid = 0;
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      return;
    }
    const deadline = Date.now() + 30_000;
    while (existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8').toString())) {
      if (Date.now() > deadline) throw new Error(`postgres ${pid} did not stop`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The server's PID while it runs. */
  get serverPid(): number {
    return this.pid;
  }

  url(database: string, password = PG_PASSWORD): string {
    return `postgres://${PG_USER}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${database}`;
  }

  private async admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: this.url('postgres') });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  /** A new, empty database; returns its URL. */
  async createDatabase(name: string): Promise<string> {
    await this.admin((c) => c.query(`CREATE DATABASE "${name}"`));
    return this.url(name);
  }

  async dropDatabase(name: string): Promise<void> {
    await this.admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  }

  /** Runs SQL in database `name`. */
  async query(name: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
    const c = new pg.Client({ connectionString: this.url(name) });
    await c.connect();
    try {
      return await c.query(text, params);
    } finally {
      await c.end();
    }
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
