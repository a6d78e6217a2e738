/**
 * The rumpkg registry server (DESIGN.md §5): the npm registry HTTP API subset over a file
 * registry directory (registry/storage.ts), on node:http.
 *
 * Routes (names may be raw `@rump/tcpip` or percent-encoded `@rump%2ftcpip`):
 *   GET  /-/ping                                  `{}`
 *   GET  /-/whoami                                `{username}`; 401 without a valid token
 *   GET  /-/v1/search?text=…&size=…&from=…        npm search JSON
 *   GET  /-/rumpkg/claims?word=…&word=…           `{claims: {word: [{name, as}]}}`: every
 *                                                 component claiming each word (storage
 *                                                 `readClaims`, claims.ts `indexClaims`); the
 *                                                 client's name lookups ask it once for all
 *                                                 their words (an npm registry answers 404)
 *   GET  /-/package/<name>/dist-tags              the dist-tags
 *   PUT  /-/package/<name>/dist-tags/<tag>        body: JSON string version (owner only)
 *   DELETE /-/package/<name>/dist-tags/<tag>      (owner only)
 *   GET  /<name>                                  the full packument, absolute tarball URLs
 *   GET  /<name>/<version|tag>                    one version document
 *   GET  /<name>/-/<name>-<version>.tgz           the tarball
 *   GET  /  and  GET /-/web/…                     the web UI (registry/web/: HTML pages)
 *   PUT  /<name>[/-rev/<rev>]                     publish (`_attachments`, as `npm publish`
 *                                                 sends it) or deprecate/yank (no attachment,
 *                                                 only `deprecated` may change, as `npm
 *                                                 deprecate` sends it)
 *
 * HTTP caching: packuments and version documents carry a strong ETag (a hash of the body sent)
 * and `Cache-Control: no-cache` — clients may keep them but must revalidate, so a publish is seen
 * at once; a matching `If-None-Match` gets 304 without the body. Tarballs never change once
 * published: ETag = their integrity, `Cache-Control: public, max-age=31536000, immutable`, 304
 * before the bytes are read. A rendered packument is kept (body and ETag) while its file is
 * unchanged, so a revalidation costs a stat, not a read and a parse. Search answers, and the
 * claims of every component that claims answers come from, are kept in memory for SEARCH_TTL_MS
 * (each looks at every name) and dropped at once when this server takes a write; a write made to
 * the directory by another process shows in search and claims within SEARCH_TTL_MS.
 *
 * Rules: anonymous may read; writes need `Authorization: Bearer <token>` (registry/tokens.ts);
 * the first publisher of a name owns it; only owners publish new versions, yank, deprecate and
 * change dist-tags (SV-01). The server validates names and route parameters (400; an
 * upper-case variant of a valid name is 404, never another package), caps bodies (413) and
 * JSON nesting (400), refuses malformed JSON, prototype keys and duplicate keys (400; bodies are
 * read by the one safe JSON reader), refuses a claim on another owner's alias or library name
 * (409 E_ALIAS_CONFLICT, storage.ts), recomputes integrity from the attachment
 * and refuses a publish whose metadata differs from the tarball's package.json or whose tarball
 * fails the unpack policy (400, SV-05/IN-04). Storage never sees a path outside its directory
 * (SV-06). Tokens never appear in responses or log events. The server never prints: it reports
 * each request through the optional `log` callback.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RumpkgError, isRumpkgError, parseJsonDocument, type ErrorCode } from '../../components/index.js';
import {
  absolutizePackument,
  baseName,
  canonicalJson,
  claimantsOf,
  indexClaims,
  type ClaimIndex,
  metadataDifferences,
  renderNpmSearch,
  tarballFileName,
} from '../storage/index.js';
import { type RegistryStorage, checkRegistryName, checkRegistryVersion, createFileStorage } from '../storage/index.js';
import { createTokenStore, type TokenStore } from './tokens.js';
import { createWebHandler, type WebOptions } from '../web/index.js';

interface ServerLimits {
  /** Maximum request body in bytes (413 above). Default 64 MiB. */
  maxBodyBytes: number;
  /** Maximum body of requests that carry no tarball (dist-tags, deprecate). Default 4 MiB. */
  maxMetadataBytes: number;
  /** Maximum JSON nesting depth (400 above). Default 64. */
  maxJsonDepth: number;
  /** Maximum URL length (414 above). Default 4096. */
  maxUrlLength: number;
  /** Whole-request deadline in ms (slow bodies). Default 60 s. */
  requestTimeoutMs: number;
  /** Header deadline in ms. Default 20 s. */
  headersTimeoutMs: number;
}

