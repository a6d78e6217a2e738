/**
 * The `http(s):` backend: any npm-protocol registry (rumpkg's own server, Verdaccio, a hosted
 * npm registry), read with transport/'s httpFetch (node:http, keep-alive) under our deadline,
 * size caps (RG-04/05) and retry policy (NW-01); written with the npm `PUT` protocol through
 * transport/ `registryRequest`.
 *
 * Packuments (full metadata, `accept: application/json`) are cached in the download cache
 * (`<home>/cache`, cacache, key `rumpkg:packument:<url>`) with the response's validators, and
 * revalidated by a conditional GET (If-None-Match / If-Modified-Since; 304 → the cached copy).
 * A copy younger than the response's `Cache-Control: max-age` is used without asking; `no-cache`
 * always asks, `no-store` is never stored; `preferOnline` always asks; offline (NW-02) uses only
 * the cache and names what is missing. cacache verifies the content on every read: a damaged
 * copy is refetched online (E_CACHE offline), like a damaged tarball (IN-08). Only a document
 * that parsed and has the right shape is stored.
 *
 * Why not pacote (npm's fetcher): loading pacote and make-fetch-happen costs ~180 ms of CPU per
 * process and ~8 ms per packument — npm's own overhead, which `rumpkg add` must undercut
 * (bench/add.mjs). The HTTP caching rumpkg needs is the small part above; cacache, npm's
 * content-addressed store, is the library underneath.
 *
 * Every packument's bytes, from the network or the cache, go through the one packument reader
 * (storage/ `parsePackument`: the safe JSON reader — no duplicate keys, no `__proto__` — then
 * the shape and the name), never a plain `JSON.parse`.
 *
 * Tarballs: first the cache (by digest, verified by cacache on read), then one transfer, only
 * from the origin of the registry (RG-03), entering the cache only after they matched their
 * integrity (IN-01) — and not at all for the store, which keeps each entry's tarball itself
 * (`keep: false`; a cacache entry cost a cold add ~4 ms of CPU per tarball).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { RumpkgError, integrityOf, verifyIntegrity } from '../../components/index.js';
import { PACKUMENT_KEY, TARBALL_KEY, homePaths, loadDownloadCache, readToken } from '../home/index.js';
import { deadline, httpFetch, readCapped, redactUrl, registryRequest, toRegistryError, withRetries, type FetchLike, type HttpResponse } from '../transport/index.js';
import { parsePackument, resolveTarballUrl, tarballFileName, tarballPath, yankMessage, type Packument } from '../storage/index.js';
import type { BackendContext, RegistryBackend } from './types.js';

/** `@rump/tcpip` → `@rump%2ftcpip` (the form npm puts in registry URLs). */
function escapedName(name: string): string {
  return name.startsWith('@') ? name.replace('/', '%2f') : encodeURIComponent(name);
}

/** What the cache keeps next to a packument: its validators and how long it is fresh. */
interface PackumentMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  /** Epoch ms until which the copy may be used without asking (0: always revalidate). */
  freshUntil: number;
}

/** `Cache-Control` of a response → store it? fresh until when? */
function cachePolicy(cacheControl: string | null, now: number): { store: boolean; freshUntil: number } {
  const cc = (cacheControl ?? '').toLowerCase();
  if (/(^|[\s,])no-store([\s,]|$)/.test(cc)) return { store: false, freshUntil: 0 };
  if (/(^|[\s,])no-cache([\s,]|$)/.test(cc)) return { store: true, freshUntil: 0 };
  const m = /(?:^|[\s,])max-age=(\d{1,9})(?:[\s,]|$)/.exec(cc);
  return { store: true, freshUntil: m === null ? 0 : now + Number(m[1]) * 1000 };
}

/**
 * The names a `/-/rumpkg/claims` answer gives for each of `words` (lower-cased). Anything but an
 * answer for every word, each a list of `{name}`, is E_REGISTRY: a registry that answers that
 * path with something else (a catch-all page) must not pass for one that found no claimants.
 */
