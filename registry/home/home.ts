/**
 * The rumpkg home (DESIGN.md §9): `$RUMPKG_HOME`, default `~/.rumpkg`. Everything rumpkg keeps
 * between runs lives here:
 *
 *   config.json       scope → registry URL (the default `@rump` → `file:<home>/registry`)
 *   credentials.json  registry → token, mode 0600 from the moment it exists
 *   cache/            the download cache, npm's cacache (packuments fetched over HTTP, and tarballs
 *                     other than those the store keeps with its entries);
 *                     cache/prints: the audit's archive facts by archive sha256 (packager/audit/facts.ts)
 *   store/            unpacked components, content-addressed by integrity (registry/store.ts)
 *   tmp/              staging for atomic writes; leftovers are removed by the next run
 *   registry/         the embedded file registry
 *   objects/          compiled objects of `rumpkg build` (packager build/object-cache.ts; any entry
 *                     that fails its checks is recompiled, so the directory may be removed at will)
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fsError, isRumpkgError, processAlive } from '../../components/index.js';

interface HomePaths {
  root: string;
  config: string;
  credentials: string;
  cache: string;
  store: string;
  tmp: string;
  registry: string;
  /** Compiled objects of `rumpkg build` (packager build/object-cache.ts). */
  objects: string;
}

/** The home directory rumpkg uses: `$RUMPKG_HOME`, else `~/.rumpkg`. */
export function resolveHome(env: NodeJS.ProcessEnv = process.env): string {
  const h = env.RUMPKG_HOME;
  return h !== undefined && h !== '' ? resolve(h) : join(homedir(), '.rumpkg');
}

/** The well-known paths under a home root (no I/O). */
export function homePaths(root: string): HomePaths {
  const r = resolve(root);
  return {
    root: r,
    config: join(r, 'config.json'),
    credentials: join(r, 'credentials.json'),
    cache: join(r, 'cache'),
    store: join(r, 'store'),
    tmp: join(r, 'tmp'),
    registry: join(r, 'registry'),
    objects: join(r, 'objects'),
  };
}

/** Creates the home's directories (mode 0700 for the root, which holds credentials). */
export async function ensureHome(root: string): Promise<HomePaths> {
  const p = homePaths(root);
  try {
    await mkdir(p.root, { recursive: true, mode: 0o700 });
    await mkdir(p.tmp, { recursive: true });
  } catch (e) {
    throw fsError(e, p.root, 'create the rumpkg home');
  }
  return p;
}

/** Removes stale leftovers from `<home>/tmp` and cacache's `<home>/cache/tmp` (CA-01: crashed or cut-off runs). */
export async function cleanStaleTemp(root: string, options: { maxAgeMs?: number } = {}): Promise<number> {
  const maxAge = options.maxAgeMs ?? 60 * 60 * 1000;
  return (await cleanTempDir(homePaths(root).tmp, maxAge)) + (await cleanTempDir(join(homePaths(root).cache, 'tmp'), maxAge));
}

/**
 * One temp area: rumpkg's own (`<home>/tmp`, names carry the writer's pid) or cacache's
 * (`<home>/cache/tmp`: a write cut off by a crash leaves a partial file there; those names carry
 * no pid, so only age makes them stale).
 */
async function cleanTempDir(dir: string, maxAge: number): Promise<number> {
  let removed = 0;
  let entries: string[];
  try {
    // Synchronous: every run that opens the registry lists this (usually empty) directory.
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  const now = Date.now();
  for (const e of entries) {
    const p = join(dir, e);
    try {
      // `<kind>-<pid>-<random>`: a leftover of a process that is gone goes at once (CA-01).
      const pid = Number(/^[a-z]+-(\d+)-/.exec(e)?.[1]);
      const dead = Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid);
      const s = await stat(p);
      if (dead || now - s.mtimeMs > maxAge) {
        await rm(p, { recursive: true, force: true });
        removed++;
      }
    } catch {
      // raced with another run: fine
    }
  }
  return removed;
}

/**
 * Directories this process has created or found and swept of dead writers' temp files (one
 * sweep per directory per process: a cold `rumpkg add` writes some 25 RG-01 records into one).
 * Each holds the promise of its preparation, so concurrent first writes share one.
 */
const prepared = new Map<string, Promise<void>>();

function prepareDir(dir: string): Promise<void> {
  let p = prepared.get(dir);
  if (p === undefined) {
    p = (async () => {
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
      } catch (e) {
        throw fsError(e, dir, 'create');
      }
      // CA-01: temp files a killed writer left in this directory (`.<file>.<pid>.<hex>.tmp`, the
      // pid gone) are removed by the first write there of the next process.
      for (const f of await readdir(dir).catch(() => [] as string[])) {
        const pid = Number(/^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(f)?.[1]);
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid)) await unlink(join(dir, f)).catch(() => undefined);
      }
    })();
    prepared.set(dir, p);
    p.catch(() => prepared.delete(dir));
  }
  return p;
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory, created with `mode`
 * from the start (never a window with wider permissions), fsync, rename (CA-01). A directory
 * that went away since this process prepared it is created again.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const dir = dirname(path);
  await prepareDir(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    let fh;
    try {
      fh = await open(tmp, 'wx', options.mode ?? 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      prepared.delete(dir);
      await prepareDir(dir);
      fh = await open(tmp, 'wx', options.mode ?? 0o644);
    }
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw isRumpkgError(e) ? e : fsError(e, path, 'write');
  }
}
