/**
 * The store: unpacked components, content-addressed by integrity, shared by every project of
 * one rumpkg home (`<home>/store/<sha512 hex>/`). Layout of one entry:
 *
 *   <home>/store/<hex>/index.json   { storeVersion, name, version, integrity, files: {path: sha256},
 *                                     sizes: {path: bytes} }
 *   <home>/store/<hex>/pkg/…        the component's files (package.json, lib/<target>/*.a …)
 *   <home>/store/<hex>/package.tgz  the tarball it was unpacked from (the verified bytes)
 *
 * The kept tarball is what serves a rebuild without the network (`--offline` too): an entry
 * whose files are damaged is rebuilt from it when it still hashes to the entry's integrity, and
 * eviction (here, `cache verify`) keeps it — a directory holding only it is no entry (`has`,
 * `lookup`, `list` and `verify` pass it by), just the bytes the next build of that integrity
 * starts from. Either way the tarball goes through the source with every registry check
 * (`TarballSource.tarballToUnpack`'s `bytes`), as a downloaded one would. So the download cache
 * never holds a copy of what the store keeps.
 *
 * An entry is built in `<home>/tmp/` and renamed into place in one step, so a crash leaves the
 * old state or the new one (CA-01); when two runs race, the first rename wins and the loser
 * discards its copy (CA-02). Every read re-hashes the files against index.json (IN-08): a
 * flipped byte evicts the entry, which is refetched and unpacked once more; if that fails too
 * → E_CACHE. Images never hard-link into the store (IM-02): the packager copies.
 *
 * `lookup` is the cheap, synchronous presence check of the no-op paths (`rumpkg install` with
 * nothing to do, `rumpkg build` whose stamp matches): the entry's index.json names the integrity
 * and name@version, and every indexed file is a regular file of its recorded size — no hashing.
 * It never hands out bytes it has not checked for a purpose that needs them: the build hashes
 * every input into its stamp and takes the verified `ensureUnpacked` path on any mismatch, and a
 * build links over looked-up entries only while `checkLookup` (the re-hash `ensureUnpacked` runs,
 * without repair; with `scope: 'read'`, of the files the build read) runs, writing nothing unless
 * it passed — its lookup is whether index.json exists (`files: false`), as it checks every byte it reads;
 * `rumpkg verify` / `cache verify` re-hash everything. index.json stays a function of the
 * tarball (sizes, not mtimes), so two runs build byte-identical stores (CA-02).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { RumpkgError, fsError, isRumpkgError, parseIntegrity, parseJsonDocument, unpackComponent } from '../../components/index.js';
import { homePaths, writeFileAtomic } from './home.js';

interface StoreIndex {
  storeVersion: 1;
  name: string;
  version: string;
  integrity: string;
  /** Package-relative path → `sha256-<base64>` of its bytes. */
  files: Record<string, string>;
  /** Package-relative path → size in bytes (for `lookup`; absent in entries of older rumpkgs). */
  sizes?: Record<string, number>;
}

export interface StoreProblem {
  key: string;
  name?: string;
  version?: string;
  problem: string;
}

