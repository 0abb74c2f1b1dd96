/**
 * A server that speaks the subset of the Google Cloud Storage JSON API that @google-cloud/storage uses for
 * checkpoints: resumable uploads (initiate, chunks, status query, finalize, cancel), object metadata, media
 * download, list and delete — over real HTTP, with objects on disk.
 *
 * THE ONE FAKE of the storage tests: no GCS emulator installs on this machine (fake-gcs-server needs the Go module
 * proxy, Firebase's needs Java 21 and downloads), so the tests run the real client library against this. It follows
 * Google's documented protocol: the final chunk names the total size and makes the object appear (nothing is
 * visible before), `ifGenerationMatch=0` refuses an existing object (412), downloads carry `x-goog-hash` with the
 * CRC32C and MD5 the client checks, session URIs need no credentials, and with trusted service accounts every other
 * request needs a bearer token signed by one of them (401 otherwise).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Crc32c } from './crc32c';
import { checkBearer, type TrustedAccount } from './jwt';

/** How the server is set up. */
export interface FakeGcsOptions {
  dir: string;
  buckets: string[];
  /** Accounts whose tokens are accepted; none: no credentials needed (emulator mode). */
  trusted: TrustedAccount[];
  /** Answer the first N data chunks with 503, as GCS does under load, so the client's retries can be seen. */
  failChunks: number;
  /** One line per request, when its response closes. */
  log(line: RequestLog): void;
}

/** What the server logs about each request. */
export interface RequestLog {
  kind: 'initiate' | 'chunk' | 'status' | 'finalize' | 'cancel' | 'metadata' | 'media' | 'list' | 'delete' | 'bucket' | 'other';
  method: string;
  path: string;
  status: number;
  finished: boolean;
}

interface Session {
  bucket: string;
  name: string;
  received: number;
  file: string;
  contentType: string;
  ifGenerationMatch?: string;
}

/** An object's metadata, as the JSON API returns it. */
export interface ObjectMeta {
  kind: 'storage#object';
  id: string;
  name: string;
  bucket: string;
  generation: string;
  metageneration: string;
  contentType: string;
  size: string;
  md5Hash: string;
  crc32c: string;
  timeCreated: string;
  updated: string;
  storageClass: string;
}

const enc = (name: string) => encodeURIComponent(name);

export class FakeGcs {
  private readonly sessions = new Map<string, Session>();
  private readonly trusted: Map<string, TrustedAccount>;
  private failChunks: number;
  private generation = Date.now() * 1000;
  readonly server: Server;

  constructor(private readonly opts: FakeGcsOptions) {
    this.trusted = new Map(opts.trusted.map((a) => [a.email, a]));
    this.failChunks = opts.failChunks;
    mkdirSync(join(opts.dir, 'sessions'), { recursive: true });
    for (const b of opts.buckets) {
      mkdirSync(join(opts.dir, 'objects', b, 'data'), { recursive: true });
      mkdirSync(join(opts.dir, 'objects', b, 'meta'), { recursive: true });
    }
    this.server = createServer((req, res) => {
      const state = { kind: 'other' as RequestLog['kind'] };
      res.on('close', () => opts.log({ kind: state.kind, method: req.method ?? '', path: decodeURIComponent((req.url ?? '').split('?')[0]), status: res.statusCode, finished: res.writableFinished }));
      this.route(req, res, state).catch((err: Error) => {
        if (!res.headersSent) this.fail(res, 500, 'backendError', err.message);
        else res.destroy();
      });
    });
  }

  private bucketExists(bucket: string): boolean {
    return existsSync(join(this.opts.dir, 'objects', bucket));
  }

  private paths(bucket: string, name: string): { data: string; meta: string } {
    const base = join(this.opts.dir, 'objects', bucket);
    return { data: join(base, 'data', enc(name)), meta: join(base, 'meta', `${enc(name)}.json`) };
  }

  private meta(bucket: string, name: string): ObjectMeta | null {
    const { meta } = this.paths(bucket, name);
    return existsSync(meta) ? (JSON.parse(readFileSync(meta, 'utf8')) as ObjectMeta) : null;
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
  }

  private fail(res: ServerResponse, status: number, reason: string, message: string): void {
    this.json(res, status, { error: { code: status, message, errors: [{ domain: 'global', reason, message }] } });
  }

