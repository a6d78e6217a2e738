/**
 * `rumpkg import upstream` and `rumpkg verify [--upstream]` through the CLI entry point, against
 * the loopback GitHub server backed by a real git repository.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { commitFiles, createGitRepo, git, startGitHubServer, type GitHubServer } from '../helpers/github-server.js';
import { runCli } from '../helpers/cli.js';
import { writeComponentDir } from '../helpers/tar.js';

const REF = 'netbsd-10-0-RELEASE';
const PATH = 'sys/rump/net/lib/libnetinet';
const TOKEN = 'ghp_cliSekret42';
let repo: string;
let server: GitHubServer;
let work: string;

const run = runCli;

beforeAll(async () => {
  repo = await createGitRepo({ [`${PATH}/Makefile`]: 'LIB=rumpnet_netinet\n', [`${PATH}/netinet_component.c`]: 'int shim;\n', 'sys/netinet/ip.c': 'int ip;\n' }, { tag: REF });
  server = await startGitHubServer({ 'NetBSD/src': repo });
  work = await mkdtemp(join(tmpdir(), 'rumpkg-upstream-cli-'));
  vi.stubEnv('GITHUB_TOKEN', TOKEN);
  vi.stubEnv('RUMPKG_HOME', join(work, 'home'));
});
afterEach(() => {
  process.exitCode = undefined;
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await server?.close();
  for (const d of [repo, work]) if (d !== undefined) await rm(d, { recursive: true, force: true });
});

async function componentDir(): Promise<string> {
  const dir = join(work, 'tcpip');
  writeComponentDir(dir);
  return dir;
}

describe('rumpkg import upstream / verify --upstream', () => {
  it('records, verifies clean, then reports an upstream change with exit 1; the token never shows', async () => {
    const dir = await componentDir();
    const rec = await run(['import', 'upstream', '--ref', REF, '--github-url', server.url, '--json', dir]);
    expect(rec.stderr).toBe('');
    expect(rec.code).toBe(0);
    const doc = JSON.parse(rec.stdout) as { components: Array<{ name: string; upstream: { files: Record<string, string>; commit: string; path: string } }> };
    expect(doc.components[0]?.upstream.path).toBe(PATH); // from the catalog entry of librumpnet_netinet
    expect(doc.components[0]?.upstream.files).toEqual({
      [`${PATH}/Makefile`]: git(repo, ['hash-object', `${PATH}/Makefile`]),
      [`${PATH}/netinet_component.c`]: git(repo, ['hash-object', `${PATH}/netinet_component.c`]),
    });
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    expect(pkg.rump.upstream.commit).toBe(git(repo, ['rev-parse', REF]));

    const ok = await run(['verify', '--upstream', '--github-url', server.url, dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok @rump\/tcpip@10\.0\.0/);

    await commitFiles(repo, { [`${PATH}/netinet_component.c`]: 'int shim; int evil;\n', [`${PATH}/new.c`]: 'int n;\n' }, 'upstream change');
    git(repo, ['tag', '-f', REF]);
    const bad = await run(['verify', '--upstream', '--github-url', server.url, dir]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/differs/);
    expect(bad.stdout).toMatch(new RegExp(`modified\\s+${PATH}/netinet_component.c`));
    expect(bad.stdout).toMatch(new RegExp(`added\\s+${PATH}/new.c`));
    expect(bad.stderr).toMatch(/error\[E_UPSTREAM\]: 1 of 1 component differ/);
    const badJson = await run(['verify', '--upstream', '--github-url', server.url, '--json', dir]);
    expect(badJson.code).toBe(1);
    const err = JSON.parse(badJson.stdout) as { error: { code: string; context: { results: Array<{ modified: unknown[]; added: unknown[]; commitChanged: boolean }> } } };
    expect(err.error.code).toBe('E_UPSTREAM');
    expect(err.error.context.results[0]).toMatchObject({ commitChanged: true });
    expect(err.error.context.results[0]?.modified).toHaveLength(1);

    for (const r of [rec, ok, bad, badJson]) expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(server.requests.every((r) => r.authorization?.includes(TOKEN))).toBe(true);
  });

  it('a catalog name prints the upstream block and writes nothing', async () => {
    const r = await run(['--json', 'import', 'upstream', '--ref', REF, '--github-url', server.url, 'tcpip']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { components: Array<{ name: string; dir: null; upstream: { repository: string; files: Record<string, string> } }> };
    expect(doc.components[0]).toMatchObject({ name: '@rump/tcpip', dir: null, upstream: { repository: 'NetBSD/src' } });
    expect(Object.keys(doc.components[0]?.upstream.files ?? {})).toContain(`${PATH}/Makefile`);
  });

  it('an unknown ref is a typed error naming repository and ref', async () => {
    const dir = await componentDir();
    const r = await run(['import', 'upstream', '--ref', 'netbsd-77-RELEASE', '--github-url', server.url, dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[E_UPSTREAM\].*NetBSD\/src.*netbsd-77-RELEASE/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack
  });

  it('verify --upstream on a directory without recorded hashes, and without a lockfile', async () => {
    const dir = await componentDir();
    const r = await run(['verify', '--upstream', '--github-url', server.url, dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E_UPSTREAM.*records no upstream file hashes/);
    const none = await run(['verify', '--upstream', '--cwd', work]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/E_NOT_FOUND.*rumpkg\.lock/);
  });

  it('verify without --upstream checks the store', async () => {
    const r = await run(['verify', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ checked: 0, problems: [] });
  });
});
