/**
 * An npm-compatible registry (config `plugins.registry`): package documents (packuments), tarballs and search,
 * over HTTP(S) with Node's fetch.
 */
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import type { PackageVersion } from './source';

/** How long one registry request may take. */
const REQUEST_TIMEOUT_MS = 30_000;

interface Packument {
  name: string;
  'dist-tags'?: Record<string, string>;
  versions?: Record<string, { name?: string; version?: string; cedana?: Record<string, unknown>; dist?: { tarball?: string; integrity?: string; shasum?: string; unpackedSize?: number } }>;
  time?: Record<string, string>;
}

export class RegistryClient {
  private readonly base: string;
  private readonly packuments = new Map<string, Promise<Packument | null>>();

  constructor(url: string) {
    this.base = url.endsWith('/') ? url : `${url}/`;
  }

  get url(): string {
    return this.base;
  }

  private async get(url: string, accept: string): Promise<Response> {
    try {
      return await fetch(url, { headers: { accept }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      const why = (err as { cause?: { code?: string; message?: string } }).cause?.code ?? (err as Error).message;
      throw new CedanaError(ErrorCode.Unavailable, `cannot reach the plugin registry ${this.base}: ${why}`, {
        hint: 'check plugins.registry, or install from the store (plugins.store)',
      });
    }
  }

  /** The package's document, or null when the registry does not have it. */
  packument(name: string): Promise<Packument | null> {
    let p = this.packuments.get(name);
    if (!p) {
      p = (async () => {
        const res = await this.get(`${this.base}${name.replace('/', '%2f')}`, 'application/json');
        if (res.status === 404) return null;
        if (!res.ok) throw new CedanaError(ErrorCode.Unavailable, `the plugin registry ${this.base} answered ${res.status} for ${name}`);
        return (await res.json()) as Packument;
      })();
      this.packuments.set(name, p);
    }
    return p;
  }

  /** Every version of `name` the registry has, as install candidates. */
  async versions(name: string): Promise<PackageVersion[]> {
    const doc = await this.packument(name);
    if (!doc?.versions) return [];
    return Object.entries(doc.versions)
      .filter(([, v]) => typeof v.dist?.tarball === 'string')
      .map(([version, v]) => ({
        name,
        version,
        from: 'registry' as const,
        where: this.base,
        integrity: v.dist!.integrity ?? v.dist!.shasum,
        size: v.dist!.unpackedSize,
        published: doc.time?.[version],
        cedana: v.cedana,
        fetch: () => this.tarball(v.dist!.tarball!, `${name}@${version}`),
      }));
  }

  /** The version a dist-tag (`latest`) points at, if any. */
  async tag(name: string, tag: string): Promise<string | undefined> {
    return (await this.packument(name))?.['dist-tags']?.[tag];
  }

  async tarball(url: string, what: string): Promise<Buffer> {
    const res = await this.get(url, 'application/octet-stream');
    if (!res.ok) throw new CedanaError(ErrorCode.Unavailable, `the plugin registry answered ${res.status} for the tarball of ${what} (${url})`);
    return Buffer.from(await res.arrayBuffer());
  }

  /**
   * Names of the packages that carry `keyword`. The npm registry answers the `keywords:` qualifier; a private
   * registry (verdaccio) searches names only, but lists every package for an empty query: then the keyword is
   * checked here.
   */
  async search(keyword: string): Promise<string[]> {
    for (const text of [`keywords:${keyword}`, '']) {
      const res = await this.get(`${this.base}-/v1/search?text=${encodeURIComponent(text)}&size=250`, 'application/json');
      if (!res.ok) continue;
      const body = (await res.json()) as { objects?: { package?: { name?: string; keywords?: string[] } }[] };
      const names = (body.objects ?? [])
        .map((o) => o.package)
        .filter((p): p is { name: string; keywords?: string[] } => typeof p?.name === 'string' && (p.keywords ?? []).includes(keyword))
        .map((p) => p.name);
      if (names.length > 0) return names;
    }
    return [];
  }
}
