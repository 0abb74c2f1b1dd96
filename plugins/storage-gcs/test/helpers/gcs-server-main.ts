/**
 * The tests' GCS JSON API server (gcs-fake.ts) as its own process, so a test can kill it mid-upload.
 *
 *   node gcs-server-main.js --dir DIR [--port N] [--bucket NAME]… [--trust KEYFILE]… [--fail-chunks N]
 *
 * `--trust` takes a service-account key file whose tokens are accepted; without one, no credentials are needed.
 * Prints `{"listening":PORT}` once ready, then one JSON line per request (see RequestLog).
 */
import { readFileSync } from 'node:fs';
import { FakeGcs } from './gcs-fake';
import { trustKeyFile, type TrustedAccount } from './jwt';

function args(argv: string[]) {
  const out = { dir: '', port: 0, buckets: [] as string[], trusted: [] as TrustedAccount[], failChunks: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--dir') out.dir = value;
    else if (flag === '--port') out.port = Number(value);
    else if (flag === '--bucket') out.buckets.push(value);
    else if (flag === '--trust') out.trusted.push(trustKeyFile(readFileSync(value, 'utf8')));
    else if (flag === '--fail-chunks') out.failChunks = Number(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!out.dir) throw new Error('--dir is required');
  return out;
}

try {
  const opts = args(process.argv.slice(2));
  const gcs = new FakeGcs({ ...opts, log: (line) => process.stdout.write(`${JSON.stringify(line)}\n`) });
  gcs.server.listen(opts.port, '127.0.0.1', () => {
    const addr = gcs.server.address();
    process.stdout.write(`${JSON.stringify({ listening: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
  });
  process.on('SIGTERM', () => gcs.server.close(() => process.exit(0)));
} catch (err) {
  process.stderr.write(`gcs test server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
