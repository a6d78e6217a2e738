/**
 * The client against a scriptable npm-protocol registry on 127.0.0.1 (RELIABILITY.md IN-01/02/04,
 * RG-03/04/05, NW-01/02): every fault ends in a typed error, and the download cache is
 * byte-identical before and after the failed operation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { cleanStaleTemp, createRegistryClient, createStore, homePaths, type RegistryClient } from '../../registry/index.js';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { isRumpkgError } from '../../components/index.js';
import { hashTree, packFixture, packumentFor, startServer, tempDir, type PackedFixture, type TestServer } from './client-fixtures.js';

const NAME = '@rump/foo';
const PKT = '/@rump%2ffoo';
const TGZ = '/@rump/foo/-/foo-1.0.0.tgz';

type Mode =
  | 'ok'
  | 'wrong-bytes'
  | 'truncated'
  | 'endless'
  | 'endless-packument'
  | 'slow'
  | 'foreign'
  | 'flaky5xx'
  | 'ratelimit'
  | 'sha1'
  | 'confused'
  | 'missing'
  | 'missing-endless';

let server: TestServer;
let fixture: PackedFixture;
let mode: Mode = 'ok';
let tarballHits = 0;
let packumentHits = 0;
/** The connection of each packument request, in order. */
const packumentSockets: unknown[] = [];

async function expectCode(p: Promise<unknown>, code: string): Promise<Error> {
  try {
    await p;
  } catch (e) {
    if (!isRumpkgError(e)) throw e;
    expect(e.code, e.message).toBe(code);
    return e;
  }
  throw new Error(`expected ${code}, got success`);
}

function client(home: string, extra: Partial<Parameters<typeof createRegistryClient>[0]> = {}): RegistryClient {
  return createRegistryClient({
    home,
    registries: { '@rump': server.url },
    limits: { timeoutMs: 4000, idleTimeoutMs: 3000, minRetryDelayMs: 20, maxRetryDelayMs: 3000, retries: 3, maxTarballBytes: 1024 * 1024 },
    ...extra,
  });
}

/** Writes `byte` to `res` for as long as the client reads (a body that never ends). */
function writeForever(res: ServerResponse, byte: number): void {
  const chunk = Buffer.alloc(64 * 1024, byte);
  const pump = (): void => {
    if (res.destroyed) return;
    while (res.write(chunk)) {
      /* fill the socket buffer */
    }
    res.once('drain', pump);
  };
  pump();
}

beforeAll(async () => {
  fixture = await packFixture(tempDir('faults-src'), { name: NAME, version: '1.0.0', payload: 2048 });
  server = await startServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith(PKT)) {
      packumentHits++;
      packumentSockets.push(req.socket);
      if (mode === 'missing') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      if (mode === 'missing-endless') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.write('{"error":"not found"');
        writeForever(res, 0x20);
        return;
      }
      if (mode === 'endless-packument') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"name":"@rump/foo","readme":"');
        writeForever(res, 0x61);
        return;
      }
      let tarball = `${server.url.replace(/\/$/, '')}${TGZ}`;
      if (mode === 'foreign') tarball = `http://localhost:${server.port}${TGZ}`;
      const doc = packumentFor(fixture, tarball) as { versions: Record<string, Record<string, unknown>> };
      const v = doc.versions['1.0.0'] as Record<string, unknown> & { dist: Record<string, unknown> };
      if (mode === 'sha1') v.dist = { ...v.dist, integrity: `sha1-${Buffer.alloc(20, 1).toString('base64')}` };
      if (mode === 'confused') v.dependencies = { '@rump/evil': '^1.0.0' };
      // Cacheable so that a warm packument is reused without a rewrite of the cache.
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(JSON.stringify(doc));
      return;
    }
    if (url === TGZ) {
      tarballHits++;
      const data = fixture.data;
      switch (mode) {
        case 'wrong-bytes': {
          const bad = Buffer.from(data);
          bad[bad.length - 10] = (bad[bad.length - 10] ?? 0) ^ 0xff;
          res.writeHead(200, { 'content-length': bad.length }).end(bad);
          return;
        }
        case 'truncated':
          res.writeHead(200, { 'content-length': data.length });
          res.write(data.subarray(0, data.length >> 1), () => res.destroy());
          return;
        case 'endless': {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          writeForever(res, 0x41);
          return;
        }
        case 'slow': {
          res.writeHead(200, { 'content-length': data.length });
          let i = 0;
          const t = setInterval(() => {
            if (res.destroyed || i >= data.length) return clearInterval(t);
            res.write(data.subarray(i, i + 1));
            i++;
          }, 200);
          res.on('close', () => clearInterval(t));
          return;
        }
        case 'flaky5xx':
          if (tarballHits <= 2) {
            res.writeHead(503).end('busy');
            return;
          }
          break;
        case 'ratelimit':
          if (tarballHits === 1) {
            res.writeHead(429, { 'retry-after': '1' }).end('slow down');
            return;
          }
          break;
        default:
          break;
      }
      res.writeHead(200, { 'content-length': data.length }).end(data);
      return;
    }
    res.writeHead(404).end();
  });
});

