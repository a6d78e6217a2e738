/**
 * The npm/cargo habits a new user brings, through the CLI against real registries (the embedded
 * file registry of the home, and rumpkg's own server on loopback):
 * - did-you-mean on a component name nobody publishes (names, aliases, library names);
 * - `--registry URL` on the commands that talk to a registry;
 * - `whoami`, `logout`, `config list|get|set|delete`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRegistryServer, removeToken, storeToken, type RegistryServer } from '../../registry/index.js';
import { runCli } from '../helpers/cli.js';
import { componentDir, tempDir } from '../registry/client-fixtures.js';

const work = tempDir('cli-habits');
const home = join(work, 'home');
const src = join(work, 'src');
const served = join(work, 'served');
let server: RegistryServer;
let url = '';
let token = '';

const FIXTURES = [
  { name: '@rump/net', version: '10.0.0' },
  { name: '@rump/tcpip', version: '10.0.0', dependencies: { '@rump/net': '^10.0.0' }, aliases: ['netinet'] },
  { name: '@rump/virtio-net', version: '10.0.0', aliases: ['vioif'] },
  { name: '@rump/pci', version: '10.0.0' },
];

beforeAll(async () => {
  vi.stubEnv('RUMPKG_HOME', home);
  mkdirSync(src, { recursive: true });
  const dirs = FIXTURES.map((f) => componentDir(src, f));
  expect((await runCli(['--quiet', 'publish', ...dirs])).code).toBe(0);
  expect((await runCli(['--quiet', 'publish', '--registry', `file:${served}`, ...dirs])).code).toBe(0);
  server = await createRegistryServer(served, { port: 0 });
  url = `${server.url}/`;
  token = await server.tokens.add('alice');
  // alice publishes (and so owns) a component only the served registry has.
  const only = componentDir(src, { name: '@rump/only-served', version: '1.0.0', description: 'published only to the served registry' });
  await storeToken(home, url, { token });
  expect((await runCli(['--quiet', 'publish', '--registry', url, only])).code).toBe(0);
  expect(await removeToken(home, url)).toBe(true);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await server?.close();
});

function project(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rumpkg.json'), `${JSON.stringify({ schemaVersion: 1, name, targets: ['posix-x86_64'], components: {}, registries: {} }, null, 2)}\n`);
  return dir;
}

describe('did you mean', () => {
  it('add, info and yank of a misspelt name suggest the closest component', async () => {
    const dir = project('typo');
    for (const argv of [['--cwd', dir, 'add', 'tcpipp'], ['info', 'tcpipp'], ['yank', 'tcpipp@10.0.0']]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/error\[E_NOT_FOUND\]: no component named tcpipp \(@rump\/tcpipp\) in /);
      expect(r.stderr).toMatch(/hint: did you mean tcpip\?/);
    }
    // Nothing was written by the failed add.
    expect(JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')).components).toEqual({});
  });

  it('an alias or library name is suggested with the component it belongs to', async () => {
    const r = await runCli(['info', 'netinett']);
    expect(r.stderr).toMatch(/did you mean netinet \(an alias of @rump\/tcpip\)\?/);
    const lib = await runCli(['info', 'librump_virtio_nett']);
    expect(lib.stderr).toMatch(/did you mean librump_virtio_net \(an alias of @rump\/virtio-net\)\?/);
  });

  it('several close names are all offered, closest first; JSON carries them in context.suggestions', async () => {
    const r = await runCli(['--json', 'info', 'ne']);
    const doc = JSON.parse(r.stdout) as { error: { code: string; hint: string; context: { suggestions: string[] } } };
    expect(doc.error.code).toBe('E_NOT_FOUND');
    expect(doc.error.context.suggestions).toEqual(['@rump/net']);
    const two = await runCli(['--json', 'info', 'pcii']);
    expect((JSON.parse(two.stdout) as typeof doc).error.context.suggestions).toEqual(['@rump/pci']);
  });

  it('nothing close: the hint points at search instead', async () => {
    const r = await runCli(['info', 'zzzzzzzz']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/hint: rumpkg search zzzzzzzz lists components/);
    expect(r.stderr).not.toMatch(/did you mean/);
  });

  it('works over HTTP too (rumpkg registry serve)', async () => {
    const r = await runCli(['info', '--registry', url, 'only-servd']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/did you mean only-served\?/);
    expect(r.stderr).toContain(server.url);
  });
});

describe('--registry URL', () => {
  it('info, search and yank ask the named registry instead of the pinned one', async () => {
    expect((await runCli(['info', 'only-served'])).code).toBe(1);
    const info = await runCli(['--json', 'info', '--registry', url, 'only-served']);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ name: '@rump/only-served', latest: '1.0.0' });
    const search = await runCli(['--json', 'search', '--registry', url, 'served']);
    expect((JSON.parse(search.stdout) as { results: Array<{ name: string }> }).results.map((h) => h.name)).toEqual(['@rump/only-served']);
    expect((JSON.parse((await runCli(['--json', 'search', 'served'])).stdout) as { results: unknown[] }).results).toEqual([]);
    // yank over HTTP needs a login; the token is sent to that registry only.
    const anon = await runCli(['yank', '--registry', url, 'only-served@1.0.0']);
    expect(anon.code).toBe(1);
    expect(anon.stderr).toMatch(/E_REGISTRY_AUTH/);
    const login = await loginWith(token);
    expect(login.code).toBe(0);
    const y = await runCli(['yank', '--registry', url, 'only-served@1.0.0']);
    expect(y.code).toBe(0);
    expect(JSON.parse((await runCli(['--json', 'info', '--registry', url, 'only-served'])).stdout).selected.yanked).toBe(true);
    expect((await runCli(['yank', '--registry', url, '--undo', 'only-served@1.0.0'])).code).toBe(0);
  });

  it('a malformed --registry is a usage error', async () => {
    const r = await runCli(['info', '--registry', 'ftp://example.invalid/', 'tcpip']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error\[E_USAGE\]: unsupported registry URL scheme ftp:/);
  });
});

/** `rumpkg login --registry URL` with the token on stdin (an async iterable of one chunk). */
async function loginWith(t: string): Promise<Awaited<ReturnType<typeof runCli>>> {
  const restore = stdinGives(`${t}\n`);
  try {
    return await runCli(['login', '--registry', url]);
  } finally {
    restore();
  }
}