const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxBodyBytes: 64 * 1024 * 1024,
  maxMetadataBytes: 4 * 1024 * 1024,
  maxJsonDepth: 64,
  maxUrlLength: 4096,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 20_000,
};

/** One request, as reported to `log`. Carries no token and no query string. */
export interface ServerEvent {
  type: 'request';
  method: string;
  path: string;
  status: number;
  ms: number;
  user?: string;
  code?: string;
  message?: string;
}

interface RegistryServerOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  limits?: Partial<ServerLimits>;
  log?: (event: ServerEvent) => void;
  /** The URL clients reach the server under (reverse proxies); default `http://<Host header>`. */
  publicUrl?: string;
  now?: () => Date;
  /** The web UI at `/` (registry/web/); `false` turns it off (then `GET /` is the npm 400). */
  web?: WebOptions | false;
}

export interface RegistryServer {
  /** `http://host:port` (no trailing slash). */
  url: string;
  port: number;
  storage: RegistryStorage;
  tokens: TokenStore;
  close(): Promise<void>;
}

/** Rendered packuments kept (the least recently used goes first). */
const RENDERED_PACKUMENTS = 2000;

/** How long a search answer is kept (writes through this server drop it at once). */
const SEARCH_TTL_MS = 30_000;
const SEARCH_CACHE_ENTRIES = 256;

/** Words one claims request may ask about (a command line's worth). */
const MAX_CLAIM_WORDS = 64;

/** A response with a status, sent as JSON `{error, code}` for failures. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  E_USAGE: 400,
  E_NAME: 400,
  E_SEMVER: 400,
  E_JSON_PARSE: 400,
  E_SCHEMA: 400,
  E_MANIFEST: 400,
  E_MANIFEST_CONFUSION: 400,
  E_INTEGRITY: 400,
  E_INTEGRITY_WEAK: 400,
  E_TAR_PATH: 400,
  E_TAR_ENTRY_TYPE: 400,
  E_TAR_COLLISION: 400,
  E_TAR_LIMIT: 400,
  E_TAR_CORRUPT: 400,
  E_TAR_MODE: 400,
  E_TAR_CONTENT: 400,
  E_REGISTRY_AUTH: 403,
  E_NOT_FOUND: 404,
  E_REGISTRY_CONFLICT: 409,
  E_ALIAS_CONFLICT: 409,
  E_TOO_LARGE: 413,
  E_LOCKED: 503,
};

/**
 * Parses a request body with the one safe JSON reader (components/documents parseJsonDocument):
 * byte and depth caps, no `__proto__`/`constructor`/`prototype` keys, no duplicate keys (a body
 * two parsers could read differently is refused). Anything it refuses is 400.
 */
