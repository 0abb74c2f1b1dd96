/**
 * The GCS storage: checkpoints at `gcs://BUCKET/NAME` (or `gs://…`) on Google Cloud Storage, or on a server that
 * speaks its JSON API at a custom endpoint.
 */
import { readFileSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { IdempotencyStrategy, Storage as GoogleStorage, type StorageOptions } from '@google-cloud/storage';
import { GoogleAuth, JWT } from 'google-auth-library';
import { CedanaError, ErrorCode, type Logger, type Storage, type StoredObject, type Upload } from '@cedana-ts/sdk';
import { gcsError, type ErrorContext } from './errors';
import { ResumableUpload } from './resumable';
import { assertUsable, type GcsSettings } from './settings';
import { gcsUrl, parseGcsUrl, type GcsLocation } from './url';

/** Retries of a failed request or chunk, with exponential backoff (1 s, 2 s, 4 s… plus jitter, at most 8 s). */
export const MAX_RETRIES = 3;

/** Read-write on objects is all the plugin needs. */
const SCOPE = 'https://www.googleapis.com/auth/devstorage.read_write';

/** The @google-cloud/storage client for these settings. */
export function makeClient(s: GcsSettings): GoogleStorage {
  const options: StorageOptions = {
    apiEndpoint: s.endpoint,
    projectId: s.projectId,
    useAuthWithCustomEndpoint: s.endpoint !== undefined && s.authenticated,
    retryOptions: {
      autoRetry: true,
      maxRetries: MAX_RETRIES,
      retryDelayMultiplier: 2,
      maxRetryDelay: 8,
      totalTimeout: 120,
      idempotencyStrategy: IdempotencyStrategy.RetryConditional,
    },
  };
  if (s.authenticated && s.keyFile) {
    // A configured key file becomes a JWT client directly, as google-auth-library asks (only service-account keys
    // are accepted there, see settings.ts); everything else goes through Application Default Credentials.
    const key = JSON.parse(readFileSync(s.keyFile, 'utf8')) as { client_email: string; private_key: string; private_key_id?: string; project_id?: string };
    const jwt = new JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes: [SCOPE] });
    jwt.useJWTAccessWithScope = s.selfSignedJwt;
    options.authClient = jwt;
    options.projectId ??= key.project_id;
  } else if (s.authenticated) {
    const auth = new GoogleAuth({ scopes: [SCOPE], projectId: s.projectId });
    auth.useJWTAccessWithScope = s.selfSignedJwt;
    options.authClient = auth;
  }
  return new GoogleStorage(options);
}

export class GcsStorage implements Storage {
  readonly schemes = ['gcs', 'gs'] as const;
  private readonly client: GoogleStorage;

  constructor(
    private readonly settings: GcsSettings,
    private readonly logger: Logger,
  ) {
    // With a bad key file there is no client; every request reports the problem instead (see locate()).
    this.client = makeClient(settings.problem ? { ...settings, keyFile: undefined, adcFile: undefined, authenticated: false } : settings);
  }

  private context(op: string, url: string, loc: GcsLocation, notFound: ErrorContext['notFound']): ErrorContext {
    return { op, url, bucket: loc.bucket, endpoint: this.settings.endpoint, notFound };
  }

  private locate(url: string, needName: boolean): GcsLocation {
    assertUsable(this.settings);
    return parseGcsUrl(url, needName);
  }

  private file(loc: GcsLocation) {
    return this.client.bucket(loc.bucket).file(loc.name);
  }

  async create(url: string): Promise<Upload> {
    const loc = this.locate(url, true);
    if (await this.stat(url)) throw new CedanaError(ErrorCode.AlreadyExists, `${url} exists already`, { hint: 'choose another --name' });
    const context = this.context('uploading', url, loc, 'bucket');
    const file = this.file(loc);
    let uri: string;
    try {
      // Opening the session checks bucket and credentials before a single byte is produced.
      [uri] = await file.createResumableUpload({ preconditionOpts: { ifGenerationMatch: 0 }, metadata: { contentType: 'application/octet-stream' } });
    } catch (err) {
      throw gcsError(err, context);
    }
    this.logger.debug('gcs resumable upload started', { url, chunkSize: this.settings.chunkSize });
    return new ResumableUpload({
      uri,
      chunkSize: this.settings.chunkSize,
      context,
      logger: this.logger,
      discard: async () => void (await file.delete({ ignoreNotFound: true })),
    });
  }

  async open(url: string): Promise<Readable> {
    const loc = this.locate(url, true);
    if (!(await this.stat(url))) throw new CedanaError(ErrorCode.NotFound, `${url} does not exist`, { hint: 'see `cedana job checkpoints` for the checkpoints there are' });
    const context = this.context('downloading', url, loc, 'object');
    // The client checks the CRC32C the server sends against the bytes received.
    const source = this.file(loc).createReadStream({ validation: 'crc32c' });
    const out = new PassThrough();
    source.on('error', (err) => out.destroy(gcsError(err, context)));
    out.on('close', () => source.destroy());
    source.pipe(out);
    return out;
  }

  async stat(url: string): Promise<StoredObject | null> {
    const loc = this.locate(url, true);
    try {
      const [meta] = await this.file(loc).getMetadata();
      return { url, size: Number(meta.size ?? 0), modified: new Date(meta.updated ?? meta.timeCreated ?? 0) };
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return null;
      throw gcsError(err, this.context('reading', url, loc, 'object'));
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const loc = this.locate(prefix, false);
    try {
      const [files] = await this.client.bucket(loc.bucket).getFiles({ prefix: loc.name || undefined, autoPaginate: true });
      return files.map((f) => ({
        url: gcsUrl(loc.scheme, loc.bucket, f.name),
        size: Number(f.metadata.size ?? 0),
        modified: new Date(f.metadata.updated ?? f.metadata.timeCreated ?? 0),
      }));
    } catch (err) {
      throw gcsError(err, this.context('listing', prefix, loc, 'bucket'));
    }
  }

  async delete(url: string): Promise<void> {
    const loc = this.locate(url, true);
    try {
      await this.file(loc).delete({ ignoreNotFound: true });
    } catch (err) {
      // A bucket that is gone holds no object either.
      if ((err as { code?: unknown }).code === 404) return;
      throw gcsError(err, this.context('deleting', url, loc, 'object'));
    }
  }
}
