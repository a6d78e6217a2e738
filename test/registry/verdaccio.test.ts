/**
 * Compatibility with a real npm-protocol registry: a real Verdaccio on 127.0.0.1 (no uplinks,
 * htpasswd auth, `@rump/*` readable by all and publishable by authenticated users). rumpkg
 * publishes components to it, fetches them back with integrity checks, yanks through the
 * deprecate protocol, and searches.
 *
 * Capabilities from packuments alone: Verdaccio's search does not match the keyword
 * `rump-provides:<cap>`, and a registry may answer every search with nothing (rumpkg's own
 * server behind a loopback proxy that empties or fails `/-/v1/search`). The known providers in
 * the manifests (`rump.providers`) resolve `rumpkg add tcpip virtio-net` for hw-x86_64 to the
 * same rumpkg.lock, byte for byte, as on the file registry, whose search does index keywords.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createFileStorage, createRegistryClient, createRegistryProvider, createRegistryServer, createStore, homePaths, storeToken, suggestComponents, unknownComponentError, type RegistryServer } from '../../registry/index.js';
import { integrityOf, isRumpkgError, packComponent, type Lockfile } from '../../components/index.js';
import { addComponents, initProject } from '../../packager/index.js';
import { corpusDir } from '../helpers/corpus.js';
import { filesUnder, packFixture, tempDir, type PackedFixture } from './client-fixtures.js';
import { freePort } from '../helpers/process.js';

const VERDACCIO = resolve(import.meta.dirname, '../../node_modules/.bin/verdaccio');

interface Verdaccio {
  url: string;
  /** alice's token (an authenticated publisher). */
  token: string;
  stop(): Promise<void>;
}