export interface Store {
  /** The directory of `name@version` unpacked and verified; fetched through the client if needed. */
  ensureUnpacked(name: string, version: string, options: { integrity: string; tarball?: string }): Promise<string>;
  /** Is there an entry for this integrity (present, not yet verified)? */
  has(integrity: string): Promise<boolean>;
  /**
   * Cheap and synchronous, no hashing: the directory of `name@version` when its entry names this
   * integrity and name@version and every indexed file has its recorded size; undefined when the
   * entry is absent, incomplete or from an older rumpkg (then use `ensureUnpacked`). An integrity
   * that is another component's entry → E_INTEGRITY_LOCK, as in `ensureUnpacked`. With
   * `files: false`, only whether the entry's index.json exists (nothing is parsed; its directory
   * is named after the integrity): for a caller that checks everything it reads — the build
   * compares each package.json with the lockfile and has `checkLookup` (`scope: 'read'`) check
   * every byte it read, identity included. `seen` receives every path whose state decided the
   * answer (index.json and each file it stat()ed), for a caller that records what it depended on.
   */
  lookup(name: string, version: string, options: { integrity: string; files?: boolean; seen?: string[] }): string | undefined;
  /**
   * The check `ensureUnpacked` runs on a present entry, for a directory `lookup` gave: index.json
   * names this integrity and name@version, every file under pkg/ has the sha256 it records, none
   * is missing or extra. `known` (absolute path → sha256 hex) gives digests of bytes the caller read
   * from those files and uses (the build's staged copies), so they are not read twice. Undefined
   * when intact, else what is wrong; synchronous; never fetches or evicts (a damaged entry is
   * repaired by `ensureUnpacked`). With `scope: 'read'` only the files in `known` are checked —
   * each must be indexed with that digest — and the others, which the caller did not read, are
   * neither read nor hashed (IN-08 holds for every byte read: the build's way, as a multi-file
   * entry such as a platform's 1,362 headers is mostly not read by one link).
   */
  checkLookup(name: string, version: string, options: { integrity: string; known?: ReadonlyMap<string, string>; scope?: 'all' | 'read' }): string | undefined;
  /** Every entry (index only, no hashing). */
  list(): Promise<Array<StoreIndex & { key: string; path: string }>>;
  /** Re-hashes every entry; with `evict`, removes the bad ones. */
  verify(options?: { evict?: boolean }): Promise<{ checked: number; problems: StoreProblem[] }>;
}

interface StoreOptions {
  home: string;
  reporter?: { info?(m: string): void; warn?(m: string): void };
}

/**
 * The tarball source the store needs: the client's `tarball`, or its `tarballToUnpack` (every
 * check but IN-04, which the store runs on the package.json unpack read, before the entry is
 * put in place: one validation pass of the tarball instead of two).
 */
export interface TarballSource {
  tarball(name: string, version: string, options?: { integrity?: string; tarball?: string }): Promise<Buffer>;
  tarballToUnpack?(
    name: string,
    version: string,
    options?: { integrity?: string; tarball?: string; bytes?: Buffer },
  ): Promise<{ bytes: Buffer; checkPackageJson(packageJson: unknown): void }>;
}

/** The file of an entry that holds the tarball it was unpacked from. */
const KEPT_TARBALL = 'package.tgz';

