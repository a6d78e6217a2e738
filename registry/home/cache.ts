/**
 * `rumpkg cache ls|verify|clean` over the two caches of a rumpkg home: pacote's cacache
 * (`<home>/cache`, HTTP packuments and tarballs, content-addressed and verified by cacache)
 * and the store of unpacked components (`<home>/store`, registry/store.ts). Nothing here
 * prints; the CLI renders the results.
 *
 * cacache is pacote's own cache library (a dependency of pacote, loaded from pacote's
 * install); it is not a direct dependency of rumpkg.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { homePaths } from './home.js';
import { createStore, type StoreProblem } from './store.js';
import { redactUrl } from '../transport/index.js';

interface CacacheEntry {
  key: string;
  integrity: string;
  size: number;
  time: number;
}
interface CacacheApi {
  ls(cache: string): Promise<Record<string, CacacheEntry>>;
  verify(cache: string): Promise<Record<string, unknown>>;
  put(cache: string, key: string, data: Buffer, opts: { integrity: string; algorithms?: string[] }): Promise<string>;
  get: { byDigest(cache: string, integrity: string): Promise<Buffer> };
  rm: { content(cache: string, integrity: string): Promise<unknown> };
}

/** pacote's cacache (the same copy pacote uses, so both agree on the cache format). */
export function cacache(): CacacheApi {
  const req = createRequire(createRequire(import.meta.url).resolve('pacote'));
  return req('cacache') as CacacheApi;
}

interface CacheListing {
  http: Array<{ url: string; integrity: string; size: number; time: string }>;
  store: Array<{ name: string; version: string; integrity: string; path: string; files: number }>;
}

/** Lists what the caches of a home hold. */
export async function listCache(home: string): Promise<CacheListing> {
  const paths = homePaths(home);
  let entries: Record<string, CacacheEntry> = {};
  try {
    entries = await cacache().ls(paths.cache);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const http = Object.values(entries)
    .map((e) => ({
      url: redactUrl(e.key.replace(/^(make-fetch-happen:request-cache|rumpkg:tarball):/, '')),
      integrity: e.integrity,
      size: e.size,
      time: new Date(e.time).toISOString(),
    }))
    .sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  const store = (await createStore({ tarball: () => Promise.reject(new Error('listing only')) }, { home }).list()).map((s) => ({
    name: s.name,
    version: s.version,
    integrity: s.integrity,
    path: s.path,
    files: Object.keys(s.files).length,
  }));
  return { http, store };
}

interface CacheVerifyResult {
  http: { verifiedContent: number; badContentCount: number; reclaimedCount: number; missingContent: number };
  store: { checked: number; problems: StoreProblem[] };
}

/** Verifies both caches: cacache re-hashes its content (and drops bad entries); the store re-hashes every entry and evicts damaged ones. */
export async function verifyCache(home: string): Promise<CacheVerifyResult> {
  const paths = homePaths(home);
  let stats: Record<string, unknown> = {};
  try {
    stats = await cacache().verify(paths.cache);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const n = (k: string): number => (typeof stats[k] === 'number' ? (stats[k] as number) : 0);
  const store = await createStore({ tarball: () => Promise.reject(new Error('verify only')) }, { home }).verify({ evict: true });
  return {
    http: { verifiedContent: n('verifiedContent'), badContentCount: n('badContentCount'), reclaimedCount: n('reclaimedCount'), missingContent: n('missingContent') },
    store,
  };
}

/** Removes both caches (each by an atomic rename into tmp first, then deletion). */
export async function cleanCache(home: string): Promise<{ removed: string[] }> {
  const paths = homePaths(home);
  const removed: string[] = [];
  await mkdir(paths.tmp, { recursive: true });
  for (const dir of [paths.cache, paths.store]) {
    const away = join(paths.tmp, `clean-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await rename(dir, away);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    await rm(away, { recursive: true, force: true });
    removed.push(dir);
  }
  return { removed };
}
