/**
 * The registry commands through the CLI entry point (`main` of cli/main.ts), against rumpkg's
 * own server on 127.0.0.1: login reads the token from stdin and never prints it; publish,
 * info, search, yank, cache ls/verify; and RG-09: a token is never sent to another host after
 * a redirect.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Readable } from 'node:stream';
import { existsSync, statSync } from 'node:fs';
import { main } from '../../cli/main.js';
import { createRegistryClient, createRegistryServer, homePaths, type RegistryServer } from '../../registry/index.js';
import { isRumpkgError } from '../../components/index.js';
import { componentDir, filesUnder, packFixture, startServer, tempDir } from './client-fixtures.js';

let out = '';
let err = '';
async function run(argv: string[], stdin?: string): Promise<number> {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  if (stdin !== undefined) vi.spyOn(process, 'stdin', 'get').mockReturnValue(Readable.from([Buffer.from(stdin)]) as unknown as typeof process.stdin);
  process.exitCode = undefined;
  try {
    return await main(argv);
  } finally {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  }
}

let server: RegistryServer;
let token: string;
let home: string;
const savedHome = process.env.RUMPKG_HOME;

beforeAll(async () => {
  server = await createRegistryServer(tempDir('cli-srv'), { host: '127.0.0.1', port: 0 });
  token = await server.tokens.add('carol');
  home = tempDir('cli-home');
  process.env.RUMPKG_HOME = home;
});
afterAll(async () => {
  await server?.close();
  if (savedHome === undefined) delete process.env.RUMPKG_HOME;
  else process.env.RUMPKG_HOME = savedHome;
});
afterEach(() => vi.restoreAllMocks());

describe('registry commands', () => {
  it('login stores the token 0600 without printing it; publish/info/search/yank/cache work and never show it', async () => {
    const url = `${server.url}/`;
    // A token the registry does not accept is refused (GET /-/whoami) and never stored.
    expect(await run(['login', '--registry', url], 'not-a-valid-token\n')).toBe(1);
    expect(err).toContain('E_REGISTRY_AUTH');
    expect(out + err).not.toContain('not-a-valid-token');
    expect(existsSync(homePaths(home).credentials)).toBe(false);
    expect(await run(['login', '--registry', url], `${token}\n`)).toBe(0);
    expect(out).toContain('as carol');
    expect(out + err).not.toContain(token);
    expect(statSync(homePaths(home).credentials).mode & 0o777).toBe(0o600);

    const src = tempDir('cli-src');
    const a = componentDir(src, { name: '@cli/alpha', version: '1.0.0', aliases: ['alfa'], description: 'first letter' });
    const b = componentDir(src, { name: '@cli/beta', version: '2.0.0', dependencies: { '@cli/alpha': '^1.0.0' } });
    // The @cli scope is pinned to the server by a project rumpkg.json.
    const project = tempDir('cli-project');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${project}/rumpkg.json`, JSON.stringify({ schemaVersion: 1, name: 'p', targets: ['posix-x86_64'], components: {}, registries: { '@cli': url } }));
    const cwd = ['--cwd', project];

    expect(await run(['publish', a, b, ...cwd])).toBe(0);
    expect(out.split('\n').filter(Boolean).sort()).toEqual(['+ @cli/alpha@1.0.0', '+ @cli/beta@2.0.0']);
    expect(await run(['publish', a, ...cwd])).toBe(1);
    expect(err).toContain('E_REGISTRY_CONFLICT');

    expect(await run(['info', '@cli/beta', '--json', ...cwd])).toBe(0);
    const info = JSON.parse(out) as { selected: { dependencies: Record<string, string>; targets: string[] } };
    expect(info.selected.dependencies).toEqual({ '@cli/alpha': '^1.0.0' });
    expect(info.selected.targets).toEqual(['posix-x86_64']);

    expect(await run(['search', 'first', '--json', ...cwd])).toBe(0);
    expect((JSON.parse(out) as { results: Array<{ name: string }> }).results.map((r) => r.name)).toContain('@cli/alpha');

    expect(await run(['yank', '@cli/alpha@1.0.0', ...cwd])).toBe(0);
    expect(await run(['info', '@cli/alpha', ...cwd])).toBe(0);
    expect(out).toContain('[yanked]');

    expect(await run(['cache', 'verify', '--json'])).toBe(0);
    expect(await run(['info', '@nope/x', ...cwd])).toBe(1);
    expect(err).toContain('E_SCOPE');
    expect(await run(['yank', 'alpha', ...cwd])).toBe(2);

    const everything = out + err;
    expect(everything).not.toContain(token);
    expect(filesUnder(home).filter((f) => f.data.includes(Buffer.from(token))).map((f) => f.path)).toEqual([homePaths(home).credentials]);
  });

  it('RG-09: a redirect is never followed with the token', async () => {
    const seen: Array<string | undefined> = [];
    const other = await startServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
    const redirector = await startServer((req, res) => {
      res.writeHead(307, { location: `${other.url}${(req.url ?? '/').slice(1)}` }).end();
    });
    try {
      const fx = await packFixture(tempDir('cli-redirect'), { name: '@rump/redir', version: '1.0.0' });
      const client = createRegistryClient({ home: tempDir('cli-redirect-home'), registries: { '@rump': redirector.url } });
      let e: unknown;
      try {
        await client.publish(fx.data, { token: 'secret-token-value' });
      } catch (x) {
        e = x;
      }
      expect(isRumpkgError(e, 'E_REGISTRY')).toBe(true);
      expect((e as Error).message).not.toContain('secret-token-value');
      expect(seen).toEqual([]);
    } finally {
      await other.close();
      await redirector.close();
    }
  });
});