/** The kept tarball of the entry directory `dir` (named by its hex key) when its bytes still hash to that key. */
function readKeptTarball(dir: string, key: string): Buffer | undefined {
  try {
    const bytes = readFileSync(join(dir, KEPT_TARBALL));
    return createHash('sha512').update(bytes).digest('hex') === key ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** A directory of the store that holds only a kept tarball (what eviction leaves), not an entry. */
function isKeptTarballOnly(dir: string, key: string): boolean {
  return !existsSync(join(dir, 'index.json')) && !existsSync(join(dir, 'pkg')) && readKeptTarball(dir, key) !== undefined;
}

/** `sha512-<base64>` → hex, the directory name of the entry. */
export function storeKey(integrity: string): string {
  const h = parseIntegrity(integrity, { what: 'store entry' });
  if (h.algorithm !== 'sha512') {
    throw new RumpkgError('E_INTEGRITY_WEAK', `the store needs sha512 integrity, got ${h.algorithm}`, {});
  }
  return h.digest.toString('hex');
}

/**
 * path → `sha256-<base64>` of every file under `root` (and, if given, their sizes). Synchronous:
 * a store entry is a handful of local files, and an await per file cost more than the reads.
 * `known` (absolute path → sha256 hex, without `sizes`): digests the caller computed from bytes it
 * read from those files itself, taken instead of reading them again.
 */
function hashTree(root: string, sizes?: Record<string, number>, known?: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true });
    for (const e of entries) {
      const p = join(dir, e.name);
      const rel = relative(root, p).split(sep).join('/');
      const hex = known?.get(p);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && hex !== undefined && sizes === undefined) out[rel] = `sha256-${Buffer.from(hex, 'hex').toString('base64')}`;
      else if (e.isFile()) {
        const bytes = readFileSync(p);
        out[rel] = `sha256-${createHash('sha256').update(bytes).digest('base64')}`;
        if (sizes !== undefined) sizes[rel] = bytes.length;
      } else out[rel] = 'not-a-regular-file';
    }
  };
  walk(root);
  if (sizes !== undefined) {
    const sorted = Object.entries(sizes).sort(([a], [b]) => (a < b ? -1 : 1));
    for (const k of Object.keys(sizes)) delete sizes[k];
    for (const [k, v] of sorted) sizes[k] = v;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A package-relative path as the store indexes it: `/`-separated segments, none empty, `.` or `..`. */
const INDEX_PATH_RE = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[^/\0]+(?:\/[^/\0]+)*$/;

/**
 * Reads an entry's index.json with the safe JSON reader; undefined when it is not an index this
 * store wrote (wrong version, wrong shape, or a file key that is not a relative path inside the
 * entry — such an index is treated as damage, never followed).
 */
function parseStoreIndex(bytes: Uint8Array, file: string): StoreIndex | undefined {
  const o = parseJsonDocument(bytes, { file, maxBytes: 64 * 1024 * 1024 }) as Partial<StoreIndex> | null;
  if (o === null || typeof o !== 'object' || o.storeVersion !== 1 || typeof o.name !== 'string' || typeof o.version !== 'string' || typeof o.integrity !== 'string') return undefined;
  if (o.files === null || typeof o.files !== 'object' || Array.isArray(o.files)) return undefined;
  if (o.sizes !== undefined && (o.sizes === null || typeof o.sizes !== 'object' || Array.isArray(o.sizes))) return undefined;
  for (const k of [...Object.keys(o.files), ...Object.keys(o.sizes ?? {})]) if (!INDEX_PATH_RE.test(k)) return undefined;
  return o as StoreIndex;
}

/** RG-08/IN-03: the lockfile gives `name@version` the integrity of another component's entry. */
function identityError(name: string, version: string, index: StoreIndex): RumpkgError {
  return new RumpkgError('E_INTEGRITY_LOCK', `${name}@${version}: the integrity the lockfile gives is that of ${index.name}@${index.version}`, {
    context: { component: `${name}@${version}`, actual: `${index.name}@${index.version}`, integrity: index.integrity },
    hint: 'the lockfile was edited by hand or by someone else; restore it from version control',
  });
}

export function createStore(source: TarballSource, options: StoreOptions): Store {
  const paths = homePaths(options.home);

  const readIndex = (dir: string): StoreIndex | undefined => {
    try {
      return parseStoreIndex(readFileSync(join(dir, 'index.json')), join(dir, 'index.json'));
    } catch {
      return undefined;
    }
  };

  /**
   * Undefined when the entry is intact; otherwise what is wrong. `sizes` receives the file sizes,
   * `read.index` the index.json checked against (read and parsed once per check).
   */
  const check = (dir: string, integrity?: string, sizes?: Record<string, number>, read?: { index?: StoreIndex }, known?: ReadonlyMap<string, string>): string | undefined => {
    const index = readIndex(dir);
    if (read !== undefined) read.index = index;
    if (index === undefined) return 'missing or unreadable index.json';
    if (integrity !== undefined && index.integrity !== integrity) return 'index.json names another integrity';
    let actual: Record<string, string>;
    try {
      actual = hashTree(join(dir, 'pkg'), sizes, known);
    } catch {
      return 'unreadable files';
    }
    const want = Object.keys(index.files);
    const have = Object.keys(actual);
    for (const f of want) if (actual[f] !== index.files[f]) return actual[f] === undefined ? `missing ${f}` : `modified ${f}`;
    for (const f of have) if (index.files[f] === undefined) return `unexpected ${f}`;
    return undefined;
  };

  /**
   * An entry an older rumpkg wrote has no `sizes`, so `lookup` misses it: once it has verified,
   * its index.json gets them — the bytes a fresh entry of the same tarball has. Best effort (a
   * read-only home keeps the old index and the verified path).
   */
  const addSizes = async (dir: string, sizes: Record<string, number>, index = readIndex(dir)): Promise<void> => {
    if (index === undefined || index.sizes !== undefined) return;
    const upgraded: StoreIndex = { storeVersion: 1, name: index.name, version: index.version, integrity: index.integrity, files: index.files, sizes };
    await writeFileAtomic(join(dir, 'index.json'), `${JSON.stringify(upgraded, null, 2)}\n`).catch(() => undefined);
  };

  /**
   * Removes the entry `dir`; with `keepTarball`, its kept tarball — when it still hashes to the
   * entry's key — is put back alone, in one rename (best effort: failing that, it goes too).
   */
  const evict = async (dir: string, opts: { keepTarball?: boolean } = {}): Promise<void> => {
    const away = join(paths.tmp, `evict-${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(paths.tmp, { recursive: true });
    try {
      await rename(dir, away);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (opts.keepTarball === true && readKeptTarball(away, basename(dir)) !== undefined) {
      const staging = join(paths.tmp, `store-${process.pid}-${randomBytes(8).toString('hex')}`);
      try {
        mkdirSync(staging);
        renameSync(join(away, KEPT_TARBALL), join(staging, KEPT_TARBALL));
        renameSync(staging, dir);
      } catch {
        rmSync(staging, { recursive: true, force: true });
      }
    }
    await rm(away, { recursive: true, force: true });
  };

  /**
   * Builds the entry in tmp/ and renames it into place; true when this run's entry is the one in
   * place. Its file system calls are synchronous (a few small local calls per component, which
   * through libuv's thread pool would queue behind the session's cache writes).
   */
  const build = async (name: string, version: string, integrity: string, dir: string, tarball: string | undefined, kept?: Buffer): Promise<boolean> => {
    const where = { integrity, ...(tarball === undefined ? {} : { tarball }) };
    const fetched =
      source.tarballToUnpack === undefined
        ? { bytes: await source.tarball(name, version, where), checkPackageJson: undefined }
        : await source.tarballToUnpack(name, version, { ...where, ...(kept === undefined ? {} : { bytes: kept }) });
    const tgz = fetched.bytes;
    // The pid in the name lets the next run remove what a killed run left (home.ts cleanStaleTemp).
    const staging = join(paths.tmp, `store-${process.pid}-${randomBytes(8).toString('hex')}`);
    try {
      mkdirSync(paths.tmp, { recursive: true });
      // Not recursive: a read-only home then fails with EROFS/EACCES, not a misleading ENOENT.
      mkdirSync(staging);
    } catch (e) {
      throw fsError(e, paths.tmp, 'create a staging directory in');
    }
    try {
      // unpackComponent verifies the integrity, validates every header, and writes the package
      // root; the index is made of the digests of the bytes it wrote (what hashing the tree
      // back would give).
      const unpacked = await unpackComponent(tgz, join(staging, 'pkg'), { integrity, what: `${name}@${version}`, digests: true });
      fetched.checkPackageJson?.(unpacked.packageJson);
      const { files, sizes } = unpacked.written as NonNullable<typeof unpacked.written>;
      const index: StoreIndex = { storeVersion: 1, name, version, integrity, files, sizes };
      // The staging directory is private and becomes the entry in one rename: plain writes are
      // as atomic here as a temp file + rename would be.
      for (const [file, data] of [
        [KEPT_TARBALL, tgz],
        ['index.json', `${JSON.stringify(index, null, 2)}\n`],
      ] as const) {
        try {
          writeFileSync(join(staging, file), data, { flag: 'wx' });
        } catch (e) {
          throw fsError(e, join(staging, file), 'write');
        }
      }
      try {
        mkdirSync(paths.store, { recursive: true });
      } catch (e) {
        throw fsError(e, paths.store, 'create');
      }
      try {
        renameSync(staging, dir);
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw fsError(e, dir, 'move a new entry into');
      }
      // What holds the place is a kept tarball alone (it stays until an entry replaces it, so a
      // build that fails keeps it), or another run's entry, which won the race and is checked by
      // the caller.
      if (!isKeptTarballOnly(dir, basename(dir))) return false;
      const away = join(paths.tmp, `evict-${process.pid}-${randomBytes(6).toString('hex')}`);
      try {
        renameSync(dir, away);
        renameSync(staging, dir);
        return true;
      } catch {
        return false;
      } finally {
        rmSync(away, { recursive: true, force: true });
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  };

  /** RG-08/IN-03: an integrity names exactly one name@version; a lockfile that gives a component
   * the integrity of another one (whose entry is in the store) is refused, never served. */
  const checkIdentity = (dir: string, name: string, version: string, index = readIndex(dir)): void => {
    if (index !== undefined && (index.name !== name || index.version !== version)) {
      throw identityError(name, version, index);
    }
  };

  const ensureUnpacked = async (name: string, version: string, opts: { integrity: string; tarball?: string }): Promise<string> => {
    const key = storeKey(opts.integrity);
    const dir = join(paths.store, key);
    const id = `${name}@${version}`;
    let present = true;
    try {
      statSync(dir);
    } catch {
      present = false;
    }
    // The tarball a damaged entry (or an evicted one) kept: the first build starts from it, and
    // it stays in place until a new entry replaces it.
    let kept: Buffer | undefined;
    if (present) {
      if (isKeptTarballOnly(dir, key)) kept = readKeptTarball(dir, key);
      else {
        const sizes: Record<string, number> = {};
        const read: { index?: StoreIndex } = {};
        const problem = check(dir, opts.integrity, sizes, read);
        if (problem === undefined) {
          checkIdentity(dir, name, version, read.index);
          await addSizes(dir, sizes, read.index);
          return join(dir, 'pkg');
        }
        kept = readKeptTarball(dir, key);
        options.reporter?.warn?.(`store entry of ${id} is damaged (${problem}); evicting and ${kept === undefined ? 'refetching' : 'unpacking its kept tarball again'}`);
        await evict(dir, { keepTarball: true });
      }
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      let ours: boolean;
      try {
        ours = await build(name, version, opts.integrity, dir, opts.tarball, attempt === 0 ? kept : undefined);
      } catch (e) {
        if (attempt === 0 && isRumpkgError(e) && (e.code === 'E_INTEGRITY' || e.code === 'E_CACHE')) continue;
        throw e;
      }
      // Our own entry was hashed from the staging directory it was renamed from.
      if (ours) return join(dir, 'pkg');
      const problem = check(dir, opts.integrity);
      if (problem === undefined) {
        checkIdentity(dir, name, version);
        return join(dir, 'pkg');
      }
      await evict(dir);
      if (attempt === 1) {
        throw new RumpkgError('E_CACHE', `store entry of ${id} is corrupt after refetching (${problem}) in ${dir}`, {
          context: { component: id, path: dir },
          hint: 'run `rumpkg cache verify` and `rumpkg cache clean`; check the disk',
        });
      }
    }
    throw new RumpkgError('E_CACHE', `could not build a store entry for ${id} in ${dir}`, { context: { component: id, path: dir } });
  };

  const list = async (): Promise<Array<StoreIndex & { key: string; path: string }>> => {
    let keys: string[];
    try {
      keys = (await readdir(paths.store)).sort();
    } catch {
      return [];
    }
    const out: Array<StoreIndex & { key: string; path: string }> = [];
    for (const key of keys) {
      const index = readIndex(join(paths.store, key));
      if (index !== undefined) out.push({ ...index, key, path: join(paths.store, key, 'pkg') });
    }
    return out;
  };

  const verify = async (opts: { evict?: boolean } = {}): Promise<{ checked: number; problems: StoreProblem[] }> => {
    let keys: string[];
    try {
      keys = (await readdir(paths.store)).sort();
    } catch {
      return { checked: 0, problems: [] };
    }
    const problems: StoreProblem[] = [];
    let checked = 0;
    for (const key of keys) {
      const dir = join(paths.store, key);
      if (isKeptTarballOnly(dir, key)) continue;
      checked++;
      const index = readIndex(dir);
      let problem = check(dir);
      if (problem === undefined && index !== undefined) {
        try {
          if (storeKey(index.integrity) !== key) problem = 'directory name does not match its integrity';
        } catch {
          problem = 'index.json has an invalid integrity';
        }
      }
      if (problem !== undefined) {
        problems.push({ key, ...(index === undefined ? {} : { name: index.name, version: index.version }), problem });
        if (opts.evict === true) await evict(dir, { keepTarball: true });
      }
    }
    return { checked, problems };
  };

  const lookup = (name: string, version: string, opts: { integrity: string; files?: boolean; seen?: string[] }): string | undefined => {
    const dir = join(paths.store, storeKey(opts.integrity));
    opts.seen?.push(join(dir, 'index.json'));
    if (opts.files === false) return existsSync(join(dir, 'index.json')) ? join(dir, 'pkg') : undefined;
    let index: StoreIndex | undefined;
    try {
      index = parseStoreIndex(readFileSync(join(dir, 'index.json')), join(dir, 'index.json'));
    } catch {
      return undefined;
    }
    if (index === undefined || index.integrity !== opts.integrity) return undefined;
    if (index.name !== name || index.version !== version) {
      throw identityError(name, version, index);
    }
    const { files, sizes } = index;
    if (typeof files !== 'object' || files === null || typeof sizes !== 'object' || sizes === null) return undefined;
    const pkg = join(dir, 'pkg');
    for (const f of Object.keys(files)) {
      const size = sizes[f];
      if (typeof size !== 'number') return undefined;
      try {
        opts.seen?.push(join(pkg, f));
        const st = statSync(join(pkg, f));
        if (!st.isFile() || st.size !== size) return undefined;
      } catch {
        return undefined;
      }
    }
    return pkg;
  };

  const checkLookup = (name: string, version: string, opts: { integrity: string; known?: ReadonlyMap<string, string>; scope?: 'all' | 'read' }): string | undefined => {
    const dir = join(paths.store, storeKey(opts.integrity));
    const read: { index?: StoreIndex } = {};
    const problem = opts.scope === 'read' ? checkRead(dir, opts.integrity, opts.known ?? new Map(), read) : check(dir, opts.integrity, undefined, read, opts.known);
    if (problem !== undefined) return problem;
    if (read.index!.name !== name || read.index!.version !== version) return `index.json names ${read.index!.name}@${read.index!.version}`;
    return undefined;
  };

  /** `check` of the files in `known` alone (absolute path → sha256 hex; paths of other entries are not this one's). */
  const checkRead = (dir: string, integrity: string, known: ReadonlyMap<string, string>, read: { index?: StoreIndex }): string | undefined => {
    const index = readIndex(dir);
    read.index = index;
    if (index === undefined) return 'missing or unreadable index.json';
    if (index.integrity !== integrity) return 'index.json names another integrity';
    const pkg = join(dir, 'pkg') + sep;
    for (const [given, hex] of known) {
      // A header path from a compiler's dependency file may hold `..` (the store has no symlinks).
      const path = resolve(given);
      if (!path.startsWith(pkg)) continue;
      const rel = path.slice(pkg.length).split(sep).join('/');
      const want = Object.hasOwn(index.files, rel) ? index.files[rel] : undefined;
      if (want === undefined) return `unexpected ${rel}`;
      if (want !== `sha256-${Buffer.from(hex, 'hex').toString('base64')}`) return `modified ${rel}`;
    }
    return undefined;
  };

  // A stat is synchronous here, as in ensureUnpacked: a project asks for every locked component
  // at once, right before its first tarball request, and ten stats through the thread pool took
  // milliseconds of turns of a busy event loop.
  const has = async (integrity: string): Promise<boolean> => {
    try {
      statSync(join(paths.store, storeKey(integrity), 'index.json'));
      return true;
    } catch (e) {
      if (isRumpkgError(e)) throw e;
      return false;
    }
  };

  return { ensureUnpacked, has, lookup, checkLookup, list, verify };
}
