/**
 * Packuments: the npm registry's per-name metadata document (DESIGN.md §5), shared by the file
 * registry storage, the server and the client.
 *
 * Shape (npm-compatible): `{ name, description?, 'dist-tags', versions: { [v]: { ...package.json,
 * dist: { tarball, integrity, shasum }, deprecated? } }, time, maintainers? }`.
 *
 * Contracts:
 * - Storage keeps `dist.tarball` registry-relative (`@rump/tcpip/-/tcpip-10.0.0.tgz`). The server
 *   rewrites it to an absolute URL when serving (`absolutizePackument`); clients resolve relative
 *   locations against the registry they asked (`resolveTarballUrl`).
 * - A version is **yanked** when its `deprecated` string starts with `[yanked]` (`YANK_PREFIX`).
 *   Yank is therefore npm's deprecate protocol and works on any npm registry (e.g. Verdaccio).
 * - A version's metadata equals the `package.json` inside its tarball plus `dist` (and
 *   `deprecated`). `metadataDifferences` lists the security-relevant fields where a declared
 *   version document differs from the tarball's package.json (manifest confusion, IN-04).
 * - Nothing here does I/O.
 */

/** `dist` of one version: where the tarball is and what its bytes hash to. */
interface PackumentDist {
  /** Registry-relative in storage; absolute (`http://host:port/...`) when served. */
  tarball: string;
  /** SRI `sha512-<base64>` of the tarball bytes. */
  integrity: string;
  /** Hex sha1 of the tarball bytes (npm compatibility only; never trusted). */
  shasum: string;
  fileCount?: number;
  unpackedSize?: number;
}

/** One version: the tarball's package.json plus `dist` (and `deprecated` when deprecated/yanked). */
export interface PackumentVersion {
  name: string;
  version: string;
  description?: string;
  license?: string;
  keywords?: string[];
  dependencies?: Record<string, string>;
  /** The `rump` section (components/types.ts `RumpSection`), kept as the tarball had it. */
  rump?: Record<string, unknown>;
  dist: PackumentDist;
  deprecated?: string;
  [field: string]: unknown;
}

interface PackumentMaintainer {
  name: string;
  email?: string;
}

export interface Packument {
  name: string;
  description?: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, PackumentVersion>;
  /** `created`, `modified` and one ISO timestamp per version. */
  time: Record<string, string>;
  /** The owners: the first publisher of a name owns it. */
  maintainers?: PackumentMaintainer[];
}

/** The prefix of a `deprecated` message that marks a version as yanked. */
export const YANK_PREFIX = '[yanked]';

/** Is this version yanked (its `deprecated` message starts with `[yanked]`)? */
export function isYanked(v: { deprecated?: unknown } | undefined): boolean {
  return typeof v?.deprecated === 'string' && v.deprecated.startsWith(YANK_PREFIX);
}

/** The `deprecated` message that yanks a version. */
export function yankMessage(reason?: string): string {
  const r = reason?.trim();
  return r === undefined || r === '' ? `${YANK_PREFIX} withdrawn by its publisher` : `${YANK_PREFIX} ${r}`;
}

/** `@rump/tcpip` → `tcpip`; `tcpip` → `tcpip`. */
export function baseName(name: string): string {
  const i = name.indexOf('/');
  return i < 0 ? name : name.slice(i + 1);
}

/** The tarball file name npm uses: `tcpip-10.0.0.tgz` for `@rump/tcpip@10.0.0`. */
export function tarballFileName(name: string, version: string): string {
  return `${baseName(name)}-${version}.tgz`;
}

/** The registry-relative tarball location: `@rump/tcpip/-/tcpip-10.0.0.tgz`. */
export function tarballPath(name: string, version: string): string {
  return `${name}/-/${tarballFileName(name, version)}`;
}

/**
 * Resolves a (possibly relative) `dist.tarball` against the registry URL that served the
 * packument. Absolute URLs are returned unchanged (the caller checks their origin, RG-03).
 */
export function resolveTarballUrl(tarball: string, registryUrl: string): string {
  const base = registryUrl.endsWith('/') ? registryUrl : `${registryUrl}/`;
  return new URL(tarball, base).href;
}