function parseJsonBody(body: Buffer, limits: { maxBytes: number; maxDepth: number }): unknown {
  try {
    return parseJsonDocument(body, { file: 'the request body', maxBytes: limits.maxBytes, maxDepth: limits.maxDepth });
  } catch (e) {
    if (isRumpkgError(e, 'E_JSON_PARSE') || isRumpkgError(e, 'E_SCHEMA')) throw new HttpError(400, `malformed JSON body: ${e.message.slice(0, 300)}`, 'E_JSON_PARSE');
    throw e;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    throw new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${max} bytes`, 'E_TOO_LARGE');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new HttpError(413, `request body exceeds the limit of ${max} bytes`, 'E_TOO_LARGE');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const HOST_RE = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * Decodes the name at the start of `segs` (`@scope%2fname`, `@scope/name` or `name`) and
 * returns it with the remaining segments. Throws 400 for invalid names, 404 for case variants.
 */
function parseRouteName(segs: string[]): { name: string; rest: string[] } {
  const dec = (s: string | undefined): string => {
    if (s === undefined || s === '') throw new HttpError(400, 'missing component name', 'E_NAME');
    try {
      return decodeURIComponent(s);
    } catch {
      throw new HttpError(400, 'malformed percent-encoding in the path', 'E_NAME');
    }
  };
  const first = dec(segs[0]);
  let name: string;
  let rest: string[];
  if (first.startsWith('@') && !first.includes('/')) {
    name = `${first}/${dec(segs[1])}`;
    rest = segs.slice(2);
  } else {
    name = first;
    rest = segs.slice(1);
  }
  try {
    checkRegistryName(name);
  } catch (e) {
    if (!isRumpkgError(e)) throw e;
    const lower = name.toLowerCase();
    let lowerValid = lower !== name;
    if (lowerValid) {
      try {
        checkRegistryName(lower);
      } catch {
        lowerValid = false;
      }
    }
    if (lowerValid) throw new HttpError(404, `no component named ${JSON.stringify(name)} (names are lower case)`, 'E_NOT_FOUND');
    throw new HttpError(400, `invalid component name ${JSON.stringify(name.slice(0, 100))}`, 'E_NAME');
  }
  return { name, rest };
}

/** Starts the server over registry directory `dir`. */
export async function createRegistryServer(dir: string, options: RegistryServerOptions = {}): Promise<RegistryServer> {
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const now = options.now ?? (() => new Date());
  const storage = createFileStorage(dir, { now });
  const tokens = createTokenStore(dir, { now });
  const log = options.log;
  const web = options.web === false ? undefined : createWebHandler(storage, options.web ?? {});

  const server = createServer({
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    keepAliveTimeout: 5_000,
    // How often Node checks the two deadlines above; the default (30 s) is too coarse.
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(limits.requestTimeoutMs / 4))),
  });

  function baseUrl(req: IncomingMessage): string {
    if (options.publicUrl !== undefined) return options.publicUrl.replace(/\/+$/, '');
    const host = req.headers.host;
    if (typeof host === 'string' && HOST_RE.test(host)) return `http://${host}`;
    return url;
  }

  async function userOf(req: IncomingMessage): Promise<string | undefined> {
    const h = req.headers.authorization;
    if (typeof h !== 'string') return undefined;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m === null) return undefined;
    return tokens.authenticate(m[1] as string);
  }

  async function requireUser(req: IncomingMessage): Promise<string> {
    const user = await userOf(req);
    if (user === undefined) {
      const had = typeof req.headers.authorization === 'string';
      throw new HttpError(401, had ? 'the token is unknown or revoked' : 'authentication required: send a bearer token', 'E_REGISTRY_AUTH');
    }
    return user;
  }

  /** Does the request's If-None-Match (a list, weak comparison, or `*`) match `etag`? */
  function notModified(req: IncomingMessage, etag: string): boolean {
    const h = req.headers['if-none-match'];
    if (typeof h !== 'string' || h.length > 4096) return false;
    const strip = (t: string): string => t.trim().replace(/^W\//, '');
    return h.split(',').some((t) => t.trim() === '*' || strip(t) === etag);
  }

  const etagOf = (text: string): string => `"${createHash('sha256').update(text).digest('base64url').slice(0, 32)}"`;

  /** A JSON document clients may keep: a strong ETag of its body; 304 when they have it. */
  function sendCacheable(req: IncomingMessage, res: ServerResponse, body: unknown, cacheControl: string): void {
    const text = `${JSON.stringify(body)}\n`;
    sendText(req, res, text, etagOf(text), cacheControl);
  }

  function sendText(req: IncomingMessage, res: ServerResponse, text: string, etag: string, cacheControl: string): void {
    if (notModified(req, etag)) {
      res.writeHead(304, { etag, 'cache-control': cacheControl });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), etag, 'cache-control': cacheControl });
    res.end(text);
  }

  /**
   * Search answers by query, kept SEARCH_TTL_MS from when they were ready; the same query asked
   * while it runs waits for that run. Emptied by every write this server takes.
   */
  const searches = new Map<string, { at: number; value: Promise<Awaited<ReturnType<RegistryStorage['search']>>> }>();
  function searchCached(words: string[], size: number, from: number): Promise<Awaited<ReturnType<RegistryStorage['search']>>> {
    const key = JSON.stringify([words, size, from]);
    const hit = searches.get(key);
    if (hit !== undefined && Date.now() - hit.at < SEARCH_TTL_MS) return hit.value;
    const entry = { at: Number.POSITIVE_INFINITY, value: storage.search(words, { size, from }) };
    if (searches.size >= SEARCH_CACHE_ENTRIES) searches.delete(searches.keys().next().value as string);
    searches.set(key, entry);
    entry.value.then(
      () => (entry.at = Date.now()),
      () => searches.get(key) === entry && searches.delete(key),
    );
    return entry.value;
  }

  /**
   * Every component's claims (storage `readClaims`) indexed by word, kept SEARCH_TTL_MS from when
   * they were read; a request while they are read waits for that read. Dropped by every write
   * this server takes. A request then costs a lookup per word (anonymous requests must not make
   * the server walk every component for each of up to MAX_CLAIM_WORDS words).
   */
  let claims: { at: number; value: Promise<ClaimIndex> } | undefined;
  function claimsCached(): Promise<ClaimIndex> {
    if (claims !== undefined && Date.now() - claims.at < SEARCH_TTL_MS) return claims.value;
    const entry = { at: Number.POSITIVE_INFINITY, value: storage.readClaims().then(indexClaims) };
    claims = entry;
    entry.value.then(
      () => (entry.at = Date.now()),
      () => claims === entry && (claims = undefined),
    );
    return entry.value;
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
    const body = await readBody(req, max);
    return parseJsonBody(body, { maxBytes: max, maxDepth: limits.maxJsonDepth });
  }

  // ------------------------------------------------------------------------------------------
  // Handlers

  /**
   * Rendered packuments (body + ETag, per base URL), reused while the packument file is the one
   * they were rendered from: its identity (inode, size, mtime, through storage's link) is checked
   * before every use, and storage reads it again whenever that changed. A stat is checked BEFORE
   * the read it keys, so a publish in between only causes one more read, never a stale answer.
   */
  const rendered = new Map<string, { key: string; base: string; text: string; etag: string }>();
  async function packumentIdentity(name: string): Promise<string | undefined> {
    try {
      const st = await stat(join(storage.dir, ...name.split('/'), 'packument.json'), { bigint: true });
      return st.isFile() ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}` : undefined;
    } catch {
      return undefined;
    }
  }

  async function getPackument(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const base = baseUrl(req);
    const key = await packumentIdentity(name);
    const hit = rendered.get(name);
    if (key !== undefined && hit !== undefined && hit.key === key && hit.base === base) {
      rendered.delete(name);
      rendered.set(name, hit); // most recently used last
      sendText(req, res, hit.text, hit.etag, 'no-cache');
      return;
    }
    const doc = await storage.readPackument(name);
    const text = `${JSON.stringify(absolutizePackument(doc, base))}\n`;
    const etag = etagOf(text);
    if (key !== undefined) {
      rendered.delete(name);
      rendered.set(name, { key, base, text, etag });
      if (rendered.size > RENDERED_PACKUMENTS) rendered.delete(rendered.keys().next().value as string);
    }
    sendText(req, res, text, etag, 'no-cache');
  }

  async function getVersion(req: IncomingMessage, res: ServerResponse, name: string, spec: string): Promise<void> {
    const doc = await storage.readPackument(name);
    const version = doc['dist-tags'][spec] ?? spec;
    const v = doc.versions[version];
    if (v === undefined) throw new HttpError(404, `${name}@${spec} is not in this registry`, 'E_NOT_FOUND');
    sendCacheable(req, res, absolutizePackument({ ...doc, versions: { [version]: v } }, baseUrl(req)).versions[version], 'no-cache');
  }

  async function getTarball(req: IncomingMessage, res: ServerResponse, name: string, file: string, head: boolean): Promise<void> {
    const prefix = `${baseName(name)}-`;
    if (!file.startsWith(prefix) || !file.endsWith('.tgz')) throw new HttpError(404, `no tarball ${file} for ${name}`, 'E_NOT_FOUND');
    const version = file.slice(prefix.length, -'.tgz'.length);
    try {
      checkRegistryVersion(version, name);
    } catch {
      throw new HttpError(400, `invalid tarball file name ${JSON.stringify(file.slice(0, 100))}`, 'E_SEMVER');
    }
    // A published version never changes: its integrity names its bytes.
    const integrity = (await storage.readPackument(name)).versions[version]?.dist?.integrity;
    const cache = integrity === undefined ? {} : { etag: `"${integrity}"`, 'cache-control': 'public, max-age=31536000, immutable' };
    if (integrity !== undefined && notModified(req, `"${integrity}"`)) {
      res.writeHead(304, cache);
      res.end();
      return;
    }
    const bytes = await storage.readTarball(name, version);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, ...cache });
    res.end(head ? undefined : bytes);
  }

  async function putPackage(req: IncomingMessage, res: ServerResponse, name: string): Promise<string> {
    const user = await requireUser(req);
    const body = await readJson(req, limits.maxBodyBytes);
    if (!isRecord(body)) throw new HttpError(400, 'the body must be a JSON object', 'E_SCHEMA');
    if (body.name !== name) throw new HttpError(400, `the body names ${JSON.stringify(String(body.name).slice(0, 100))}, the URL ${name}`, 'E_MANIFEST_CONFUSION');
    if (body._attachments === undefined) {
      await updateMetadata(res, name, body, user);
      return user;
    }
    const atts = body._attachments;
    const versions = body.versions;
    if (!isRecord(atts) || Object.keys(atts).length !== 1) throw new HttpError(400, 'a publish carries exactly one attachment', 'E_SCHEMA');
    if (!isRecord(versions) || Object.keys(versions).length !== 1) throw new HttpError(400, 'a publish carries exactly one version', 'E_SCHEMA');
    const version = Object.keys(versions)[0] as string;
    try {
      checkRegistryVersion(version, name);
    } catch {
      throw new HttpError(400, `invalid version ${JSON.stringify(version.slice(0, 80))}`, 'E_SEMVER');
    }
    const declared = versions[version];
    if (!isRecord(declared)) throw new HttpError(400, `the version document of ${name}@${version} must be an object`, 'E_SCHEMA');
    const [fileName, att] = Object.entries(atts)[0] as [string, unknown];
    // npm names the attachment `<full name>-<v>.tgz` (`@rump/tcpip-10.0.0.tgz`); accept the
    // tarball file name (`tcpip-10.0.0.tgz`) too.
    if (fileName !== tarballFileName(name, version) && fileName !== `${name}-${version}.tgz`) {
      throw new HttpError(400, `attachment ${JSON.stringify(fileName.slice(0, 100))} does not match ${tarballFileName(name, version)}`, 'E_SCHEMA');
    }
    if (!isRecord(att) || typeof att.data !== 'string' || !BASE64_RE.test(att.data)) throw new HttpError(400, `attachment ${fileName} has no base64 data`, 'E_SCHEMA');
    const tgz = Buffer.from(att.data, 'base64');
    if (att.length !== undefined && att.length !== tgz.length) {
      throw new HttpError(400, `attachment ${fileName} is ${tgz.length} bytes but declares ${String(att.length)}`, 'E_TAR_CORRUPT');
    }
    const dist = isRecord(declared.dist) ? declared.dist : {};
    if (typeof dist.shasum === 'string' && dist.shasum !== createHash('sha1').update(tgz).digest('hex')) {
      throw new HttpError(400, `${name}@${version}: the declared shasum does not match the attachment`, 'E_INTEGRITY');
    }
    const integrity = typeof dist.integrity === 'string' ? dist.integrity : undefined;
    let tag: string | undefined;
    const tags = body['dist-tags'];
    if (tags !== undefined) {
      if (!isRecord(tags) || Object.keys(tags).length > 1) throw new HttpError(400, 'a publish sets at most one dist-tag', 'E_SCHEMA');
      const [t, v] = (Object.entries(tags)[0] ?? []) as [string | undefined, unknown];
      if (t !== undefined) {
        if (v !== version) throw new HttpError(400, `dist-tag ${t} must point at the published version ${version}`, 'E_SCHEMA');
        tag = t === 'latest' ? undefined : t;
      }
    }
    const r = await storage.publish(tgz, { owner: user, declared, ...(integrity === undefined ? {} : { integrity }), ...(tag === undefined ? {} : { tag }) });
    send(res, 201, { ok: true, success: true, id: name, version: r.version, integrity: r.integrity });
    return user;
  }

  /** `npm deprecate`: the whole packument comes back; only `deprecated` may differ. */
  async function updateMetadata(res: ServerResponse, name: string, body: Record<string, unknown>, user: string): Promise<void> {
    const cur = await storage.readPackument(name);
    const versions = body.versions;
    if (!isRecord(versions)) throw new HttpError(400, 'the packument has no versions', 'E_SCHEMA');
    const removed = Object.keys(cur.versions).filter((v) => !(v in versions));
    if (removed.length > 0) throw new HttpError(409, `${name}: versions cannot be removed (${removed.slice(0, 5).join(', ')}); published versions are immutable`, 'E_REGISTRY_CONFLICT');
    const added = Object.keys(versions).filter((v) => !(v in cur.versions));
    if (added.length > 0) throw new HttpError(400, `${name}: a new version needs its tarball attachment (${added.slice(0, 5).join(', ')})`, 'E_SCHEMA');
    if (body['dist-tags'] !== undefined && canonicalJson(body['dist-tags']) !== canonicalJson(cur['dist-tags'])) {
      throw new HttpError(400, `${name}: change dist-tags through /-/package/${name}/dist-tags`, 'E_SCHEMA');
    }
    const messages: Record<string, string> = {};
    for (const [v, stored] of Object.entries(cur.versions)) {
      const doc = versions[v];
      if (!isRecord(doc)) throw new HttpError(400, `${name}@${v}: the version document must be an object`, 'E_SCHEMA');
      const diffs = metadataDifferences(doc, stored);
      const dist = isRecord(doc.dist) ? doc.dist : {};
      if (dist.integrity !== undefined && dist.integrity !== stored.dist.integrity) diffs.push('dist.integrity');
      if (diffs.length > 0) throw new HttpError(400, `${name}@${v}: only "deprecated" may change, not ${diffs.join(', ')}`, 'E_MANIFEST_CONFUSION');
      const want = doc.deprecated === undefined || doc.deprecated === null || doc.deprecated === false ? '' : doc.deprecated;
      if (typeof want !== 'string') throw new HttpError(400, `${name}@${v}: "deprecated" must be a string`, 'E_SCHEMA');
      if (want !== (stored.deprecated ?? '')) messages[v] = want;
    }
    await storage.deprecate(name, messages, { owner: user });
    send(res, 200, { ok: true, success: true, id: name });
  }

  async function distTags(req: IncomingMessage, res: ServerResponse, rest: string[]): Promise<string | undefined> {
    const { name, rest: tail } = parseRouteName(rest);
    if (tail[0] !== 'dist-tags' || tail.length > 2) throw new HttpError(404, 'not found', 'E_NOT_FOUND');
    if (tail.length === 1) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
      send(res, 200, (await storage.readPackument(name))['dist-tags']);
      return undefined;
    }
    let tag: string;
    try {
      tag = decodeURIComponent(tail[1] as string);
    } catch {
      throw new HttpError(400, 'malformed percent-encoding in the tag', 'E_USAGE');
    }
    if (req.method === 'GET') {
      const v = (await storage.readPackument(name))['dist-tags'][tag];
      if (v === undefined) throw new HttpError(404, `${name} has no dist-tag ${tag}`, 'E_NOT_FOUND');
      send(res, 200, v);
      return undefined;
    }
    const user = await requireUser(req);
    if (req.method === 'PUT' || req.method === 'POST') {
      const v = await readJson(req, limits.maxMetadataBytes);
      if (typeof v !== 'string') throw new HttpError(400, 'the body must be a JSON string version', 'E_SCHEMA');
      const tags = await storage.setDistTag(name, tag, v, { owner: user });
      send(res, 201, { ok: true, ...tags });
    } else if (req.method === 'DELETE') {
      const tags = await storage.removeDistTag(name, tag, { owner: user });
      send(res, 200, { ok: true, ...tags });
    } else throw new HttpError(405, 'method not allowed');
    return user;
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<string | undefined> {
    const method = req.method ?? 'GET';
    const segs = path.slice(1).split('/');
    if (segs[0] === '-') {
      const what = segs.slice(1);
      if (what.join('/') === 'ping') {
        send(res, 200, {});
        return undefined;
      }
      if (what.join('/') === 'whoami') {
        const user = await requireUser(req);
        send(res, 200, { username: user });
        return user;
      }
      if (what.join('/') === 'v1/search') {
        if (method !== 'GET') throw new HttpError(405, 'method not allowed');
        const text = query.get('text') ?? '';
        if (text.length > 1024) throw new HttpError(400, 'search text too long', 'E_USAGE');
        const size = Number(query.get('size') ?? 20);
        const from = Number(query.get('from') ?? 0);
        if (!Number.isInteger(size) || size < 0 || !Number.isInteger(from) || from < 0) throw new HttpError(400, 'size and from must be non-negative integers', 'E_USAGE');
        const given = text.split(/\s+/).filter((w) => w !== '');
        const words = searchTerms(given);
        // Only unsupported qualifiers (`author:x`): nothing matches, rather than everything.
        const r = given.length > 0 && words.length === 0 ? { hits: [], total: 0 } : await searchCached(words, Math.min(size, 250), from);
        send(res, 200, renderNpmSearch(r.hits, r.total, now()));
        return undefined;
      }
      if (what.join('/') === 'rumpkg/claims') {
        if (method !== 'GET') throw new HttpError(405, 'method not allowed');
        const words = query.getAll('word');
        if (words.length > MAX_CLAIM_WORDS || words.some((w) => w === '' || w.length > 214)) {
          throw new HttpError(400, `at most ${MAX_CLAIM_WORDS} words of 1 to 214 characters`, 'E_USAGE');
        }
        send(res, 200, { claims: Object.fromEntries(claimantsOf(await claimsCached(), words)) });
        return undefined;
      }
      if (what[0] === 'package' && what.length >= 3) return distTags(req, res, what.slice(1));
      if (what[0] === 'user') throw new HttpError(403, 'this registry issues tokens with `rumpkg registry token add NAME --dir DIR`', 'E_REGISTRY_AUTH');
      throw new HttpError(404, 'not found', 'E_NOT_FOUND');
    }
    const { name, rest } = parseRouteName(segs);
    if (rest.length === 0 || (rest.length === 2 && rest[0] === '-rev')) {
      if (method === 'GET' || method === 'HEAD') {
        if (rest.length !== 0) throw new HttpError(404, 'not found', 'E_NOT_FOUND');
        await getPackument(req, res, name);
        return undefined;
      }
      if (method === 'PUT') return putPackage(req, res, name);
      if (method === 'DELETE') throw new HttpError(405, `${name}: unpublishing is not supported; published versions are immutable (yank instead)`, 'E_REGISTRY_CONFLICT');
      throw new HttpError(405, 'method not allowed');
    }
    if (rest.length === 2 && rest[0] === '-') {
      if (method !== 'GET' && method !== 'HEAD') {
        if (method === 'DELETE') throw new HttpError(405, `${name}: tarballs are immutable`, 'E_REGISTRY_CONFLICT');
        throw new HttpError(405, 'method not allowed');
      }
      let file: string;
      try {
        file = decodeURIComponent(rest[1] as string);
      } catch {
        throw new HttpError(400, 'malformed percent-encoding in the path', 'E_USAGE');
      }
      await getTarball(req, res, name, file, method === 'HEAD');
      return undefined;
    }
    if (rest.length === 1 && (method === 'GET' || method === 'HEAD')) {
      let spec: string;
      try {
        spec = decodeURIComponent(rest[0] as string);
      } catch {
        throw new HttpError(400, 'malformed percent-encoding in the path', 'E_USAGE');
      }
      await getVersion(req, res, name, spec);
      return undefined;
    }
    throw new HttpError(404, 'not found', 'E_NOT_FOUND');
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    let user: string | undefined;
    const finish = (status: number, code?: string, message?: string): void => {
      log?.({
        type: 'request',
        method: req.method ?? '?',
        path: path.slice(0, 300),
        status,
        ms: Date.now() - started,
        ...(user === undefined ? {} : { user }),
        ...(code === undefined ? {} : { code }),
        ...(message === undefined ? {} : { message: message.slice(0, 500) }),
      });
    };
    void (async () => {
      try {
        if (rawUrl.length > limits.maxUrlLength) throw new HttpError(414, 'URL too long');
        if (!path.startsWith('/') || path.includes('\0') || path.includes('\\')) throw new HttpError(400, 'malformed request path', 'E_USAGE');
        if (web !== undefined && (await web(req, res, path, query))) {
          finish(res.statusCode);
          return;
        }
        user = await route(req, res, path, query);
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          searches.clear();
          claims = undefined;
        }
        finish(res.statusCode);
      } catch (e) {
        let status: number;
        let message: string;
        let code: string | undefined;
        if (e instanceof HttpError) {
          ({ status, message, code } = e);
        } else if (isRumpkgError(e)) {
          status = STATUS_OF[e.code] ?? 500;
          code = e.code;
          message = status === 500 ? 'internal registry storage error' : e.message;
          if (e.code === 'E_NOT_FOUND') message = e.message.replace(/ is not in the registry .*$/, ' is not in this registry');
        } else {
          status = 500;
          message = 'internal server error';
        }
        finish(status, code, status === 500 && e instanceof Error ? e.message : message);
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const headers: Record<string, string> = {};
        if (status === 503) headers['retry-after'] = '1';
        // A body we refused unread is never drained: close the connection after the answer.
        if (!req.complete) headers.connection = 'close';
        send(res, status, { error: message, ...(code === undefined ? {} : { code }) }, headers);
        // Do not keep reading a body we refused.
        if (!req.complete) res.on('finish', () => req.destroy());
      }
    })();
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (e) => reject(new RumpkgError('E_IO', `cannot listen on ${host}:${options.port ?? 0}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { cause: e, hint: 'choose another --port or --host' })));
    server.listen(options.port ?? 0, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    storage,
    tokens,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** npm search qualifiers (`keywords:a,b`, `author:x`, …); everything else with a colon is a word. */
const SEARCH_QUALIFIERS = new Set(['keywords', 'author', 'maintainer', 'scope', 'is', 'not', 'boost-exact']);

/**
 * The words of a search text as storage matches them: `keywords:a,b` gives `a` and `b`; the other
 * npm qualifiers are not supported and dropped; a word like `rump-provides:bus:pci` (rumpkg's
 * capability keywords, which the client's provider searches for) is an ordinary word.
 */
function searchTerms(words: string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const colon = w.indexOf(':');
    const qualifier = colon < 0 ? undefined : w.slice(0, colon).toLowerCase();
    if (qualifier === undefined || !SEARCH_QUALIFIERS.has(qualifier)) out.push(w);
    else if (qualifier === 'keywords') out.push(...w.slice(colon + 1).split(',').filter((k) => k !== ''));
  }
  return out;
}
