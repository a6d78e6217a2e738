/**
 * `rumpkg cache ls|verify|clean` over the two caches of a rumpkg home: the download cache
 * (`<home>/cache`, npm's cacache: HTTP packuments and tarballs — not those the store keeps with
 * its entries —, content-addressed and verified by cacache on every read) and the store of
 * unpacked components (`<home>/store`, registry/store.ts; `verify` evicts a damaged entry but
 * keeps its tarball when that still matches). Nothing here prints; the CLI renders the results.
 *
 * cacache is loaded on first use (`loadCacache`), not at start-up: commands that never touch the
 * download cache (a no-op install, build, run) do not pay for it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { homePaths } from './home.js';
import { createStore, type StoreProblem } from './store.js';
import { redactUrl } from '../transport/index.js';

type CacacheApi = typeof import('cacache').default;
let loaded: Promise<CacacheApi> | undefined;

/** npm's cacache, loaded on first use. */
export function loadCacache(): Promise<CacacheApi> {
  loaded ??= import('cacache').then((m) => m.default);
  return loaded;
}

/** What the registry client reads and writes the download cache with. */
export interface DownloadCache {
  get: CacacheApi['get'];
  put: CacacheApi['put'];
  rm: { entry(cache: string, key: string): Promise<unknown>; content(cache: string, integrity: string): Promise<unknown> };
}
let core: Promise<DownloadCache> | undefined;

/**
 * cacache's get, put and rm, loaded from their own files (the pinned cacache's layout): its index
 * also loads ls, verify and rm.all with glob — ~9 ms of a cold `rumpkg add` for nothing. `rm` does
 * what cacache's own rm.entry / rm.content do (forget memoised reads, then delete).
 */
export function loadDownloadCache(): Promise<DownloadCache> {
  core ??= Promise.all([
    import('cacache/lib/get.js'),
    import('cacache/lib/put.js'),
    import('cacache/lib/entry-index.js'),
    import('cacache/lib/content/rm.js'),
    import('cacache/lib/memoization.js'),
  ]).then(([get, put, index, rmContent, memo]) => ({
    get: get.default,
    put: put.default,
    rm: {
      entry: (cache, key) => {
        memo.default.clearMemoized();
        return index.default.delete(cache, key);
      },
      content: (cache, integrity) => {
        memo.default.clearMemoized();
        return rmContent.default(cache, integrity);
      },
    },
  }));
  return core;
}

/** The cache keys of the download cache: HTTP packuments and tarballs by URL. */
export const PACKUMENT_KEY = 'rumpkg:packument:';
export const TARBALL_KEY = 'rumpkg:tarball:';

interface CacheListing {
  http: Array<{ url: string; integrity: string; size: number; time: string }>;
  store: Array<{ name: string; version: string; integrity: string; path: string; files: number }>;
}

/** Lists what the caches of a home hold. */
export async function listCache(home: string): Promise<CacheListing> {
  const paths = homePaths(home);
  let entries: Awaited<ReturnType<CacacheApi['ls']>> = {};
  try {
    entries = await (await loadCacache()).ls(paths.cache);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const http = Object.values(entries)
    .map((e) => ({
      url: redactUrl(e.key.replace(/^(make-fetch-happen:request-cache|rumpkg:tarball|rumpkg:packument):/, '')),
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
    stats = await (await loadCacache()).verify(paths.cache);
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

/** Removes both caches and the build's object cache (each by an atomic rename into tmp first, then deletion). */
export async function cleanCache(home: string): Promise<{ removed: string[] }> {
  const paths = homePaths(home);
  const removed: string[] = [];
  await mkdir(paths.tmp, { recursive: true });
  for (const dir of [paths.cache, paths.store, paths.objects]) {
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