afterAll(async () => {
  await server?.close();
});

/** A home whose cache already holds the packument, and the cache hash after that. */
async function warmHome(): Promise<{ home: string; before: string }> {
  const home = tempDir('faults-home');
  const saved = mode;
  mode = 'ok';
  await client(home).packument(NAME);
  mode = saved;
  return { home, before: hashTree(homePaths(home).cache) };
}

async function faultCase(m: Mode, code: string, extra: Partial<Parameters<typeof createRegistryClient>[0]> = {}): Promise<Error> {
  mode = 'ok';
  const { home, before } = await warmHome();
  mode = m;
  tarballHits = 0;
  const err = await expectCode(client(home, extra).tarball(NAME, '1.0.0'), code);
  expect(hashTree(homePaths(home).cache)).toBe(before);
  return err;
}

describe('registry client over HTTP', () => {
  it('fetches, verifies and caches a tarball; offline afterwards uses only the cache', async () => {
    mode = 'ok';
    const home = tempDir('faults-ok');
    const bytes = await client(home).tarball(NAME, '1.0.0', { integrity: fixture.integrity });
    expect(Buffer.compare(bytes, fixture.data)).toBe(0);
    const hits = tarballHits;
    const again = await client(home, { offline: true }).tarball(NAME, '1.0.0');
    expect(Buffer.compare(again, fixture.data)).toBe(0);
    expect(tarballHits).toBe(hits);
  });

  it('IN-01: bytes that differ from the integrity → E_INTEGRITY, cache unchanged', async () => {
    const e = await faultCase('wrong-bytes', 'E_INTEGRITY');
    expect(e.message).toContain('@rump/foo@1.0.0');
  });

  it('truncated body → typed error, cache unchanged', async () => {
    mode = 'ok';
    const { home, before } = await warmHome();
    mode = 'truncated';
    let err: unknown;
    try {
      await client(home, { limits: { retries: 1, minRetryDelayMs: 10, timeoutMs: 4000 } }).tarball(NAME, '1.0.0');
    } catch (e) {
      err = e;
    }
    expect(isRumpkgError(err)).toBe(true);
    expect(['E_INTEGRITY', 'E_NETWORK', 'E_TIMEOUT']).toContain((err as { code: string }).code);
    expect(hashTree(homePaths(home).cache)).toBe(before);
  });

  it('RG-04: an endless body → E_TOO_LARGE with bounded memory, cache unchanged', async () => {
    await faultCase('endless', 'E_TOO_LARGE');
  });

  it('RG-04: an endless packument → E_TOO_LARGE at the JSON cap, cache unchanged', async () => {
    const home = tempDir('faults-home');
    const cache = homePaths(home).cache;
    mkdirSync(cache, { recursive: true }); // an empty cache: "absent" and "empty" must not differ
    const before = hashTree(cache, { skip: ['tmp'] });
    mode = 'endless-packument';
    try {
      const e = await expectCode(client(home, { limits: { timeoutMs: 20_000, idleTimeoutMs: 10_000, retries: 0, maxJsonBytes: 1024 * 1024 } }).packument(NAME), 'E_TOO_LARGE');
      expect(e.message).toContain(NAME);
    } finally {
      mode = 'ok';
    }
    // A cut-off cache write may leave a partial file in cacache's temp area (CA-01: leftovers only in a temp
    // area that the next run cleans); nothing else in the cache changes.
    expect(hashTree(cache, { skip: ['tmp'] })).toBe(before);
    await cleanStaleTemp(home, { maxAgeMs: -1 });
    expect(existsSync(join(cache, 'tmp')) ? readdirSync(join(cache, 'tmp')) : []).toEqual([]);
  });

  it('RG-05: a trickled body → E_TIMEOUT, cache unchanged', async () => {
    const e = await faultCase('slow', 'E_TIMEOUT', { limits: { timeoutMs: 1200, retries: 0 } });
    expect(e.message).toContain('127.0.0.1');
  });

  it('RG-03: a tarball URL on another host → E_FOREIGN_TARBALL before any request', async () => {
    mode = 'foreign';
    tarballHits = 0;
    const home = tempDir('faults-foreign');
    const e = await expectCode(client(home).tarball(NAME, '1.0.0'), 'E_FOREIGN_TARBALL');
    expect(tarballHits).toBe(0);
    expect(e.message).toContain('localhost');
  });

  it('IN-02: sha1-only integrity → E_INTEGRITY_WEAK', async () => {
    mode = 'sha1';
    await expectCode(client(tempDir('faults-sha1')).tarball(NAME, '1.0.0'), 'E_INTEGRITY_WEAK');
  });

  it('IN-03: a lockfile integrity other than the registry one → E_INTEGRITY_LOCK', async () => {
    mode = 'ok';
    const other = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;
    await expectCode(client(tempDir('faults-lock')).tarball(NAME, '1.0.0', { integrity: other }), 'E_INTEGRITY_LOCK');
  });

  it('IN-04: registry metadata differing from the tarball package.json → E_MANIFEST_CONFUSION', async () => {
    mode = 'confused';
    const e = await expectCode(client(tempDir('faults-confused')).tarball(NAME, '1.0.0'), 'E_MANIFEST_CONFUSION');
    expect(e.message).toContain('dependencies');
    // The store checks IN-04 on what it unpacked, before the entry is put in place: nothing stays.
    const home = tempDir('faults-confused-store');
    const c = client(home);
    const store = createStore(c, { home });
    const [v] = await c.versions(NAME);
    const s = await expectCode(store.ensureUnpacked(NAME, '1.0.0', { integrity: v!.integrity }), 'E_MANIFEST_CONFUSION');
    expect(s.message).toContain('dependencies');
    expect(existsSync(homePaths(home).store) ? readdirSync(homePaths(home).store) : []).toEqual([]);
    expect(existsSync(homePaths(home).tmp) ? readdirSync(homePaths(home).tmp) : []).toEqual([]);
    mode = 'ok';
    const honest = client(home, { preferOnline: true }); // the confused packument is still fresh in the cache
    expect(existsSync(await createStore(honest, { home }).ensureUnpacked(NAME, '1.0.0', { integrity: v!.integrity }))).toBe(true);
  });

  it('NW-01: 5xx twice then success is retried', async () => {
    mode = 'ok';
    const { home } = await warmHome();
    mode = 'flaky5xx';
    tarballHits = 0;
    const retries: string[] = [];
    const bytes = await client(home, { reporter: { info: (m) => retries.push(m) } }).tarball(NAME, '1.0.0');
    expect(Buffer.compare(bytes, fixture.data)).toBe(0);
    expect(tarballHits).toBe(3);
    expect(retries.filter((r) => r.includes('HTTP 503'))).toHaveLength(2);
  });

  it('NW-01: 429 with Retry-After waits as told, then succeeds', async () => {
    mode = 'ok';
    const { home } = await warmHome();
    mode = 'ratelimit';
    tarballHits = 0;
    const t0 = Date.now();
    const bytes = await client(home).tarball(NAME, '1.0.0');
    expect(Buffer.compare(bytes, fixture.data)).toBe(0);
    expect(tarballHits).toBe(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
  });

  it('NW-01: 5xx forever ends in E_NETWORK after bounded retries, cache unchanged', async () => {
    mode = 'ok';
    const { home, before } = await warmHome();
    mode = 'flaky5xx';
    tarballHits = -100; // never recovers within the retries
    await expectCode(client(home, { limits: { retries: 2, minRetryDelayMs: 10 } }).tarball(NAME, '1.0.0'), 'E_NETWORK');
    expect(tarballHits).toBe(-97);
    expect(hashTree(homePaths(home).cache)).toBe(before);
  });

  it('a 404 is not retried and is E_NOT_FOUND; versions() gives []', async () => {
    mode = 'missing';
    packumentHits = 0;
    const home = tempDir('faults-404');
    const e = await expectCode(client(home).packument(NAME), 'E_NOT_FOUND');
    expect(packumentHits).toBe(1);
    expect(e.message).toContain('@rump/foo');
    expect(await client(home).versions(NAME)).toEqual([]);
  });

  it('a 404 whose error document arrived whole gives its connection back (the next request reuses it); one still arriving is cut off at once', async () => {
    mode = 'missing';
    packumentSockets.length = 0;
    const c = client(tempDir('faults-404-conn'));
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50)); // the pool takes the connection back
    await expectCode(c.packument(NAME), 'E_NOT_FOUND');
    await settle();
    await expectCode(c.packument(NAME), 'E_NOT_FOUND');
    expect(packumentSockets).toHaveLength(2);
    expect(packumentSockets[1]).toBe(packumentSockets[0]);
    mode = 'missing-endless';
    packumentSockets.length = 0;
    const started = Date.now();
    await expectCode(c.packument(NAME), 'E_NOT_FOUND');
    await settle();
    await expectCode(c.packument(NAME), 'E_NOT_FOUND');
    expect(Date.now() - started).toBeLessThan(3000); // not the 4 s deadline
    expect(packumentSockets).toHaveLength(2);
    expect(packumentSockets[1]).not.toBe(packumentSockets[0]);
  });

  it('NW-02: offline with an empty cache → E_OFFLINE naming what is missing, cache unchanged', async () => {
    mode = 'ok';
    const home = tempDir('faults-offline');
    const before = hashTree(homePaths(home).cache);
    packumentHits = 0;
    const e = await expectCode(client(home, { offline: true }).tarball(NAME, '1.0.0'), 'E_OFFLINE');
    expect(e.message).toContain('@rump/foo');
    expect(packumentHits).toBe(0);
    expect(hashTree(homePaths(home).cache)).toBe(before);
  });

  it('RG-06: a scope without a registry → E_SCOPE, nothing fetched', async () => {
    packumentHits = 0;
    await expectCode(client(tempDir('faults-scope')).packument('@other/foo'), 'E_SCOPE');
    expect(packumentHits).toBe(0);
  });

  it('the home directory paths are under the home', () => {
    const p = homePaths('/x/home');
    expect(p.cache).toBe(join('/x/home', 'cache'));
  });
});
