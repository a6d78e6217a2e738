/**
 * The upstream provider (DESIGN.md §5): reads a GitHub repository through octokit — by default
 * the NetBSD source mirror `NetBSD/src` on github.com; any `owner/repo`; GitHub Enterprise via
 * `baseUrl` (`https://ghe.example.com/api/v3`) — to record which upstream files a component was
 * built from (`rump.upstream.files`: path → git blob SHA-1) and to verify those records later.
 *
 * REST endpoints used (test/helpers/github-server.ts implements exactly these):
 *   GET /repos/{owner}/{repo}/commits/{ref}       ref → commit (and its root tree)
 *   GET /repos/{owner}/{repo}/git/trees/{sha}      one tree; `?recursive=1` for the whole subtree
 *   GET /rate_limit                                the current quota (diagnostics)
 * A component's `path` is reached by walking the trees from the root one segment at a time
 * (small answers, no truncation), then its subtree is read recursively; if GitHub truncates it,
 * the subtree is walked tree by tree. Trees are immutable: one client caches them by SHA.
 *
 * Reliability (RELIABILITY.md): 403/429 with `x-ratelimit-remaining: 0` waits until
 * `x-ratelimit-reset`, a secondary limit waits `retry-after` (60 s when absent), both bounded by
 * `maxWaitMs` and `maxRetries` (clock and sleep are injectable); 5xx and network failures are
 * retried with backoff (NW-01); other 4xx are not. Unknown repository, ref or path →
 * E_UPSTREAM naming them. Responses are size-capped and time-limited (RG-04/05); redirects are
 * followed by hand and the token is dropped when one leaves the API's origin (RG-09). The token
 * (`token`, else `GITHUB_TOKEN`, else `GH_TOKEN`) never appears in messages or results.
 * octokit's own throttling and retry plugins are disabled: their timers are not injectable and
 * their policy (retry once) is not ours.
 */
import type { Octokit as OctokitType } from 'octokit';
import {
  loadComponentDir,
  RumpkgError,
  errorFromProblems,
  checkManifest,
  listPackageFiles,
  type ComponentManifest,
  type Upstream,
} from '../../components/index.js';
import { writeFileAtomic } from '../home/index.js';

export const DEFAULT_UPSTREAM_REPOSITORY = 'NetBSD/src';
const DEFAULT_GITHUB_API = 'https://api.github.com';

export interface UpstreamClientOptions {
  /** REST API root: `https://api.github.com` (default) or `https://<host>/api/v3`. */
  baseUrl?: string;
  /** A token; default `GITHUB_TOKEN`, else `GH_TOKEN` from `env`. */
  token?: string;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof globalThis.fetch;
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Longest single wait for a rate limit (default 15 minutes); longer → E_RATE_LIMIT. */
  maxWaitMs?: number;
  /** Retries of one request (rate limits, 5xx, network); default 4. */
  maxRetries?: number;
  /** Per-request time limit (default 60 s). */
  timeoutMs?: number;
  /** Largest response body (default 64 MiB). */
  maxResponseBytes?: number;
  /** Most files one component path may hold (default 50 000). */
  maxFiles?: number;
  reporter?: { warn?(message: string): void; info?(message: string): void };
}

interface UpstreamTree {
  repository: string;
  ref: string;
  commit: string;
  path: string;
  /** Repository path → git blob SHA-1 (hex), sorted by path. */
  files: Record<string, string>;
}

interface RateLimitStatus {
  limit: number;
  remaining: number;
  /** Epoch seconds. */
  reset: number;
}

interface UpstreamClient {
  readonly baseUrl: string;
  /** Whether requests carry a token (the token itself is never exposed). */
  readonly authenticated: boolean;
  resolveRef(repository: string, ref: string): Promise<{ commit: string; tree: string }>;
  /** The files under `path` at `ref`, with their blob SHA-1s. */
  readTree(repository: string, options: { ref: string; path: string }): Promise<UpstreamTree>;
  rateLimit(): Promise<RateLimitStatus>;
}

interface GitTreeEntry {
  path: string;
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
}
interface GitTree {
  sha: string;
  tree: GitTreeEntry[];
  truncated: boolean;
}

/** `owner/repo`, validated. */
function parseRepository(repository: string): { owner: string; repo: string } {
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/.exec(repository);
  if (m === null || m[2] === '.' || m[2] === '..') {
    throw new RumpkgError('E_USAGE', `'${repository}' is not a GitHub repository name (owner/repo)`, {
      context: { repository },
      hint: `for example ${DEFAULT_UPSTREAM_REPOSITORY}`,
    });
  }
  return { owner: m[1] as string, repo: m[2] as string };
}

function normalizeBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RumpkgError('E_USAGE', `'${url}' is not a URL`, { context: { url }, hint: 'for GitHub Enterprise: https://<host>/api/v3' });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new RumpkgError('E_USAGE', `the GitHub API URL must be http(s), got ${u.protocol}`, { context: { url } });
  }
  if (u.username !== '' || u.password !== '') {
    throw new RumpkgError('E_USAGE', 'the GitHub API URL must not carry credentials; use GITHUB_TOKEN', { context: { url: `${u.protocol}//${u.host}${u.pathname}` } });
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** Milliseconds to wait before retrying a rate-limited answer, or undefined when it is not one. */
function rateLimitDelay(status: number, headers: Record<string, string | undefined>, message: string, nowMs: number): number | undefined {
  if (status !== 403 && status !== 429) return undefined;
  const retryAfter = headers['retry-after'];
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
  if (headers['x-ratelimit-remaining'] === '0' && headers['x-ratelimit-reset'] !== undefined && /^\d+$/.test(headers['x-ratelimit-reset'])) {
    return Math.max(0, Number(headers['x-ratelimit-reset']) * 1000 - nowMs) + 1000;
  }
  if (/secondary rate limit|abuse/i.test(message) || status === 429) return 60_000;
  return undefined;
}

/** A fetch with a time limit, a body size cap and hand-followed redirects (token kept on the API origin only). */
function guardedFetch(inner: typeof globalThis.fetch, options: { timeoutMs: number; maxBytes: number }): typeof globalThis.fetch {
  return async (input, init) => {
    let url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const origin = new URL(url).origin;
    let headers = new Headers(init?.headers);
    const signal = init?.signal ?? AbortSignal.timeout(options.timeoutMs);
    for (let hop = 0; ; hop++) {
      const res = await inner(url, { ...init, headers, signal, redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        if (hop >= 5) throw new TypeError(`too many redirects from ${origin}`);
        await res.body?.cancel();
        url = new URL(location, url).href;
        if (new URL(url).origin !== origin) {
          headers = new Headers(headers);
          headers.delete('authorization');
        }
        continue;
      }
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > options.maxBytes) {
        await res.body?.cancel();
        throw new RumpkgError('E_TOO_LARGE', `${url} answered ${declared} bytes (limit ${options.maxBytes})`, { context: { url } });
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      if (res.body !== null) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          size += chunk.length;
          if (size > options.maxBytes) {
            throw new RumpkgError('E_TOO_LARGE', `${url} answered more than ${options.maxBytes} bytes`, { context: { url } });
          }
          chunks.push(chunk);
        }
      }
      const body = res.status === 204 || res.status === 304 ? null : Buffer.concat(chunks);
      const out = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
      Object.defineProperty(out, 'url', { value: url });
      return out;
    }
  };
}

interface RequestErrorLike {
  status: number;
  message: string;
  response?: { headers: Record<string, string | undefined>; data?: unknown };
}
function isRequestError(e: unknown): e is RequestErrorLike {
  return e instanceof Error && e.name === 'HttpError' && typeof (e as Partial<RequestErrorLike>).status === 'number';
}

