/**
 * The registry client: one facade over every registry kind (pacote-style — one small facade,
 * one backend per source kind), chosen per scope with no fallback (RG-06).
 *
 * - `file:` registries are the server engineer's storage, used in-process (no pacote, no HTTP).
 * - `http(s):` registries are read through **pacote** (full metadata, integrity-checked
 *   tarballs, its cacache under `<home>/cache`) and written with the npm `PUT` protocol
 *   (publish, and deprecate for yank) through `registryRequest` (registry/fetch.ts).
 *
 * Policies applied to every fetched tarball, whatever the backend:
 * - IN-01/02: the registry's `dist.integrity` must be sha512; the bytes must match it (and the
 *   caller's expected integrity, if given — a difference is E_INTEGRITY_LOCK, IN-03).
 * - RG-03: the tarball URL must be on the origin (scheme + host + port) of the registry that
 *   served the packument → else E_FOREIGN_TARBALL, before any byte is requested.
 * - IN-04: the version's registry metadata must equal the tarball's package.json
 *   → else E_MANIFEST_CONFUSION.
 * - RG-04/05, NW-01, NW-02: deadlines, caps, retries and offline handling from fetch.ts.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SCOPE, RumpkgError, integrityOf, parseIntegrity, readTarballEntries, verifyIntegrity } from '../components/index.js';
import { effectiveRegistries, readConfig, registryForName, type RumpkgConfig } from './config.js';
import { readToken } from './credentials.js';
import {
  DEFAULT_LIMITS,
  deadline,
  readCapped,
  redactUrl,
  registryRequest,
  toRegistryError,
  withRetries,
  type TransportLimits,
} from './fetch.js';
import { cleanStaleTemp, ensureHome, homePaths, resolveHome } from './home.js';
import { cacache } from './cache.js';
import {
  isYanked,
  metadataDifferences,
  resolveTarballUrl,
  tarballFileName,
  tarballPath,
  yankMessage,
  type Packument,
  type PackumentVersion,
} from './packument.js';
import { checkSeen } from './seen.js';
import { createFileStorage } from './storage.js';
import compare from 'semver/functions/compare.js';
import valid from 'semver/functions/valid.js';

// Only the parts of semver in use: its index loads every module of the package (~15 ms at start-up).
const semver = { compare, valid };

/** What the client reports (the CLI's Reporter fits). Library code never prints. */
export interface ClientReporter {
  info?(message: string): void;
  warn?(message: string): void;
}

export interface RegistryClientOptions {
  /** The rumpkg home root (cache under `<home>/cache`). */
  home: string;
  /** Scope → normalised registry URL (config.ts `effectiveRegistries`). */
  registries: Record<string, string>;
  /** NW-02: use only the cache; a miss is E_OFFLINE naming what is missing. */
  offline?: boolean;
  /** Revalidate cached packuments with the registry even when fresh. */
  preferOnline?: boolean;
  limits?: Partial<TransportLimits>;
  /** Injected fetch for publish/yank/search requests (tests). */
  fetch?: typeof fetch;
  reporter?: ClientReporter;
}

/** One version as the client hands it to callers (provider, info). */
export interface VersionInfo {
  name: string;
  version: string;
  /** The registry metadata of this version (package.json + dist). */
  manifest: PackumentVersion;
  integrity: string;
  /** Registry-relative tarball location, e.g. `@rump/tcpip/-/tcpip-10.0.0.tgz`. */
  tarball: string;
  /** The scope key whose registry serves it. */
  registry: string;
  yanked: boolean;
  deprecated?: string;
  time?: string;
}

export interface ClientPublishResult {
  name: string;
  version: string;
  integrity: string;
  tag: string;
  /** The registry URL (redacted) it went to. */
  registry: string;
}

export interface ClientSearchHit {
  name: string;
  version: string;
  description: string;
  keywords: string[];
  aliases: string[];
  lib?: string;
  score: number;
  /** The scope key whose registry answered. */
  registry: string;
}

