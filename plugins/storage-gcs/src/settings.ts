/**
 * Where the GCS plugin gets its endpoint and credentials: the host config's `gcs` section, then Google's usual
 * sources — GOOGLE_APPLICATION_CREDENTIALS and the rest of Application Default Credentials, STORAGE_EMULATOR_HOST.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

const GcsSection = z
  .object({
    gcs: z
      .object({
        credentials_file: z.string().default(''),
        project_id: z.string().default(''),
        endpoint: z.string().default(''),
        chunk_size_mib: z.number().int().min(1).max(512).default(16),
      })
      .prefault({}),
  })
  .loose();

/** Resolved settings of the GCS client. */
export interface GcsSettings {
  /** A service-account key file from the config (gcs.credentials_file). */
  keyFile?: string;
  /** GOOGLE_APPLICATION_CREDENTIALS, which Google's Application Default Credentials read themselves. */
  adcFile?: string;
  projectId?: string;
  /** A custom endpoint (config, else STORAGE_EMULATOR_HOST), or undefined for Google's. */
  endpoint?: string;
  /** Whether requests carry credentials: always at Google; at a custom endpoint only when a key file is given. */
  authenticated: boolean;
  /**
   * Sign requests with the service account's own key (self-signed JWT) instead of exchanging it for a token at
   * Google's OAuth endpoint: for endpoints outside googleapis.com, which must not depend on reaching Google.
   */
  selfSignedJwt: boolean;
  /** Bytes per resumable-upload chunk (a multiple of 256 KiB). */
  chunkSize: number;
  /** Why the settings cannot work, when they cannot (reported on use, not at start-up). */
  problem?: string;
}

/**
 * Checks that `path` holds a credentials file — a service-account key when `serviceAccountOnly` — without ever
 * quoting its content.
 */
function keyFileProblem(path: string, from: string, serviceAccountOnly: boolean): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return `${from} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  let key: { type?: unknown; client_email?: unknown; private_key?: unknown };
  try {
    key = JSON.parse(text) as typeof key;
  } catch {
    return `${from} ${path} is not JSON`;
  }
  if (key.type === 'service_account' && (typeof key.client_email !== 'string' || typeof key.private_key !== 'string')) {
    return `${from} ${path} is a service-account key without client_email or private_key`;
  }
  if (serviceAccountOnly && key.type !== 'service_account') {
    return `${from} ${path} is not a service-account key (type ${JSON.stringify(String(key.type))}); for other credentials use GOOGLE_APPLICATION_CREDENTIALS`;
  }
  return undefined;
}

function isGoogleHost(endpoint: string): boolean {
  try {
    const host = new URL(/^[a-z]+:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`).hostname;
    return host === 'googleapis.com' || host.endsWith('.googleapis.com');
  } catch {
    return false;
  }
}

/** Reads the GCS settings from the host config and the environment. */
export function resolveSettings(config: unknown, env: NodeJS.ProcessEnv = process.env): GcsSettings {
  const parsed = GcsSection.safeParse(config ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { authenticated: true, selfSignedJwt: false, chunkSize: 16 << 20, problem: `bad config gcs.${issue.path.slice(1).join('.')}: ${issue.message}` };
  }
  const gcs = parsed.data.gcs;
  const keyFile = gcs.credentials_file || undefined;
  const adcFile = keyFile ? undefined : env.GOOGLE_APPLICATION_CREDENTIALS || undefined;
  const endpoint = gcs.endpoint || env.STORAGE_EMULATOR_HOST || undefined;
  const custom = endpoint !== undefined && !isGoogleHost(endpoint);
  const hasKey = keyFile !== undefined || adcFile !== undefined;
  const settings: GcsSettings = {
    keyFile,
    adcFile,
    projectId: gcs.project_id || env.GOOGLE_CLOUD_PROJECT || undefined,
    endpoint,
    authenticated: !custom || hasKey,
    selfSignedJwt: custom && hasKey,
    chunkSize: gcs.chunk_size_mib * 1024 * 1024,
  };
  if (keyFile) settings.problem = keyFileProblem(keyFile, 'gcs.credentials_file', true);
  else if (adcFile) settings.problem = keyFileProblem(adcFile, 'GOOGLE_APPLICATION_CREDENTIALS', false);
  return settings;
}

/** Throws the settings' problem, if any, as an INVALID_ARGUMENT error. */
export function assertUsable(s: GcsSettings): void {
  if (s.problem) throw new CedanaError(ErrorCode.InvalidArgument, s.problem, { hint: 'fix the gcs section of the config (see docs/storage.md)' });
}