  /** False (and a 401/403 answer) when credentials are required and the request lacks good ones. */
  private authorized(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.trusted.size === 0) return true;
    const verdict = checkBearer(req.headers.authorization, this.trusted);
    if (verdict === 'unauthenticated') this.fail(res, 401, 'authError', 'Invalid Credentials');
    if (verdict === 'forbidden') this.fail(res, 403, 'insufficientPermissions', 'Insufficient Permission');
    return verdict === 'ok';
  }

  private async body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  private async route(req: IncomingMessage, res: ServerResponse, state: { kind: RequestLog['kind'] }): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const q = url.searchParams;
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (upload) {
      const bucket = decodeURIComponent(upload[1]);
      const id = q.get('upload_id');
      if (req.method === 'POST' && !id) return this.initiate(req, res, bucket, q, state, url);
      const session = id ? this.sessions.get(id) : undefined;
      if (!id || !session) return this.fail(res, 404, 'notFound', 'No such upload session');
      if (req.method === 'PUT') return this.chunk(req, res, id, session, state);
      if (req.method === 'DELETE') {
        state.kind = 'cancel';
        this.sessions.delete(id);
        await rm(session.file, { force: true });
        res.writeHead(499).end();
        return;
      }
      return this.fail(res, 405, 'methodNotAllowed', 'not implemented by the test server');
    }
    // The client uses {endpoint}/storage/v1/b/…, or {STORAGE_EMULATOR_HOST}/b/… when that variable is set.
    const path = url.pathname.replace(/^\/(download\/)?storage\/v1(?=\/)/, '');
    const object = /^\/b\/([^/]+)\/o\/(.+)$/.exec(path);
    const objects = /^\/b\/([^/]+)\/o\/?$/.exec(path);
    const bucketPath = /^\/b\/([^/]+)\/?$/.exec(path);
    const bucket = decodeURIComponent((object ?? objects ?? bucketPath)?.[1] ?? '');
    if (!bucket) return this.fail(res, 404, 'notFound', 'not implemented by the test server');
    if (!this.authorized(req, res)) return;
    if (!this.bucketExists(bucket)) return this.fail(res, 404, 'notFound', 'The specified bucket does not exist.');
    if (object) {
      const name = decodeURIComponent(object[2]);
      const meta = this.meta(bucket, name);
      state.kind = req.method === 'DELETE' ? 'delete' : q.get('alt') === 'media' ? 'media' : 'metadata';
      if (!meta) return this.fail(res, 404, 'notFound', `No such object: ${bucket}/${name}`);
      if (req.method === 'DELETE') {
        const p = this.paths(bucket, name);
        await rm(p.meta, { force: true });
        await rm(p.data, { force: true });
        res.writeHead(204).end();
        return;
      }
      if (state.kind === 'metadata') return this.json(res, 200, meta);
      res.writeHead(200, {
        'content-type': meta.contentType,
        'content-length': meta.size,
        'x-goog-hash': `crc32c=${meta.crc32c},md5=${meta.md5Hash}`,
        'x-goog-stored-content-encoding': 'identity',
        'x-goog-generation': meta.generation,
      });
      await pipeline(createReadStream(this.paths(bucket, name).data), res);
      return;
    }
    if (objects && req.method === 'GET') {
      state.kind = 'list';
      return this.list(res, bucket, q);
    }
    state.kind = 'bucket';
    return this.json(res, 200, { kind: 'storage#bucket', id: bucket, name: bucket });
  }

  private async initiate(req: IncomingMessage, res: ServerResponse, bucket: string, q: URLSearchParams, state: { kind: RequestLog['kind'] }, url: URL): Promise<void> {
    state.kind = 'initiate';
    if (!this.authorized(req, res)) return;
    if (q.get('uploadType') !== 'resumable') return this.fail(res, 400, 'invalid', 'only resumable uploads are implemented by the test server');
    const name = q.get('name');
    if (!name) return this.fail(res, 400, 'required', 'Required parameter: name');
    if (!this.bucketExists(bucket)) return this.fail(res, 404, 'notFound', 'The specified bucket does not exist.');
    const ifGenerationMatch = q.get('ifGenerationMatch') ?? undefined;
    if (ifGenerationMatch === '0' && this.meta(bucket, name)) return this.fail(res, 412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    const text = (await this.body(req)).toString();
    const metadata = (text ? JSON.parse(text) : {}) as { contentType?: string };
    const id = randomBytes(16).toString('hex');
    const file = join(this.opts.dir, 'sessions', id);
    await writeFile(file, '');
    const contentType = String(req.headers['x-upload-content-type'] ?? metadata.contentType ?? 'application/octet-stream');
    this.sessions.set(id, { bucket, name, received: 0, file, contentType, ifGenerationMatch });
    const host = `http://${req.headers.host ?? url.host}`;
    res.writeHead(200, { location: `${host}/upload/storage/v1/b/${enc(bucket)}/o?uploadType=resumable&name=${enc(name)}&upload_id=${id}` }).end();
  }

  private incomplete(res: ServerResponse, s: Session): void {
    res.writeHead(308, s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {}).end();
  }

  private async chunk(req: IncomingMessage, res: ServerResponse, id: string, s: Session, state: { kind: RequestLog['kind'] }): Promise<void> {
    const range = String(req.headers['content-range'] ?? '');
    const data = await this.body(req);
    const query = /^bytes \*\/(\*|\d+)$/.exec(range);
    if (query) {
      state.kind = query[1] === '*' ? 'status' : 'finalize';
      if (query[1] !== '*' && Number(query[1]) === s.received) return this.finalize(res, id, s, req.headers['x-goog-hash'] as string | undefined);
      return this.incomplete(res, s);
    }
    const m = /^bytes (\d+)-(-?\d+)\/(\*|\d+)$/.exec(range);
    if (!m) return this.fail(res, 400, 'invalid', `bad Content-Range '${range}'`);
    state.kind = 'chunk';
    const [start, total] = [Number(m[1]), m[3] === '*' ? undefined : Number(m[3])];
    if (data.length > 0 && this.failChunks > 0) {
      this.failChunks--;
      return this.fail(res, 503, 'backendError', 'Backend Error');
    }
    if (start !== s.received) return this.incomplete(res, s);
    await appendFile(s.file, data);
    s.received += data.length;
    if (total === undefined || s.received < total) return this.incomplete(res, s);
    if (s.received > total) return this.fail(res, 400, 'invalid', `received ${s.received} bytes, more than the total ${total}`);
    state.kind = 'finalize';
    return this.finalize(res, id, s, req.headers['x-goog-hash'] as string | undefined);
  }

  /** Makes the session's data the object: only now does it become visible. */
  private async finalize(res: ServerResponse, id: string, s: Session, hash?: string): Promise<void> {
    this.sessions.delete(id);
    if (s.ifGenerationMatch === '0' && this.meta(s.bucket, s.name)) {
      await rm(s.file, { force: true });
      return this.fail(res, 412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    }
    const md5 = createHash('md5');
    const crc = new Crc32c();
    for await (const c of createReadStream(s.file)) {
      md5.update(c as Buffer);
      crc.update(c as Buffer);
    }
    // As GCS does: a CRC32C sent with the last request must match the data, or there is no object.
    const sent = /crc32c=([^,\s]+)/.exec(hash ?? '')?.[1];
    if (sent && sent !== crc.base64()) {
      await rm(s.file, { force: true });
      return this.fail(res, 400, 'invalid', `Provided CRC32C "${sent}" doesn't match calculated CRC32C "${crc.base64()}".`);
    }
    const now = new Date().toISOString();
    const generation = String(++this.generation);
    const meta: ObjectMeta = {
      kind: 'storage#object',
      id: `${s.bucket}/${s.name}/${generation}`,
      name: s.name,
      bucket: s.bucket,
      generation,
      metageneration: '1',
      contentType: s.contentType,
      size: String(s.received),
      md5Hash: md5.digest('base64'),
      crc32c: crc.base64(),
      timeCreated: now,
      updated: now,
      storageClass: 'STANDARD',
    };
    const p = this.paths(s.bucket, s.name);
    await rename(s.file, p.data);
    await writeFile(p.meta, JSON.stringify(meta));
    this.json(res, 200, meta);
  }

  private async list(res: ServerResponse, bucket: string, q: URLSearchParams): Promise<void> {
    const prefix = q.get('prefix') ?? '';
    const max = Math.min(Number(q.get('maxResults') ?? 1000) || 1000, 1000);
    const after = q.get('pageToken') ?? '';
    const names = readdirSync(join(this.opts.dir, 'objects', bucket, 'meta'))
      .map((f) => decodeURIComponent(f.slice(0, -'.json'.length)))
      .filter((n) => n.startsWith(prefix) && n > after)
      .sort();
    const page = names.slice(0, max);
    const items = await Promise.all(page.map(async (n) => JSON.parse(await readFile(this.paths(bucket, n).meta, 'utf8')) as ObjectMeta));
    this.json(res, 200, { kind: 'storage#objects', items, ...(names.length > max ? { nextPageToken: page[page.length - 1] } : {}) });
  }
}
