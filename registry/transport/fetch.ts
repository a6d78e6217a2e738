/**
 * Transport policy for HTTP registries, shared by every request the client makes:
 *
 * - **Retries** (NW-01): only transient failures are retried — connection resets/refusals,
 *   5xx, 408 and 429 — with bounded exponential backoff (full jitter) and `Retry-After`
 *   honoured up to the cap. 4xx answers are never retried. This is the only retry loop.
 * - **Deadlines and size caps** (RG-04/05): every operation runs under an AbortSignal deadline
 *   (trickled bytes cannot keep it alive) and bodies are counted while streaming; a body over
 *   its cap aborts the transfer. Memory stays bounded by the cap.
 * - **Errors**: every failure becomes a RumpkgError naming the component and the URL, with
 *   credentials and query strings redacted (RG-09).
 * - **Tokens** are only attached by `registryRequest`, only to the registry's own origin, and
 *   redirects are never followed with a token (RG-09).
 */
import { RumpkgError, isRumpkgError, parseJsonDocument } from '../../components/index.js';
import { finished, type Readable } from 'node:stream';
import { httpFetch, type FetchLike } from './http.js';

export interface TransportLimits {
  /** Whole-operation deadline, ms (RG-05). */
  timeoutMs: number;
  /** Idle-socket timeout, ms (kept for configurations that set it; the deadline bounds every request). */
  idleTimeoutMs: number;
  /** Largest tarball accepted, bytes (RG-04). */
  maxTarballBytes: number;
  /** Largest packument / JSON answer accepted, bytes (RG-04). */
  maxJsonBytes: number;
  /** Retries after the first attempt for transient failures (NW-01). */
  retries: number;
  minRetryDelayMs: number;
  maxRetryDelayMs: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  timeoutMs: 60_000,
  idleTimeoutMs: 30_000,
  maxTarballBytes: 256 * 1024 * 1024,
  maxJsonBytes: 64 * 1024 * 1024,
  retries: 3,
  minRetryDelayMs: 200,
  maxRetryDelayMs: 10_000,
};

/** Strips userinfo, query and fragment from a URL for messages (RG-09). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return url.replace(/\/\/[^/@\s]*@/g, '//').replace(/[?#].*$/, '');
  }
}

/** Removes anything that looks like a token from free text (error messages of dependencies). */
function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out
    .replace(/(authorization:\s*)(bearer|basic)\s+\S+/gi, '$1$2 ***')
    .replace(/(_authToken\s*[=:]\s*)\S+/gi, '$1***')
    .replace(/\/\/[^/@\s]*:[^/@\s]*@/g, '//***@');
}

/** The status code an HTTP error carries (`statusCode`, or `status`), if any. */
function statusOf(e: unknown): number | undefined {
  const o = e as { statusCode?: unknown; status?: unknown } | null;
  if (o === null || typeof o !== 'object') return undefined;
  if (typeof o.statusCode === 'number') return o.statusCode;
  if (typeof o.status === 'number') return o.status;
  return undefined;
}

function headerOf(e: unknown, name: string): string | undefined {
  const h = (e as { headers?: unknown } | null)?.headers;
  if (h === undefined || h === null || typeof h !== 'object') return undefined;
  if (typeof (h as { get?: unknown }).get === 'function') {
    const v = (h as { get(n: string): string | null }).get(name);
    return v ?? undefined;
  }
  const v = (h as Record<string, unknown>)[name] ?? (h as Record<string, unknown>)[name.toLowerCase()];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ECONNECTIONTIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Is `e` a transient failure worth retrying (NW-01)? 4xx (except 408/429) never is. */
function isTransient(e: unknown): boolean {
  if (isRumpkgError(e)) return false;
  const status = statusOf(e);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  const o = e as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = typeof o?.code === 'string' ? o.code : typeof o?.cause?.code === 'string' ? o.cause.code : undefined;
  return code !== undefined && TRANSIENT_CODES.has(code);
}

/** `Retry-After` (seconds or an HTTP date) in ms, if the error carries one. */
function retryAfterMs(e: unknown, now: number = Date.now()): number | undefined {
  const v = headerOf(e, 'retry-after');
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

interface RetryOptions {
  limits: Pick<TransportLimits, 'retries' | 'minRetryDelayMs' | 'maxRetryDelayMs'>;
  /** Called before each retry with the attempt number (1-based) and the delay. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Runs `fn`, retrying transient failures with bounded exponential backoff + Retry-After. */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  const { retries, minRetryDelayMs, maxRetryDelayMs } = options.limits;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= retries || !isTransient(e)) throw e;
      const backoff = Math.min(maxRetryDelayMs, minRetryDelayMs * 2 ** attempt);
      const after = retryAfterMs(e);
      const delayMs = after !== undefined ? Math.min(maxRetryDelayMs, Math.max(after, minRetryDelayMs)) : Math.round(backoff / 2 + (random() * backoff) / 2);
      const status = statusOf(e);
      const reason = status !== undefined ? `HTTP ${status}` : String((e as { code?: unknown }).code ?? 'network error');
      options.onRetry?.({ attempt: attempt + 1, delayMs, reason });
      await sleep(delayMs);
    }
  }
}

