/**
 * The upstream provider through octokit against a loopback GitHub server backed by a real git
 * repository: blob hashes must equal `git hash-object`; rate limits, 5xx and 404/422 exercised.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError, loadComponentDir, type RumpkgError } from '../../components/index.js';
import { compareUpstreamFiles, createUpstreamClient, readUpstream, verifyUpstream, writeComponentUpstream, type UpstreamClientOptions } from '../../registry/index.js';
import { commitFiles, createGitRepo, git, startGitHubServer, type GitHubServer } from '../helpers/github-server.js';
import { manifestJson, writeComponentDir } from '../helpers/tar.js';

const REF = 'netbsd-10-0-RELEASE';
const PATH = 'sys/rump/net/lib/libnetinet';
const FILES: Record<string, string> = {
  [`${PATH}/Makefile`]: 'LIB=\trumpnet_netinet\n.PATH: ${.CURDIR}/../../../../netinet\n',
  [`${PATH}/netinet_component.c`]: '/* activation shim */\nRUMP_COMPONENT(RUMP_COMPONENT_NET) { }\n',
  [`${PATH}/opt/opt_inet.h`]: '#define INET 1\n',
  'sys/netinet/tcp_input.c': 'int tcp_input;\n',
  'sys/rump/net/lib/libnet/Makefile': 'LIB=\trumpnet\n',
};

let repo: string;
let server: GitHubServer;
let work: string;
const sleeps: number[] = [];
const NOW = 1_700_000_000_000;

const client = (o: Partial<UpstreamClientOptions> = {}) =>
  createUpstreamClient({ baseUrl: server.url, env: {}, now: () => NOW, sleep: async (ms) => void sleeps.push(ms), ...o });

beforeAll(async () => {
  repo = await createGitRepo(FILES, { tag: REF });
  server = await startGitHubServer({ 'NetBSD/src': repo });
  work = await mkdtemp(join(tmpdir(), 'rumpkg-upstream-'));
});
afterAll(async () => {
  await server?.close();
  for (const d of [repo, work]) if (d !== undefined) await rm(d, { recursive: true, force: true });
});

const hashObject = (p: string): string => git(repo, ['hash-object', p]);

describe('reading upstream', () => {
  it('records every file under the path with its git blob SHA-1 and the ref\'s commit', async () => {
    const u = await readUpstream({ repository: 'NetBSD/src', path: PATH }, { ref: REF, client: client() });
    expect(u.commit).toBe(git(repo, ['rev-parse', `${REF}^{commit}`]));
    expect(u.project).toBe('NetBSD');
    const want = Object.keys(FILES).filter((p) => p.startsWith(`${PATH}/`)).sort();
    expect(Object.keys(u.files ?? {})).toEqual(want);
    for (const p of want) expect(u.files?.[p]).toBe(hashObject(p));
  });

  it('walks the subtree tree by tree when GitHub truncates the recursive answer', async () => {
    server.truncateOver = 1;
    try {
      const t = await client().readTree('NetBSD/src', { ref: REF, path: PATH });
      expect(Object.keys(t.files)).toHaveLength(3);
      expect(t.files[`${PATH}/opt/opt_inet.h`]).toBe(hashObject(`${PATH}/opt/opt_inet.h`));
    } finally {
      server.truncateOver = 100_000;
    }
  });

  it('works against a GitHub Enterprise base URL (/api/v3)', async () => {
    const ghe = await startGitHubServer({ 'corp/netbsd': repo }, { prefix: '/api/v3' });
    try {
      const t = await client({ baseUrl: ghe.url }).readTree('corp/netbsd', { ref: REF, path: 'sys/netinet' });
      expect(t.files).toEqual({ 'sys/netinet/tcp_input.c': hashObject('sys/netinet/tcp_input.c') });
      expect(ghe.requests.every((r) => r.path.startsWith('/api/v3/'))).toBe(true);
    } finally {
      await ghe.close();
    }
  });

  it('sends the token from GITHUB_TOKEN and never shows it', async () => {
    const before = server.requests.length;
    const c = client({ env: { GITHUB_TOKEN: 'ghp_sekrit123' } });
    expect(c.authenticated).toBe(true);
    await c.resolveRef('NetBSD/src', REF);
    expect(server.requests.slice(before).every((r) => r.authorization?.includes('ghp_sekrit123'))).toBe(true);
    const e = (await c.resolveRef('NetBSD/src', 'no-such-ref').catch((x: unknown) => x)) as RumpkgError;
    expect(JSON.stringify(e.toJSON())).not.toContain('sekrit');
    expect(e.message).not.toContain('sekrit');
    expect(createUpstreamClient({ env: { GH_TOKEN: 'x' } }).authenticated).toBe(true);
    expect(createUpstreamClient({ env: {} }).authenticated).toBe(false);
  });
});

