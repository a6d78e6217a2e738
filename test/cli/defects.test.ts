/**
 * Small things a new user trips over, each through the CLI against real registries (a file
 * registry, and rumpkg's own server on loopback):
 * - `info` calls the newest version that is not yanked `latest` (a yanked one keeps its dist-tag);
 * - `install --offline` names every component the cache lacks, not only the first;
 * - a lockfile of another format version is reported as such, not as a missing key;
 * - `verify --upstream` says so when it checked nothing;
 * - colour: a non-empty NO_COLOR turns it off, an empty one does not (no-color.org), on a real
 *   terminal (script(1) gives the CLI one).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRegistryServer, type RegistryServer } from '../../registry/index.js';
import { runCli } from '../helpers/cli.js';
import { componentDir, tempDir } from '../registry/client-fixtures.js';

const work = tempDir('cli-defects');
const src = join(work, 'src');
const served = join(work, 'served');
let server: RegistryServer;

const FIXTURES = [
  { name: '@rump/net', version: '10.0.0' },
  { name: '@rump/tcpip', version: '10.0.0', dependencies: { '@rump/net': '^10.0.0' }, aliases: ['netinet'] },
  { name: '@rump/tcpip', version: '10.1.0', dependencies: { '@rump/net': '^10.0.0' }, aliases: ['netinet'] },
  { name: '@rump/pci', version: '10.0.0' },
];

beforeAll(async () => {
  vi.stubEnv('RUMPKG_HOME', join(work, 'home'));
  mkdirSync(src, { recursive: true });
  const dirs = FIXTURES.map((f) => componentDir(src, f));
  // The embedded file registry of the home, and a directory served over HTTP.
  expect((await runCli(['--quiet', 'publish', ...dirs])).code).toBe(0);
  expect((await runCli(['--quiet', 'publish', '--registry', `file:${served}`, ...dirs])).code).toBe(0);
  server = await createRegistryServer(served, { port: 0 });
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await server?.close();
});

function project(name: string, registries: Record<string, string> = {}): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rumpkg.json'), `${JSON.stringify({ schemaVersion: 1, name, targets: ['posix-x86_64'], components: {}, registries }, null, 2)}\n`);
  return dir;
}

describe('info: latest is the newest version that is not yanked', () => {
  it('after yanking 10.1.0 (which keeps the latest dist-tag) info says latest 10.0.0', async () => {
    const before = await runCli(['--json', 'info', 'tcpip']);
    expect(JSON.parse(before.stdout)).toMatchObject({ name: '@rump/tcpip', latest: '10.1.0', distTags: { latest: '10.1.0' } });
    expect((await runCli(['yank', 'tcpip@10.1.0', '--reason', 'broken'])).code).toBe(0);
    const after = await runCli(['--json', 'info', 'tcpip']);
    const doc = JSON.parse(after.stdout) as { latest: string; distTags: Record<string, string>; selected: { version: string } };
    expect(doc.distTags.latest).toBe('10.1.0');
    expect(doc.latest).toBe('10.0.0');
    expect(doc.selected.version).toBe('10.0.0');
    const human = await runCli(['info', 'tcpip']);
    expect(human.stdout).toMatch(/^latest: 10\.0\.0$/m);
    expect(human.stdout).toMatch(/^dist-tags: latest=10\.1\.0 \[yanked\]$/m);
    expect((await runCli(['yank', 'tcpip@10.1.0', '--undo'])).code).toBe(0);
    expect(JSON.parse((await runCli(['--json', 'info', 'tcpip'])).stdout).latest).toBe('10.1.0');
  });
});

describe('install --offline', () => {
  it('names every locked component the cache lacks', async () => {
    const dir = project('offline', { '@rump': server.url });
    expect((await runCli(['--cwd', dir, 'add', 'tcpip', 'pci'])).code).toBe(0);
    // Another home: an empty cache and store.
    vi.stubEnv('RUMPKG_HOME', join(work, 'empty-home'));
    try {
      const r = await runCli(['--cwd', dir, 'install', '--offline']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error\[E_OFFLINE\]: offline: 3 locked components are not in the cache: @rump\/net@10\.0\.0, @rump\/pci@10\.0\.0, @rump\/tcpip@10\.1\.0/);
      expect(r.stderr).toMatch(/hint: run rumpkg install once without --offline/);
      const j = await runCli(['--json', '--cwd', dir, 'install', '--offline']);
      expect((JSON.parse(j.stdout) as { error: { context: { missing: string[] } } }).error.context.missing).toEqual(['@rump/net@10.0.0', '@rump/pci@10.0.0', '@rump/tcpip@10.1.0']);
    } finally {
      vi.stubEnv('RUMPKG_HOME', join(work, 'home'));
    }
  });
});

describe('lockfile versions', () => {
  it('a lockfile of another format version is "unsupported lockfileVersion N", not a missing key', async () => {
    const dir = project('future-lock');
    writeFileSync(join(dir, 'rumpkg.lock'), `${JSON.stringify({ lockfileVersion: 2, packages: {} })}\n`);
    const tree = await runCli(['--cwd', dir, 'tree']);
    expect(tree.code).toBe(1);
    expect(tree.stderr).toMatch(/error\[E_LOCKFILE\]: .*unsupported lockfileVersion 2: this rumpkg reads lockfileVersion 1/);
    expect(tree.stderr).not.toMatch(/missing required key/);
    expect(tree.stderr).toMatch(/hint: the lockfile was written in another format version/);
    const v = await runCli(['--cwd', dir, 'validate', 'rumpkg.lock']);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/\/lockfileVersion: unsupported lockfileVersion 2/);
    expect(v.stderr).not.toMatch(/missing required key/);
    // A version that is not even a number is named as it is.
    writeFileSync(join(dir, 'rumpkg.lock'), `${JSON.stringify({ lockfileVersion: '1' })}\n`);
    expect((await runCli(['--cwd', dir, 'tree'])).stderr).toMatch(/unsupported lockfileVersion "1"/);
  });
});

describe('verify --upstream', () => {
  it('says it verified nothing when no locked component records upstream file hashes', async () => {
    const dir = project('no-upstream');
    expect((await runCli(['--cwd', dir, 'add', 'tcpip'])).code).toBe(0);
    const r = await runCli(['--cwd', dir, 'verify', '--upstream', '--github-url', 'http://127.0.0.1:9/']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^skipped @rump\/net@10\.0\.0: no upstream file hashes recorded$/m);
    expect(r.stdout).toMatch(/^nothing verified: none of the 2 components records upstream file hashes/m);
    const j = await runCli(['--json', '--cwd', dir, 'verify', '--upstream', '--github-url', 'http://127.0.0.1:9/']);
    expect((JSON.parse(j.stdout) as { results: Array<{ skipped?: string }> }).results.map((x) => x.skipped)).toEqual([
      'no upstream file hashes recorded',
      'no upstream file hashes recorded',
    ]);
  });
});

const BIN = resolve(import.meta.dirname, '../../dist/rumpkg.cjs');
const hasScript = spawnSync('script', ['--version']).status === 0;

describe.skipIf(!hasScript || !existsSync(BIN))(`colour on a terminal${hasScript ? '' : ' — skipped: script(1) is not installed'}${existsSync(BIN) ? '' : ' — skipped: dist/rumpkg.cjs is missing (npm run build)'}`, () => {
  /** Runs `rumpkg validate rumpkg.json` on a pseudo-terminal (script -q -e -c … /dev/null). */
  function onTty(noColor: string | undefined): string {
    const dir = project('colour');
    const env: NodeJS.ProcessEnv = { ...process.env, RUMPKG_HOME: join(work, 'home') };
    delete env.NO_COLOR;
    delete env.FORCE_COLOR;
    if (noColor !== undefined) env.NO_COLOR = noColor;
    const r = spawnSync('script', ['-q', '-e', '-c', `${process.execPath} ${BIN} validate rumpkg.json`, '/dev/null'], { cwd: dir, env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/valid project manifest/);
    return r.stdout;
  }

  it('colours without NO_COLOR and with an empty NO_COLOR; not with NO_COLOR=1', () => {
    expect(onTty(undefined)).toContain('\u001b[32m');
    expect(onTty('')).toContain('\u001b[32m');
    expect(onTty('1')).not.toContain('\u001b[');
  });
});