export interface RegistryClient {
  readonly offline: boolean;
  /** The registry that serves `name` (E_SCOPE when none). */
  registryFor(name: string): { scope: string; url: string };
  /** The full packument (E_NOT_FOUND for an unknown name). Memoised per client. */
  packument(name: string): Promise<Packument>;
  /** All versions, oldest first; an unknown name gives []. */
  versions(name: string): Promise<VersionInfo[]>;
  /** Fetches and checks one tarball (see the module head for the policies). */
  tarball(name: string, version: string, options?: { integrity?: string; tarball?: string }): Promise<Buffer>;
  publish(tgz: Uint8Array, options?: { registry?: string; tag?: string; token?: string }): Promise<ClientPublishResult>;
  yank(name: string, version: string, options?: { undo?: boolean; reason?: string; token?: string }): Promise<void>;
  search(words: string[], options?: { size?: number; scope?: string }): Promise<ClientSearchHit[]>;
  /**
   * A word from the command line → a component name: scoped names stay; bare names map to the
   * default scope (`tcpip` → `@rump/tcpip`), and when no such component exists, to the
   * component that has the word as an alias or library name (`netinet` → `@rump/tcpip`), with
   * a note saying so.
   */
  resolveName(word: string, options?: { defaultScope?: string }): Promise<{ name: string; note?: string }>;
}

interface PacoteApi {
  packument(spec: string, opts: Record<string, unknown>): Promise<Packument>;
}
let pacoteModule: PacoteApi | undefined;
function pacote(): PacoteApi {
  if (pacoteModule === undefined) pacoteModule = createRequire(import.meta.url)('pacote') as PacoteApi;
  return pacoteModule;
}

/**
 * An HTTP(S) agent for one request whose sockets count the bytes they receive and are destroyed
 * past `cap` (headers included), calling `onExceed` first. Loaded lazily (start-up time).
 */
function cappedAgent(url: string, cap: number, onExceed: () => void): unknown {
  const mod = createRequire(import.meta.url)(url.startsWith('https:') ? 'node:https' : 'node:http') as typeof import('node:http');
  const agent = new mod.Agent({ keepAlive: false });
  const create = agent.createConnection.bind(agent) as (...args: unknown[]) => import('node:net').Socket;
  (agent as unknown as { createConnection: (...args: unknown[]) => import('node:net').Socket }).createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > cap) {
        onExceed();
        socket.destroy(new Error(`response exceeds ${cap} bytes`));
      }
    });
    return socket;
  };
  return agent;
}

/** `@rump/tcpip` → `@rump%2ftcpip` (the form npm puts in registry URLs). */
export function escapedName(name: string): string {
  return name.startsWith('@') ? name.replace('/', '%2f') : encodeURIComponent(name);
}

/** The tarball URL relative to the registry when it is under it; otherwise the URL itself. */
function relativeTarball(tarball: string, registryUrl: string, name: string, version: string): string {
  if (!/^[a-z]+:/i.test(tarball)) return tarball;
  if (registryUrl.startsWith('file:')) return tarballPath(name, version);
  const base = registryUrl.endsWith('/') ? registryUrl : `${registryUrl}/`;
  if (tarball.startsWith(base)) return decodeURIComponent(tarball.slice(base.length));
  return tarball;
}

