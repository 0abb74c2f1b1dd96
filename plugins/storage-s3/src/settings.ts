/**
 * Where the S3 plugin gets its endpoint, region and credentials: the host config's `aws` section (which the host
 * already fills from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION and AWS_ENDPOINT),
 * then the other standard AWS variables, then the AWS SDK's own chain (profiles, SSO, instance roles).
 */
import { z } from 'zod';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';

/** The part of the host config this plugin reads; unknown fields are ignored, as the host's schema may grow. */
const AwsSection = z
  .object({
    aws: z
      .object({
        access_key_id: z.string().default(''),
        secret_access_key: z.string().default(''),
        session_token: z.string().default(''),
        region: z.string().default(''),
        endpoint: z.string().default(''),
        part_size_mib: z.number().int().min(5).max(512).default(16),
      })
      .prefault({}),
  })
  .loose();

/** Resolved settings of the S3 client. */
export interface S3Settings {
  region: string;
  /** A custom endpoint (S3-compatible store), or undefined for AWS. */
  endpoint?: string;
  /** Static credentials, or undefined for the AWS SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Bytes per multipart part. */
  partSize: number;
  /** Why the settings cannot work, when they cannot (reported on use, not at start-up). */
  problem?: string;
  /** Values that must never appear in a message or a log. */
  secrets: string[];
}

/** The default region when none is configured anywhere. */
export const DEFAULT_REGION = 'us-east-1';

/** Reads the S3 settings from the host config and the environment. */
export function resolveSettings(config: unknown, env: NodeJS.ProcessEnv = process.env): S3Settings {
  const parsed = AwsSection.safeParse(config ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { region: DEFAULT_REGION, partSize: 16 << 20, secrets: [], problem: `bad config aws.${issue.path.slice(1).join('.')}: ${issue.message}` };
  }
  const aws = parsed.data.aws;
  const endpoint = aws.endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const settings: S3Settings = {
    region: aws.region || env.AWS_DEFAULT_REGION || DEFAULT_REGION,
    endpoint,
    partSize: aws.part_size_mib * 1024 * 1024,
    secrets: [aws.secret_access_key, aws.session_token, aws.access_key_id].filter((s) => s.length >= 4),
  };
  if (endpoint && !/^https?:\/\/[^/]+/i.test(endpoint)) {
    settings.problem = `aws.endpoint '${redactUrl(endpoint)}' is not an http:// or https:// URL`;
  }
  if (aws.access_key_id && aws.secret_access_key) {
    settings.credentials = {
      accessKeyId: aws.access_key_id,
      secretAccessKey: aws.secret_access_key,
      sessionToken: aws.session_token || undefined,
    };
  } else if (aws.access_key_id || aws.secret_access_key) {
    const missing = aws.access_key_id ? 'aws.secret_access_key (AWS_SECRET_ACCESS_KEY)' : 'aws.access_key_id (AWS_ACCESS_KEY_ID)';
    settings.problem = `the S3 key pair is incomplete: ${missing} is not set`;
  }
  return settings;
}

/** An endpoint URL without any user:password part, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@');
}

/** Throws the settings' problem, if any, as an INVALID_ARGUMENT error. */
export function assertUsable(s: S3Settings): void {
  if (s.problem) throw new CedanaError(ErrorCode.InvalidArgument, s.problem, { hint: 'fix the aws section of the config (see docs/storage.md)' });
}
