/**
 * A loopback GitHub REST server for the upstream provider's tests, backed by real git
 * repositories: every answer is computed with git itself (`git rev-parse`, `git ls-tree`), so
 * blob SHA-1s are exactly `git hash-object`'s. Implements the endpoints registry/upstream.ts uses:
 *
 *   GET /repos/{o}/{r}/commits/{ref}                 → { sha, commit: { tree: { sha } } } | 404 repo | 422 ref
 *   GET /repos/{o}/{r}/git/trees/{sha}[?recursive=1] → { sha, tree: [{path, mode, type, sha, size}], truncated }
 *   GET /rate_limit                                  → { resources: { core }, rate }
 *
 * Also served under a path prefix (`/api/v3`, GitHub Enterprise style) when `prefix` is given.
 * Tests script faults with `failNext` (e.g. a 403 with x-ratelimit-remaining 0) and read the
 * request log (`requests`, including whether an Authorization header came).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Only for requests whose path contains this (default: any request). */
  match?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
}

export interface GitHubServer {
  /** The API base URL (`http://127.0.0.1:PORT` + prefix). */
  url: string;
  requests: LoggedRequest[];
  failNext(...responses: ScriptedResponse[]): void;
  /** Recursive tree answers with more entries than this are truncated (GitHub does at 100 000). */
  truncateOver: number;
  close(): Promise<void>;
}

export function git(dir: string, args: string[], input?: string): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    input,
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org', GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z' },
  }).trim();
}

/** Creates a git repository with `files` committed and `tag` (if given) on that commit. */
export async function createGitRepo(files: Record<string, string>, options: { tag?: string; branch?: string } = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rumpkg-gitrepo-'));
  git(dir, ['init', '-q', '-b', options.branch ?? 'trunk']);
  await commitFiles(dir, files, 'initial');
  if (options.tag !== undefined) git(dir, ['tag', options.tag]);
  return dir;
}

/** Writes (or, with null, deletes) files and commits them; returns the commit SHA. */
export async function commitFiles(dir: string, files: Record<string, string | null>, message: string): Promise<string> {
  for (const [p, text] of Object.entries(files)) {
    if (text === null) git(dir, ['rm', '-q', p]);
    else {
      await mkdir(dirname(join(dir, p)), { recursive: true });
      await writeFile(join(dir, p), text);
      git(dir, ['add', p]);
    }
  }
  git(dir, ['commit', '-q', '-m', message]);
  return git(dir, ['rev-parse', 'HEAD']);
}

export async function startGitHubServer(repos: Record<string, string>, options: { prefix?: string } = {}): Promise<GitHubServer> {
  const prefix = options.prefix ?? '';
  const scripted: ScriptedResponse[] = [];
  const requests: LoggedRequest[] = [];
  const state = { truncateOver: 100_000 };
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '59', ...headers });
    res.end(text);
  };
  const notFound = (res: ServerResponse): void => send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, authorization: req.headers.authorization });
    const i = scripted.findIndex((s) => s.match === undefined || url.pathname.includes(s.match));
    if (i >= 0) {
      const s = scripted.splice(i, 1)[0] as ScriptedResponse;
      send(res, s.status, s.body ?? { message: `scripted ${s.status}` }, s.headers);
      return;
    }
    if (req.method !== 'GET' || !url.pathname.startsWith(prefix)) return notFound(res);
    const parts = url.pathname.slice(prefix.length).split('/').filter((p) => p !== '').map(decodeURIComponent);
    if (parts.length === 1 && parts[0] === 'rate_limit') {
      const core = { limit: 60, remaining: 59, reset: 1_900_000_000, used: 1 };
      return send(res, 200, { resources: { core }, rate: core });
    }
    if (parts[0] !== 'repos' || parts.length < 5) return notFound(res);
    const dir = repos[`${parts[1]}/${parts[2]}`];
    if (dir === undefined) return notFound(res);
    if (parts[3] === 'commits') {
      const ref = parts.slice(4).join('/');
      let sha: string;
      try {
        sha = git(dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
      } catch {
        return send(res, 422, { message: `No commit found for SHA: ${ref}`, documentation_url: 'https://docs.github.com/rest' });
      }
      const tree = git(dir, ['rev-parse', `${sha}^{tree}`]);
      return send(res, 200, { sha, commit: { tree: { sha: tree }, message: git(dir, ['log', '-1', '--format=%s', sha]) } });
    }
    if (parts[3] === 'git' && parts[4] === 'trees' && parts.length === 6) {
      const sha = parts[5] as string;
      let tree: string;
      try {
        tree = git(dir, ['rev-parse', '--verify', '--quiet', `${sha}^{tree}`]);
      } catch {
        return notFound(res);
      }
      const recursive = url.searchParams.get('recursive') !== null;
      const out = git(dir, ['ls-tree', '-l', ...(recursive ? ['-r', '-t'] : []), tree]);
      let entries = out === '' ? [] : out.split('\n').map((line) => {
        const [meta, path] = line.split('\t') as [string, string];
        const [mode, type, s, size] = meta.split(/\s+/) as [string, string, string, string];
        return { path, mode, type, sha: s, ...(type === 'blob' ? { size: Number(size) } : {}) };
      });
      let truncated = false;
      if (recursive && entries.length > state.truncateOver) {
        entries = entries.slice(0, state.truncateOver);
        truncated = true;
      }
      return send(res, 200, { sha: tree, tree: entries, truncated });
    }
    return notFound(res);
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      send(res, 500, { message: String(e) });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    requests,
    failNext: (...r) => scripted.push(...r),
    get truncateOver() {
      return state.truncateOver;
    },
    set truncateOver(n: number) {
      state.truncateOver = n;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
