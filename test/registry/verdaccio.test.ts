/**
 * Compatibility with a real npm-protocol registry: a real Verdaccio on 127.0.0.1 (no uplinks,
 * htpasswd auth, `@rump/*` readable by all and publishable by authenticated users). rumpkg
 * publishes components to it, fetches them back with integrity checks, yanks through the
 * deprecate protocol, and searches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createRegistryClient, createRegistryProvider, createStore, storeToken, suggestComponents, unknownComponentError } from '../../registry/index.js';
import { integrityOf, isRumpkgError } from '../../components/index.js';
import { filesUnder, packFixture, tempDir, type PackedFixture } from './client-fixtures.js';

const VERDACCIO = resolve(import.meta.dirname, '../../node_modules/.bin/verdaccio');

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

let proc: ChildProcess | undefined;
let url = '';
let token = '';
let output = '';
let fixtures: PackedFixture[] = [];

beforeAll(async () => {
  const dir = tempDir('verdaccio');
  const port = await freePort();
  url = `http://127.0.0.1:${port}/`;
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `storage: ${join(dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(dir, 'htpasswd')}`,
      '    max_users: 100',
      'uplinks: {}',
      'packages:',
      "  '@rump/*':",
      '    access: $all',
      '    publish: $authenticated',
      '    unpublish: $authenticated',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      'max_body_size: 20mb',
      'web:',
      '  enable: false',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  proc = spawn(process.execPath, [VERDACCIO, '--config', config, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`${url}-/ping`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`verdaccio did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const user = await fetch(`${url}-/user/org.couchdb.user:alice`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'alice', password: 'correct-horse-battery', type: 'user', roles: [], date: new Date().toISOString() }),
  });
  const body = (await user.json()) as { token?: string };
  if (typeof body.token !== 'string') throw new Error(`no token from verdaccio: ${JSON.stringify(body)}`);
  token = body.token;
  const src = tempDir('verdaccio-src');
  fixtures = [
    await packFixture(src, { name: '@rump/net', version: '10.0.0', description: 'networking faction' }),
    await packFixture(src, { name: '@rump/tcpip', version: '10.0.0', dependencies: { '@rump/net': '^10.0.0' }, aliases: ['netinet'], payload: 4096 }),
    await packFixture(src, { name: '@rump/tcpip', version: '10.1.0', dependencies: { '@rump/net': '^10.0.0' }, aliases: ['netinet'] }),
    await packFixture(src, { name: '@rump/pci', version: '10.0.0', provides: ['bus:pci'] }),
  ];
}, 120_000);

afterAll(async () => {
  if (proc !== undefined && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        proc?.kill('SIGKILL');
        r(undefined);
      }, 5000);
      proc?.once('exit', () => {
        clearTimeout(t);
        r(undefined);
      });
    });
  }
});

describe('Verdaccio (a real npm-protocol registry)', () => {
  it('rumpkg publishes to Verdaccio and fetches the same bytes back', async () => {
    const home = tempDir('verdaccio-home');
    await storeToken(home, url, { token });
    const registries = { '@rump': url };
    const client = createRegistryClient({ home, registries });
    for (const f of fixtures) {
      const r = await client.publish(f.data);
      expect(r.integrity).toBe(f.integrity);
    }
    let conflict: unknown;
    try {
      await client.publish(fixtures[1]?.data as Buffer);
    } catch (e) {
      conflict = e;
    }
    expect(isRumpkgError(conflict)).toBe(true);
    expect((conflict as Error).message).not.toContain(token);

    const reader = createRegistryClient({ home: tempDir('verdaccio-reader'), registries });
    const vs = await reader.versions('@rump/tcpip');
    expect(vs.map((v) => v.version)).toEqual(['10.0.0', '10.1.0']);
    for (const f of fixtures) {
      const bytes = await reader.tarball(f.manifest.name, f.manifest.version, { integrity: f.integrity });
      expect(integrityOf(bytes)).toBe(f.integrity);
      expect(bytes.equals(f.data)).toBe(true);
    }
    const provider = createRegistryProvider(reader);
    const cands = await provider.versions('@rump/tcpip');
    expect(cands.map((c) => [c.version, c.targets, c.dependencies])).toEqual([
      ['10.0.0', ['posix-x86_64'], { '@rump/net': '^10.0.0' }],
      ['10.1.0', ['posix-x86_64'], { '@rump/net': '^10.0.0' }],
    ]);
    const store = createStore(reader, { home: tempDir('verdaccio-store') });
    const dir = await store.ensureUnpacked('@rump/tcpip', '10.0.0', { integrity: fixtures[1]?.integrity as string });
    expect(dir).toMatch(/store/);
    expect(filesUnder(home).filter((f) => f.data.includes(Buffer.from(token))).length).toBe(1);
  });

  it('yank and undo through the deprecate protocol', async () => {
    const home = tempDir('verdaccio-yank');
    await storeToken(home, url, { token });
    const registries = { '@rump': url };
    await createRegistryClient({ home, registries }).yank('@rump/tcpip', '10.1.0');
    const after = await createRegistryClient({ home, registries, preferOnline: true }).versions('@rump/tcpip');
    expect(after.map((v) => [v.version, v.yanked])).toEqual([['10.0.0', false], ['10.1.0', true]]);
    await createRegistryClient({ home, registries }).yank('@rump/tcpip', '10.1.0', { undo: true });
    const undone = await createRegistryClient({ home, registries, preferOnline: true }).versions('@rump/tcpip');
    expect(undone.map((v) => v.yanked)).toEqual([false, false]);
  });

  it('search answers over /-/v1/search; an anonymous publish is refused', async () => {
    const client = createRegistryClient({ home: tempDir('verdaccio-search'), registries: { '@rump': url } });
    const hits = await client.search(['tcpip']);
    expect(hits.map((h) => h.name)).toContain('@rump/tcpip');
    const extra = await packFixture(tempDir('verdaccio-anon'), { name: '@rump/anon', version: '1.0.0' });
    let err: unknown;
    try {
      await client.publish(extra.data, { token: 'not-a-valid-token' });
    } catch (e) {
      err = e;
    }
    expect(isRumpkgError(err, 'E_REGISTRY_AUTH')).toBe(true);
    expect((err as Error).message).not.toContain('not-a-valid-token');
  });

  it('search lists each component once, even when several scopes are pinned to this Verdaccio', async () => {
    const client = createRegistryClient({ home: tempDir('verdaccio-search2'), registries: { '@rump': url, '@other': url } });
    const hits = await client.search(['tcpip']);
    expect(hits.map((h) => h.name)).toEqual(['@rump/tcpip']);
    expect(hits[0]!.registry).toBe('@rump');
    // A hit whose scope is pinned to another registry is not offered (it would never be fetched from here).
    // Did-you-mean draws its candidates from Verdaccio's search too.
    expect((await suggestComponents(client, 'tcpipp')).map((x) => x.name)).toEqual(['@rump/tcpip']);
    expect((await unknownComponentError(client, 'tcpipp', '@rump/tcpipp')).hint).toBe('did you mean tcpip?');
    const pinnedElsewhere = createRegistryClient({ home: tempDir('verdaccio-search3'), registries: { '@rump': 'http://127.0.0.1:9/', '@other': url } });
    expect((await pinnedElsewhere.search(['tcpip'], { scope: '@other' })).map((h) => h.name)).toEqual([]);
  });
});