describe('errors', () => {
  it('an unknown repository (404) → E_UPSTREAM naming the repository and ref', async () => {
    const e = await client().resolveRef('Nobody/nothing', REF).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_UPSTREAM')).toBe(true);
    expect((e as RumpkgError).message).toContain('Nobody/nothing');
    expect((e as RumpkgError).message).toContain(REF);
  });

  it('an unknown ref (GitHub answers 422) → E_UPSTREAM naming it', async () => {
    const e = await client().readTree('NetBSD/src', { ref: 'netbsd-99-RELEASE', path: PATH }).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_UPSTREAM')).toBe(true);
    expect((e as RumpkgError).message).toMatch(/NetBSD\/src.*netbsd-99-RELEASE/);
  });

  it('a path that does not exist at the ref → E_UPSTREAM naming it', async () => {
    const e = await client().readTree('NetBSD/src', { ref: REF, path: 'sys/rump/dev/lib/libnope' }).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_UPSTREAM')).toBe(true);
    expect((e as RumpkgError).message).toContain('sys/rump/dev');
  });

  it('bad repository names and refs are usage errors before any request', async () => {
    const n = server.requests.length;
    for (const bad of ['NetBSD', '../etc', 'a/b/c', 'x/..']) await expect(client().readTree(bad, { ref: REF, path: '' })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(client().resolveRef('NetBSD/src', 'a..b')).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(client().resolveRef('not a repo', REF)).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(client().readTree('NetBSD/src', { ref: REF, path: 'sys/../etc' })).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(server.requests.length).toBe(n);
  });
});

describe('rate limits and transient failures', () => {
  it('403 with x-ratelimit-remaining 0 waits until x-ratelimit-reset, then retries', async () => {
    sleeps.length = 0;
    const reset = Math.floor(NOW / 1000) + 30;
    server.failNext({ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) }, body: { message: 'API rate limit exceeded' } });
    const warnings: string[] = [];
    const r = await client({ reporter: { warn: (m) => void warnings.push(m) } }).resolveRef('NetBSD/src', REF);
    expect(r.commit).toBe(git(repo, ['rev-parse', REF]));
    expect(sleeps).toEqual([31_000]);
    expect(warnings[0]).toMatch(/rate limit/);
  });

  it('a secondary limit waits retry-after (403 and 429)', async () => {
    sleeps.length = 0;
    server.failNext(
      { status: 403, headers: { 'retry-after': '7' }, body: { message: 'You have exceeded a secondary rate limit' } },
      { status: 429, headers: { 'retry-after': '2' } },
    );
    await client().resolveRef('NetBSD/src', REF);
    expect(sleeps).toEqual([7_000, 2_000]);
  });

  it('a reset too far away → E_RATE_LIMIT without waiting, with a token hint', async () => {
    sleeps.length = 0;
    server.failNext({ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(NOW / 1000) + 7200) } });
    const e = await client({ maxWaitMs: 60_000 }).resolveRef('NetBSD/src', REF).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_RATE_LIMIT')).toBe(true);
    expect((e as RumpkgError).hint).toMatch(/GITHUB_TOKEN/);
    expect(sleeps).toEqual([]);
  });

  it('gives up after maxRetries rate-limited answers', async () => {
    sleeps.length = 0;
    for (let i = 0; i < 3; i++) server.failNext({ status: 429, headers: { 'retry-after': '1' } });
    const e = await client({ maxRetries: 2 }).resolveRef('NetBSD/src', REF).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_RATE_LIMIT')).toBe(true);
    expect(sleeps).toEqual([1000, 1000]);
  });

  it('a 403 that is not a rate limit is not retried', async () => {
    sleeps.length = 0;
    server.failNext({ status: 403, body: { message: 'Resource not accessible by integration' } });
    const e = await client().resolveRef('NetBSD/src', REF).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_UPSTREAM')).toBe(true);
    expect(sleeps).toEqual([]);
  });

  it('5xx is retried with backoff', async () => {
    sleeps.length = 0;
    server.failNext({ status: 502 }, { status: 503 });
    await client().resolveRef('NetBSD/src', REF);
    expect(sleeps).toEqual([500, 1000]);
  });

  it('an unreachable server → E_NETWORK after bounded retries', async () => {
    sleeps.length = 0;
    const e = await client({ baseUrl: 'http://127.0.0.1:9', maxRetries: 1 }).resolveRef('NetBSD/src', REF).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_NETWORK')).toBe(true);
    expect(sleeps).toHaveLength(1);
  });

  it('follows a redirect to another origin without the token (RG-09)', async () => {
    const other = await startGitHubServer({ 'NetBSD/src': repo });
    try {
      server.failNext({ status: 301, headers: { location: `${other.url}/repos/NetBSD/src/commits/${REF}` }, match: '/commits/' });
      const r = await client({ env: { GITHUB_TOKEN: 'ghp_sekrit123' } }).resolveRef('NetBSD/src', REF);
      expect(r.commit).toBe(git(repo, ['rev-parse', REF]));
      expect(other.requests).toHaveLength(1);
      expect(other.requests[0]?.authorization).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it('rate_limit endpoint', async () => {
    expect(await client().rateLimit()).toEqual({ limit: 60, remaining: 59, reset: 1_900_000_000 });
  });
});

describe('verifying recorded hashes', () => {
  it('compareUpstreamFiles finds modified, missing and added files', () => {
    expect(compareUpstreamFiles({ a: '1', b: '2', c: '3' }, { a: '1', b: '9', d: '4' })).toEqual({
      modified: [{ path: 'b', recorded: '2', upstream: '9' }],
      missing: ['c'],
      added: [{ path: 'd', upstream: '4' }],
    });
  });

  it('records into a component directory, verifies clean, then reports upstream changes', async () => {
    const r2 = await createGitRepo(FILES, { tag: REF });
    const s2 = await startGitHubServer({ 'NetBSD/src': r2 });
    try {
      const dir = join(work, 'tcpip');
      const m = manifestJson() as { rump: Record<string, unknown> };
      m.rump.upstream = { project: 'NetBSD', repository: 'NetBSD/src', ref: REF, path: PATH };
      writeComponentDir(dir, {}, m);
      const c = client({ baseUrl: s2.url });
      const u = await readUpstream({ repository: 'NetBSD/src', path: PATH }, { ref: REF, client: c });
      await writeComponentUpstream(dir, u);
      const loaded = await loadComponentDir(dir);
      expect(loaded.errors).toEqual([]);
      expect(loaded.value?.rump.upstream?.files).toEqual(u.files);
      expect(JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')).rump.upstream.commit).toBe(u.commit);

      const clean = await verifyUpstream(loaded.value?.rump.upstream as NonNullable<typeof u>, { client: client({ baseUrl: s2.url }) });
      expect(clean).toMatchObject({ ok: true, modified: [], missing: [], added: [], commitChanged: false, files: 3 });

      // Upstream moves the tag to a commit that edits, removes and adds files.
      await commitFiles(r2, { [`${PATH}/Makefile`]: 'LIB=\trumpnet_netinet\nCPPFLAGS+= -DEVIL\n', [`${PATH}/opt/opt_inet.h`]: null, [`${PATH}/extra.c`]: 'int x;\n' }, 'change');
      git(r2, ['tag', '-f', REF]);
      const dirty = await verifyUpstream(loaded.value?.rump.upstream as NonNullable<typeof u>, { client: client({ baseUrl: s2.url }) });
      expect(dirty.ok).toBe(false);
      expect(dirty.commitChanged).toBe(true);
      expect(dirty.modified).toEqual([{ path: `${PATH}/Makefile`, recorded: u.files?.[`${PATH}/Makefile`], upstream: git(r2, ['hash-object', `${PATH}/Makefile`]) }]);
      expect(dirty.missing).toEqual([`${PATH}/opt/opt_inet.h`]);
      expect(dirty.added).toEqual([{ path: `${PATH}/extra.c`, upstream: git(r2, ['hash-object', `${PATH}/extra.c`]) }]);
    } finally {
      await s2.close();
      await rm(r2, { recursive: true, force: true });
    }
  });

  it('a component without recorded hashes → E_UPSTREAM with a hint', async () => {
    const e = await verifyUpstream({ project: 'NetBSD', repository: 'NetBSD/src', ref: REF, path: PATH }, { client: client() }).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_UPSTREAM')).toBe(true);
    expect((e as RumpkgError).hint).toMatch(/import upstream/);
  });
});
