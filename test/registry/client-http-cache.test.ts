/**
 * The download cache of packuments over HTTP (registry/client/http-backend.ts): validators kept
 * and revalidated (ETag → If-None-Match, Last-Modified → If-Modified-Since; 304 reuses the copy),
 * `Cache-Control` honoured (max-age: no request while fresh, except preferOnline; no-store: never
 * kept), offline from the cache only, and a damaged cached copy never used (IN-08): refetched
 * online with a warning, E_CACHE offline. Against a scriptable server on 127.0.0.1.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError } from '../../components/index.js';
import { createRegistryClient, homePaths, listCache, seenDir } from '../../registry/index.js';
import { packFixture, packumentFor, startServer, tempDir, type PackedFixture, type TestServer } from './client-fixtures.js';

const NAME = '@rump/cachy';
const PKT = '/@rump%2fcachy';

interface Served {
  status: number;
  headers: Record<string, string>;
  body: string;
}

let server: TestServer;
let v1: PackedFixture;
let v2: PackedFixture;
/** What the server does with the next packument request (given the request's headers). */
let answer: (h: Record<string, string | string[] | undefined>) => Served;
let requests: Array<Record<string, string | string[] | undefined>> = [];

const doc = (...ps: PackedFixture[]): string => {
  const docs = ps.map((p) => packumentFor(p, `${server.url}@rump/cachy/-/cachy-${p.manifest.version}.tgz`) as { versions: Record<string, unknown>; time: Record<string, string>; 'dist-tags': Record<string, string> });
  const last = docs[docs.length - 1]!;
  return JSON.stringify({ ...last, versions: Object.assign({}, ...docs.map((d) => d.versions)) });
};

beforeAll(async () => {
  const src = tempDir('cachy-src');
  v1 = await packFixture(src, { name: NAME, version: '1.0.0' });
  v2 = await packFixture(src, { name: NAME, version: '1.1.0' });
  server = await startServer((req, res) => {
    if (req.url !== PKT) {
      res.writeHead(404).end();
      return;
    }
    requests.push(req.headers);
    const a = answer(req.headers);
    res.writeHead(a.status, a.headers).end(a.body);
  });
});

afterAll(async () => {
  await server?.close();
});

const client = (home: string, extra: Partial<Parameters<typeof createRegistryClient>[0]> = {}) =>
  createRegistryClient({ home, registries: { '@rump': server.url }, limits: { retries: 0 }, ...extra });
const versions = async (home: string, extra: Partial<Parameters<typeof createRegistryClient>[0]> = {}): Promise<string[]> =>
  Object.keys((await client(home, extra).packument(NAME)).versions).sort();

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isRumpkgError(e) ? e.code : String(e);
  }
  return 'ok';
}