function claimsAnswer(body: unknown, words: string[], url: string): Map<string, string[]> {
  const claims = (body as { claims?: unknown } | null)?.claims;
  const out = new Map<string, string[]>();
  for (const word of words.map((w) => w.toLowerCase())) {
    const list = claims !== null && typeof claims === 'object' && Object.hasOwn(claims, word) ? (claims as Record<string, unknown>)[word] : undefined;
    const names = Array.isArray(list) ? list.map((c: unknown) => (c as { name?: unknown } | null)?.name) : undefined;
    if (names === undefined || !names.every((n): n is string => typeof n === 'string')) {
      throw new RumpkgError('E_REGISTRY', `${redactUrl(url)} gave no list of the components claiming "${word}"`, { context: { url: redactUrl(url), word } });
    }
    out.set(word, names);
  }
  return out;
}

/**
 * Lets go of an answer whose body is not used. One that has already arrived whole (an error
 * document in the packet of its headers: a cold add meets a 404 for every provider named but not
 * published) is read out, so that its connection goes back to the pool; any other is cut off,
 * which closes its connection, as a body that may never end must be.
 */
async function letGo(res: HttpResponse): Promise<void> {
  const body = res.body as (HttpResponse['body'] & { complete?: unknown; resume?: () => unknown }) | null;
  if (body !== null && body.complete === true && typeof body.resume === 'function') body.resume();
  else await body?.cancel().catch(() => undefined);
}

