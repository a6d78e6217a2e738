/**
 * The file registry (DESIGN.md §5): the embedded default registry, used in-process, and the
 * storage behind `rumpkg registry serve`.
 *
 * Layout under the registry directory `dir`:
 *
 *   <scope>/<name>                       a symbolic link to the name's current generation
 *                                        (`../.registry/gens/<scope>+<name>/<gen>`, relative)
 *   <scope>/<name>/packument.json        so, through the link: the packument (registry-relative
 *   <scope>/<name>/-/<name>-<v>.tgz      tarball locations) and the tarballs it lists
 *   <name>                               the same for unscoped names
 *   .registry/gens/<scope>+<name>/<gen>/ generations: packument.json + -/ (tarballs hard-linked
 *                                        from the previous generation); `<gen>` = `<pid>-<hex>`
 *   .registry/tokens.json                publish tokens (sha256 only, 0600; server/tokens.ts)
 *   .registry/locks/<scope>+<name>.lock  per-name write locks (lock.ts)
 *   .registry/locks/.claims.lock         the publish lock of the whole registry (alias claims)
 *   .registry/claims                     a token every publish changes (before its switch), so a
 *                                        storage instance knows when its index of claims is stale
 *   .registry/tmp/                       staging; leftovers of dead processes are removed by
 *                                        the next writer
 *
 * Contracts:
 * - No raw name ever becomes a path (CA-04, SV-06): names and versions are validated first, every
 *   path is checked with path.resolve to stay under `dir`, and a name's link is followed only
 *   when it is exactly the link this storage writes (a generation of that very name).
 * - Publish is atomic at every instant (CA-01): the new generation (previous tarballs linked in,
 *   the new tarball, the new packument, all fsynced) is built where nobody looks, then ONE
 *   rename(2) of a symlink over `<scope>/<name>` makes tarball and packument appear together.
 *   A kill at any point leaves the old state or the new one, plus a generation or temp files
 *   under `.registry/` that the next writer removes (the name's writers under its lock; every
 *   writer for dead processes).
 * - Registries written before generations existed hold `<scope>/<name>` as a plain directory.
 *   They are read as they are; the first write under a name turns the directory into its first
 *   generation (`<pid>-<hex>-legacy`, by rename) and links it. Between those two renames the
 *   name has no entry; readers then read that generation, and the next writer restores the link.
 * - Packuments are read by the one packument reader (packument.ts `parsePackument`: the safe JSON
 *   reader, then the shape) plus this storage's own rule: `dist.tarball` is the canonical
 *   registry-relative location. Anything else is E_REGISTRY naming the file.
 * - `publish` validates the tarball completely (unpack policy + manifest checks) before it takes
 *   the lock, recomputes integrity, and refuses an existing `name@version` with
 *   E_REGISTRY_CONFLICT forever — even after a yank, even with identical bytes (SV-02).
 * - Ownership: the first publisher that names an `owner` owns the name (packument
 *   `maintainers`). With `owner` given, publish/yank/dist-tag changes by anyone else are refused
 *   with E_REGISTRY_AUTH. In-process callers that pass no owner are trusted (they own the files)
 *   — except for alias claims.
 * - Alias ownership (claims.ts, docs/registry-policy.md): a publish whose base name (first
 *   publish), `lib` or aliases take a word another component of the same scope already claims is
 *   refused with E_ALIAS_CONFLICT unless one owner holds both (the publishing side is `owner`,
 *   else the name's maintainers). The claim check and the switch of every publish run under one
 *   registry-wide lock (the generations are built before it), so two claimants racing for one
 *   word give one winner.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readdir, readFile, readlink, rename, rm, rmdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import compare from 'semver/functions/compare.js';
import gt from 'semver/functions/gt.js';
import prerelease from 'semver/functions/prerelease.js';
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';

import { RumpkgError, assertName, fsError, integrityOf, isRumpkgError, readTarballEntries, processAlive } from '../../components/index.js';
import { componentClaims, findClaimConflict } from './claims.js';
import { reclaimStaleLocks, withLock } from './lock.js';
import {
  type Packument,
  type PackumentVersion,
  type SearchHit,
  isYanked,
  metadataDifferences,
  orderPackument,
  parsePackument,
  tarballFileName,
  tarballPath,
  yankMessage,
} from './packument.js';

// Only the parts of semver in use: its index loads every module of the package (~15 ms at start-up).
const semver = { compare, gt, prerelease, valid, validRange };

interface PublishOptions {
  /** Dist-tag to point at the new version. `latest` (the default) only ever moves forward (never
   * to a lower version or a prerelease; use setDistTag to move it back); any other tag is set. */
  tag?: string;
  /** The authenticated publisher (server). The first owner of a name owns it. */
  owner?: string;
  /** Registry metadata the publisher declared for this version (a publish request's version
   * document): refused with E_MANIFEST_CONFUSION when it differs from the tarball's package.json. */
  declared?: Record<string, unknown>;
  /** The integrity the publisher declared: refused with E_INTEGRITY when it differs. */
  integrity?: string;
}