/** A deadline for one operation: `signal` aborts after `ms`; `done()` clears the timer. */
export function deadline(ms: number): { signal: AbortSignal; controller: AbortController; done(): void; expired(): boolean } {
  const controller = new AbortController();
  let expired = false;
  const t = setTimeout(() => {
    expired = true;
    controller.abort(new Error('deadline exceeded'));
  }, ms);
  t.unref?.();
  return { signal: controller.signal, controller, done: () => clearTimeout(t), expired: () => expired };
}

interface ErrorSubject {
  /** `@rump/tcpip` or `@rump/tcpip@10.0.0`. */
  what: string;
  url: string;
  /** Whether the request was made in offline mode. */
  offline?: boolean;
  timeoutMs?: number;
  secrets?: readonly string[];
}

/** Maps any failure of a registry operation to a RumpkgError (bugs of our own pass through). */
export function toRegistryError(e: unknown, subject: ErrorSubject): unknown {
  if (isRumpkgError(e)) return e;
  const url = redactUrl(subject.url);
  const context = { component: subject.what, url };
  const o = (e ?? {}) as { code?: unknown; type?: unknown; name?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof o.code === 'string' ? o.code : typeof o.cause?.code === 'string' ? o.cause.code : undefined;
  const message = redactText(typeof o.message === 'string' ? o.message : String(e), subject.secrets);
  const cause = new Error(message);
  const status = statusOf(e);
  if (code === 'ENOTCACHED' || (subject.offline === true && code === 'ECONNREFUSED')) {
    return new RumpkgError('E_OFFLINE', `offline: ${subject.what} is not in the cache (${url})`, {
      context,
      hint: 'run once without --offline to fill the cache',
      cause,
    });
  }
  if (code === 'EINTEGRITY') {
    return new RumpkgError('E_INTEGRITY', `integrity mismatch for ${subject.what} from ${url}`, {
      context,
      hint: 'the registry served other bytes than its metadata promises; nothing was cached',
      cause,
    });
  }
  if (code === 'EBADSIZE') {
    return new RumpkgError('E_INTEGRITY', `truncated or oversized body for ${subject.what} from ${url}`, {
      context,
      hint: 'the transfer was cut short; nothing was cached — try again',
      cause,
    });
  }
  if (status === 404 || code === 'E404') {
    return new RumpkgError('E_NOT_FOUND', `${subject.what} was not found at ${url}`, {
      context: { ...context, status: 404 },
      hint: 'check the name (bare names map to the default scope) and the registry of its scope',
      cause,
    });
  }
  if (status === 401 || status === 403) {
    return new RumpkgError('E_REGISTRY_AUTH', `the registry refused access to ${subject.what} (HTTP ${status}) at ${url}`, {
      context: { ...context, status },
      hint: 'log in with `rumpkg login --registry URL`, or check that you own this name',
      cause,
    });
  }
  if (status === 409) {
    return new RumpkgError('E_REGISTRY_CONFLICT', `${subject.what} already exists at ${url}`, {
      context: { ...context, status },
      hint: 'a published version is immutable; bump the version',
      cause,
    });
  }
  if (status === 413) {
    return new RumpkgError('E_TOO_LARGE', `the registry refused ${subject.what} as too large (HTTP 413) at ${url}`, {
      context: { ...context, status },
      cause,
    });
  }
  if (status !== undefined) {
    const transient = status >= 500 || status === 429 || status === 408;
    return new RumpkgError(transient ? 'E_NETWORK' : 'E_REGISTRY', `HTTP ${status} from ${url} for ${subject.what}${transient ? ' (after retries)' : ''}`, {
      context: { ...context, status },
      hint: transient ? 'the registry is unavailable or rate-limiting; try again later' : 'the registry rejected the request',
      cause,
    });
  }
  if (o.name === 'AbortError' || code === 'ABORT_ERR' || /deadline exceeded|aborted/i.test(message) || (code !== undefined && /TIMEOUT/.test(code)) || o.type === 'request-timeout' || o.type === 'body-timeout') {
    return new RumpkgError('E_TIMEOUT', `timed out fetching ${subject.what} from ${url}${subject.timeoutMs === undefined ? '' : ` (limit ${subject.timeoutMs} ms)`}`, {
      context,
      hint: 'the registry is too slow or the body never ends; nothing was cached',
      cause,
    });
  }
  if (code !== undefined && (TRANSIENT_CODES.has(code) || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH')) {
    return new RumpkgError('E_NETWORK', `cannot reach ${url} for ${subject.what}: ${code}`, {
      context: { ...context, errno: code },
      hint: 'check the registry URL and your network; use --offline to work from the cache',
      cause,
    });
  }
  if (o.type === 'invalid-json' || code === 'EJSONPARSE' || e instanceof SyntaxError) {
    return new RumpkgError('E_REGISTRY', `invalid JSON from ${url} for ${subject.what}`, { context, cause });
  }
  if (o.type === 'system' || o.name === 'FetchError' || (e instanceof TypeError && /fetch failed|terminated|other side closed/i.test(message))) {
    return new RumpkgError('E_NETWORK', `request to ${url} for ${subject.what} failed: ${message.slice(0, 200)}`, { context, cause });
  }
  return e;
}

/**
 * Reads a response body into a Buffer, refusing more than `max` bytes (the transfer is cut
 * off: `onTooLarge`, then the body is destroyed). A node:stream body (httpFetch's) is read by its
 * events, without the stream's async iterator (a promise per chunk, in a process whose code is
 * still cold: a cold `rumpkg add` reads ~40 answers before its first tarball request) and without
 * copying each chunk; anything else (a web stream of an injected fetch) as an async iterable.
 * Either way the same bytes and the same errors: a stream error, or ERR_STREAM_PREMATURE_CLOSE
 * when the body closes before its end, as the stream's own iterator reports them.
 */
export async function readCapped(body: AsyncIterable<Uint8Array>, options: CapOptions): Promise<Buffer> {
  if (isNodeReadable(body)) return readNodeStream(body, options);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > options.max) {
      options.onTooLarge?.();
      throw tooLarge(options);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks, total);
}

interface CapOptions {
  max: number;
  what: string;
  url: string;
  onTooLarge?: () => void;
}

function tooLarge(options: CapOptions): RumpkgError {
  return new RumpkgError('E_TOO_LARGE', `${options.what} from ${redactUrl(options.url)} exceeds ${options.max} bytes`, {
    context: { component: options.what, url: redactUrl(options.url), limit: options.max },
    hint: 'the registry sent more than any component may hold; nothing was cached',
  });
}

function isNodeReadable(body: unknown): body is Readable {
  const o = body as { on?: unknown; destroy?: unknown; readableFlowing?: unknown };
  return typeof o.on === 'function' && typeof o.destroy === 'function' && 'readableFlowing' in o;
}

function readNodeStream(body: Readable, options: CapOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let over = false;
    body.on('data', (chunk: Buffer | string) => {
      if (over) return;
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += b.length;
      if (total > options.max) {
        over = true;
        options.onTooLarge?.();
        reject(tooLarge(options));
        body.destroy();
        return;
      }
      chunks.push(b);
    });
    finished(body, (e) => {
      if (over) return;
      if (e) reject(e);
      else resolve(Buffer.concat(chunks, total));
    });
  });
}

