/**
 * The store keeps each entry's tarball (`<home>/store/<hex>/package.tgz`), so the download cache
 * holds no copy of it: a damaged entry is unpacked again from its kept tarball, and an entry
 * that `cache verify` evicted leaves it behind — both without the network, `--offline` too —
 * while every registry check still applies to the kept bytes. A kept tarball that no longer
 * hashes to its entry is never used.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError } from '../../components/index.js';
import { createRegistryClient, createStore, homePaths, listCache, seenDir, verifyCache } from '../../registry/index.js';
import { packFixture, packumentFor, startServer, tempDir, type PackedFixture, type TestServer } from './client-fixtures.js';

let server: TestServer;
let fx: PackedFixture;
let tarballHits = 0;
let lie = false;

beforeAll(async () => {
  fx = await packFixture(tempDir('kept-src'), { name: '@rump/kept', version: '1.0.0', payload: 3000 });
  server = await startServer((req, res) => {
    if (req.url === '/@rump%2fkept') {
      const doc = packumentFor(fx, `${server.url}@rump/kept/-/kept-1.0.0.tgz`) as { versions: Record<string, { dist: { integrity: string } }> };
      // A registry that now gives the version another integrity (IN-03 must refuse it).
      if (lie) (doc.versions['1.0.0'] as { dist: { integrity: string } }).dist.integrity = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(JSON.stringify(doc));
    } else if (req.url === '/@rump/kept/-/kept-1.0.0.tgz') {
      tarballHits++;
      res.writeHead(200, { 'content-length': fx.data.length }).end(fx.data);
    } else res.writeHead(404).end();
  });
});
afterAll(async () => server?.close());

const hex = (integrity: string): string => Buffer.from(integrity.slice('sha512-'.length), 'base64').toString('hex');

describe('the store keeps the tarball of each entry', () => {
  it('no download-cache copy; a damaged entry and an evicted one come back offline from the kept tarball', async () => {
    const home = tempDir('kept-home');
    const registries = { '@rump': server.url };
    const warnings: string[] = [];
    const reporter = { warn: (m: string) => warnings.push(m) };
    const online = createStore(createRegistryClient({ home, registries }), { home, reporter });
    const hits = tarballHits;
    const pkg = await online.ensureUnpacked('@rump/kept', '1.0.0', { integrity: fx.integrity });
    expect(tarballHits).toBe(hits + 1);
    const entry = join(homePaths(home).store, hex(fx.integrity));
    expect(readdirSync(entry).sort()).toEqual(['index.json', 'package.tgz', 'pkg']);
    expect(readFileSync(join(entry, 'package.tgz')).equals(fx.data)).toBe(true);
    // The download cache has the packument, not a second copy of the tarball.
    expect((await listCache(home)).http.map((h) => h.url)).toEqual([`${server.url}@rump%2fkept`]);

    // A damaged file: unpacked again from the kept tarball, offline, with a warning saying so.
    const offline = createStore(createRegistryClient({ home, registries, offline: true }), { home, reporter });
    writeFileSync(join(pkg, 'package.json'), readFileSync(join(pkg, 'package.json'), 'utf8').replace('test component', 'test c0mponent'));
    expect(await offline.ensureUnpacked('@rump/kept', '1.0.0', { integrity: fx.integrity })).toBe(pkg);
    expect(warnings.some((w) => w.includes('@rump/kept@1.0.0') && w.includes('modified package.json') && w.includes('kept tarball'))).toBe(true);
    expect((await verifyCache(home)).store).toEqual({ checked: 1, problems: [] });

    // cache verify evicts a damaged entry but leaves its tarball: no entry, no problem next time…
    writeFileSync(join(pkg, 'package.json'), 'damaged');
    expect((await verifyCache(home)).store.problems.map((p) => p.name)).toEqual(['@rump/kept']);
    expect(readdirSync(entry)).toEqual(['package.tgz']);
    expect((await verifyCache(home)).store).toEqual({ checked: 0, problems: [] });
    expect((await listCache(home)).store).toEqual([]);
    expect(online.lookup('@rump/kept', '1.0.0', { integrity: fx.integrity })).toBeUndefined();
    expect(await online.has(fx.integrity)).toBe(false);
    // …and the next build starts from it, offline, without a warning.
    const before = warnings.length;
    expect(await offline.ensureUnpacked('@rump/kept', '1.0.0', { integrity: fx.integrity })).toBe(pkg);
    expect(warnings.length).toBe(before);
    expect(readdirSync(entry).sort()).toEqual(['index.json', 'package.tgz', 'pkg']);
    expect(online.lookup('@rump/kept', '1.0.0', { integrity: fx.integrity })).toBe(pkg);
    expect(tarballHits).toBe(hits + 1);
  });

  it('a kept tarball that no longer matches is never used; kept bytes still go through the registry checks, and a failed build keeps them', async () => {
    const home = tempDir('kept-home2');
    const registries = { '@rump': server.url };
    const online = createStore(createRegistryClient({ home, registries }), { home });
    const pkg = await online.ensureUnpacked('@rump/kept', '1.0.0', { integrity: fx.integrity });
    const entry = join(homePaths(home).store, hex(fx.integrity));
    const evictKeeping = async (): Promise<void> => {
      writeFileSync(join(pkg, 'package.json'), 'damaged');
      await verifyCache(home);
      expect(readdirSync(entry)).toEqual(['package.tgz']);
    };
    await evictKeeping();

    // A flipped byte in the kept tarball: no entry's tarball any more. Offline there is nothing
    // to build from; online it is downloaded again.
    const kept = readFileSync(join(entry, 'package.tgz'));
    kept[kept.length - 5] = (kept[kept.length - 5] ?? 0) ^ 1;
    writeFileSync(join(entry, 'package.tgz'), kept);
    const e = await createStore(createRegistryClient({ home, registries, offline: true }), { home })
      .ensureUnpacked('@rump/kept', '1.0.0', { integrity: fx.integrity })
      .catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_OFFLINE')).toBe(true);
    const hits = tarballHits;
    expect(await online.ensureUnpacked('@rump/kept', '1.0.0', { integrity: fx.integrity })).toBe(pkg);
    expect(tarballHits).toBe(hits + 1);
    expect(readFileSync(join(entry, 'package.tgz')).equals(fx.data)).toBe(true);

    // The registry now gives the version another integrity: refused although the bytes are at
    // hand — by RG-01 (this home saw the old one), and without the seen records by IN-03 — and
    // the kept tarball stays for the next try.
    await evictKeeping();
    lie = true;
    try {
      const unpack = (): Promise<unknown> =>
        createStore(createRegistryClient({ home, registries }), { home })
          .ensureUnpacked('@rump/kept', '1.0.0', { integrity: fx.integrity })
          .catch((x: unknown) => x);
      expect(isRumpkgError(await unpack(), 'E_REGISTRY_ROLLBACK')).toBe(true);
      rmSync(seenDir(home), { recursive: true });
      expect(isRumpkgError(await unpack(), 'E_INTEGRITY_LOCK')).toBe(true);
    } finally {
      lie = false;
    }
    expect(readdirSync(entry)).toEqual(['package.tgz']);
    expect(readFileSync(join(entry, 'package.tgz')).equals(fx.data)).toBe(true);
    expect(readdirSync(homePaths(home).tmp)).toEqual([]);
    expect(tarballHits).toBe(hits + 1);
  });
});