/** Reads the tarball's package.json (validation pass over all headers, no writes). */
async function tarballPackageJson(tgz: Uint8Array, integrity: string | undefined, what: string): Promise<Record<string, unknown>> {
  const r = await readTarballEntries(Buffer.from(tgz), { what, ...(integrity === undefined ? {} : { integrity }) });
  const pj = r.packageJson;
  if (pj === null || typeof pj !== 'object' || Array.isArray(pj)) {
    throw new RumpkgError('E_TAR_CONTENT', `${what}: package/package.json is not a JSON object`, { context: { component: what } });
  }
  return pj as Record<string, unknown>;
}

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const limits: TransportLimits = { ...DEFAULT_LIMITS, ...(options.limits ?? {}) };
  const offline = options.offline === true;
  const paths = homePaths(options.home);
  const reporter = options.reporter ?? {};
  const packuments = new Map<string, Promise<Packument>>();
  const storages = new Map<string, ReturnType<typeof createFileStorage>>();

  const registryFor = (name: string): { scope: string; url: string } => registryForName(name, options.registries);

  const storageOf = (url: string): ReturnType<typeof createFileStorage> => {
    let s = storages.get(url);
    if (s === undefined) {
      s = createFileStorage(fileURLToPath(url));
      storages.set(url, s);
    }
    return s;
  };

  const onRetry = (what: string) => (i: { attempt: number; delayMs: number; reason: string }): void =>
    reporter.info?.(`retrying ${what} (attempt ${i.attempt + 1}, ${i.reason}, in ${i.delayMs} ms)`);

  const pacoteOpts = (registry: string, signal: AbortSignal, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    registry,
    cache: paths.cache,
    fullMetadata: true,
    offline,
    preferOnline: options.preferOnline === true && !offline,
    fetchRetries: 0,
    timeout: limits.idleTimeoutMs,
    signal,
    // Packuments are not memoised inside pacote across calls; the client memoises them itself.
    packumentCache: undefined,
    ...extra,
  });

  /** Runs one pacote operation under a deadline and our retry loop, mapping its errors. */
  const viaPacote = async <T>(what: string, url: string, op: (signal: AbortSignal, abort: () => void) => Promise<T>): Promise<T> => {
    try {
      return await withRetries(
        async () => {
          const d = deadline(limits.timeoutMs);
          try {
            return await op(d.signal, () => d.controller.abort(new Error('size cap exceeded')));
          } catch (e) {
            if (d.expired()) throw Object.assign(new Error('deadline exceeded'), { name: 'AbortError' });
            throw e;
          } finally {
            d.done();
          }
        },
        { limits, onRetry: onRetry(what) },
      );
    } catch (e) {
      throw toRegistryError(e, { what, url, offline, timeoutMs: limits.timeoutMs });
    }
  };

  const fetchPackument = async (name: string): Promise<Packument> => {
    const { url } = registryFor(name);
    let p: Packument;
    if (url.startsWith('file:')) {
      p = await storageOf(url).readPackument(name);
    } else {
      const docUrl = new URL(escapedName(name), url).href;
      // RG-04: npm-registry-fetch has no body cap, so the packument goes through a one-shot
      // agent whose socket counts what it receives and is cut at maxJsonBytes.
      let over = false;
      try {
        p = await viaPacote(name, docUrl, (signal) =>
          pacote().packument(name, pacoteOpts(url, signal, { agent: cappedAgent(docUrl, limits.maxJsonBytes, () => (over = true)) })),
        );
      } catch (e) {
        if (!over) throw e;
        throw new RumpkgError('E_TOO_LARGE', `the metadata of ${name} from ${redactUrl(docUrl)} exceeds ${limits.maxJsonBytes} bytes`, {
          context: { component: name, url: redactUrl(docUrl), limit: limits.maxJsonBytes },
          hint: 'the registry sent more metadata than rumpkg accepts for one component; nothing was cached',
          cause: e,
        });
      }
      checkPackumentShape(p, name, docUrl);
    }
    // RG-01: never accept metadata older than what this home has already seen.
    await checkSeen(options.home, url, p, {
      name,
      onWriteError: (e) => reporter.warn?.(`could not record the metadata of ${name}: ${(e as { code?: unknown }).code ?? 'error'}`),
    });
    return p;
  };

  const packument = (name: string): Promise<Packument> => {
    let p = packuments.get(name);
    if (p === undefined) {
      p = fetchPackument(name);
      packuments.set(name, p);
      p.catch(() => packuments.delete(name));
    }
    return p;
  };

  const versions = async (name: string): Promise<VersionInfo[]> => {
    let p: Packument;
    try {
      p = await packument(name);
    } catch (e) {
      if (e instanceof RumpkgError && e.code === 'E_NOT_FOUND') return [];
      throw e;
    }
    const { scope, url } = registryFor(name);
    return Object.entries(p.versions)
      .filter(([v]) => semver.valid(v) !== null)
      .sort(([a], [b]) => semver.compare(a, b))
      .map(([v, doc]) => ({
        name,
        version: v,
        manifest: doc,
        integrity: doc.dist?.integrity ?? '',
        tarball: relativeTarball(doc.dist?.tarball ?? tarballPath(name, v), url, name, v),
        registry: scope,
        yanked: isYanked(doc),
        ...(typeof doc.deprecated === 'string' && doc.deprecated !== '' ? { deprecated: doc.deprecated } : {}),
        ...(typeof p.time?.[v] === 'string' ? { time: p.time[v] } : {}),
      }));
  };

  /**
   * A tarball over HTTP: first pacote's cacache (by digest, verified by cacache on read), then
   * one transfer under our deadline, size cap and retry policy; the bytes enter the cache only
   * after they matched the integrity (IN-01), so a failed transfer leaves the cache untouched.
   */
  const fetchTarball = async (id: string, tarUrl: string, registryUrl: string, integrity: string): Promise<Buffer> => {
    let damaged: string | undefined;
    try {
      // By digest in pacote's cacache (cacache verifies the content while reading it).
      const hit = await cacache().get.byDigest(paths.cache, integrity);
      if (integrityOf(hit) === integrity) return hit;
      damaged = 'EINTEGRITY';
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code !== 'ENOTCACHED' && code !== 'ENOENT') {
        damaged = String(code);
        // Drop the damaged content so that the refetch can store a good copy.
        await cacache().rm.content(paths.cache, integrity).catch(() => undefined);
      }
    }
    if (damaged !== undefined) {
      // IN-08: a damaged cache entry is never used; cacache drops it, and we fetch once more.
      reporter.warn?.(`the cached tarball of ${id} is damaged (${damaged}); fetching it again`);
      if (offline) {
        throw new RumpkgError('E_CACHE', `offline: the cached tarball of ${id} is damaged (${damaged}) and cannot be refetched`, {
          context: { component: id, url: redactUrl(tarUrl) },
          hint: 'run `rumpkg cache verify`, then fetch again without --offline',
        });
      }
    }
    if (offline) {
      throw new RumpkgError('E_OFFLINE', `offline: ${id} is not in the cache (${redactUrl(tarUrl)})`, {
        context: { component: id, url: redactUrl(tarUrl) },
        hint: 'run once without --offline to fill the cache',
      });
    }
    const doFetch = options.fetch ?? fetch;
    let bytes: Buffer;
    try {
      bytes = await withRetries(
        async () => {
          const d = deadline(limits.timeoutMs);
          try {
            const res = await doFetch(tarUrl, { redirect: 'manual', signal: d.signal, headers: { accept: '*/*', 'user-agent': 'rumpkg' } });
            if (res.status >= 300 && res.status < 400) {
              await res.body?.cancel().catch(() => undefined);
              throw new RumpkgError('E_FOREIGN_TARBALL', `${id}: the registry redirected the tarball download (HTTP ${res.status}) to ${redactUrl(res.headers.get('location') ?? '?')}`, {
                context: { component: id, url: redactUrl(tarUrl) },
                hint: 'rumpkg downloads tarballs only from the registry origin itself; configure the final registry URL',
              });
            }
            if (res.status >= 400) {
              await res.body?.cancel().catch(() => undefined);
              throw Object.assign(new Error(`HTTP ${res.status}`), { statusCode: res.status, headers: res.headers });
            }
            const declaredLength = Number(res.headers.get('content-length') ?? '0');
            if (declaredLength > limits.maxTarballBytes) {
              d.controller.abort();
              throw new RumpkgError('E_TOO_LARGE', `${id} from ${redactUrl(tarUrl)} declares ${declaredLength} bytes (limit ${limits.maxTarballBytes})`, {
                context: { component: id, url: redactUrl(tarUrl), limit: limits.maxTarballBytes },
              });
            }
            if (res.body === null) return Buffer.alloc(0);
            return await readCapped(res.body as unknown as AsyncIterable<Uint8Array>, {
              max: limits.maxTarballBytes,
              what: id,
              url: tarUrl,
              onTooLarge: () => d.controller.abort(),
            });
          } catch (e) {
            if (d.expired()) throw Object.assign(new Error('deadline exceeded'), { name: 'AbortError' });
            throw e;
          } finally {
            d.done();
          }
        },
        { limits, onRetry: onRetry(id) },
      );
    } catch (e) {
      throw toRegistryError(e, { what: id, url: tarUrl, timeoutMs: limits.timeoutMs });
    }
    verifyIntegrity(bytes, integrity, { what: `${id} from ${redactUrl(tarUrl)}` });
    try {
      await cacache().put(paths.cache, `rumpkg:tarball:${tarUrl}`, bytes, { integrity, algorithms: ['sha512'] });
    } catch (e) {
      reporter.warn?.(`could not cache ${id}: ${(e as { code?: unknown }).code ?? 'error'}`);
    }
    return bytes;
  };

  const tarball = async (name: string, version: string, opts: { integrity?: string; tarball?: string } = {}): Promise<Buffer> => {
    const id = `${name}@${version}`;
    const { url: registryUrl } = registryFor(name);
    const p = await packument(name);
    const doc = p.versions[version];
    if (doc === undefined) {
      if (opts.integrity !== undefined) {
        // RG-01: the lockfile pins a version the registry no longer lists.
        throw new RumpkgError('E_REGISTRY_ROLLBACK', `${id} is locked, but ${redactUrl(registryUrl)} no longer lists it (known: ${Object.keys(p.versions).slice(-8).join(', ') || 'none'})`, {
          context: { component: id, url: redactUrl(registryUrl) },
          hint: 'a published version never disappears from an honest registry: the registry may be serving rolled-back metadata; the lockfile is left as it is',
        });
      }
      throw new RumpkgError('E_NOT_FOUND', `${id} is not published (known: ${Object.keys(p.versions).slice(-8).join(', ') || 'none'})`, {
        context: { component: id, url: redactUrl(registryUrl) },
      });
    }
    // RG-08: a lockfile's tarball location must be the one the registry lists for this version.
    if (opts.tarball !== undefined) {
      const listed = relativeTarball(doc.dist?.tarball ?? tarballPath(name, version), registryUrl, name, version);
      if (opts.tarball !== listed) {
        throw new RumpkgError('E_LOCKFILE', `${id}: the lockfile says the tarball is ${JSON.stringify(opts.tarball)} but ${redactUrl(registryUrl)} lists ${JSON.stringify(listed)}`, {
          context: { component: id, tarball: opts.tarball, listed },
          hint: 'the lockfile was edited by hand or by someone else; restore it from version control',
        });
      }
    }
    // IN-02: the registry's integrity must be present and sha512.
    const declared = parseIntegrity(doc.dist?.integrity, { what: id });
    if (declared.algorithm !== 'sha512') {
      throw new RumpkgError('E_INTEGRITY_WEAK', `${id}: the registry gives only ${declared.algorithm} integrity; rumpkg requires sha512`, {
        context: { component: id },
        hint: 'republish the component with rumpkg',
      });
    }
    // IN-03: what the caller expects (the lockfile) must be what the registry says.
    if (opts.integrity !== undefined) {
      const expected = parseIntegrity(opts.integrity, { what: id });
      if (expected.sri !== declared.sri) {
        throw new RumpkgError('E_INTEGRITY_LOCK', `${id}: the lockfile says ${expected.sri} but the registry says ${declared.sri}`, {
          context: { component: id, expected: expected.sri, registry: declared.sri },
          hint: 'a published version must never change; the lockfile is not rewritten — investigate the registry',
        });
      }
    }
    let bytes: Buffer;
    if (registryUrl.startsWith('file:')) {
      const read = await storageOf(registryUrl).readTarball(name, version);
      if (read === undefined || read === null) {
        throw new RumpkgError('E_NOT_FOUND', `${id}: its tarball is missing from the file registry ${fileURLToPath(registryUrl)}`, {
          context: { component: id },
        });
      }
      bytes = Buffer.from(read as Uint8Array);
    } else {
      const tarUrl = resolveTarballUrl(doc.dist.tarball, registryUrl);
      const reg = new URL(registryUrl);
      const tu = new URL(tarUrl);
      if (tu.origin !== reg.origin || tu.protocol !== reg.protocol) {
        throw new RumpkgError('E_FOREIGN_TARBALL', `${id}: tarball URL ${redactUrl(tarUrl)} is not on the registry's origin ${reg.origin}`, {
          context: { component: id, url: redactUrl(tarUrl), registry: reg.origin },
          hint: 'rumpkg only downloads a tarball from the registry that served its metadata (dependency confusion guard)',
        });
      }
      bytes = await fetchTarball(id, tarUrl, registryUrl, declared.sri);
    }
    verifyIntegrity(bytes, declared.sri, { what: id });
    // IN-04: metadata ≠ the tarball's own package.json → manifest confusion.
    const inside = await tarballPackageJson(bytes, declared.sri, id);
    const diffs = metadataDifferences(doc as unknown as Record<string, unknown>, inside);
    if (diffs.length > 0) {
      throw new RumpkgError('E_MANIFEST_CONFUSION', `${id}: registry metadata differs from the tarball's package.json in ${diffs.join(', ')}`, {
        context: { component: id, fields: diffs },
        hint: 'the registry serves metadata that does not describe the tarball; do not use this version',
      });
    }
    return bytes;
  };

  const publish = async (tgz: Uint8Array, opts: { registry?: string; tag?: string; token?: string } = {}): Promise<ClientPublishResult> => {
    const bytes = Buffer.from(tgz);
    const integrity = integrityOf(bytes);
    const pj = await tarballPackageJson(bytes, integrity, 'the tarball to publish');
    const name = String(pj.name);
    const version = String(pj.version);
    const id = `${name}@${version}`;
    const tag = opts.tag ?? 'latest';
    const registryUrl = opts.registry ?? registryFor(name).url;
    if (registryUrl.startsWith('file:')) {
      const owner = userInfo().username || 'local';
      const r = await storageOf(registryUrl).publish(bytes, { tag, owner });
      return { name: r.name, version: r.version, integrity: r.integrity, tag, registry: registryUrl };
    }
    const token = opts.token ?? (await readToken(options.home, registryUrl));
    if (token === undefined) {
      throw new RumpkgError('E_REGISTRY_AUTH', `no token for ${redactUrl(registryUrl)} to publish ${id}`, {
        context: { component: id, url: redactUrl(registryUrl) },
        hint: `run \`rumpkg login --registry ${redactUrl(registryUrl)}\` and pipe the token on stdin`,
      });
    }
    // npm itself keys the attachment `@scope/name-1.0.0.tgz`; rumpkg's server requires the
    // basename form (`name-1.0.0.tgz`, matching dist.tarball), which Verdaccio accepts too.
    const file = tarballFileName(name, version);
    const tarballUrl = new URL(`${name}/-/${tarballFileName(name, version)}`, registryUrl).href;
    const versionDoc = {
      ...pj,
      _id: id,
      dist: { integrity, shasum: createHash('sha1').update(bytes).digest('hex'), tarball: tarballUrl },
    };
    const body = {
      _id: name,
      name,
      ...(typeof pj.description === 'string' ? { description: pj.description } : {}),
      'dist-tags': { [tag]: version },
      versions: { [version]: versionDoc },
      access: null,
      _attachments: { [file]: { content_type: 'application/octet-stream', data: bytes.toString('base64'), length: bytes.length } },
    };
    await registryRequest({
      method: 'PUT',
      url: new URL(escapedName(name), registryUrl).href,
      registry: registryUrl,
      token,
      json: body,
      what: id,
      limits,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      onRetry: onRetry(`publish ${id}`),
    });
    packuments.delete(name);
    return { name, version, integrity, tag, registry: redactUrl(registryUrl) };
  };

  const yank = async (name: string, version: string, opts: { undo?: boolean; reason?: string; token?: string } = {}): Promise<void> => {
    const id = `${name}@${version}`;
    const { url: registryUrl } = registryFor(name);
    packuments.delete(name);
    if (registryUrl.startsWith('file:')) {
      await storageOf(registryUrl).yank(name, version, { undo: opts.undo === true });
      return;
    }
    const token = opts.token ?? (await readToken(options.home, registryUrl));
    if (token === undefined) {
      throw new RumpkgError('E_REGISTRY_AUTH', `no token for ${redactUrl(registryUrl)} to yank ${id}`, {
        context: { component: id, url: redactUrl(registryUrl) },
        hint: `run \`rumpkg login --registry ${redactUrl(registryUrl)}\``,
      });
    }
    const common = { registry: registryUrl, token, what: id, limits, ...(options.fetch === undefined ? {} : { fetch: options.fetch }) };
    // The deprecate protocol (as `npm deprecate`): read the packument for writing, change
    // only `deprecated` of that version, PUT it back.
    const docUrl = new URL(escapedName(name), registryUrl);
    const readUrl = new URL(docUrl.href);
    readUrl.searchParams.set('write', 'true');
    const got = await registryRequest({ ...common, method: 'GET', url: readUrl.href });
    const doc = got.body as Packument | undefined;
    const v = doc?.versions?.[version];
    if (doc === undefined || v === undefined) {
      throw new RumpkgError('E_NOT_FOUND', `${id} is not published at ${redactUrl(registryUrl)}`, { context: { component: id } });
    }
    v.deprecated = opts.undo === true ? '' : yankMessage(opts.reason);
    await registryRequest({ ...common, method: 'PUT', url: docUrl.href, json: doc, onRetry: onRetry(`yank ${id}`) });
  };

  const search = async (words: string[], opts: { size?: number; scope?: string } = {}): Promise<ClientSearchHit[]> => {
    const size = opts.size ?? 20;
    const scopes = opts.scope !== undefined ? [opts.scope] : Object.keys(options.registries).sort();
    const all = await Promise.all(
      scopes.map(async (scope): Promise<ClientSearchHit[]> => {
        const url = options.registries[scope];
        if (url === undefined) return [];
        if (url.startsWith('file:')) {
          const { hits } = await storageOf(url).search(words, { size: Math.min(size, 250) });
          return hits.map((h) => ({
            name: h.name,
            version: h.version,
            description: h.description,
            keywords: h.keywords,
            aliases: h.aliases,
            ...(h.lib === undefined ? {} : { lib: h.lib }),
            score: h.score,
            registry: scope,
          }));
        }
        if (offline) {
          throw new RumpkgError('E_OFFLINE', `offline: searching ${redactUrl(url)} needs the network`, {
            context: { url: redactUrl(url) },
            hint: 'search without --offline',
          });
        }
        const q = new URL('-/v1/search', url);
        q.searchParams.set('text', words.join(' '));
        q.searchParams.set('size', String(size));
        const r = await registryRequest({ method: 'GET', url: q.href, registry: url, what: `search "${words.join(' ')}"`, limits, ...(options.fetch === undefined ? {} : { fetch: options.fetch }) });
        const objects = (r.body as { objects?: unknown } | undefined)?.objects;
        if (!Array.isArray(objects)) return [];
        return objects.flatMap((o: unknown): ClientSearchHit[] => {
          const pkg = (o as { package?: Record<string, unknown> }).package;
          if (pkg === undefined || typeof pkg.name !== 'string') return [];
          const keywords = Array.isArray(pkg.keywords) ? pkg.keywords.filter((k): k is string => typeof k === 'string') : [];
          return [{
            name: pkg.name,
            version: typeof pkg.version === 'string' ? pkg.version : '',
            description: typeof pkg.description === 'string' ? pkg.description : '',
            keywords,
            aliases: keywords.filter((k) => k.startsWith('rump-alias:')).map((k) => k.slice('rump-alias:'.length)),
            score: typeof (o as { searchScore?: unknown }).searchScore === 'number' ? ((o as { searchScore: number }).searchScore) : 0,
            registry: scope,
          }];
        });
      }),
    );
    return all.flat().sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, size);
  };

  const resolveName = async (word: string, opts: { defaultScope?: string } = {}): Promise<{ name: string; note?: string }> => {
    if (word.startsWith('@')) return { name: word };
    const scope = opts.defaultScope ?? DEFAULT_SCOPE;
    const qualified = `${scope}/${word}`;
    try {
      await packument(qualified);
      return { name: qualified };
    } catch (e) {
      if (!(e instanceof RumpkgError) || e.code !== 'E_NOT_FOUND') throw e;
    }
    const hits = await search([word], { size: 20, scope }).catch(() => [] as ClientSearchHit[]);
    const want = word.toLowerCase();
    for (const h of hits.slice(0, 10)) {
      let aliases = h.aliases;
      let lib = h.lib;
      if (aliases.length === 0 && lib === undefined) {
        const p = await packument(h.name).catch(() => undefined);
        const latest = p === undefined ? undefined : p.versions[p['dist-tags'].latest ?? ''];
        const rump = (latest?.rump ?? {}) as { aliases?: unknown; lib?: unknown };
        aliases = Array.isArray(rump.aliases) ? rump.aliases.filter((a): a is string => typeof a === 'string') : [];
        lib = typeof rump.lib === 'string' ? rump.lib : undefined;
      }
      const names = [...aliases, ...(lib === undefined ? [] : [lib, lib.replace(/^lib/, '')])].map((a) => a.toLowerCase());
      if (names.includes(want)) return { name: h.name, note: `${word} is an alias of ${h.name}` };
    }
    return { name: qualified };
  };

  return { offline, registryFor, packument, versions, tarball, publish, yank, search, resolveName };
}

