/**
 * Exclusive lock files (RELIABILITY.md CA-06).
 *
 * A lock is a file created with `O_CREAT|O_EXCL` holding `{pid, host, time, token}`. Waiters retry
 * with exponential backoff (with jitter) until `timeoutMs`, then fail with E_LOCKED naming the
 * lock and its holder. A lock is stale — and reclaimed — when its holder process is dead (same
 * host) or it is older than `staleMs`, or its content is unreadable and its mtime is older than
 * `staleMs`. Reclaiming reads the lock again and renames it to a unique name at once (no turn of
 * the event loop between), then checks that what it moved is still the stale lock it judged (if
 * a fresh lock was moved by a race, it is put back), so two reclaimers cannot both win.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { readFileSync, renameSync } from 'node:fs';
import { open, readFile, readdir, stat, unlink, link } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RumpkgError, fsError, parseJsonDocument, processAlive } from '../../components/index.js';

interface LockOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** A lock older than this is stale whatever its pid (default 5 min). */
  staleMs?: number;
  /** What is being locked, for error messages (e.g. a component name). */
  what?: string;
  /** Clock and pid-liveness probes, injectable for tests. */
  now?: () => number;
  isAlive?: (pid: number) => boolean;
}

interface LockHolder {
  pid: number;
  host: string;
  time: number;
  token: string;
}

export interface Lock {
  readonly path: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const v = parseJsonDocument(await readFile(path), { file: path, maxBytes: 4096, maxDepth: 2 }) as Partial<LockHolder>;
    if (v !== null && typeof v === 'object' && typeof v.pid === 'number' && typeof v.time === 'number' && typeof v.token === 'string' && typeof v.host === 'string') {
      return v as LockHolder;
    }
  } catch {
    // unreadable or half-written: judged by mtime below
  }
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether lock file bytes hold `token` (undefined: unreadable, judged as the caller did). */
function sameHolderToken(bytes: Buffer, token: string): boolean | undefined {
  try {
    const v = parseJsonDocument(bytes, { file: 'lock', maxBytes: 4096, maxDepth: 2 }) as Partial<LockHolder> | null;
    return v !== null && typeof v === 'object' && typeof v.token === 'string' ? v.token === token : undefined;
  } catch {
    return undefined;
  }
}

/** Acquires the lock at `path` (its directory must exist), waiting up to `timeoutMs`. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<Lock> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  const isAlive = options.isAlive ?? processAlive;
  const host = hostname();
  const start = now();
  let delay = 2;
  // CA-01: the private files of acquirers that were killed (`<lock>.<pid>.<token>.tmp`, pid gone).
  const dir = dirname(path);
  const own = `${basename(path)}.`;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!f.startsWith(own) || !f.endsWith('.tmp')) continue;
    const pid = Number(f.slice(own.length).split('.')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isAlive(pid)) await unlink(join(dir, f)).catch(() => undefined);
  }
  for (;;) {
    const holder: LockHolder = { pid: process.pid, host, time: now(), token: randomBytes(12).toString('hex') };
    try {
      // Write the content to a private file, then link it into place: the lock file is never
      // observed half-written, and link() fails with EEXIST exactly like O_EXCL.
      const tmp = `${path}.${process.pid}.${holder.token}.tmp`;
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(JSON.stringify(holder));
      } catch (e) {
        // ENOSPC and friends: leave no empty private file behind (CA-08).
        await fh.close().catch(() => undefined);
        await unlink(tmp).catch(() => undefined);
        throw e;
      } finally {
        await fh.close().catch(() => undefined);
      }
      try {
        await link(tmp, path);
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          const cur = await readHolder(path);
          if (cur?.token === holder.token) await unlink(path).catch(() => undefined);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, path, 'create the lock file');
    }
    if (await reclaimIfStale(path, { staleMs, now, isAlive, host })) continue;
    if (now() - start >= timeoutMs) {
      const cur = await readHolder(path);
      throw new RumpkgError('E_LOCKED', `${options.what ?? path} is locked by another rumpkg process${cur ? ` (pid ${cur.pid})` : ''}: ${path}`, {
        context: { path, ...(cur ? { pid: cur.pid } : {}) },
        hint: 'wait for the other operation to finish; a lock left by a dead process is reclaimed automatically',
      });
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
}

async function reclaimIfStale(
  path: string,
  o: { staleMs: number; now: () => number; isAlive: (pid: number) => boolean; host: string },
): Promise<boolean> {
  const cur = await readHolder(path);
  let stale: boolean;
  if (cur === undefined) {
    const st = await stat(path).catch(() => undefined);
    if (st === undefined) return true; // vanished: try again at once
    stale = o.now() - st.mtimeMs > o.staleMs;
  } else {
    stale = o.now() - cur.time > o.staleMs || (cur.host === o.host && !o.isAlive(cur.pid));
  }
  if (!stale) return false;
  const aside = `${path}.stale.${randomBytes(6).toString('hex')}`;
  // The lock judged stale must still be the one in place, read again right before the rename
  // (synchronously: no turn of the event loop between the two): a holder that released its lock
  // and then exited leaves a dead pid in what was read above, while a live acquirer may hold the
  // lock by now. Moving that fresh lock aside could not always be undone (a third acquirer may
  // take the free slot before it is put back): two holders. Seen once in 10 concurrent publishes.
  try {
    if (cur !== undefined && sameHolderToken(readFileSync(path), cur.token) === false) return true;
    renameSync(path, aside);
  } catch {
    return true; // someone else reclaimed or released it: retry
  }
  const moved = await readHolder(aside);
  if (cur !== undefined && moved?.token !== cur.token) {
    // A race moved a fresh lock: put it back if the slot is still free, else drop ours.
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
  return true;
}

/**
 * CA-01: in lock directory `dir`, every lock whose holder is gone (a dead process on this host,
 * or older than `staleMs`) is reclaimed, and the private files of dead acquirers are removed —
 * so a killed run leaves no lock behind even when the next run never needs that lock.
 */
export async function reclaimStaleLocks(dir: string, options: { staleMs?: number; isAlive?: (pid: number) => boolean } = {}): Promise<void> {
  const o = { staleMs: options.staleMs ?? 5 * 60_000, now: Date.now, isAlive: options.isAlive ?? processAlive, host: hostname() };
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (f.endsWith('.lock')) {
      await reclaimIfStale(join(dir, f), o).catch(() => undefined);
    } else if (f.endsWith('.tmp')) {
      const m = /\.lock\.(\d+)\.[0-9a-f]+\.tmp$/.exec(f);
      const pid = m === null ? NaN : Number(m[1]);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !o.isAlive(pid)) await unlink(join(dir, f)).catch(() => undefined);
    }
  }
}

/** Runs `fn` while holding the lock at `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(path, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