interface PublishResult {
  name: string;
  version: string;
  integrity: string;
  /** Registry-relative tarball location. */
  tarball: string;
  /** Dist-tags after the publish. */
  distTags: Record<string, string>;
}

interface OwnerOptions {
  owner?: string;
}

interface YankOptions extends OwnerOptions {
  undo?: boolean;
  reason?: string;
}

interface SearchOptions {
  /** Maximum hits (default 20, at most 250). */
  size?: number;
  from?: number;
}

export interface RegistryStorage {
  /** The absolute registry directory. */
  readonly dir: string;
  /** The packument of `name`; E_NOT_FOUND when nothing was published under it. */
  readPackument(name: string): Promise<Packument>;
  /** The tarball bytes of `name@version`, verified against the packument's integrity. */
  readTarball(name: string, version: string): Promise<Buffer>;
  publish(tgz: Uint8Array, options?: PublishOptions): Promise<PublishResult>;
  yank(name: string, version: string, options?: YankOptions): Promise<PackumentVersion>;
  /** Sets or clears (`''`) the `deprecated` message of versions, as `npm deprecate` does. */
  deprecate(name: string, messages: Record<string, string>, options?: OwnerOptions): Promise<Packument>;
  setDistTag(name: string, tag: string, version: string, options?: OwnerOptions): Promise<Record<string, string>>;
  removeDistTag(name: string, tag: string, options?: OwnerOptions): Promise<Record<string, string>>;
  search(words: string[], options?: SearchOptions): Promise<{ hits: SearchHit[]; total: number }>;
  /**
   * The words every published component claims (claims.ts `componentClaims`), names in order,
   * read now; `claimantsOf` answers who claims a word from it.
   */
  readClaims(): Promise<Map<string, Map<string, string>>>;
  /** Every published name, sorted. */
  listNames(): Promise<string[]>;
}

interface FileStorageOptions {
  now?: () => Date;
  /** Lock wait before E_LOCKED (default 30 s). */
  lockTimeoutMs?: number;
}

/** Dist-tag names: npm's rule (not a semver range) plus a safe character set. */
const TAG_RE = /^[a-z][a-z0-9._-]{0,63}$/i;

/** Strict name check used on top of components' assertName: only these characters reach paths. */
const SAFE_NAME_RE = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

/** Throws E_NAME unless `name` is a valid component name that can safely become a path. */
export function checkRegistryName(name: string): string {
  if (typeof name !== 'string') throw new RumpkgError('E_NAME', 'a component name must be a string');
  assertName(name);
  if (!SAFE_NAME_RE.test(name) || name.length > 214 || name.includes('..')) {
    throw new RumpkgError('E_NAME', `invalid component name ${JSON.stringify(name.slice(0, 100))}`, {
      context: { name: name.slice(0, 100) },
      hint: 'names are lowercase letters, digits, ".", "_" and "-", optionally under a scope (@rump/tcpip)',
    });
  }
  return name;
}

/** Throws E_SEMVER unless `version` is a clean semver version. */
export function checkRegistryVersion(version: string, name?: string): string {
  if (typeof version !== 'string' || version.length > 64 || semver.valid(version) !== version) {
    throw new RumpkgError('E_SEMVER', `invalid version ${JSON.stringify(String(version).slice(0, 80))}${name ? ` of ${name}` : ''}`, {
      context: { ...(name ? { name } : {}), version: String(version).slice(0, 80) },
      hint: 'use a semver version such as 10.0.0',
    });
  }
  return version;
}

function checkDistTag(tag: string): string {
  if (!TAG_RE.test(tag) || semver.validRange(tag) !== null) {
    throw new RumpkgError('E_USAGE', `invalid dist-tag ${JSON.stringify(tag.slice(0, 80))}`, {
      context: { tag: tag.slice(0, 80) },
      hint: 'a tag starts with a letter, uses letters, digits, ".", "_" or "-", and is not a version range',
    });
  }
  return tag;
}

const byVersion = (a: string, b: string): number => semver.compare(a, b);

/** A generation directory name: `<pid>-<16 hex>`, `-legacy` for a converted plain directory. */
const GEN_RE = /^([1-9][0-9]*)-[0-9a-f]{16}(-legacy)?$/;

/** Where a name's current files are: a generation (linked, or a legacy one awaiting its link) or a plain directory. */
interface Current {
  dir: string;
  kind: 'gen' | 'legacy-gen' | 'plain';
  /** The generation's directory name (kind gen / legacy-gen). */
  gen?: string;
  /** The name's link is missing (a conversion was interrupted); the next writer restores it. */
  unlinked?: boolean;
}

