/**
 * The CLI as users run it: package.json `bin` → dist/rumpkg (a sh script that starts node on the
 * launcher; test/cli/extra-ca.test.ts) → dist/rumpkg.cjs, the launcher of the bundle made by
 * scripts/bundle.mjs (needs `npm run build`). Checks that the bundle is self-contained (no
 * relative import left, every rewritten `import.meta.url` names a compiled module that exists),
 * that its V8 code cache fits this node, and that the paths which depend on the rewriting work
 * from the bundle: the version from package.json, the precompiled schema validators and
 * spdx-expression-parse (createRequire), the glue template (`build --dry-run`), and an ESM-only
 * package (octokit) through the launcher's import().
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode } from '../helpers/cli.js';
import { createGitRepo, startGitHubServer, type GitHubServer } from '../helpers/github-server.js';
import { corpusRoot, writeProject } from '../packager/helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
/** The launcher (the shipped command, package.json bin, starts node on it). */
const BIN = join(ROOT, 'dist/rumpkg.cjs');
const work = mkdtempSync(join(tmpdir(), 'rumpkg-bundle-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the bin asynchronously (the loopback GitHub server answers from this process). */
function rumpkg(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode([BIN, ...args], { cwd: options.cwd ?? work, env: { ...process.env, RUMPKG_HOME: join(work, 'home'), NO_COLOR: '1', ...options.env } });
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build`);
});

describe('the bundled CLI (package.json bin)', () => {
  it('is the launcher of one self-contained bundle whose code cache fits this node', async () => {
    expect(pkg.bin.rumpkg).toBe('dist/rumpkg');
    const bundle = readFileSync(join(ROOT, 'dist/rumpkg-bundle.cjs'), 'utf8');
    expect(bundle).not.toMatch(/\b(?:require|import)\(\s*["']\.\.?\//);
    expect(bundle).not.toMatch(/\bimport\.meta\b/);
    const rewritten = [...bundle.matchAll(/join\(__dirname, "([^"]+\.js)"\)/g)].map((m) => m[1]!);
    expect(rewritten).toEqual(expect.arrayContaining(['cli/version.js', 'packager/build/glue.js', 'schemas/validate.js', 'components/catalog/catalog.js']));
    // The miniature corpus is a test fixture: it never ships in the CLI.
    expect(bundle).not.toMatch(/buildCorpus|scripts\/corpus/);
    for (const f of rewritten) expect(existsSync(join(ROOT, 'dist', f)), f).toBe(true);
    const r = await rumpkg(['--version'], { env: { RUMPKG_CODE_CACHE_REPORT: '1' } });
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: 'rumpkg: code cache accepted (rumpkg-bundle.cjs.cache)\n' });
    // dist/cli/bin.js (tests, benches, demo) runs the same bundle.
    const viaDist = spawnSync(process.execPath, [join(ROOT, 'dist/cli/bin.js'), '--version'], { encoding: 'utf8', env: { ...process.env, RUMPKG_CODE_CACHE_REPORT: '1' } });
    expect(viaDist.stderr).toBe('rumpkg: code cache accepted (rumpkg-bundle.cjs.cache)\n');
  });

  it('ships a code cache per trained command, each holding that command\'s code, and the launcher picks it (scripts/code-cache.mjs)', () => {
    // The same launcher and bundle in a directory of their own, cache made from `--version` alone:
    // what V8 compiles to print the version. A command's own cache holds its code besides
    // (import, build, audit, add: several times more).
    const dir = join(work, 'version-only');
    mkdirSync(dir);
    for (const f of ['rumpkg.cjs', 'rumpkg-bundle.cjs']) writeFileSync(join(dir, f), readFileSync(join(ROOT, 'dist', f)));
    const r = spawnSync(process.execPath, [join(dir, 'rumpkg.cjs'), '--version'], { encoding: 'utf8', env: { ...process.env, RUMPKG_WRITE_CODE_CACHE: '1' } });
    expect(r.status, r.stderr).toBe(0);
    const versionOnly = readFileSync(join(dir, 'rumpkg-bundle.cjs.cache')).length;
    for (const command of ['import', 'build', 'audit', 'add']) {
      const own = readFileSync(join(ROOT, `dist/rumpkg-bundle.cjs.cache-${command}`)).length;
      expect(own, command).toBeGreaterThan(2 * versionOnly);
    }
    // The command is the first argument that is not an option (--cwd takes a value); a command
    // without a cache of its own takes the base one.
    const report = (args: string[]): string => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: work, env: { ...process.env, RUMPKG_HOME: join(work, 'home'), RUMPKG_CODE_CACHE_REPORT: '1' } }).stderr.split('\n')[0]!;
    expect(report(['--json', '--cwd', work, 'build', '--help'])).toBe('rumpkg: code cache accepted (rumpkg-bundle.cjs.cache-build)');
    expect(report(['-q', 'import', '--help'])).toBe('rumpkg: code cache accepted (rumpkg-bundle.cjs.cache-import)');
    expect(report(['doctor', '--help'])).toBe('rumpkg: code cache accepted (rumpkg-bundle.cjs.cache)');
  });

  it('finds its assets: schema validators and spdx (validate), the glue template (build), and audits on a worker', async () => {
    const root = await corpusRoot();
    const v = await rumpkg(['validate', join(root, '10.0.0', 'tcpip', 'package.json')]);
    expect(v.code, v.stderr).toBe(0);
    // A licence only spdx-expression-parse (loaded through createRequire) can refuse.
    const bad = join(work, 'bad.json');
    const m = JSON.parse(readFileSync(join(root, '10.0.0', 'tcpip', 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(bad, JSON.stringify({ ...m, license: 'GPL-2.0-only WITH (' }));
    const b = await rumpkg(['--json', 'validate', bad]);
    expect(b.code).toBe(1);
    expect(b.stdout).toContain('not a valid SPDX licence expression');
    const dir = join(work, 'project');
    mkdirSync(dir);
    writeProject(dir, root);
    const d = await rumpkg(['build', '--dry-run', '--components-dir', root], { cwd: dir });
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain('rumpkg_main.c');
    expect(d.stdout).toContain('rump_init');
    // node:worker_threads, loaded on first use in the bundle: audit hashes the image on a worker.
    const built = await rumpkg(['--json', 'build', '--components-dir', root], { cwd: dir });
    expect(built.code, built.stderr).toBe(0);
    const image = (JSON.parse(built.stdout) as Array<{ image: string }>)[0]!.image;
    const audit = await rumpkg(['--json', 'audit', image], { cwd: dir });
    expect(audit.code, audit.stderr).toBe(0);
    expect(JSON.parse(audit.stdout).image.sha256).toMatch(/^sha256-[0-9a-f]{64}$/);
  }, 120_000);

  it('serves a registry (node:http, loaded on first use in the bundle)', async () => {
    const child = spawn(process.execPath, [BIN, 'registry', 'serve', '--port', '0', join(work, 'served')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    try {
      const url = await new Promise<string>((res, rej) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString('utf8');
          if (out.includes('\n')) res(out.trim());
        });
        child.on('error', rej);
        child.on('close', (code) => rej(new Error(`registry serve exited ${code}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/?$/);
      const r = await fetch(new URL('@rump%2fnothing-here', `${url.replace(/\/$/, '')}/`));
      expect(r.status).toBe(404);
    } finally {
      child.kill('SIGINT');
    }
  }, 60_000);

  it('imports an ESM-only package (octokit) through the launcher: import upstream', async () => {
    const ref = 'netbsd-10-0-RELEASE';
    const path = 'sys/rump/net/lib/libnetinet';
    const repo = await createGitRepo({ [`${path}/Makefile`]: 'LIB=rumpnet_netinet\n' }, { tag: ref });
    let server: GitHubServer | undefined;
    try {
      server = await startGitHubServer({ 'NetBSD/src': repo });
      const dir = join(work, 'tcpip');
      mkdirSync(join(dir, 'lib', 'posix-x86_64'), { recursive: true });
      writeFileSync(join(dir, 'lib', 'posix-x86_64', 'librumpnet_netinet.a'), '!<arch>\n');
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: '@rump/tcpip', version: '10.0.0', license: 'BSD-2-Clause', rump: { schemaVersion: 1, lib: 'librumpnet_netinet', faction: 'net', targets: { 'posix-x86_64': { archive: 'lib/posix-x86_64/librumpnet_netinet.a' } } } }),
      );
      const r = await rumpkg(['import', 'upstream', '--ref', ref, '--github-url', server.url, '--json', dir], { env: { GITHUB_TOKEN: 'ghp_bundleTest' } });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).components[0].upstream.path).toBe(path);
    } finally {
      await server?.close();
      rmSync(repo, { recursive: true, force: true });
    }
  }, 60_000);
});
