/**
 * The `http(s):` backend: any npm-protocol registry (rumpkg's own server, Verdaccio, a hosted
 * npm registry). Packuments are fetched through **npm-registry-fetch** — pacote's own fetch
 * layer, the copy pacote uses, with the same options pacote gave it (full metadata, its cacache
 * under `<home>/cache`, offline / prefer-online) — and their bytes go through the one packument
 * reader (storage/ `parsePackument`: the safe JSON reader, then the shape), not through pacote's
 * plain `JSON.parse`; the body is capped at maxJsonBytes by a counting one-shot agent (RG-04:
 * npm-registry-fetch has no body cap). Tarballs come through our own fetch under deadline, size
 * cap and retry policy, only from the origin of the registry (RG-03), and enter pacote's cacache
 * only after they matched their integrity (IN-01); publish and yank (npm deprecate) use the npm
 * `PUT` protocol through transport/ `registryRequest`.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { RumpkgError, integrityOf, verifyIntegrity } from '../../components/index.js';
import { cacache, homePaths, readToken } from '../home/index.js';
import { deadline, readCapped, redactUrl, registryRequest, toRegistryError, withRetries } from '../transport/index.js';
import { parsePackument, resolveTarballUrl, tarballFileName, tarballPath, yankMessage, type Packument } from '../storage/index.js';
import type { BackendContext, RegistryBackend } from './types.js';

interface RegistryResponse {
  buffer(): Promise<Buffer>;
}
type RegistryFetch = (url: string, opts: Record<string, unknown>) => Promise<RegistryResponse>;
let registryFetchModule: RegistryFetch | undefined;
/** npm-registry-fetch, resolved from pacote (the copy pacote itself uses; loaded on first use). */
function registryFetch(): RegistryFetch {
  if (registryFetchModule === undefined) {
    const fromPacote = createRequire(createRequire(import.meta.url).resolve('pacote'));
    registryFetchModule = fromPacote('npm-registry-fetch') as RegistryFetch;
  }
  return registryFetchModule;
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
function escapedName(name: string): string {
  return name.startsWith('@') ? name.replace('/', '%2f') : encodeURIComponent(name);
}

export function createHttpBackend(url: string, ctx: BackendContext): RegistryBackend {
  const { limits, offline, reporter } = ctx;
  const paths = homePaths(ctx.home);
  const options = { fetch: ctx.fetch };
  const reqFetch = ctx.fetch === undefined ? {} : { fetch: ctx.fetch };

  const onRetry = (what: string) => (i: { attempt: number; delayMs: number; reason: string }): void =>
    reporter.info?.(`retrying ${what} (attempt ${i.attempt + 1}, ${i.reason}, in ${i.delayMs} ms)`);

  /** The options pacote passed to npm-registry-fetch for a packument. */
  const pacoteOpts = (signal: AbortSignal, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    registry: url,
    cache: paths.cache,
    fullMetadata: true,
    offline,
    preferOnline: ctx.preferOnline && !offline,
    fetchRetries: 0,
    timeout: limits.idleTimeoutMs,
    signal,
    // Packuments are not memoised inside pacote across calls; the client memoises them itself.
    packumentCache: undefined,
    ...extra,
  });

  /** Runs one pacote operation under a deadline and our retry loop, mapping its errors. */
  const viaPacote = async <T>(what: string, reqUrl: string, op: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await withRetries(
        async () => {
          const d = deadline(limits.timeoutMs);
          try {
            return await op(d.signal);
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

  const readPackument = async (name: string): Promise<Packument> => {
    const docUrl = new URL(escapedName(name), url).href;
    let over = false;
    let bytes: Buffer;
    try {
      bytes = await viaPacote(name, docUrl, async (signal) => {
        const res = await registryFetch()(docUrl, {
          ...pacoteOpts(signal, { agent: cappedAgent(docUrl, limits.maxJsonBytes, () => (over = true)) }),
          // What pacote sends for a full packument; packuments carry no integrity of their own.
          headers: { 'user-agent': 'rumpkg', accept: 'application/json', 'pacote-req-type': 'packument', 'pacote-pkg-id': `registry:${name}` },
          spec: name,
          integrity: null,
        });
        return res.buffer();
      });
    } catch (e) {
      if (!over) throw e;
      throw new RumpkgError('E_TOO_LARGE', `the metadata of ${name} from ${redactUrl(docUrl)} exceeds ${limits.maxJsonBytes} bytes`, {
        context: { component: name, url: redactUrl(docUrl), limit: limits.maxJsonBytes },
        hint: 'the registry sent more metadata than rumpkg accepts for one component; nothing was cached',
        cause: e,
      });
    }
    return parsePackument(bytes, { name, source: redactUrl(docUrl), maxBytes: limits.maxJsonBytes });
  };

  /**
   * A tarball over HTTP: first pacote's cacache (by digest, verified by cacache on read), then
   * one transfer under our deadline, size cap and retry policy; the bytes enter the cache only
   * after they matched the integrity (IN-01), so a failed transfer leaves the cache untouched.
   */
  const fetchTarball = async (id: string, tarUrl: string, integrity: string): Promise<Buffer> => {
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
    readTarball: async (id, _name, _version, doc, integrity) => {
      const tarUrl = resolveTarballUrl(doc.dist.tarball, url);
      const reg = new URL(url);
      const tu = new URL(tarUrl);
      if (tu.origin !== reg.origin || tu.protocol !== reg.protocol) {
        throw new RumpkgError('E_FOREIGN_TARBALL', `${id}: tarball URL ${redactUrl(tarUrl)} is not on the registry's origin ${reg.origin}`, {
          context: { component: id, url: redactUrl(tarUrl), registry: reg.origin },
          hint: 'rumpkg only downloads a tarball from the registry that served its metadata (dependency confusion guard)',
        });
      }
      return fetchTarball(id, tarUrl, integrity);
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
