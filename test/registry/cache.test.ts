/**
 * The download cache (cacache under `<home>/cache`): a flipped byte in a cached
 * tarball is detected on read (IN-08) — offline it is E_CACHE, online it is refetched once —
 * and `cache verify` / `cache clean` see and remove what is there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanCache, createRegistryClient, homePaths, listCache, verifyCache } from '../../registry/index.js';
import { isRumpkgError } from '../../components/index.js';
import { packFixture, packumentFor, startServer, tempDir, type PackedFixture, type TestServer } from './client-fixtures.js';

let server: TestServer;
let fx: PackedFixture;
let tarballHits = 0;

beforeAll(async () => {
  fx = await packFixture(tempDir('cache-src'), { name: '@rump/cached', version: '1.0.0', payload: 1000 });
  server = await startServer((req, res) => {
    if (req.url === '/@rump%2fcached') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packumentFor(fx, `${server.url}@rump/cached/-/cached-1.0.0.tgz`)));
    } else if (req.url === '/@rump/cached/-/cached-1.0.0.tgz') {
      tarballHits++;
      res.writeHead(200, { 'content-length': fx.data.length }).end(fx.data);
    } else res.writeHead(404).end();
  });
});
afterAll(async () => server?.close());

/** The cacache content file that holds `bytes` (content-v2/sha512/xx/yy/rest). */
function contentFile(cache: string, integrity: string): string {
  const hex = Buffer.from(integrity.slice('sha512-'.length), 'base64').toString('hex');
  return join(cache, 'content-v2', 'sha512', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

describe('download cache', () => {
  it('detects a flipped byte on read: E_CACHE offline, refetched online; verify and clean', async () => {
    const home = tempDir('cache-home');
    const registries = { '@rump': server.url };
    await createRegistryClient({ home, registries }).tarball('@rump/cached', '1.0.0');
    expect(tarballHits).toBe(1);
    const ls = await listCache(home);
    expect(ls.http.map((h) => h.url).some((u) => u.endsWith('/@rump/cached/-/cached-1.0.0.tgz'))).toBe(true);

    const file = contentFile(homePaths(home).cache, fx.integrity);
    const bytes = readFileSync(file);
    expect(bytes.equals(fx.data)).toBe(true);
    const bad = Buffer.from(bytes);
    bad[100] = (bad[100] ?? 0) ^ 0x20;
    const mode = statSync(file).mode;
    writeFileSync(file, bad, { mode });

    const warnings: string[] = [];
    let e: unknown;
    try {
      await createRegistryClient({ home, registries, offline: true, reporter: { warn: (m) => warnings.push(m) } }).tarball('@rump/cached', '1.0.0');
    } catch (x) {
      e = x;
    }
    expect(isRumpkgError(e, 'E_CACHE')).toBe(true);
    expect((e as Error).message).toContain('@rump/cached@1.0.0');
    expect(warnings.join('\n')).toContain('damaged');

    const again = await createRegistryClient({ home, registries }).tarball('@rump/cached', '1.0.0');
    expect(again.equals(fx.data)).toBe(true);
    expect(tarballHits).toBe(2);
    expect(readFileSync(file).equals(fx.data)).toBe(true);

    const v = await verifyCache(home);
    expect(v.http.badContentCount).toBe(0);
    // the build's object cache goes with them
    mkdirSync(join(homePaths(home).objects, 'ab'), { recursive: true });
    writeFileSync(join(homePaths(home).objects, 'ab', 'entry'), 'x');
    const cleaned = await cleanCache(home);
    expect(cleaned.removed).toContain(homePaths(home).objects);
    expect(readdirSync(home)).not.toContain('cache');
    expect(readdirSync(home)).not.toContain('objects');
    expect((await listCache(home)).http).toEqual([]);
  });
});