interface RegistryRequest {
  method: 'GET' | 'PUT' | 'DELETE';
  /** Absolute URL on the registry's origin. */
  url: string;
  /** The registry URL the token belongs to; the request URL must share its origin. */
  registry: string;
  token?: string;
  json?: unknown;
  what: string;
  limits: TransportLimits;
  /** Default: httpFetch (./http.ts). */
  fetch?: typeof fetch;
  onRetry?: RetryOptions['onRetry'];
}

/**
 * One JSON request to a registry with our own fetch (publish, deprecate, dist-tags, search):
 * token only for the registry's origin, redirects never followed, deadline, body cap, retries
 * for idempotent methods only… except PUT publish, which is safe to retry because the registry
 * refuses a second copy of a version (409 is then reported as a conflict).
 */
export async function registryRequest(req: RegistryRequest): Promise<{ status: number; body: unknown }> {
  const doFetch = (req.fetch as FetchLike | undefined) ?? httpFetch;
  const reg = new URL(req.registry);
  const target = new URL(req.url);
  if (target.origin !== reg.origin) {
    throw new RumpkgError('E_FOREIGN_TARBALL', `refusing to send a request for ${req.what} to ${redactUrl(req.url)}: not the registry's origin ${reg.origin}`, {
      context: { component: req.what, url: redactUrl(req.url) },
    });
  }
  const secrets = req.token === undefined ? [] : [req.token];
  const attempt = async (): Promise<{ status: number; body: unknown }> => {
    const d = deadline(req.limits.timeoutMs);
    try {
      const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'rumpkg' };
      if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
      let body: string | undefined;
      if (req.json !== undefined) {
        body = JSON.stringify(req.json);
        headers['content-type'] = 'application/json';
      }
      const res = await doFetch(target, { method: req.method, headers, ...(body === undefined ? {} : { body }), redirect: 'manual', signal: d.signal });
      const buf = res.body === null ? Buffer.alloc(0) : await readCapped(res.body, { max: req.limits.maxJsonBytes, what: req.what, url: req.url, onTooLarge: () => d.controller.abort() });
      if (res.status >= 300 && res.status < 400) {
        throw new RumpkgError('E_REGISTRY', `the registry redirected the request for ${req.what} (HTTP ${res.status}); rumpkg does not follow redirects with credentials`, {
          context: { component: req.what, url: redactUrl(req.url), status: res.status },
          hint: 'configure the final registry URL directly',
        });
      }
      // The body through the one safe JSON reader. An error body that is not JSON is kept as
      // (redacted) text for the message; a success body that is refused is the registry's fault.
      let parsed: unknown = undefined;
      const text = buf.toString('utf8');
      if (text.trim() !== '') {
        try {
          parsed = parseJsonDocument(buf, { file: redactUrl(req.url), maxBytes: req.limits.maxJsonBytes });
        } catch (e) {
          if (!isRumpkgError(e, 'E_JSON_PARSE') && !isRumpkgError(e, 'E_SCHEMA')) throw e;
          if (res.status < 300) {
            throw new RumpkgError('E_REGISTRY', `the registry's answer for ${req.what} is refused: ${redactText(e.message.slice(0, 300), secrets)}`, {
              context: { component: req.what, url: redactUrl(req.url), status: res.status },
              hint: 'the registry answered with malformed, ambiguous or hostile JSON; nothing was changed on this side',
            });
          }
          parsed = { text: redactText(text.slice(0, 500), secrets) };
        }
      }
      if (res.status >= 400) {
        const err = Object.assign(new Error(registryErrorMessage(parsed, secrets) ?? `HTTP ${res.status}`), {
          statusCode: res.status,
          headers: res.headers,
        });
        throw err;
      }
      return { status: res.status, body: parsed };
    } catch (e) {
      if (d.expired()) throw Object.assign(new Error('deadline exceeded'), { name: 'AbortError' });
      throw e;
    } finally {
      d.done();
    }
  };
  try {
    return await withRetries(attempt, { limits: req.limits, ...(req.onRetry === undefined ? {} : { onRetry: req.onRetry }) });
  } catch (e) {
    const mapped = toRegistryError(e, { what: req.what, url: req.url, timeoutMs: req.limits.timeoutMs, secrets });
    if (mapped instanceof RumpkgError && mapped.code !== 'E_TIMEOUT') {
      const detail = registryErrorMessage(undefined, secrets, e);
      if (detail !== undefined && !mapped.message.includes(detail)) {
        return Promise.reject(new RumpkgError(mapped.code, `${mapped.message}: ${detail}`, { context: mapped.context, hint: mapped.hint, cause: mapped.cause }));
      }
    }
    throw mapped;
  }
}

function registryErrorMessage(body: unknown, secrets: readonly string[], e?: unknown): string | undefined {
  if (e !== undefined) {
    const m = (e as { message?: unknown }).message;
    return typeof m === 'string' && !/^HTTP \d+$/.test(m) && statusOf(e) !== undefined ? redactText(m, secrets).slice(0, 300) : undefined;
  }
  if (body !== null && typeof body === 'object') {
    const o = body as Record<string, unknown>;
    const m = o.error ?? o.message ?? o.reason ?? o.text;
    if (typeof m === 'string') return redactText(m, secrets).slice(0, 300);
    if (m !== null && typeof m === 'object' && typeof (m as { message?: unknown }).message === 'string') {
      return redactText((m as { message: string }).message, secrets).slice(0, 300);
    }
  }
  return undefined;
}
