/**
 * The S3-compatible server of the tests, run as its own process so a test can kill it mid-upload: s3rver (a real
 * S3 implementation over HTTP, with signature checking against the key pair S3RVER / S3RVER) on 127.0.0.1.
 *
 *   node s3-server-main.js --dir DIR [--port N] [--bucket NAME]… [--fail-parts N] [--fail-aborts N]
 *
 * `--fail-parts N` answers the first N UploadPart requests with 503 SlowDown, as S3 does under load, so the tests
 * can see the client retry. `--fail-aborts N` answers the first N AbortMultipartUpload requests with 500
 * InternalError, as an abort racing a part may get.
 * Prints `{"listening":PORT}` once ready, then one JSON line per finished request: method, path, query, status.
 * s3rver checks the access key id but not SigV4 signatures: this process checks them (sigv4.ts), so a wrong
 * secret is refused with SignatureDoesNotMatch as on S3.
 * s3rver has no AbortMultipartUpload and no ListParts; this process adds both (DELETE and GET ?uploadId=…) over the
 * parts s3rver keeps on disk, so that the tests can check that an aborted upload leaves nothing behind. As on S3, a
 * part still arriving during an abort may make the abort fail, or land after it.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import S3rver from 's3rver';
import { checkSigV4 } from './sigv4';

/** The key pair s3rver knows. */
const SECRETS: Record<string, string> = { S3RVER: 'S3RVER' };

function args(argv: string[]): { dir: string; port: number; buckets: string[]; failParts: number; failAborts: number } {
  const out = { dir: '', port: 0, buckets: [] as string[], failParts: 0, failAborts: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--dir') out.dir = value;
    else if (flag === '--port') out.port = Number(value);
    else if (flag === '--bucket') out.buckets.push(value);
    else if (flag === '--fail-parts') out.failParts = Number(value);
    else if (flag === '--fail-aborts') out.failAborts = Number(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!out.dir) throw new Error('--dir is required');
  return out;
}

async function main(): Promise<void> {
  const opts = args(process.argv.slice(2));
  const s3 = new S3rver({ directory: opts.dir, silent: true, configureBuckets: opts.buckets.map((name) => ({ name })) });
  await s3.configureBuckets();
  const handle = s3.callback();
  let failParts = opts.failParts;
  let failAborts = opts.failAborts;

  const uploadDir = (url: URL): string => {
    const bucket = url.pathname.split('/')[1];
    return `${s3.store.getResourcePath(bucket, undefined, 'uploads')}/${url.searchParams.get('uploadId')}`;
  };
  const noSuchUpload = (res: ServerResponse): void => {
    res.writeHead(404, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>');
  };

  const abortUpload = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    req.resume();
    if (failAborts > 0) {
      failAborts--;
      res.writeHead(500, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>');
      return;
    }
    const dir = uploadDir(url);
    if (!existsSync(dir)) return noSuchUpload(res);
    await rm(dir, { recursive: true, force: true });
    res.writeHead(204).end();
  };

  const listParts = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    req.resume();
    const dir = uploadDir(url);
    if (!existsSync(dir)) return noSuchUpload(res);
    const numbers = (await readdir(dir)).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
    const parts = await Promise.all(
      numbers.map(async (n) => {
        const size = (await stat(`${dir}/${n}`)).size;
        const md5 = await readFile(`${dir}/${n}.md5`, 'utf8').catch(() => '');
        return `<Part><PartNumber>${n}</PartNumber><ETag>"${md5}"</ETag><Size>${size}</Size></Part>`;
      }),
    );
    const body = `<?xml version="1.0" encoding="UTF-8"?><ListPartsResult><UploadId>${url.searchParams.get('uploadId')}</UploadId><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`;
    res.writeHead(200, { 'content-type': 'application/xml' }).end(body);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.on('close', () => {
      const line = { method: req.method, path: decodeURIComponent(url.pathname), query: [...url.searchParams.keys()], status: res.statusCode, finished: res.writableFinished };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    });
    if (checkSigV4(req, (id) => SECRETS[id]) === 'mismatch') {
      req.resume();
      const body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message></Error>';
      res.writeHead(403, { 'content-type': 'application/xml' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (req.method === 'PUT' && url.searchParams.has('partNumber') && failParts > 0) {
      failParts--;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
      abortUpload(req, res, url).catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    if (req.method === 'GET' && url.searchParams.has('uploadId')) {
      listParts(req, res, url).catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    handle(req, res);
  });
  server.listen(opts.port, '127.0.0.1', () => {
    const addr = server.address();
    process.stdout.write(`${JSON.stringify({ listening: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((err: Error) => {
  process.stderr.write(`s3 test server: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