/** A copy of `p` whose relative `dist.tarball` locations are absolute under `baseUrl`. */
export function absolutizePackument(p: Packument, baseUrl: string): Packument {
  const versions: Record<string, PackumentVersion> = {};
  for (const [v, doc] of Object.entries(p.versions)) {
    versions[v] = { ...doc, dist: { ...doc.dist, tarball: resolveTarballUrl(doc.dist.tarball, baseUrl) } };
  }
  return { ...p, versions };
}

/**
 * The fields of a version document that must equal the tarball's package.json (IN-04). A
 * missing map and an empty map are treated as equal; everything else is compared exactly
 * (canonical JSON: key order does not matter).
 */
const CHECKED_FIELDS = [
  'name',
  'version',
  'license',
  'dependencies',
  'optionalDependencies',
  'peerDependencies',
  'bundleDependencies',
  'bundledDependencies',
  'os',
  'cpu',
  'engines',
  'scripts',
  'bin',
  'rump',
] as const;

/** Canonical JSON: sorted object keys at every level, arrays kept in order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function isEmptyish(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/**
 * The checked fields (`CHECKED_FIELDS`) where `declared` (registry metadata, e.g. the version
 * document of a publish request) differs from `actual` (the tarball's package.json). Empty when
 * they agree.
 */
export function metadataDifferences(declared: Record<string, unknown>, actual: Record<string, unknown>): string[] {
  const diffs: string[] = [];
  for (const f of CHECKED_FIELDS) {
    const a = declared[f];
    const b = actual[f];
    if (isEmptyish(a) && isEmptyish(b)) continue;
    if (canonicalJson(a) !== canonicalJson(b)) diffs.push(f);
  }
  return diffs;
}

/** The fixed key order packuments are written in (STYLE.md §7). */
export function orderPackument(p: Packument, compareVersions: (a: string, b: string) => number): Packument {
  const versions: Record<string, PackumentVersion> = {};
  for (const v of Object.keys(p.versions).sort(compareVersions)) versions[v] = p.versions[v] as PackumentVersion;
  const tags: Record<string, string> = {};
  for (const t of Object.keys(p['dist-tags']).sort()) tags[t] = p['dist-tags'][t] as string;
  const time: Record<string, string> = {};
  for (const k of ['created', 'modified']) if (p.time[k] !== undefined) time[k] = p.time[k] as string;
  for (const v of Object.keys(p.time).filter((k) => k !== 'created' && k !== 'modified').sort(compareVersions)) {
    time[v] = p.time[v] as string;
  }
  return {
    name: p.name,
    ...(p.description === undefined ? {} : { description: p.description }),
    'dist-tags': tags,
    versions,
    time,
    ...(p.maintainers === undefined ? {} : { maintainers: p.maintainers }),
  };
}

/** One hit of a registry search (the storage's form; the server maps it to npm's JSON shape). */
export interface SearchHit {
  name: string;
  version: string;
  description: string;
  keywords: string[];
  lib?: string;
  aliases: string[];
  date?: string;
  maintainers: PackumentMaintainer[];
  /** 0..1, higher is better. */
  score: number;
}

/** The npm `/-/v1/search` response shape. */
interface NpmSearchResponse {
  objects: Array<{
    package: {
      name: string;
      version: string;
      description: string;
      keywords: string[];
      date: string;
      links: Record<string, string>;
      publisher?: { username: string };
      maintainers: Array<{ username: string }>;
    };
    score: { final: number; detail: { quality: number; popularity: number; maintenance: number } };
    searchScore: number;
  }>;
  total: number;
  time: string;
}

/** Maps storage search hits to npm's `/-/v1/search` JSON. */
export function renderNpmSearch(hits: SearchHit[], total: number, now: Date): NpmSearchResponse {
  return {
    objects: hits.map((h) => ({
      package: {
        name: h.name,
        version: h.version,
        description: h.description,
        keywords: h.keywords,
        date: h.date ?? now.toISOString(),
        links: {},
        ...(h.maintainers[0] === undefined ? {} : { publisher: { username: h.maintainers[0].name } }),
        maintainers: h.maintainers.map((m) => ({ username: m.name })),
      },
      score: { final: h.score, detail: { quality: h.score, popularity: 0, maintenance: 0 } },
      searchScore: h.score,
    })),
    total,
    time: now.toUTCString(),
  };
}