describe('packuments in the download cache', () => {
  it('ETag: the copy is revalidated with If-None-Match; 304 reuses it; a new ETag brings the new document', async () => {
    const home = tempDir('cachy-etag');
    let current = { etag: '"v1"', body: doc(v1) };
    answer = (h): Served =>
      h['if-none-match'] === current.etag ? { status: 304, headers: { etag: current.etag }, body: '' } : { status: 200, headers: { 'content-type': 'application/json', etag: current.etag }, body: current.body };
    requests = [];
    expect(await versions(home)).toEqual(['1.0.0']);
    expect(requests[0]?.['if-none-match']).toBeUndefined();
    expect(requests[0]?.accept).toBe('application/json');
    expect(await versions(home)).toEqual(['1.0.0']);
    expect(requests[1]?.['if-none-match']).toBe('"v1"');
    current = { etag: '"v2"', body: doc(v1, v2) };
    expect(await versions(home)).toEqual(['1.0.0', '1.1.0']);
    expect(requests[2]?.['if-none-match']).toBe('"v1"');
    expect(await versions(home)).toEqual(['1.0.0', '1.1.0']);
    expect(requests[3]?.['if-none-match']).toBe('"v2"');
    expect(requests).toHaveLength(4);
    // rumpkg cache ls shows the packument by its URL.
    expect((await listCache(home)).http.map((e) => e.url)).toContain(`${server.url}@rump%2fcachy`);
  });

  it('Last-Modified: revalidated with If-Modified-Since', async () => {
    const home = tempDir('cachy-lm');
    const stamp = 'Wed, 21 Oct 2015 07:28:00 GMT';
    answer = (h): Served => (h['if-modified-since'] === stamp ? { status: 304, headers: {}, body: '' } : { status: 200, headers: { 'last-modified': stamp }, body: doc(v1) });
    requests = [];
    expect(await versions(home)).toEqual(['1.0.0']);
    expect(await versions(home)).toEqual(['1.0.0']);
    expect(requests.map((r) => r['if-modified-since'])).toEqual([undefined, stamp]);
  });

  it('max-age: a fresh copy is used without asking, preferOnline asks anyway; no-cache always asks', async () => {
    const home = tempDir('cachy-fresh');
    answer = () => ({ status: 200, headers: { 'cache-control': 'public, max-age=300', etag: '"f"' }, body: doc(v1) });
    requests = [];
    await versions(home);
    await versions(home);
    expect(requests).toHaveLength(1);
    await versions(home, { preferOnline: true });
    expect(requests).toHaveLength(2);
    expect(requests[1]?.['if-none-match']).toBe('"f"');

    const other = tempDir('cachy-nocache');
    answer = () => ({ status: 200, headers: { 'cache-control': 'no-cache, max-age=300' }, body: doc(v1) });
    requests = [];
    await versions(other);
    await versions(other);
    expect(requests).toHaveLength(2);
  });

  it('no-store: never kept, so offline it is E_OFFLINE; offline with a kept copy needs no network', async () => {
    const home = tempDir('cachy-nostore');
    answer = () => ({ status: 200, headers: { 'cache-control': 'no-store' }, body: doc(v1) });
    await versions(home);
    expect(await code(client(home, { offline: true }).packument(NAME))).toBe('E_OFFLINE');

    const kept = tempDir('cachy-kept');
    answer = () => ({ status: 200, headers: {}, body: doc(v1) });
    await versions(kept);
    answer = () => ({ status: 500, headers: {}, body: 'down' });
    requests = [];
    expect(await versions(kept, { offline: true })).toEqual(['1.0.0']);
    expect(requests).toHaveLength(0);
  });

  it('IN-08: a flipped byte in the cached copy is never used — refetched online with a warning, E_CACHE offline', async () => {
    const body = doc(v1);
    answer = () => ({ status: 200, headers: { etag: '"d"' }, body });
    const home = tempDir('cachy-damaged');
    await versions(home);
    const hex = createHash('sha512').update(body).digest('hex');
    const file = join(homePaths(home).cache, 'content-v2', 'sha512', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
    const flip = (): void => {
      const bytes = readFileSync(file);
      bytes[10] = (bytes[10] ?? 0) ^ 0x01;
      writeFileSync(file, bytes);
    };
    flip();
    const warnings: string[] = [];
    requests = [];
    expect(Object.keys((await client(home, { reporter: { warn: (m) => warnings.push(m) } }).packument(NAME)).versions)).toEqual(['1.0.0']);
    expect(warnings.join('\n')).toMatch(/cached metadata of @rump\/cachy is damaged/);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.['if-none-match']).toBeUndefined(); // not revalidated against a copy it cannot trust
    expect(await versions(home, { offline: true })).toEqual(['1.0.0']); // the good copy is back
    flip();
    expect(await code(client(home, { offline: true }).packument(NAME))).toBe('E_CACHE');
  });

  it('deferWrites: the cache entry and the RG-01 mark wait for flush, and the mark counts in this process at once', async () => {
    const home = tempDir('cachy-defer');
    answer = () => ({ status: 200, headers: { etag: '"d2"' }, body: doc(v1, v2) });
    const warnings: string[] = [];
    const deferred = client(home, { deferWrites: true, reporter: { warn: (m) => warnings.push(m) } });
    expect(Object.keys((await deferred.packument(NAME)).versions).sort()).toEqual(['1.0.0', '1.1.0']);
    expect((await listCache(home)).http).toEqual([]);
    expect(existsSync(seenDir(home))).toBe(false);
    // Before anything is written, another client of this home in this process that is served the
    // document without 1.1.0 refuses it: the mark is held in memory until it is on disk.
    answer = () => ({ status: 200, headers: {}, body: doc(v1) });
    expect(await code(client(home).packument(NAME))).toBe('E_REGISTRY_ROLLBACK');
    await deferred.flush();
    expect((await listCache(home)).http.map((e) => e.url)).toContain(`${server.url}@rump%2fcachy`);
    const marks = readdirSync(seenDir(home)).map((f) => JSON.parse(readFileSync(join(seenDir(home), f), 'utf8')) as { name: string; versions: Record<string, string> });
    expect(marks.map((m) => [m.name, Object.keys(m.versions).sort()])).toEqual([[NAME, ['1.0.0', '1.1.0']]]);
    expect(warnings).toEqual([]);
  });

  it('deferWrites: a packument read only to confirm that it does not claim a word is kept only when fresh (max-age), or once it is used', async () => {
    const src = tempDir('claims-src');
    const word = await packFixture(src, { name: '@rump/wordy', version: '1.0.0' });
    const other = await packFixture(src, { name: '@rump/other', version: '1.0.0' });
    let otherCache = 'no-cache';
    const docs = (): Record<string, string> => ({
      '/@rump%2fwordy': JSON.stringify(packumentFor(word, `${srv.url}@rump/wordy/-/wordy-1.0.0.tgz`)),
      '/@rump%2fother': JSON.stringify(packumentFor(other, `${srv.url}@rump/other/-/other-1.0.0.tgz`)),
    });
    const hit = (n: string) => ({ package: { name: n, version: '1.0.0', description: 'mentions wordy', keywords: [] }, searchScore: 1 });
    const srv = await startServer((req, res) => {
      if (req.url?.startsWith('/-/v1/search')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ objects: [hit('@rump/wordy'), hit('@rump/other')], total: 2 }));
        return;
      }
      const body = docs()[req.url ?? ''];
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': req.url === '/@rump%2fother' ? otherCache : 'no-cache' }).end(body);
    });
    try {
      const cached = async (home: string): Promise<string[]> => (await listCache(home)).http.map((e) => e.url.slice(srv.url.length)).sort();
      const session = (home: string) => createRegistryClient({ home, registries: { '@rump': srv.url }, limits: { retries: 0 }, deferWrites: true });
      // @rump/other is read (its claims are checked) but claims nothing: no-cache → not kept; its seen record is.
      const a = tempDir('claims-a');
      const ca = session(a);
      expect(await ca.resolveName('wordy')).toEqual({ name: '@rump/wordy' });
      await ca.flush();
      expect(await cached(a)).toEqual(['@rump%2fwordy']);
      expect(readdirSync(seenDir(a))).toHaveLength(2);
      // Used later in the same session (resolution, info…): kept at the next flush.
      expect((await ca.versions('@rump/other')).map((v) => v.version)).toEqual(['1.0.0']);
      await ca.flush();
      expect(await cached(a)).toEqual(['@rump%2fother', '@rump%2fwordy']);
      // Fresh (max-age): kept, since the next run may use it without asking.
      otherCache = 'max-age=300';
      const b = tempDir('claims-b');
      const cb = session(b);
      await cb.resolveName('wordy');
      await cb.flush();
      expect(await cached(b)).toEqual(['@rump%2fother', '@rump%2fwordy']);
      // A client that does not defer keeps everything it reads, as before.
      otherCache = 'no-cache';
      const c = tempDir('claims-c');
      await createRegistryClient({ home: c, registries: { '@rump': srv.url }, limits: { retries: 0 } }).resolveName('wordy');
      expect(await cached(c)).toEqual(['@rump%2fother', '@rump%2fwordy']);
    } finally {
      await srv.close();
    }
  });

  it('a 304 to an unconditional request, invalid JSON and a document for another name are refused and not kept', async () => {
    for (const [served, want] of [
      [{ status: 304, headers: {}, body: '' }, 'E_REGISTRY'],
      [{ status: 200, headers: {}, body: '{"name": "@rump/cachy", "versions": ' }, 'E_REGISTRY'],
      [{ status: 200, headers: {}, body: JSON.stringify({ name: '@rump/other', versions: {} }) }, 'E_REGISTRY'],
    ] as Array<[Served, string]>) {
      const home = tempDir('cachy-bad');
      answer = () => served;
      expect(await code(client(home).packument(NAME))).toBe(want);
      expect((await listCache(home)).http).toEqual([]);
    }
  });
});
