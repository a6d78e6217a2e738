/**
 * The fetch the registry client uses by default: the subset of WHATWG `fetch` it needs, over
 * node:http / node:https. Written here rather than using Node's built-in fetch (undici): loading
 * undici costs ~40 ms of CPU on a process's first request, more than all the other network work
 * of a cold `rumpkg add` (bench/add.mjs); node:http loads in a few.
 *
 * The subset: method, headers, a string or Buffer body (sent with its Content-Length), an
 * AbortSignal (aborting destroys the request and the response), `redirect: 'manual'` only — a
 * 3xx is returned as it is, never followed (the callers refuse redirects: RG-03/RG-09). The
 * response has `status`, `headers.get(name)` and `body`: the response stream as an async
 * iterable of Buffers, with `cancel()`. No decompression (`accept-encoding` is never sent).
 * Connections are kept alive per origin (one agent per protocol); idle sockets are unref'd by
 * node, so they never keep a process running.
 *
 * Extra CA certificates: the shipped command (dist/rumpkg, see scripts/bundle.mjs) starts node
 * without NODE_EXTRA_CA_CERTS — Node 20 would load it on every start, ~40 ms here — and passes
 * the file as RUMPKG_DEFERRED_CA_CERTS. The https agent then trusts Node's bundled roots and that
 * file, as Node itself would have; the file is read when the first https request is made. An
 * unreadable file is ignored, as Node ignores it (Node also prints a warning; a library does not).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Agent, AgentOptions, IncomingMessage } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: (AsyncIterable<Uint8Array> & { cancel(): Promise<void> }) | null;
}

export interface HttpInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  redirect?: 'manual';
  signal?: AbortSignal;
}

/** What the client's requests need of a fetch: `httpFetch`, or an injected WHATWG fetch (tests). */
export type FetchLike = (url: string | URL, init: HttpInit) => Promise<HttpResponse>;

type HttpModule = typeof import('node:http');
const agents = new Map<string, Agent>();
const load = createRequire(import.meta.url);

/** The CA certificates of an https agent when the start of node left NODE_EXTRA_CA_CERTS to rumpkg (module head); else undefined: node's own. */
export function deferredCaCertificates(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const file = env.RUMPKG_DEFERRED_CA_CERTS;
  if (file === undefined || file === '') return undefined;
  const { rootCertificates } = load('node:tls') as typeof import('node:tls');
  try {
    return [...rootCertificates, readFileSync(file, 'latin1')];
  } catch {
    return [...rootCertificates];
  }
}

function agentFor(protocol: string): { mod: HttpModule; agent: Agent } {
  const mod = load(protocol === 'https:' ? 'node:https' : 'node:http') as HttpModule;
  let agent = agents.get(protocol);
  if (agent === undefined) {
    const options: AgentOptions & { ca?: string[] } = { keepAlive: true, maxSockets: 16 };
    const ca = protocol === 'https:' ? deferredCaCertificates() : undefined;
    if (ca !== undefined) options.ca = ca;
    agents.set(protocol, (agent = new mod.Agent(options)));
  }
  return { mod, agent };
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason as unknown;
  return Object.assign(new Error(reason instanceof Error ? reason.message : 'aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

/** `fetch(url, init)` over node:http(s); see the module head for the subset. */
export function httpFetch(url: string | URL, init: HttpInit = {}): Promise<HttpResponse> {
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new TypeError(`unsupported protocol ${u.protocol}`));
  const signal = init.signal;
  if (signal?.aborted === true) return Promise.reject(abortError(signal));
  const { mod, agent } = agentFor(u.protocol);
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const body = typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
  if (body !== undefined) headers['content-length'] = String(body.length);
  return new Promise<HttpResponse>((resolve, reject) => {
    let res: IncomingMessage | undefined;
    const onAbort = (): void => {
      const e = abortError(signal as AbortSignal);
      req.destroy(e);
      res?.destroy(e);
    };
    const req = mod.request(u, { method: init.method ?? 'GET', headers, agent }, (r) => {
      res = r;
      r.once('close', () => signal?.removeEventListener('abort', onAbort));
      resolve({
        status: r.statusCode ?? 0,
        headers: {
          get: (name) => {
            const v = r.headers[name.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? v.join(', ') : String(v);
          },
        },
        body: Object.assign(r, {
          cancel: async (): Promise<void> => {
            r.destroy();
          },
        }),
      });
    });
    req.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}