/** Makes `for await (const c of process.stdin)` yield `text` once; returns the undo. */
function stdinGives(text: string): () => void {
  const stdin = process.stdin as unknown as { [Symbol.asyncIterator]: () => Iterator<Buffer> };
  const spy = vi.spyOn(stdin, Symbol.asyncIterator).mockImplementation(() => [Buffer.from(text)][Symbol.iterator]());
  return () => spy.mockRestore();
}

describe('whoami and logout', () => {
  it('whoami names the user of the stored token; logout forgets it; both refuse a file: registry', async () => {
    expect((await loginWith(token)).code).toBe(0);
    const who = await runCli(['whoami', '--registry', url]);
    expect(who).toMatchObject({ code: 0, stdout: 'alice\n' });
    expect(JSON.parse((await runCli(['--json', 'whoami', '--registry', url])).stdout)).toEqual({ registry: url, username: 'alice' });
    expect(who.stdout + who.stderr).not.toContain(token);

    const out = await runCli(['logout', '--registry', url]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/logged out of/);
    expect(readFileSync(join(home, 'credentials.json'), 'utf8')).not.toContain(token);
    const again = await runCli(['whoami', '--registry', url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error\[E_REGISTRY_AUTH\]: not logged in to .*\n  hint: rumpkg login --registry /);
    const twice = await runCli(['--json', 'logout', '--registry', url]);
    expect(JSON.parse(twice.stdout)).toEqual({ registry: url, removed: false });

    const file = await runCli(['whoami']);
    expect(file.code).toBe(2);
    expect(file.stderr).toMatch(/error\[E_USAGE\]: .* is a file: registry: it has no accounts/);
  });

  it('a token the registry does not accept: whoami fails with E_REGISTRY_AUTH and never prints it', async () => {
    const restore = stdinGives('rumpkg_notavalidtoken0000\n');
    expect((await runCli(['login', '--no-verify', '--registry', url])).code).toBe(0);
    restore();
    const r = await runCli(['whoami', '--registry', url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E_REGISTRY_AUTH/);
    expect(r.stderr).not.toContain('notavalidtoken');
    expect((await runCli(['logout', '--registry', url])).code).toBe(0);
  });
});

describe('config', () => {
  it('list, set, get and delete $RUMPKG_HOME/config.json; set changes what commands use', async () => {
    const list = await runCli(['config', 'list']);
    expect(list.stdout).toBe(`defaultScope=@rump\n@rump:registry=${pathToFileURL(join(home, 'registry')).href}\n`);
    expect(await runCli(['config', 'get', 'defaultScope'])).toMatchObject({ code: 0, stdout: '@rump\n' });

    // npm's @scope:registry spelling; URLs are normalised.
    expect((await runCli(['config', 'set', '@other:registry', server.url])).stdout).toBe(`@other:registry=${url}\n`);
    expect((await runCli(['config', 'get', '@other:registry'])).stdout).toBe(`${url}\n`);
    const rel = await runCli(['--cwd', work, 'config', 'set', '@mine:registry', 'file:mine']);
    expect(rel.stdout).toBe(`@mine:registry=${pathToFileURL(join(work, 'mine')).href}\n`);
    expect(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))).toMatchObject({ configVersion: 1, registries: { '@other': url, '@mine': pathToFileURL(join(work, 'mine')).href } });

    // `registry` is the default scope's registry: pointing it at the server changes what info sees.
    expect((await runCli(['info', 'only-served'])).code).toBe(1);
    expect((await runCli(['config', 'set', 'registry', url])).code).toBe(0);
    expect((await runCli(['--json', 'info', 'only-served'])).code).toBe(0);
    // delete gives a default scope its default registry back.
    expect((await runCli(['config', 'delete', 'registry'])).code).toBe(0);
    expect((await runCli(['config', 'get', 'registry'])).stdout).toBe(`${pathToFileURL(join(home, 'registry')).href}\n`);
    expect((await runCli(['config', 'delete', '@other:registry'])).code).toBe(0);
    const gone = await runCli(['config', 'get', '@other:registry']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/E_NOT_FOUND.*no registry is configured for @other/);
  });

  it('bad keys and values are usage errors that leave config.json as it was', async () => {
    const before = await runCli(['--json', 'config', 'list']);
    for (const argv of [
      ['config', 'get', 'color'],
      ['config', 'set', 'defaultScope', 'rump'],
      ['config', 'set', '@Bad Scope:registry', url],
      ['config', 'set', '@x:registry', 'ftp://host/'],
      ['config', 'set', '@x:registry', 'http://user:secret@127.0.0.1/'],
    ]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(/error\[E_USAGE\]/);
      expect(r.stderr).not.toContain('secret');
    }
    expect((await runCli(['--json', 'config', 'list'])).stdout).toBe(before.stdout);
  });
});