/** The file registry in `dir` (created on the first write). */
export function createFileStorage(dir: string, options: FileStorageOptions = {}): RegistryStorage {
  const root = resolve(dir);
  const meta = join(root, '.registry');
  const tmpDir = join(meta, 'tmp');
  const lockDir = join(meta, 'locks');
  const gensRoot = join(meta, 'gens');
  const claimsLock = join(lockDir, '.claims.lock');
  const claimsToken = join(meta, 'claims');
  const now = options.now ?? (() => new Date());
  const lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  let prepared: Promise<void> | undefined;

  /** A path under root, refusing anything that would resolve outside it (SV-06). */
  function under(...parts: string[]): string {
    const p = resolve(root, ...parts);
    if (!p.startsWith(root + sep)) {
      throw new RumpkgError('E_NAME', `refusing a storage path outside the registry directory: ${parts.join('/')}`, {
        context: { path: parts.join('/') },
      });
    }
    return p;
  }

  function pathsOf(name: string) {
    checkRegistryName(name);
    const segs = name.split('/');
    const key = segs.join('+');
    const entry = under(...segs);
    const gens = join(gensRoot, key);
    return {
      /** `<scope>/<name>`: the link (or a legacy plain directory). */
      entry,
      gens,
      /** The link's content for generation `gen` (relative, so the registry can be moved). */
      target: (gen: string) => relative(dirname(entry), join(gens, gen)),
      lock: under('.registry', 'locks', `${key}.lock`),
    };
  }

  const fileOf = (cur: Current, name: string, version: string): string => join(cur.dir, '-', tarballFileName(name, checkRegistryVersion(version, name)));

  async function prepare(): Promise<void> {
    prepared ??= (async () => {
      await mkdir(tmpDir, { recursive: true, mode: 0o700 });
      await mkdir(lockDir, { recursive: true, mode: 0o700 });
      // CA-01: temp files and directories of writers that are gone.
      for (const f of await readdir(tmpDir).catch(() => [] as string[])) {
        const pid = Number(f.split('-')[0]);
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid)) await rm(join(tmpDir, f), { recursive: true, force: true }).catch(() => undefined);
      }
      await reclaimStaleLocks(lockDir);
      await sweepGenerations();
    })();
    try {
      await prepared;
    } catch (e) {
      prepared = undefined;
      throw fsError(e, root, 'prepare the registry directory');
    }
  }

  /**
   * CA-01: generations that dead processes built but never linked (killed before their switch),
   * or linked away from but did not remove (killed after it). A generation of a live process may
   * be in the making and is left alone; so is a legacy one whose link is missing (it is the
   * name's state until a writer restores the link under the name's lock).
   */
  async function sweepGenerations(): Promise<void> {
    for (const key of await readdir(gensRoot).catch(() => [] as string[])) {
      const name = key.replace('+', '/');
      let current: string | undefined;
      try {
        current = (await currentOf(name))?.gen;
      } catch {
        continue; // not a name this storage knows how to read: leave it to a human
      }
      for (const gen of await readdir(join(gensRoot, key)).catch(() => [] as string[])) {
        const m = GEN_RE.exec(gen);
        if (m === null || gen === current) continue;
        const pid = Number(m[1]);
        if (pid !== process.pid && !processAlive(pid)) await rm(join(gensRoot, key, gen), { recursive: true, force: true }).catch(() => undefined);
      }
    }
  }

  /** Where `name`'s files are now; undefined when it was never published (see `Current`). */
  async function currentOf(name: string): Promise<Current | undefined> {
    const p = pathsOf(name);
    let st;
    try {
      st = await lstat(p.entry);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fsError(e, p.entry, 'read');
      // An interrupted conversion of a legacy directory: its generation is the name's state.
      const legacy = (await readdir(p.gens).catch(() => [] as string[])).filter((g) => GEN_RE.exec(g)?.[2] !== undefined).sort();
      const gen = legacy.at(-1);
      return gen === undefined ? undefined : { dir: join(p.gens, gen), kind: 'legacy-gen', gen, unlinked: true };
    }
    if (st.isDirectory()) return { dir: p.entry, kind: 'plain' };
    if (st.isSymbolicLink()) {
      const target = await readlink(p.entry).catch((e: unknown) => {
        throw fsError(e, p.entry, 'read');
      });
      const gen = target.split('/').at(-1) ?? '';
      const m = GEN_RE.exec(gen);
      if (m === null || target !== p.target(gen)) {
        throw new RumpkgError('E_REGISTRY', `${p.entry} is a symbolic link to ${JSON.stringify(target.slice(0, 200))}, not to a generation of ${name}`, {
          context: { component: name, path: p.entry },
          hint: 'the registry directory was changed by hand or copied with a tool that rewrote its links (copy it with cp -a or rsync -a); restore it from a backup',
        });
      }
      return { dir: join(p.gens, gen), kind: m[2] === undefined ? 'gen' : 'legacy-gen', gen };
    }
    throw new RumpkgError('E_REGISTRY', `${p.entry} is neither a directory nor a link of this registry`, {
      context: { component: name, path: p.entry },
      hint: 'remove what was put there by hand, or restore the registry directory from a backup',
    });
  }

  /** Reads the packument in `cur` (E_REGISTRY when it is corrupt or hostile). */
  async function readPackumentIn(name: string, cur: Current): Promise<Packument | undefined> {
    const file = join(cur.dir, 'packument.json');
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw fsError(e, file, 'read');
    }
    const doc = parsePackument(bytes, { name, source: file });
    for (const [v, vd] of Object.entries(doc.versions)) {
      if (vd.dist?.tarball !== tarballPath(name, v) || typeof vd.dist.integrity !== 'string') {
        throw new RumpkgError('E_REGISTRY', `${file}: the registry metadata of ${name}@${v} is refused: its tarball is listed as ${JSON.stringify(String(vd.dist?.tarball).slice(0, 200))}, not ${tarballPath(name, v)}`, {
          context: { component: `${name}@${v}`, source: file },
          hint: 'the stored packument was changed by hand; restore the registry directory from a backup',
        });
      }
    }
    return doc;
  }

  /**
   * The current packument and where it is. A reader racing a publish may find a generation gone
   * between reading the link and reading the file: it then looks again.
   */
  async function readCurrent(name: string): Promise<{ cur: Current; doc: Packument } | undefined> {
    for (let attempt = 0; ; attempt++) {
      const cur = await currentOf(name);
      if (cur === undefined) return undefined;
      const doc = await readPackumentIn(name, cur);
      if (doc !== undefined) return { cur, doc };
      if (attempt >= 3 || (await currentOf(name))?.dir === cur.dir) return undefined;
    }
  }

  async function tryReadPackument(name: string): Promise<Packument | undefined> {
    return (await readCurrent(name))?.doc;
  }

  function tempPath(label: string): string {
    return join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}-${label}`);
  }

  async function writeDurable(path: string, data: Uint8Array | string): Promise<void> {
    const fh = await open(path, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async function syncDir(path: string): Promise<void> {
    const fh = await open(path, 'r').catch(() => undefined);
    if (fh === undefined) return;
    try {
      await fh.sync().catch(() => undefined);
    } finally {
      await fh.close();
    }
  }

  const renderPackument = (doc: Packument): string => `${JSON.stringify(orderPackument(doc, byVersion), null, 2)}\n`;

  /** Points `name`'s link at generation `gen` with one rename(2) (the commit point of a publish). */
  async function switchTo(name: string, gen: string): Promise<void> {
    const p = pathsOf(name);
    const tmp = tempPath('link');
    await mkdir(dirname(p.entry), { recursive: true });
    await symlink(p.target(gen), tmp);
    try {
      await rename(tmp, p.entry);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    await syncDir(dirname(p.entry));
  }

  /**
   * Under `name`'s lock: the name's current files as a linked generation. A legacy plain
   * directory becomes its first generation (by rename, then linked); a missing link of an
   * interrupted conversion is restored. Then generations other than the current one go (no
   * publish of this name is in progress while the lock is held).
   */
  async function settle(name: string): Promise<Current | undefined> {
    const p = pathsOf(name);
    let cur = await currentOf(name);
    if (cur?.kind === 'plain') {
      const gen = `${process.pid}-${randomBytes(8).toString('hex')}-legacy`;
      await mkdir(p.gens, { recursive: true });
      await rename(p.entry, join(p.gens, gen));
      await switchTo(name, gen);
      cur = { dir: join(p.gens, gen), kind: 'legacy-gen', gen };
    } else if (cur?.unlinked === true && cur.gen !== undefined) {
      await switchTo(name, cur.gen);
      cur = { ...cur, unlinked: false };
    }
    for (const gen of await readdir(p.gens).catch(() => [] as string[])) {
      if (gen !== cur?.gen && GEN_RE.test(gen)) await rm(join(p.gens, gen), { recursive: true, force: true }).catch(() => undefined);
    }
    return cur;
  }

  function notFound(name: string, version?: string): RumpkgError {
    const id = version === undefined ? name : `${name}@${version}`;
    return new RumpkgError('E_NOT_FOUND', `${id} is not in the registry ${root}`, {
      context: { name, ...(version === undefined ? {} : { version }), registry: root },
      hint: 'check the name and version (rumpkg search, rumpkg info)',
    });
  }

  function checkOwner(doc: Packument, owner: string | undefined, action: string): void {
    if (owner === undefined) return;
    const owners = (doc.maintainers ?? []).map((m) => m.name);
    if (!owners.includes(owner)) {
      throw new RumpkgError('E_REGISTRY_AUTH', `${owner} may not ${action} ${doc.name}: it is owned by ${owners.length > 0 ? owners.join(', ') : 'nobody yet'}`, {
        context: { name: doc.name, user: owner },
        hint: 'ask an owner of the component to do it',
      });
    }
  }

  /** Runs `fn` on the current packument under the per-name lock and writes what it returns in place (one rename). */
  async function mutate<T>(name: string, fn: (doc: Packument) => { doc: Packument; result: T }): Promise<T> {
    await prepare();
    const p = pathsOf(name);
    return withLock(p.lock, async () => {
      const cur = await settle(name);
      const doc = cur === undefined ? undefined : await readPackumentIn(name, cur);
      if (cur === undefined || doc === undefined) throw notFound(name);
      const next = fn(structuredClone(doc));
      next.doc.time = { ...next.doc.time, modified: now().toISOString() };
      const file = join(cur.dir, 'packument.json');
      const tmp = tempPath('packument.json');
      try {
        await writeDurable(tmp, renderPackument(next.doc));
        await rename(tmp, file);
        await syncDir(cur.dir);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw fsError(e, file, 'write');
      }
      return next.result;
    }, { what: name, timeoutMs: lockTimeoutMs });
  }

  /**
   * The claims and owners of every component (alias ownership), read under the publish lock.
   * Reading every packument for every publish made publishing N components O(N²): the index is
   * kept per storage instance and trusted while `.registry/claims` holds the token this instance
   * saw (every publish writes a new one before its switch); otherwise it is read again, each
   * packument parsed only when its file changed.
   */
  type ClaimEntry = { claims: Map<string, string>; owners: string[] };
  let claimIndex: { token: string; entries: Map<string, ClaimEntry> } | undefined;
  async function readClaimIndex(): Promise<Map<string, ClaimEntry>> {
    const token = await readFile(claimsToken, 'utf8').catch(() => '');
    if (token !== '' && claimIndex?.token === token) return claimIndex.entries;
    const entries = await readClaims();
    claimIndex = { token, entries };
    return entries;
  }

  /**
   * The claims and owners of every published component, read now (names in order). Each
   * packument is parsed only when its file changed (a generation's packument never does). Safe
   * without the publish lock: a generation removed by a publish between finding it and reading
   * it is looked up again, as `readCurrent` does.
   */
  const parsedClaims = new Map<string, { dir: string; mtimeMs: number; size: number; entry: ClaimEntry }>();
  async function readClaims(): Promise<Map<string, ClaimEntry>> {
    const entries = new Map<string, ClaimEntry>();
    for (const name of await storage.listNames()) {
      for (let attempt = 0; ; attempt++) {
        const cur = await currentOf(name);
        if (cur === undefined) break;
        const st = await stat(join(cur.dir, 'packument.json')).catch(() => undefined);
        const hit = parsedClaims.get(name);
        if (st !== undefined && hit !== undefined && hit.dir === cur.dir && hit.mtimeMs === st.mtimeMs && hit.size === st.size) {
          entries.set(name, hit.entry);
          break;
        }
        const doc = st === undefined ? undefined : await readPackumentIn(name, cur);
        if (st !== undefined && doc !== undefined) {
          const entry = { claims: componentClaims(name, doc), owners: (doc.maintainers ?? []).map((m) => m.name) };
          parsedClaims.set(name, { dir: cur.dir, mtimeMs: st.mtimeMs, size: st.size, entry });
          entries.set(name, entry);
          break;
        }
        if (attempt >= 3 || (await currentOf(name))?.dir === cur.dir) break;
      }
    }
    return entries;
  }

  /**
   * Marks every instance's claim index stale: a new token, written before the switch. Not
   * fsynced: after a power loss no process holds an index any more.
   */
  async function renewClaimsToken(): Promise<string> {
    const token = randomBytes(12).toString('hex');
    const tmp = tempPath('claims');
    await writeFile(tmp, token, { flag: 'wx', mode: 0o644 });
    await rename(tmp, claimsToken);
    return token;
  }

  const storage: RegistryStorage = {
    dir: root,

    async readPackument(name) {
      const doc = await tryReadPackument(name);
      if (doc === undefined) throw notFound(name);
      return doc;
    },

    async readTarball(name, version) {
      checkRegistryVersion(version, name);
      for (let attempt = 0; ; attempt++) {
        const found = await readCurrent(name);
        if (found === undefined) throw notFound(name);
        const v = found.doc.versions[version];
        if (v === undefined) throw notFound(name, version);
        const file = fileOf(found.cur, name, version);
        let bytes: Buffer;
        try {
          bytes = await readFile(file);
        } catch (e) {
          // A publish replaced the generation between the two reads: look again.
          if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3 && (await currentOf(name))?.dir !== found.cur.dir) continue;
          throw fsError(e, file, 'read');
        }
        const actual = integrityOf(bytes);
        if (actual !== v.dist.integrity) {
          throw new RumpkgError('E_INTEGRITY', `stored tarball of ${name}@${version} does not match its integrity: ${file}`, {
            context: { name, version, path: file, expected: v.dist.integrity, actual },
            hint: 'the registry directory is damaged; restore it from a backup',
          });
        }
        return bytes;
      }
    },

    async publish(tgz, opts = {}) {
      const bytes = Buffer.from(tgz.buffer, tgz.byteOffset, tgz.byteLength);
      // 1. Validate everything before touching the tree.
      // readTarballEntries applies the whole unpack policy and the manifest checks, no writes.
      const read = await readTarballEntries(bytes, { what: 'the published tarball' });
      const pkg = read.packageJson as Record<string, unknown>;
      const name = checkRegistryName(String(pkg.name));
      const version = checkRegistryVersion(String(pkg.version), name);
      const integrity = integrityOf(bytes);
      if (opts.integrity !== undefined && opts.integrity !== integrity) {
        throw new RumpkgError('E_INTEGRITY', `${name}@${version}: the declared integrity does not match the tarball`, {
          context: { name, version, expected: opts.integrity, actual: integrity },
          hint: 'the tarball was damaged or replaced in transit; pack and publish again',
        });
      }
      if (opts.declared !== undefined) {
        // Equal to the raw package.json, or to its normalised form (sorted lists, defaults
        // filled in — what packComponent returns as `manifest`): both mean the same thing.
        const raw = metadataDifferences(opts.declared, pkg);
        const diffs = raw.length === 0 ? raw : metadataDifferences(opts.declared, read.manifest as unknown as Record<string, unknown>).length === 0 ? [] : raw;
        if (diffs.length > 0) {
          throw new RumpkgError('E_MANIFEST_CONFUSION', `${name}@${version}: the published metadata differs from the tarball's package.json in ${diffs.join(', ')}`, {
            context: { name, version, fields: diffs },
            hint: 'publish metadata taken from the tarball itself (rumpkg publish does)',
          });
        }
      }
      const tag = opts.tag === undefined ? undefined : checkDistTag(opts.tag);
      const owner = opts.owner;
      const shasum = createHash('sha1').update(bytes).digest('hex');
      const rel = tarballPath(name, version);
      const file = tarballFileName(name, version);
      const doc: PackumentVersion = {
        ...pkg,
        name,
        version,
        dist: {
          tarball: rel,
          integrity,
          shasum,
          fileCount: read.entries.filter((e) => e.type === 'file').length,
          unpackedSize: read.entries.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0),
        },
      };
      delete doc.deprecated;
      for (const k of Object.keys(doc)) if (k.startsWith('_')) delete doc[k];

      // 2. Under the name's lock and the registry's publish lock: immutability, ownership, alias
      //    claims, then the new generation and the switch.
      await prepare();
      const p = pathsOf(name);
      const id = `${name}@${version}`;
      return withLock(p.lock, async () => {
        const cur = await settle(name);
        const old = cur === undefined ? undefined : await readPackumentIn(name, cur);
        if (old !== undefined && owner !== undefined && (old.maintainers ?? []).length > 0) checkOwner(old, owner, 'publish');
        if (old?.versions[version] !== undefined) {
          throw new RumpkgError('E_REGISTRY_CONFLICT', `${id} is already published; a published version can never be replaced${isYanked(old.versions[version]) ? ' (even though it is yanked)' : ''}`, {
            context: { name, version },
            hint: 'bump the version and publish again',
          });
        }
        const at = now().toISOString();
        const next: Packument = old === undefined ? { name, 'dist-tags': {}, versions: {}, time: { created: at } } : structuredClone(old);
        next.versions[version] = doc;
        next.time = { ...next.time, [version]: at, modified: at };
        if (owner !== undefined && (next.maintainers ?? []).length === 0) next.maintainers = [{ name: owner }];
        const tags = next['dist-tags'];
        if (tag !== undefined && tag !== 'latest') tags[tag] = version;
        if (tag === undefined || tag === 'latest') {
          const latest = tags.latest;
          if (latest === undefined || (semver.prerelease(version) === null && semver.gt(version, latest))) tags.latest = version;
        }
        const latestDoc = next.versions[tags.latest ?? version];
        if (typeof latestDoc?.description === 'string') next.description = latestDoc.description;

        // The new generation, built under the name's lock only (publishes of other names build
        // theirs meanwhile): the listed tarballs of the current one linked in (unlisted files are
        // leftovers and stay behind), the new tarball, the new packument — all durable before the
        // switch. Then, under the registry's publish lock, the alias claims and the switch.
        const gen = `${process.pid}-${randomBytes(8).toString('hex')}`;
        const genDir = join(p.gens, gen);
        const newKey = (await readdir(p.gens).catch(() => [] as string[])).length === 0;
        let switched = false;
        try {
          await mkdir(join(genDir, '-'), { recursive: true });
          if (cur !== undefined && old !== undefined) {
            for (const v of Object.keys(old.versions)) await link(fileOf(cur, name, v), join(genDir, '-', tarballFileName(name, v)));
          }
          await writeDurable(join(genDir, '-', file), bytes);
          await syncDir(join(genDir, '-'));
          await writeDurable(join(genDir, 'packument.json'), renderPackument(next));
          await syncDir(genDir);
          await syncDir(p.gens);
          await withLock(claimsLock, async () => {
            const claimants = owner !== undefined ? [owner] : (old?.maintainers ?? []).map((m) => m.name);
            const index = await readClaimIndex();
            const others = [...index].filter(([n]) => n !== name).map(([n, e]) => ({ name: n, ...e }));
            const conflict = findClaimConflict(name, doc, { current: old, claimants, others });
            if (conflict !== undefined) {
              const holders = conflict.holderOwners.length > 0 ? `owned by ${conflict.holderOwners.join(', ')}` : 'which has no owner';
              throw new RumpkgError('E_ALIAS_CONFLICT', `${id}: its ${conflict.claimedAs} "${conflict.word}" is already claimed by ${conflict.holder} (its ${conflict.heldAs}, ${holders}); ${owner ?? 'this publisher'} does not own ${conflict.holder}`, {
                context: { component: id, word: conflict.word, claimedAs: conflict.claimedAs, holder: conflict.holder, heldAs: conflict.heldAs, holderOwners: conflict.holderOwners, ...(owner === undefined ? {} : { user: owner }) },
                hint: `choose another ${conflict.claimedAs === 'name' ? 'name' : 'alias or lib'}, or ask an owner of ${conflict.holder} to publish it (docs/registry-policy.md: the words users type are claims)`,
              });
            }
            const token = await renewClaimsToken();
            await switchTo(name, gen);
            switched = true;
            index.set(name, { claims: componentClaims(name, next), owners: (next.maintainers ?? []).map((m) => m.name) });
            claimIndex = { token, entries: index };
          }, { what: `${root} (publish)`, timeoutMs: lockTimeoutMs });
        } catch (e) {
          // Not switched: the generation is nobody's; the registry is as it was.
          if (!switched && (await currentOf(name).catch(() => undefined))?.gen !== gen) {
            await rm(genDir, { recursive: true, force: true }).catch(() => undefined);
            if (newKey) await rmdir(p.gens).catch(() => undefined);
          }
          if (isRumpkgError(e)) throw e;
          throw fsError(e, p.entry, 'publish to');
        }
        // Switched: the previous generation goes (a kill here leaves it to the next writer).
        if (cur !== undefined && cur.gen !== undefined) await rm(cur.dir, { recursive: true, force: true }).catch(() => undefined);
        return { name, version, integrity, tarball: rel, distTags: { ...tags } };
      }, { what: name, timeoutMs: lockTimeoutMs });
    },

    async yank(name, version, opts = {}) {
      checkRegistryVersion(version, name);
      const doc = await storage.deprecate(name, { [version]: opts.undo === true ? '' : yankMessage(opts.reason) }, opts);
      return doc.versions[version] as PackumentVersion;
    },

    async deprecate(name, messages, opts = {}) {
      for (const v of Object.keys(messages)) checkRegistryVersion(v, name);
      if (Object.keys(messages).length === 0) {
        const doc = await storage.readPackument(name);
        checkOwner(doc, opts.owner, 'deprecate or yank versions of');
        return doc;
      }
      return mutate(name, (doc) => {
        checkOwner(doc, opts.owner, 'deprecate or yank versions of');
        for (const [v, msg] of Object.entries(messages)) {
          const vd = doc.versions[v];
          if (vd === undefined) throw notFound(name, v);
          if (typeof msg !== 'string' || msg.length > 1024) {
            throw new RumpkgError('E_USAGE', `invalid deprecation message for ${name}@${v}`, { context: { name, version: v } });
          }
          if (msg === '') delete vd.deprecated;
          else vd.deprecated = msg;
        }
        return { doc, result: doc };
      });
    },

    async setDistTag(name, tag, version, opts = {}) {
      checkDistTag(tag);
      checkRegistryVersion(version, name);
      return mutate(name, (doc) => {
        checkOwner(doc, opts.owner, 'change dist-tags of');
        if (doc.versions[version] === undefined) throw notFound(name, version);
        doc['dist-tags'][tag] = version;
        return { doc, result: { ...doc['dist-tags'] } };
      });
    },

    async removeDistTag(name, tag, opts = {}) {
      checkDistTag(tag);
      if (tag === 'latest') {
        throw new RumpkgError('E_USAGE', `the latest tag of ${name} cannot be removed`, { context: { name, tag }, hint: 'point it at another version instead' });
      }
      return mutate(name, (doc) => {
        checkOwner(doc, opts.owner, 'change dist-tags of');
        if (doc['dist-tags'][tag] === undefined) throw new RumpkgError('E_NOT_FOUND', `${name} has no dist-tag ${tag}`, { context: { name, tag } });
        delete doc['dist-tags'][tag];
        return { doc, result: { ...doc['dist-tags'] } };
      });
    },

    async search(words, opts = {}) {
      const size = Math.max(0, Math.min(opts.size ?? 20, 250));
      const from = Math.max(0, opts.from ?? 0);
      const terms = words.flatMap((w) => w.toLowerCase().split(/\s+/)).filter((w) => w !== '').slice(0, 16);
      const hits: SearchHit[] = [];
      for (const name of await storage.listNames()) {
        const doc = await tryReadPackument(name).catch(() => undefined);
        if (doc === undefined) continue;
        const latestVersion = doc['dist-tags'].latest ?? Object.keys(doc.versions).sort(byVersion).at(-1);
        const v = latestVersion === undefined ? undefined : doc.versions[latestVersion];
        if (v === undefined) continue;
        const rump = (v.rump ?? {}) as { lib?: unknown; aliases?: unknown };
        const lib = typeof rump.lib === 'string' ? rump.lib : undefined;
        const aliases = Array.isArray(rump.aliases) ? rump.aliases.filter((a): a is string => typeof a === 'string') : [];
        const keywords = Array.isArray(v.keywords) ? v.keywords.filter((a): a is string => typeof a === 'string') : [];
        const description = typeof v.description === 'string' ? v.description : '';
        const score = scoreOf(terms, { name, lib, aliases, keywords, description });
        if (score === 0) continue;
        hits.push({
          name,
          version: v.version,
          description,
          keywords,
          ...(lib === undefined ? {} : { lib }),
          aliases,
          ...(doc.time[v.version] === undefined ? {} : { date: doc.time[v.version] }),
          maintainers: doc.maintainers ?? [],
          score,
        });
      }
      hits.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { hits: hits.slice(from, from + size), total: hits.length };
    },

    async readClaims() {
      return new Map([...(await readClaims())].map(([name, entry]) => [name, entry.claims]));
    },

    async listNames() {
      const found = new Set<string>();
      const entries = (d: string) => readdir(d, { withFileTypes: true }).catch(() => []);
      const isEntry = (e: { isDirectory(): boolean; isSymbolicLink(): boolean }): boolean => e.isDirectory() || e.isSymbolicLink();
      for (const e of await entries(root)) {
        if (e.name.startsWith('.') || !isEntry(e)) continue;
        if (e.name.startsWith('@')) {
          if (!e.isDirectory()) continue;
          for (const s of await entries(join(root, e.name))) if (isEntry(s)) found.add(`${e.name}/${s.name}`);
        } else found.add(e.name);
      }
      // Names whose conversion to generations was interrupted before the link (see the head).
      for (const key of await readdir(gensRoot).catch(() => [] as string[])) found.add(key.replace('+', '/'));
      const names: string[] = [];
      for (const n of found) {
        if (!SAFE_NAME_RE.test(n) || n.length > 214 || n.includes('..')) continue;
        const cur = await currentOf(n).catch(() => undefined);
        if (cur !== undefined && (await stat(join(cur.dir, 'packument.json')).then(() => true, () => false))) names.push(n);
      }
      return names.sort();
    },
  };
  return storage;
}

