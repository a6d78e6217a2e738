/**
 * Publish and fetch through the embedded file registry and through rumpkg's own server, the
 * store (IN-08), the provider, and credentials (0600, the token in no other file, RG-09).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createRegistryClient,
  createRegistryProvider,
  createRegistryServer,
  createStore,
  homePaths,
  listCache,
  readToken,
  storeToken,
  verifyCache,
  type RegistryServer,
} from '../../registry/index.js';
import { isRumpkgError } from '../../components/index.js';
import { filesUnder, hashTree, packFixture, tempDir, type PackedFixture } from './client-fixtures.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isRumpkgError(e)) return e.code;
    throw e;
  }
  return 'success';
}

let src: string;
let net: PackedFixture;
let tcp: PackedFixture;
let tcp2: PackedFixture;
let pci: PackedFixture;

beforeAll(async () => {
  src = tempDir('reg-src');
  net = await packFixture(src, { name: '@rump/net', version: '10.0.0', description: 'networking faction' });
  tcp = await packFixture(src, { name: '@rump/tcpip', version: '10.0.0', dependencies: { '@rump/net': '^10.0.0' }, aliases: ['netinet'] });
  tcp2 = await packFixture(src, { name: '@rump/tcpip', version: '10.1.0', dependencies: { '@rump/net': '^10.0.0' }, aliases: ['netinet'] });
  pci = await packFixture(src, { name: '@rump/pci', version: '10.0.0', provides: ['bus:pci'], targets: ['hw-x86_64', 'posix-x86_64'] });
});

describe('file registry (embedded, in-process)', () => {
  it('publishes, lists versions, fetches verified tarballs, yanks, searches and provides', async () => {
    const home = tempDir('reg-file-home');
    const reg = pathToFileURL(homePaths(home).registry).href;
    const client = createRegistryClient({ home, registries: { '@rump': reg } });
    for (const p of [net, tcp, tcp2, pci]) {
      const r = await client.publish(p.data);
      expect(r.integrity).toBe(p.integrity);
    }
    expect(await codeOf(client.publish(tcp.data))).toBe('E_REGISTRY_CONFLICT');
    const vs = await createRegistryClient({ home, registries: { '@rump': reg } }).versions('@rump/tcpip');
    expect(vs.map((v) => v.version)).toEqual(['10.0.0', '10.1.0']);
    expect(vs[0]?.tarball).toBe('@rump/tcpip/-/tcpip-10.0.0.tgz');
    expect(vs[0]?.registry).toBe('@rump');
    const bytes = await client.tarball('@rump/tcpip', '10.0.0', { integrity: tcp.integrity });
    expect(bytes.equals(tcp.data)).toBe(true);

    await client.yank('@rump/tcpip', '10.1.0');
    const after = await createRegistryClient({ home, registries: { '@rump': reg } }).versions('@rump/tcpip');
    expect(after.map((v) => [v.version, v.yanked])).toEqual([['10.0.0', false], ['10.1.0', true]]);

    const hits = await client.search(['netinet']);
    expect(hits.map((h) => h.name)).toContain('@rump/tcpip');

    const provider = createRegistryProvider(createRegistryClient({ home, registries: { '@rump': reg } }));
    provider.prefetch?.(['@rump/net', '@rump/tcpip']);
    const cands = await provider.versions('@rump/tcpip');
    expect(cands.map((c) => [c.version, c.yanked, c.targets, c.dependencies])).toEqual([
      ['10.0.0', false, ['posix-x86_64'], { '@rump/net': '^10.0.0' }],
      ['10.1.0', true, ['posix-x86_64'], { '@rump/net': '^10.0.0' }],
    ]);
    expect(cands[0]?.integrity).toBe(tcp.integrity);
    expect(await provider.versions('@rump/nope')).toEqual([]);
    expect(await provider.providersOf('bus:pci')).toEqual(['@rump/pci']);
    expect(await provider.providersOf('bus:usb')).toEqual([]);
  });

  it('versions(): each call hands out an array of its own; a publish or a yank through the client shows at once', async () => {
    const home = tempDir('reg-versions-home');
    const reg = pathToFileURL(homePaths(home).registry).href;
    const client = createRegistryClient({ home, registries: { '@rump': reg } });
    await client.publish(net.data);
    await client.publish(tcp.data);
    const first = await client.versions('@rump/tcpip');
    expect(first.map((v) => v.version)).toEqual(['10.0.0']);
    first.pop();
    expect((await client.versions('@rump/tcpip')).map((v) => v.version)).toEqual(['10.0.0']);
    await client.publish(tcp2.data);
    expect((await client.versions('@rump/tcpip')).map((v) => [v.version, v.yanked])).toEqual([['10.0.0', false], ['10.1.0', false]]);
    await client.yank('@rump/tcpip', '10.1.0');
    expect((await client.versions('@rump/tcpip')).map((v) => [v.version, v.yanked])).toEqual([['10.0.0', false], ['10.1.0', true]]);
  });

  it('the store unpacks once, detects a flipped byte, evicts and refetches (IN-08)', async () => {
    const home = tempDir('reg-store-home');
    const reg = pathToFileURL(homePaths(home).registry).href;
    const client = createRegistryClient({ home, registries: { '@rump': reg } });
    await client.publish(net.data);
    const warnings: string[] = [];
    const store = createStore(client, { home, reporter: { warn: (m) => warnings.push(m) } });
    const dir = await store.ensureUnpacked('@rump/net', '10.0.0', { integrity: net.integrity });
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name).toBe('@rump/net');
    expect(dir.startsWith(homePaths(home).store)).toBe(true);
    const archive = join(dir, 'lib', 'posix-x86_64', readdirSync(join(dir, 'lib', 'posix-x86_64'))[0] as string);
    const good = readFileSync(archive);
    const bad = Buffer.from(good);
    bad[0] = (bad[0] ?? 0) ^ 1;
    writeFileSync(archive, bad);
    expect((await verifyCache(home)).store.problems.map((p) => p.name)).toEqual(['@rump/net']);
    const again = await store.ensureUnpacked('@rump/net', '10.0.0', { integrity: net.integrity });
    expect(readFileSync(join(again, 'lib', 'posix-x86_64', readdirSync(join(again, 'lib', 'posix-x86_64'))[0] as string)).equals(good)).toBe(true);
    // A flipped byte found on read (not by verify): evicted, refetched once, with a warning.
    writeFileSync(join(again, 'package.json'), readFileSync(join(again, 'package.json'), 'utf8').replace('networking', 'netw0rking'));
    await store.ensureUnpacked('@rump/net', '10.0.0', { integrity: net.integrity });
    expect(warnings.some((w) => w.includes('@rump/net@10.0.0') && w.includes('modified package.json'))).toBe(true);
    expect((await verifyCache(home)).store.problems).toEqual([]);
    expect((await listCache(home)).store.map((s) => s.name)).toEqual(['@rump/net']);
    // A wrong expected integrity never reaches the store.
    const other = `sha512-${Buffer.alloc(64, 3).toString('base64')}`;
    const before = hashTree(homePaths(home).store);
    expect(await codeOf(store.ensureUnpacked('@rump/net', '10.0.0', { integrity: other }))).toBe('E_INTEGRITY_LOCK');
    expect(hashTree(homePaths(home).store)).toBe(before);
  });
});

describe("rumpkg's own server over HTTP", () => {
  let server: RegistryServer;
  let dir: string;
  let token: string;
  const logs: string[] = [];

  beforeAll(async () => {
    dir = tempDir('reg-server');
    server = await createRegistryServer(dir, { host: '127.0.0.1', port: 0, log: (e) => logs.push(JSON.stringify(e)) });
    token = await server.tokens.add('alice');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('login stores the token 0600; publish and fetch back; the token appears in no other file or error', async () => {
    const home = tempDir('reg-http-home');
    const url = `${server.url}/`;
    const registries = { '@rump': url };
    const anon = createRegistryClient({ home, registries });
    const noTok = await codeOf(anon.publish(net.data));
    expect(noTok).toBe('E_REGISTRY_AUTH');

    await storeToken(home, url, { token });
    expect(statSync(homePaths(home).credentials).mode & 0o777).toBe(0o600);
    expect(await readToken(home, url)).toBe(token);

    const client = createRegistryClient({ home, registries });
    const results = await Promise.all([net, tcp, tcp2, pci].map((p) => client.publish(p.data)));
    expect(results.map((r) => r.integrity)).toEqual([net, tcp, tcp2, pci].map((p) => p.integrity));
    let err: unknown;
    try {
      await client.publish(tcp.data);
    } catch (e) {
      err = e;
    }
    expect(isRumpkgError(err, 'E_REGISTRY_CONFLICT')).toBe(true);
    expect(JSON.stringify((err as Error & { toJSON(): unknown }).toJSON())).not.toContain(token);
    expect((err as Error).message).not.toContain(token);

    const reader = createRegistryClient({ home, registries });
    const vs = await reader.versions('@rump/tcpip');
    expect(vs.map((v) => v.version)).toEqual(['10.0.0', '10.1.0']);
    expect(vs[1]?.tarball).toBe('@rump/tcpip/-/tcpip-10.1.0.tgz');
    const bytes = await reader.tarball('@rump/tcpip', '10.1.0', { integrity: tcp2.integrity });
    expect(bytes.equals(tcp2.data)).toBe(true);

    await client.yank('@rump/tcpip', '10.1.0');
    const yanked = await createRegistryClient({ home, registries, preferOnline: true }).versions('@rump/tcpip');
    expect(yanked.map((v) => v.yanked)).toEqual([false, true]);
    await client.yank('@rump/tcpip', '10.1.0', { undo: true });
    const unyanked = await createRegistryClient({ home, registries, preferOnline: true }).versions('@rump/tcpip');
    expect(unyanked.map((v) => v.yanked)).toEqual([false, false]);

    const hits = await reader.search(['netinet']);
    expect(hits.map((h) => h.name)).toContain('@rump/tcpip');
    expect(await createRegistryProvider(reader).providersOf('bus:pci')).toEqual(['@rump/pci']);

    // Offline: the cache answers what was fetched, and names what is missing.
    const off = createRegistryClient({ home, registries, offline: true });
    expect((await off.tarball('@rump/tcpip', '10.1.0')).equals(tcp2.data)).toBe(true);
    expect(await codeOf(off.tarball('@rump/net', '10.0.0'))).toBe('E_OFFLINE');

    // RG-09: the token is in credentials.json and nowhere else under home, nor in server logs.
    const holders = filesUnder(home).filter((f) => f.data.includes(Buffer.from(token))).map((f) => f.path);
    expect(holders).toEqual([homePaths(home).credentials]);
    expect(logs.join('\n')).not.toContain(token);
  });

  it('another user cannot yank or republish; errors are typed', async () => {
    const home = tempDir('reg-http-bob');
    const url = `${server.url}/`;
    const bob = await server.tokens.add('bob');
    const client = createRegistryClient({ home, registries: { '@rump': url } });
    expect(await codeOf(client.yank('@rump/net', '10.0.0', { token: bob }))).toBe('E_REGISTRY_AUTH');
    const newer = await packFixture(tempDir('reg-src2'), { name: '@rump/net', version: '10.0.1' });
    expect(await codeOf(client.publish(newer.data, { token: bob }))).toBe('E_REGISTRY_AUTH');
  });
});