/** Creates the client. Nothing is loaded or requested until the first call. */
export function createUpstreamClient(options: UpstreamClientOptions = {}): UpstreamClient {
  const env = options.env ?? process.env;
  const pick = (v: string | undefined): string | undefined => (v !== undefined && v.trim() !== '' ? v.trim() : undefined);
  const token = pick(options.token) ?? pick(env.GITHUB_TOKEN) ?? pick(env.GH_TOKEN);
  const baseUrl = normalizeBaseUrl(options.baseUrl ?? DEFAULT_GITHUB_API);
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const maxWaitMs = options.maxWaitMs ?? 15 * 60_000;
  const maxRetries = options.maxRetries ?? 4;
  const maxFiles = options.maxFiles ?? 50_000;
  const fetchImpl = guardedFetch(options.fetch ?? globalThis.fetch, { timeoutMs: options.timeoutMs ?? 60_000, maxBytes: options.maxResponseBytes ?? 64 * 1024 * 1024 });
  let octokit: Promise<OctokitType> | undefined;
  const client = (): Promise<OctokitType> =>
    (octokit ??= import('octokit').then(
      ({ Octokit }) =>
        new Octokit({
          ...(token === undefined ? {} : { auth: token }),
          baseUrl,
          request: { fetch: fetchImpl },
          throttle: { enabled: false },
          retry: { enabled: false },
          log: { debug: () => {}, info: () => {}, warn: (m: string) => options.reporter?.warn?.(m), error: () => {} },
        }),
    ));

  const where = (w: { repository?: string; ref?: string; path?: string }): string =>
    [w.repository, w.ref === undefined ? undefined : `ref ${w.ref}`, w.path === undefined ? undefined : `path ${w.path}`].filter(Boolean).join(', ');

  const request = async <T>(route: string, params: Record<string, unknown>, what: { repository?: string; ref?: string; path?: string; notFound: string }): Promise<T> => {
    const ok = await client();
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await ok.request(route, params);
        return r.data as T;
      } catch (e) {
        if (e instanceof RumpkgError) throw e;
        if (!isRequestError(e)) throw e;
        const headers = e.response?.headers ?? {};
        const context = { repository: what.repository, ref: what.ref, path: what.path, status: e.status, url: baseUrl };
        if (e.response === undefined) {
          // No answer at all: connection refused, reset, DNS, timeout.
          if (attempt < maxRetries) {
            await sleep(Math.min(30_000, 500 * 2 ** attempt));
            continue;
          }
          throw new RumpkgError('E_NETWORK', `cannot reach ${baseUrl} (${where(what)}): ${e.message}`, {
            context,
            hint: 'check the network or --github-url',
            cause: e,
          });
        }
        const delay = rateLimitDelay(e.status, headers, e.message, now());
        if (delay !== undefined) {
          if (delay > maxWaitMs || attempt >= maxRetries) {
            throw new RumpkgError('E_RATE_LIMIT', `GitHub rate limit at ${baseUrl} (${where(what)}): retry in ${Math.ceil(delay / 1000)} s`, {
              context: { ...context, waitMs: delay },
              hint: token === undefined ? 'set GITHUB_TOKEN (or GH_TOKEN) for a higher quota' : 'wait for the quota to reset and try again',
              cause: e,
            });
          }
          options.reporter?.warn?.(`GitHub rate limit (${e.status}) at ${baseUrl}; waiting ${Math.ceil(delay / 1000)} s before retrying`);
          await sleep(delay);
          continue;
        }
        if (e.status >= 500 && attempt < maxRetries) {
          await sleep(Math.min(30_000, 500 * 2 ** attempt));
          continue;
        }
        if (e.status === 404 || e.status === 422) {
          throw new RumpkgError('E_UPSTREAM', `${what.notFound} (${where(what)}) at ${baseUrl}`, {
            context,
            hint: token === undefined ? 'check the repository, ref and path; a private repository needs GITHUB_TOKEN' : 'check the repository, ref and path',
            cause: e,
          });
        }
        if (e.status === 401 || e.status === 403) {
          throw new RumpkgError('E_UPSTREAM', `GitHub refused the request (${e.status}) for ${where(what)} at ${baseUrl}`, {
            context,
            hint: token === undefined ? 'set GITHUB_TOKEN (or GH_TOKEN)' : 'the token in GITHUB_TOKEN/GH_TOKEN is invalid or lacks access',
            cause: e,
          });
        }
        throw new RumpkgError('E_UPSTREAM', `unexpected answer ${e.status} from ${baseUrl} for ${where(what)}`, { context, cause: e });
      }
    }
  };

  const trees = new Map<string, Promise<GitTree>>();
  const tree = (repository: string, sha: string, recursive: boolean, what: { ref: string; path: string }): Promise<GitTree> => {
    const key = `${repository}\0${sha}\0${recursive}`;
    let p = trees.get(key);
    if (p === undefined) {
      const { owner, repo } = parseRepository(repository);
      p = request<GitTree>(
        'GET /repos/{owner}/{repo}/git/trees/{tree_sha}',
        { owner, repo, tree_sha: sha, ...(recursive ? { recursive: '1' } : {}) },
        { repository, ref: what.ref, path: what.path, notFound: `tree ${sha} not found` },
      ).then(checkTree);
      p.catch(() => trees.delete(key));
      trees.set(key, p);
    }
    return p;
  };

  const resolveRef = async (repository: string, ref: string): Promise<{ commit: string; tree: string }> => {
    const { owner, repo } = parseRepository(repository);
    if (ref === '' || ref.length > 250 || /[\s~^:?*[\\]|\.\.|@\{/.test(ref)) {
      throw new RumpkgError('E_USAGE', `'${ref}' is not a git ref`, { context: { ref }, hint: 'a tag, branch or commit SHA, e.g. netbsd-10-0-RELEASE' });
    }
    const data = await request<{ sha?: unknown; commit?: { tree?: { sha?: unknown } } }>(
      'GET /repos/{owner}/{repo}/commits/{ref}',
      { owner, repo, ref },
      { repository, ref, notFound: `unknown repository or ref` },
    );
    const commit = data.sha;
    const treeSha = data.commit?.tree?.sha;
    if (!isSha(commit) || !isSha(treeSha)) {
      throw new RumpkgError('E_UPSTREAM', `${baseUrl} answered a commit without sha/tree for ${repository} ref ${ref}`, { context: { repository, ref } });
    }
    return { commit, tree: treeSha };
  };

  return {
    baseUrl,
    authenticated: token !== undefined,
    resolveRef,
    async readTree(repository, { ref, path }) {
      const clean = normalizeUpstreamPath(path);
      const { commit, tree: rootSha } = await resolveRef(repository, ref);
      let sha = rootSha;
      const segs = clean === '' ? [] : clean.split('/');
      for (let i = 0; i < segs.length; i++) {
        const t = await tree(repository, sha, false, { ref, path: clean });
        const e = t.tree.find((x) => x.path === segs[i]);
        if (e === undefined || e.type !== 'tree') {
          throw new RumpkgError('E_UPSTREAM', `${segs.slice(0, i + 1).join('/')} is ${e === undefined ? 'not in' : 'not a directory of'} ${repository} at ${ref}`, {
            context: { repository, ref, path: clean },
            hint: 'the component\'s upstream path may have moved at this ref',
          });
        }
        sha = e.sha;
      }
      const files: Array<[string, string]> = [];
      const prefix = clean === '' ? '' : `${clean}/`;
      const collect = (entries: GitTreeEntry[], base: string): void => {
        for (const e of entries) {
          if (e.type !== 'blob') continue;
          files.push([`${prefix}${base}${e.path}`, e.sha]);
          if (files.length > maxFiles) {
            throw new RumpkgError('E_TOO_LARGE', `${repository} ${clean} at ${ref} holds more than ${maxFiles} files`, {
              context: { repository, ref, path: clean },
              hint: 'is the upstream path a component directory?',
            });
          }
        }
      };
      const full = await tree(repository, sha, true, { ref, path: clean });
      if (!full.truncated) collect(full.tree, '');
      else {
        // Too big for one answer: walk it one tree at a time.
        const queue: Array<{ sha: string; base: string }> = [{ sha, base: '' }];
        for (let q = queue.shift(); q !== undefined; q = queue.shift()) {
          const t = await tree(repository, q.sha, false, { ref, path: clean });
          collect(t.tree, q.base);
          for (const e of t.tree) if (e.type === 'tree') queue.push({ sha: e.sha, base: `${q.base}${e.path}/` });
        }
      }
      files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return { repository, ref, commit, path: clean, files: Object.fromEntries(files) };
    },
    async rateLimit() {
      const data = await request<{ resources?: { core?: Partial<RateLimitStatus> }; rate?: Partial<RateLimitStatus> }>('GET /rate_limit', {}, { notFound: 'no rate limit endpoint' });
      const core = data.resources?.core ?? data.rate ?? {};
      return { limit: Number(core.limit ?? 0), remaining: Number(core.remaining ?? 0), reset: Number(core.reset ?? 0) };
    },
  };
}

function isSha(x: unknown): x is string {
  return typeof x === 'string' && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(x);
}

function checkTree(t: unknown): GitTree {
  const o = t as Partial<GitTree> | null;
  if (o === null || typeof o !== 'object' || !Array.isArray(o.tree)) throw new RumpkgError('E_UPSTREAM', 'GitHub answered a malformed tree', {});
  for (const e of o.tree) {
    if (typeof e.path !== 'string' || e.path === '' || e.path.includes('/') && !e.path.split('/').every((s) => s !== '' && s !== '.' && s !== '..') || !isSha(e.sha)) {
      throw new RumpkgError('E_UPSTREAM', `GitHub answered a malformed tree entry ${JSON.stringify(e.path)}`, { context: { tree: o.sha } });
    }
  }
  return { sha: String(o.sha), tree: o.tree, truncated: o.truncated === true };
}

/** `sys/rump/net/lib/libnetinet` without leading/trailing slashes; refuses `..`. */
function normalizeUpstreamPath(path: string): string {
  const p = path.replace(/^\/+|\/+$/g, '');
  if (p === '.' || p === '') return '';
  if (p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new RumpkgError('E_USAGE', `'${path}' is not a repository path`, { context: { path } });
  }
  return p;
}

/** The provenance block for a component: its upstream at `ref`, with every file's blob hash. */
export async function readUpstream(
  source: { project?: string; repository?: string; path: string },
  options: { ref: string; client: UpstreamClient },
): Promise<Upstream> {
  const repository = source.repository ?? DEFAULT_UPSTREAM_REPOSITORY;
  const t = await options.client.readTree(repository, { ref: options.ref, path: source.path });
  return { project: source.project ?? (repository === DEFAULT_UPSTREAM_REPOSITORY ? 'NetBSD' : repository), repository, ref: options.ref, commit: t.commit, path: t.path, files: t.files };
}

interface UpstreamDifference {
  modified: Array<{ path: string; recorded: string; upstream: string }>;
  missing: string[];
  added: Array<{ path: string; upstream: string }>;
}

/** Recorded hashes vs upstream hashes. Pure. */
export function compareUpstreamFiles(recorded: Record<string, string>, upstream: Record<string, string>): UpstreamDifference {
  const out: UpstreamDifference = { modified: [], missing: [], added: [] };
  for (const [p, sha] of Object.entries(recorded).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const u = upstream[p];
    if (u === undefined) out.missing.push(p);
    else if (u !== sha) out.modified.push({ path: p, recorded: sha, upstream: u });
  }
  for (const [p, sha] of Object.entries(upstream).sort(([a], [b]) => (a < b ? -1 : 1))) if (!Object.hasOwn(recorded, p)) out.added.push({ path: p, upstream: sha });
  return out;
}

interface UpstreamVerifyResult extends UpstreamDifference {
  repository: string;
  ref: string;
  path: string;
  recordedCommit: string | null;
  commit: string;
  /** The ref now names another commit than the one recorded. */
  commitChanged: boolean;
  files: number;
  ok: boolean;
}

/** Re-checks recorded `upstream.files` against the repository at `upstream.ref`. */
export async function verifyUpstream(upstream: Upstream, options: { client: UpstreamClient; what?: string }): Promise<UpstreamVerifyResult> {
  if (upstream.files === undefined || Object.keys(upstream.files).length === 0) {
    throw new RumpkgError('E_UPSTREAM', `${options.what ?? upstream.path} records no upstream file hashes`, {
      context: { repository: upstream.repository, ref: upstream.ref, path: upstream.path },
      hint: 'record them first: rumpkg import upstream --ref REF DIR',
    });
  }
  const at = upstream.ref ?? upstream.commit;
  if (at === undefined) {
    throw new RumpkgError('E_UPSTREAM', `${options.what ?? upstream.path} records neither an upstream ref nor a commit`, {
      context: { repository: upstream.repository, path: upstream.path },
      hint: 'record them: rumpkg import upstream --ref REF DIR (or import archives with --upstream-ref / --upstream-commit)',
    });
  }
  const t = await options.client.readTree(upstream.repository, { ref: at, path: upstream.path });
  const diff = compareUpstreamFiles(upstream.files, t.files);
  const recordedCommit = upstream.commit ?? null;
  const commitChanged = recordedCommit !== null && recordedCommit !== t.commit;
  return {
    repository: upstream.repository,
    ref: at,
    path: t.path,
    recordedCommit,
    commit: t.commit,
    commitChanged,
    files: Object.keys(upstream.files).length,
    ...diff,
    ok: diff.modified.length === 0 && diff.missing.length === 0 && diff.added.length === 0,
  };
}

/** Replaces `rump.upstream` in the component directory's package.json (validated, atomic). */
export async function writeComponentUpstream(dir: string, upstream: Upstream): Promise<ComponentManifest> {
  const loaded = await loadComponentDir(dir);
  const file = `${dir}/package.json`;
  if (loaded.value === undefined) throw errorFromProblems(loaded.errors, { file, kind: 'component-manifest' });
  const m: ComponentManifest = { ...loaded.value, rump: { ...loaded.value.rump, upstream: orderedUpstream(upstream) } };
  const problems = checkManifest(m, { file, files: await listPackageFiles(dir) });
  if (problems.length > 0) throw errorFromProblems(problems, { file, kind: 'component-manifest' });
  await writeFileAtomic(file, `${JSON.stringify(m, null, 2)}\n`);
  return m;
}

function orderedUpstream(u: Upstream): Upstream {
  return {
    project: u.project,
    repository: u.repository,
    ref: u.ref,
    ...(u.commit === undefined ? {} : { commit: u.commit }),
    path: u.path,
    ...(u.files === undefined ? {} : { files: Object.fromEntries(Object.entries(u.files).sort(([a], [b]) => (a < b ? -1 : 1))) }),
  };
}