/**
 * Search relevance: every term must match somewhere (name, alias, lib, keyword, description);
 * exact name/alias/lib matches rank above prefix and substring matches. 0 = no match.
 */
function scoreOf(
  terms: string[],
  c: { name: string; lib: string | undefined; aliases: string[]; keywords: string[]; description: string },
): number {
  if (terms.length === 0) return 0.5;
  const base = c.name.includes('/') ? c.name.slice(c.name.indexOf('/') + 1) : c.name;
  const ids = [c.name, base, ...(c.lib === undefined ? [] : [c.lib]), ...c.aliases].map((s) => s.toLowerCase());
  const kws = c.keywords.map((k) => k.toLowerCase());
  const desc = c.description.toLowerCase();
  let total = 0;
  for (const t of terms) {
    let s = 0;
    if (ids.includes(t)) s = 1;
    else if (ids.some((i) => i.startsWith(t))) s = 0.8;
    else if (kws.includes(t)) s = 0.7;
    else if (ids.some((i) => i.includes(t))) s = 0.6;
    else if (kws.some((k) => k.includes(t))) s = 0.5;
    else if (desc.includes(t)) s = 0.4;
    if (s === 0) return 0;
    total += s;
  }
  return Math.round((total / terms.length) * 1000) / 1000;
}