export function createHttpBackend(url: string, ctx: BackendContext): RegistryBackend {
  const { limits, offline, reporter } = ctx;
  const paths = homePaths(ctx.home);
  const reqFetch = ctx.fetch === undefined ? {} : { fetch: ctx.fetch };
  const doFetch: FetchLike = (ctx.fetch as FetchLike | undefined) ?? httpFetch;

  const onRetry = (what: string) => (i: { attempt: number; delayMs: number; reason: string }): void =>
    reporter.info?.(`retrying ${what} (attempt ${i.attempt + 1}, ${i.reason}, in ${i.delayMs} ms)`);

  /** The cached copy of a packument; undefined when absent, or damaged (online: warned, refetched). */
  const cachedPackument = async (name: string, key: string, docUrl: string): Promise<{ body: Buffer; meta: PackumentMeta } | undefined> => {
    // A home whose cache was never written has nothing to read: the first request of a cold run
    // does not wait for the cache library to load.
    if (!existsSync(paths.cache)) return undefined;
    const cacache = await loadDownloadCache();
    try {
      const hit = await cacache.get(paths.cache, key);
      const meta = hit.metadata as Partial<PackumentMeta> | undefined;
      return { body: hit.data, meta: { url: docUrl, freshUntil: typeof meta?.freshUntil === 'number' ? meta.freshUntil : 0, ...(typeof meta?.etag === 'string' ? { etag: meta.etag } : {}), ...(typeof meta?.lastModified === 'string' ? { lastModified: meta.lastModified } : {}) } };
    } catch (e) {
      const code = String((e as { code?: unknown }).code);
      if (code === 'ENOENT' || code === 'ENOTCACHED') return undefined;
      // IN-08: a damaged copy is never used; its content goes (so that a refetch of the same bytes
      // stores a good copy), and (online) it is fetched again.
      const info = await cacache.get.info(paths.cache, key).catch(() => null);
      if (info !== null) await cacache.rm.content(paths.cache, info.integrity).catch(() => undefined);
      await cacache.rm.entry(paths.cache, key).catch(() => undefined);
      if (offline) {
        throw new RumpkgError('E_CACHE', `offline: the cached metadata of ${name} is damaged (${code}) and cannot be refetched`, {
          context: { component: name, url: redactUrl(docUrl) },
          hint: 'run `rumpkg cache verify`, then fetch again without --offline',
        });
      }
      reporter.warn?.(`the cached metadata of ${name} is damaged (${code}); fetching it again`);
      return undefined;
    }
  };

  /** One GET under our deadline, body cap and retry policy; 304 and 2xx come back, the rest throws. */
  const get = async (what: string, reqUrl: string, headers: Record<string, string>, max: number): Promise<{ status: number; headers: HttpResponse['headers']; body: Buffer }> => {
    try {
      return await withRetries(
        async () => {
          const d = deadline(limits.timeoutMs);
          try {
            const res = await doFetch(reqUrl, { redirect: 'manual', signal: d.signal, headers: { 'user-agent': 'rumpkg', ...headers } });
            if (res.status >= 300 && res.status !== 304) {
              await letGo(res);
              if (res.status < 400) {
                throw new RumpkgError('E_FOREIGN_TARBALL', `${what}: the registry redirected the request (HTTP ${res.status}) to ${redactUrl(res.headers.get('location') ?? '?')}`, {
                  context: { component: what, url: redactUrl(reqUrl) },
                  hint: 'rumpkg reads only from the registry origin itself; configure the final registry URL',
                });
              }
              throw Object.assign(new Error(`HTTP ${res.status}`), { statusCode: res.status, headers: res.headers });
            }
            const declaredLength = Number(res.headers.get('content-length') ?? '0');
            if (declaredLength > max) {
              d.controller.abort();
              throw new RumpkgError('E_TOO_LARGE', `${what} from ${redactUrl(reqUrl)} declares ${declaredLength} bytes (limit ${max})`, {
                context: { component: what, url: redactUrl(reqUrl), limit: max },
              });
            }
            const body = res.body === null ? Buffer.alloc(0) : await readCapped(res.body, { max, what, url: reqUrl, onTooLarge: () => d.controller.abort() });
            return { status: res.status, headers: res.headers, body };
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
      throw toRegistryError(e, { what, url: reqUrl, offline, timeoutMs: limits.timeoutMs });
    }
  };

  // A registry URL without credentials, query or fragment (redacting changes nothing) gives
  // packument URLs that need no redacting either when they have no query or fragment: the name
  // is a relative path (a scoped name starts with `@`, others are percent-encoded), so it cannot
  // bring in a host or credentials. Saves a URL parse per packument on the way to its use.
  const plainUrl = redactUrl(url) === url;
  const shown = (docUrl: string): string => (plainUrl && !docUrl.includes('?') && !docUrl.includes('#') ? docUrl : redactUrl(docUrl));

  const readPackument = async (name: string): Promise<Packument> => {
    const docUrl = new URL(escapedName(name), url).href;
    const key = `${PACKUMENT_KEY}${docUrl}`;
    const parse = (body: Buffer): Packument => parsePackument(body, { name, source: shown(docUrl), maxBytes: limits.maxJsonBytes });
    const cached = await cachedPackument(name, key, docUrl);
    if (offline) {
      if (cached === undefined) {
        throw new RumpkgError('E_OFFLINE', `offline: ${name} is not in the cache (${redactUrl(docUrl)})`, {
          context: { component: name, url: redactUrl(docUrl) },
          hint: 'run once without --offline to fill the cache',
        });
      }
      return parse(cached.body);
    }
    const now = Date.now();
    if (cached !== undefined && !ctx.preferOnline && now < cached.meta.freshUntil) {
      return parse(cached.body);
    }
    const conditional: Record<string, string> = {};
    if (cached?.meta.etag !== undefined) conditional['if-none-match'] = cached.meta.etag;
    if (cached?.meta.lastModified !== undefined) conditional['if-modified-since'] = cached.meta.lastModified;
    const res = await get(name, docUrl, { accept: 'application/json', ...conditional }, limits.maxJsonBytes);
    const policy = cachePolicy(res.headers.get('cache-control'), now);
    if (res.status === 304) {
      if (cached === undefined) {
        throw new RumpkgError('E_REGISTRY', `the registry answered 304 Not Modified for ${name} without being asked conditionally (${redactUrl(docUrl)})`, {
          context: { component: name, url: redactUrl(docUrl) },
        });
      }
      const p = parse(cached.body);
      if (policy.freshUntil > now) await ctx.later(() => storePackument(key, cached.body, { ...cached.meta, freshUntil: policy.freshUntil }), { packument: name, fresh: true });
      return p;
    }
    const p = parse(res.body);
    if (policy.store) {
      const etag = res.headers.get('etag');
      const lastModified = res.headers.get('last-modified');
      await ctx.later(() => storePackument(key, res.body, { url: docUrl, freshUntil: policy.freshUntil, ...(etag === null ? {} : { etag }), ...(lastModified === null ? {} : { lastModified }) }), {
        packument: name,
        fresh: policy.freshUntil > now,
      });
    }
    return p;
  };

  /** Best effort: a cache that cannot be written costs the next run a download, nothing more. */
  const storePackument = async (key: string, body: Buffer, meta: PackumentMeta): Promise<void> => {
    try {
      await (await loadDownloadCache()).put(paths.cache, key, body, { metadata: meta, algorithms: ['sha512'] });
    } catch (e) {
      reporter.warn?.(`could not cache the metadata from ${redactUrl(meta.url)}: ${(e as { code?: unknown }).code ?? 'error'}`);
    }
  };

  /**
   * A tarball over HTTP: first the cache (by digest, verified by cacache on read), then one
   * transfer under our deadline, size cap and retry policy; the bytes enter the cache only
   * after they matched the integrity (IN-01), so a failed transfer leaves the cache untouched,
   * and only with `keep` (the store keeps the tarballs it unpacks).
   */
  const fetchTarball = async (id: string, tarUrl: string, integrity: string, keep: boolean): Promise<Buffer> => {
    let damaged: string | undefined;
    // A home whose cache was never written has nothing to read (a cold run does not wait for the
    // cache library to load before its first download).
    if (existsSync(paths.cache)) {
      const cacache = await loadDownloadCache();
      try {
        // By digest in the cache (cacache verifies the content while reading it).
        const hit = await cacache.get.byDigest(paths.cache, integrity);
        if (integrityOf(hit) === integrity) return hit;
        damaged = 'EINTEGRITY';
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (code !== 'ENOTCACHED' && code !== 'ENOENT') {
          damaged = String(code);
          // Drop the damaged content so that the refetch can store a good copy.
          await cacache.rm.content(paths.cache, integrity).catch(() => undefined);
        }
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
    const { body: bytes } = await get(id, tarUrl, { accept: '*/*' }, limits.maxTarballBytes);
    verifyIntegrity(bytes, integrity, { what: `${id} from ${redactUrl(tarUrl)}` });
    // Verified bytes only (IN-01); best effort: a cache that cannot be written costs the next run a download.
    if (keep) await ctx.later(async () => {
      try {
        await (await loadDownloadCache()).put(paths.cache, `${TARBALL_KEY}${tarUrl}`, bytes, { integrity, algorithms: ['sha512'] });
      } catch (e) {
        reporter.warn?.(`could not cache ${id}: ${(e as { code?: unknown }).code ?? 'error'}`);
      }
    });
    return bytes;
  };

  const token = async (given: string | undefined, id: string, verb: string): Promise<string> => {
    const t = given ?? (await readToken(ctx.home, url));
    if (t === undefined) {
      throw new RumpkgError('E_REGISTRY_AUTH', `no token for ${redactUrl(url)} to ${verb} ${id}`, {
        context: { component: id, url: redactUrl(url) },
        hint: `run \`rumpkg login --registry ${redactUrl(url)}\` and pipe the token on stdin`,
      });
    }
    return t;
  };

  return {
    kind: 'http',
    url,
    readPackument,
    tarballLocation: (name, version, doc) => {
      const tarball = doc.dist?.tarball ?? tarballPath(name, version);
      if (!/^[a-z]+:/i.test(tarball)) return tarball;
      const base = url.endsWith('/') ? url : `${url}/`;
      return tarball.startsWith(base) ? decodeURIComponent(tarball.slice(base.length)) : tarball;
    },
    readTarball: async (id, _name, _version, doc, integrity, options = {}) => {
      const tarUrl = resolveTarballUrl(doc.dist.tarball, url);
      const reg = new URL(url);
      const tu = new URL(tarUrl);
      if (tu.origin !== reg.origin || tu.protocol !== reg.protocol) {
        throw new RumpkgError('E_FOREIGN_TARBALL', `${id}: tarball URL ${redactUrl(tarUrl)} is not on the registry's origin ${reg.origin}`, {
          context: { component: id, url: redactUrl(tarUrl), registry: reg.origin },
          hint: 'rumpkg only downloads a tarball from the registry that served its metadata (dependency confusion guard)',
        });
      }
      return fetchTarball(id, tarUrl, integrity, options.keep !== false);
    },
    publish: async (bytes, pj, opts) => {
      const name = String(pj.name);
      const version = String(pj.version);
      const id = `${name}@${version}`;
      const t = await token(opts.token, id, 'publish');
      // npm itself keys the attachment `@scope/name-1.0.0.tgz`; rumpkg's server requires the
      // basename form (`name-1.0.0.tgz`, matching dist.tarball), which Verdaccio accepts too.
      const file = tarballFileName(name, version);
      const tarballUrl = new URL(`${name}/-/${file}`, url).href;
      const versionDoc = { ...pj, _id: id, dist: { integrity: integrityOf(bytes), shasum: createHash('sha1').update(bytes).digest('hex'), tarball: tarballUrl } };
      const body = {
        _id: name,
        name,
        ...(typeof pj.description === 'string' ? { description: pj.description } : {}),
        'dist-tags': { [opts.tag]: version },
        versions: { [version]: versionDoc },
        access: null,
        _attachments: { [file]: { content_type: 'application/octet-stream', data: bytes.toString('base64'), length: bytes.length } },
      };
      await registryRequest({ method: 'PUT', url: new URL(escapedName(name), url).href, registry: url, token: t, json: body, what: id, limits, ...reqFetch, onRetry: onRetry(`publish ${id}`) });
      return { registry: redactUrl(url) };
    },
    yank: async (name, version, opts) => {
      const id = `${name}@${version}`;
      const t = await token(opts.token, id, 'yank');
      const common = { registry: url, token: t, what: id, limits, ...reqFetch };
      // The deprecate protocol (as `npm deprecate`): read the packument for writing, change
      // only `deprecated` of that version, PUT it back.
      const docUrl = new URL(escapedName(name), url);
      const readUrl = new URL(docUrl.href);
      readUrl.searchParams.set('write', 'true');
      const got = await registryRequest({ ...common, method: 'GET', url: readUrl.href });
      const doc = got.body as Packument | undefined;
      const v = doc?.versions?.[version];
      if (doc === undefined || v === undefined) {
        throw new RumpkgError('E_NOT_FOUND', `${id} is not published at ${redactUrl(url)}`, { context: { component: id } });
      }
      v.deprecated = opts.undo ? '' : yankMessage(opts.reason);
      await registryRequest({ ...common, method: 'PUT', url: docUrl.href, json: doc, onRetry: onRetry(`yank ${id}`) });
    },
    claimants: async (words) => {
      if (offline) {
        throw new RumpkgError('E_OFFLINE', `offline: asking ${redactUrl(url)} who claims a word needs the network`, { context: { url: redactUrl(url) } });
      }
      const q = new URL('-/rumpkg/claims', url);
      for (const w of words) q.searchParams.append('word', w);
      // No retries: a registry that cannot answer at once is searched word by word instead.
      const r = await registryRequest({ method: 'GET', url: q.href, registry: url, what: `the claims on "${words.join(' ')}"`, limits: { ...limits, retries: 0 }, ...reqFetch });
      return claimsAnswer(r.body, words, url);
    },
    search: async (words, opts) => {
      if (offline) {
        throw new RumpkgError('E_OFFLINE', `offline: searching ${redactUrl(url)} needs the network`, { context: { url: redactUrl(url) }, hint: 'search without --offline' });
      }
      const q = new URL('-/v1/search', url);
      q.searchParams.set('text', words.join(' '));
      q.searchParams.set('size', String(opts.size));
      const r = await registryRequest({ method: 'GET', url: q.href, registry: url, what: `search "${words.join(' ')}"`, limits, ...reqFetch });
      const objects = (r.body as { objects?: unknown } | undefined)?.objects;
      if (!Array.isArray(objects)) return [];
      return objects.flatMap((o: unknown) => {
        const pkg = (o as { package?: Record<string, unknown> }).package;
        if (pkg === undefined || typeof pkg.name !== 'string') return [];
        const keywords = Array.isArray(pkg.keywords) ? pkg.keywords.filter((k): k is string => typeof k === 'string') : [];
        return [{
          name: pkg.name,
          version: typeof pkg.version === 'string' ? pkg.version : '',
          description: typeof pkg.description === 'string' ? pkg.description : '',
          keywords,
          aliases: keywords.filter((k) => k.startsWith('rump-alias:')).map((k) => k.slice('rump-alias:'.length)),
          score: typeof (o as { searchScore?: unknown }).searchScore === 'number' ? (o as { searchScore: number }).searchScore : 0,
        }];
      });
    },
  };
}
