/**
 * The file registry (DESIGN.md §5): the embedded default registry, used in-process, and the
 * storage behind `rumpkg registry serve`.
 *
 * Layout under the registry directory `dir`:
 *
 *   <scope>/<name>/packument.json        the packument (registry-relative tarball locations)
 *   <scope>/<name>/-/<name>-<v>.tgz      the tarballs, immutable once written
 *   <name>/...                           the same for unscoped names
 *   .registry/tokens.json                publish tokens (sha256 only, 0600; registry/tokens.ts)
 *   .registry/locks/<scope>+<name>.lock  per-name write locks (registry/lock.ts)
 *   .registry/tmp/                       staging for atomic writes; leftovers of dead processes
 *                                        are removed by the next writer
 *
 * Contracts:
 * - No raw name ever becomes a path (CA-04, SV-06): names and versions are validated first, and
 *   every path is checked with path.resolve to stay under `dir`.
 * - `publish` validates the tarball completely (unpack policy + manifest checks) before it takes
 *   the lock, recomputes integrity, and refuses an existing `name@version` with
 *   E_REGISTRY_CONFLICT forever — even after a yank, even with identical bytes (SV-02). Under the
 *   per-name lock it links the tarball into place (link() fails if it exists, a second line of
 *   defence) and then replaces the packument atomically (temp file + fsync + rename). A failure
 *   leaves the tree as it was; a crash leaves at most an unreferenced tarball, which the next
 *   publish of that version under the lock removes, and temp files.
 * - Ownership: the first publisher that names an `owner` owns the name (packument
 *   `maintainers`). With `owner` given, publish/yank/dist-tag changes by anyone else are refused
 *   with E_REGISTRY_AUTH. In-process callers that pass no owner are trusted (they own the files).
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import compare from 'semver/functions/compare.js';
import gt from 'semver/functions/gt.js';
import prerelease from 'semver/functions/prerelease.js';
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';

import { RumpkgError, assertName, fsError, integrityOf, readTarballEntries, processAlive } from '../../components/index.js';
import { withLock } from './lock.js';
import {
  type Packument,
  type PackumentVersion,
  type SearchHit,
  isYanked,
  metadataDifferences,
  orderPackument,
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

/** The file registry in `dir` (created on the first write). */
export function createFileStorage(dir: string, options: FileStorageOptions = {}): RegistryStorage {
  const root = resolve(dir);
  const meta = join(root, '.registry');
  const tmpDir = join(meta, 'tmp');
  const lockDir = join(meta, 'locks');
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
    const pkgDir = under(...segs);
    return {
      pkgDir,
      packument: under(...segs, 'packument.json'),
      tarballDir: under(...segs, '-'),
      tarball: (version: string) => under(...segs, '-', tarballFileName(name, checkRegistryVersion(version, name))),
      lock: under('.registry', 'locks', `${segs.join('+')}.lock`),
    };
  }

  async function prepare(): Promise<void> {
    prepared ??= (async () => {
      await mkdir(tmpDir, { recursive: true, mode: 0o700 });
      await mkdir(lockDir, { recursive: true, mode: 0o700 });
      // Remove temp files of writers that are gone (CA-01).
      for (const f of await readdir(tmpDir).catch(() => [] as string[])) {
        const pid = Number(f.split('-')[0]);
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid)) await unlink(join(tmpDir, f)).catch(() => undefined);
      }
    })();
    try {
      await prepared;
    } catch (e) {
      prepared = undefined;
      throw fsError(e, root, 'prepare the registry directory');
    }
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

  async function tryReadPackument(name: string): Promise<Packument | undefined> {
    const p = pathsOf(name);
    let text: string;
    try {
      text = await readFile(p.packument, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw fsError(e, p.packument, 'read');
    }
    try {
      const doc = JSON.parse(text) as Packument;
      if (doc.name !== name || typeof doc.versions !== 'object' || doc.versions === null) throw new Error('not a packument of this name');
      return doc;
    } catch (e) {
      throw new RumpkgError('E_REGISTRY', `the stored packument of ${name} is corrupt: ${p.packument}`, {
        context: { name, path: p.packument },
        hint: 'restore the registry directory from a backup',
        cause: e,
      });
    }
  }

  async function writePackument(name: string, doc: Packument): Promise<void> {
    const p = pathsOf(name);
    const tmp = tempPath('packument.json');
    try {
      await writeDurable(tmp, `${JSON.stringify(orderPackument(doc, byVersion), null, 2)}\n`);
      await rename(tmp, p.packument);
      await syncDir(p.pkgDir);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw fsError(e, p.packument, 'write');
    }
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

  /** Runs `fn` on the current packument under the per-name lock and writes what it returns. */
  async function mutate<T>(name: string, fn: (doc: Packument) => { doc: Packument; result: T }): Promise<T> {
    await prepare();
    const p = pathsOf(name);
    return withLock(p.lock, async () => {
      const cur = await tryReadPackument(name);
      if (cur === undefined) throw notFound(name);
      const { doc, result } = fn(structuredClone(cur));
      doc.time = { ...doc.time, modified: now().toISOString() };
      await writePackument(name, doc);
      return result;
    }, { what: name, timeoutMs: lockTimeoutMs });
  }

  const storage: RegistryStorage = {
    dir: root,

    async readPackument(name) {
      const doc = await tryReadPackument(name);
      if (doc === undefined) throw notFound(name);
      return doc;
    },

    async readTarball(name, version) {
      const doc = await storage.readPackument(name);
      checkRegistryVersion(version, name);
      const v = doc.versions[version];
      if (v === undefined) throw notFound(name, version);
      const file = pathsOf(name).tarball(version);
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (e) {
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

      // 2. Under the lock: immutability, ownership, then tarball and packument.
      await prepare();
      const p = pathsOf(name);
      return withLock(p.lock, async () => {
        const cur = await tryReadPackument(name);
        const id = `${name}@${version}`;
        if (cur !== undefined && owner !== undefined && (cur.maintainers ?? []).length > 0) checkOwner(cur, owner, 'publish');
        if (cur?.versions[version] !== undefined) {
          throw new RumpkgError('E_REGISTRY_CONFLICT', `${id} is already published; a published version can never be replaced${isYanked(cur.versions[version]) ? ' (even though it is yanked)' : ''}`, {
            context: { name, version },
            hint: 'bump the version and publish again',
          });
        }
        const at = now().toISOString();
        const next: Packument = cur ?? { name, 'dist-tags': {}, versions: {}, time: { created: at } };
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

        await mkdir(p.tarballDir, { recursive: true }).catch((e: unknown) => {
          throw fsError(e, p.tarballDir, 'create');
        });
        const final = p.tarball(version);
        // An unreferenced tarball is a leftover of a crashed publish of this very version.
        await unlink(final).catch(() => undefined);
        const tmp = tempPath('tarball.tgz');
        try {
          await writeDurable(tmp, bytes);
          await link(tmp, final);
        } catch (e) {
          await unlink(tmp).catch(() => undefined);
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
            throw new RumpkgError('E_REGISTRY_CONFLICT', `${id} is already published`, { context: { name, version } });
          }
          throw fsError(e, final, 'write');
        }
        await unlink(tmp).catch(() => undefined);
        await syncDir(p.tarballDir);
        try {
          await writePackument(name, next);
        } catch (e) {
          await unlink(final).catch(() => undefined);
          throw e;
        }
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

    async listNames() {
      const names: string[] = [];
      const top = await readdir(root, { withFileTypes: true }).catch(() => []);
      for (const e of top) {
        if (!e.isDirectory() || e.name.startsWith('.')) continue;
        const candidates = e.name.startsWith('@')
          ? (await readdir(join(root, e.name), { withFileTypes: true }).catch(() => []))
              .filter((s) => s.isDirectory())
              .map((s) => `${e.name}/${s.name}`)
          : [e.name];
        for (const n of candidates) {
          if (!SAFE_NAME_RE.test(n)) continue;
          if (await stat(join(root, ...n.split('/'), 'packument.json')).then(() => true, () => false)) names.push(n);
        }
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