export interface OpenClientOptions {
  /** The working directory; its `rumpkg.json` `registries` override the home config. */
  cwd: string;
  offline?: boolean;
  preferOnline?: boolean;
  reporter?: ClientReporter;
  env?: NodeJS.ProcessEnv;
  limits?: Partial<TransportLimits>;
}

/** The client for a CLI run: home from `$RUMPKG_HOME`, config, and the project's registries. */
export async function openRegistryClient(options: OpenClientOptions): Promise<{
  client: RegistryClient;
  home: string;
  config: RumpkgConfig;
  registries: Record<string, string>;
}> {
  const home = resolveHome(options.env ?? process.env);
  await ensureHome(home);
  await cleanStaleTemp(home);
  const config = await readConfig(home);
  let project: Record<string, string> | undefined;
  const file = join(options.cwd, 'rumpkg.json');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    try {
      const o = JSON.parse(text) as { registries?: unknown };
      if (o.registries !== null && typeof o.registries === 'object' && !Array.isArray(o.registries)) {
        project = Object.fromEntries(Object.entries(o.registries as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
      }
    } catch (e) {
      throw new RumpkgError('E_JSON_PARSE', `${file} is not valid JSON`, { context: { path: file }, cause: e });
    }
  }
  const registries = effectiveRegistries(config, { ...(project === undefined ? {} : { project }), projectDir: options.cwd });
  const client = createRegistryClient({
    home,
    registries,
    ...(options.offline === undefined ? {} : { offline: options.offline }),
    ...(options.preferOnline === undefined ? {} : { preferOnline: options.preferOnline }),
    ...(options.reporter === undefined ? {} : { reporter: options.reporter }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  return { client, home, config, registries };
}

/** A packument from the network must at least have the right name and a versions object. */
function checkPackumentShape(p: unknown, name: string, url: string): asserts p is Packument {
  const o = p as Partial<Packument> | null;
  if (o === null || typeof o !== 'object' || typeof o.versions !== 'object' || o.versions === null) {
    throw new RumpkgError('E_REGISTRY', `the registry answered with no versions for ${name} (${redactUrl(url)})`, {
      context: { component: name, url: redactUrl(url) },
    });
  }
  if (o.name !== undefined && o.name !== name) {
    throw new RumpkgError('E_REGISTRY', `the registry answered for ${String(o.name)} when asked for ${name} (${redactUrl(url)})`, {
      context: { component: name, url: redactUrl(url) },
    });
  }
}