/** Starts a real Verdaccio on 127.0.0.1 with its own storage (no uplinks) and registers alice. */
async function startVerdaccio(): Promise<Verdaccio> {
  const dir = tempDir('verdaccio');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/`;
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
  let output = '';
  const proc: ChildProcess = spawn(process.execPath, [VERDACCIO, '--config', config, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null) return;
    proc.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        proc.kill('SIGKILL');
        r(undefined);
      }, 5000);
      proc.once('exit', () => {
        clearTimeout(t);
        r(undefined);
      });
    });
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const r = await fetch(`${base}-/ping`);
        if (r.ok) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`verdaccio did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const user = await fetch(`${base}-/user/org.couchdb.user:alice`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice', password: 'correct-horse-battery', type: 'user', roles: [], date: new Date().toISOString() }),
    });
    const body = (await user.json()) as { token?: string };
    if (typeof body.token !== 'string') throw new Error(`no token from verdaccio: ${JSON.stringify(body)}`);
    return { url: base, token: body.token, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

let verdaccio: Verdaccio | undefined;
let url = '';
let token = '';
let fixtures: PackedFixture[] = [];

beforeAll(async () => {
  verdaccio = await startVerdaccio();
  ({ url, token } = verdaccio);
  const src = tempDir('verdaccio-src');
  fixtures = [
    await packFixture(src, { name: '@rump/net', version: '10.0.0', description: 'networking faction' }),
    await packFixture(src, { name: '@rump/tcpip', version: '10.0.0', dependencies: { '@rump/net': '^10.0.0' }, aliases: ['netinet'], payload: 4096 }),
    await packFixture(src, { name: '@rump/tcpip', version: '10.1.0', dependencies: { '@rump/net': '^10.0.0' }, aliases: ['netinet'] }),
    await packFixture(src, { name: '@rump/pci', version: '10.0.0', provides: ['bus:pci'] }),
  ];
}, 120_000);

afterAll(async () => {
  await verdaccio?.stop();
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

/**
 * A loopback proxy in front of `target` that answers `/-/v1/search` itself: with no hits
 * (`empty`) or with a 500 (`error`); everything else is passed through with its Host header, so
 * the packuments' tarball URLs name the proxy.
 */
async function searchlessProxy(target: string, mode: 'empty' | 'error'): Promise<{ url: string; searches: () => number; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let searches = 0;
  const server: Server = createHttpServer((req, res) => {
    if ((req.url ?? '').startsWith('/-/v1/search')) {
      searches++;
      if (mode === 'error') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"search is not supported here"}');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"objects":[],"total":0,"time":"now"}');
      }
      return;
    }
    const fwd = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    fwd.on('error', () => res.writeHead(502).end());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    searches: () => searches,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('capabilities from packuments alone (known providers in the manifests)', () => {
  // Its own Verdaccio: the corpus publishes @rump names the tests above publish as fixtures.
  let corpusRegistry: Verdaccio | undefined;
  beforeAll(async () => {
    corpusRegistry = await startVerdaccio();
  }, 120_000);
  afterAll(async () => {
    await corpusRegistry?.stop();
  });

  it('Verdaccio\'s search does not find providers by keyword; the requirer\'s known providers do', async () => {
    const home = tempDir('verdaccio-known');
    await storeToken(home, url, { token });
    const registries = { '@rump': url };
    const src = tempDir('verdaccio-known-src');
    const publisher = createRegistryClient({ home, registries });
    for (const f of [
      await packFixture(src, { name: '@rump/kbase', version: '1.0.0', requires: ['hypercall:99'], providers: { 'hypercall:99': ['@rump/kplatform', '@rump/kghost'] } }),
      await packFixture(src, { name: '@rump/kplatform', version: '1.0.0', provides: ['hypercall:99'] }),
    ]) {
      await publisher.publish(f.data);
    }
    const reader = createRegistryClient({ home: tempDir('verdaccio-known-reader'), registries });
    expect((await reader.search(['rump-provides:hypercall:99'])).map((h) => h.name)).toEqual([]);
    const provider = createRegistryProvider(reader);
    // Nothing read yet names a provider, and search finds none.
    expect(await provider.providersOf('hypercall:99')).toEqual([]);
    // Once the requirer has been read (the solver always reads it first): its known providers,
    // each confirmed by its own metadata; the unpublished @rump/kghost is no provider.
    provider.prefetch?.(['@rump/kbase']);
    expect(await provider.providersOf('hypercall:99')).toEqual(['@rump/kplatform']);
  });

  it('rumpkg add tcpip virtio-net for hw-x86_64: the same rumpkg.lock on the file registry, on Verdaccio and on a registry without search', async () => {
    const corpus = await corpusDir();
    const versions = ['10.0.0', '10.1.0'];
    const packed = new Map<string, Buffer>(); // `${version}/${name}`
    for (const v of versions) {
      for (const name of (await readdir(join(corpus, v))).sort()) packed.set(`${v}/${name}`, (await packComponent(join(corpus, v, name))).data);
    }

    const add = async (label: string, registry: string | undefined, home: string): Promise<string> => {
      const dir = tempDir(`known-${label}`);
      await initProject(dir, { name: 'uni', targets: ['hw-x86_64'], ...(registry === undefined ? {} : { registries: { '@rump': registry } }) });
      const r = await addComponents(dir, ['tcpip', 'virtio-net'], { env: { ...process.env, RUMPKG_HOME: home } });
      expect(Object.keys(r.lockfile.targets)).toEqual(['hw-x86_64']);
      return readFileSync(join(dir, 'rumpkg.lock'), 'utf8');
    };

    // The embedded file registry holds the whole corpus, and its search indexes keywords.
    const fileHome = tempDir('known-file-home');
    const storage = createFileStorage(homePaths(fileHome).registry);
    for (const data of packed.values()) await storage.publish(data);
    const reference = await add('file', undefined, fileHome);
    const closure = Object.keys((JSON.parse(reference) as Lockfile).targets['hw-x86_64']?.components ?? {}).map((n) => n.replace('@rump/', ''));
    expect(closure.sort()).toEqual(['base', 'dev', 'net', 'net-net', 'pci', 'platform-hw-x86_64', 'tcpip', 'vfs', 'virtio-net', 'virtio-pci']);

    // The other registries hold that closure plus the providers that must not be chosen for
    // hw-x86_64 (rumpuser: posix; platform-hw-riscv64; virtio-mmio needs a riscv64 backend).
    const names = [...closure, 'rumpuser', 'platform-hw-riscv64', 'virtio-mmio'];
    const v = corpusRegistry as Verdaccio;
    const pubHome = tempDir('known-pub');
    await storeToken(pubHome, v.url, { token: v.token });
    const publisher = createRegistryClient({ home: pubHome, registries: { '@rump': v.url } });
    const server: RegistryServer = await createRegistryServer(tempDir('known-server'));
    for (const version of versions) {
      for (const n of names) {
        const data = packed.get(`${version}/${n}`) as Buffer;
        await publisher.publish(data);
        await server.storage.publish(data);
      }
    }
    const empty = await searchlessProxy(`${server.url}/`, 'empty');
    const failing = await searchlessProxy(`${server.url}/`, 'error');
    try {
      expect(await add('verdaccio', v.url, tempDir('known-verdaccio-home'))).toBe(reference);
      expect(await add('empty-search', empty.url, tempDir('known-empty-home'))).toBe(reference);
      expect(empty.searches()).toBeGreaterThan(0);
      expect(await add('failing-search', failing.url, tempDir('known-failing-home'))).toBe(reference);
      expect(failing.searches()).toBeGreaterThan(0);
    } finally {
      await empty.close();
      await failing.close();
      await server.close();
    }
  }, 300_000);
});
