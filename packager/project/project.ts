/**
 * The project flow: `rumpkg.json` + registries + the resolver → `rumpkg.lock` + the store.
 *
 * It lives in packager/ because it is the first module that may use both the resolver and the
 * registry (DESIGN.md §3 has no separate "project" module; the CLI stays a thin shell over
 * these functions). Contracts:
 * - Resolution is per target; each target's closure is solved with the lockfile's versions as
 *   preferences, so `add` only moves what it must (PubGrub prefers locked versions and leaves
 *   them only when they block the request). A target's requests are rumpkg.json's `components`
 *   (every target) plus its `targetComponents` entry (that target only, like Cargo's
 *   `[target.'cfg'.dependencies]`); `add --target` and `remove --target` edit the latter.
 * - `add` without `--target` never records a component that cannot serve one of the project's
 *   targets: when it resolves for some targets and not others, it fails with the explanation and
 *   a hint naming `--target` (Cargo does not guess either; an image silently lacking a driver on
 *   one target would be found only at run time).
 * - A lockfile is never rewritten silently: it is written only when its bytes change, under a
 *   lock (CA-06), atomically (CA-01); `install --frozen` refuses one that does not satisfy
 *   rumpkg.json and never writes.
 * - Fetching goes through the store (integrity from the lockfile: a registry that now serves
 *   other bytes for a locked version fails with E_INTEGRITY, IN-03, and nothing is "fixed").
 * - A lockfile is checked before it is used (RG-08 `checkLockPolicy`: valid names, the scope key
 *   pinned for each name, tarballs under the name's own registry directory); the entries the
 *   store lacks are checked against the registry listing — present (RG-01), same integrity
 *   (IN-03), same tarball location (RG-08) — all before the first fetch; and before a lockfile
 *   seeds a new resolution (add/remove/update/install), every entry is, so the solver can neither
 *   silently fall back to an older version nor copy a changed integrity into the lockfile.
 * - rumpkg.json and rumpkg.lock change together: if the lockfile write fails after rumpkg.json
 *   was written (ENOSPC, CA-08), the old rumpkg.json is put back.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import compare from 'semver/functions/compare.js';
import prerelease from 'semver/functions/prerelease.js';
import rcompare from 'semver/functions/rcompare.js';
import satisfies from 'semver/functions/satisfies.js';

import {
  DEFAULT_SCOPE,
  RumpkgError,
  fsError,
  isRumpkgError,
  parseLockfileText,
  parseSpec,
  parseTarget,
  qualifyName,
  readProjectManifest,
  renderLockfile,
  renderProjectManifest,
  type LockedComponent,
  type LockedTarget,
  type Lockfile,
  type ProjectManifest,
  type Target,
} from '../../components/index.js';
import {
  PROJECT,
  buildLockedTarget,
  buildLockfile,
  failureToJSON,
  lockedVersions,
  lockfileSatisfies,
  renderAnyOfChoice,
  renderFailure,
  resolutionError,
  solve,
  whyChains,
  type Provider,
} from '../../resolver/index.js';
import {
  checkRegistryName,
  checkRegistryVersion,
  cleanStaleTemp,
  componentClaims,
  createRegistryProvider,
  createStore,
  effectiveRegistries,
  openRegistryClient,
  readConfig,
  registryForName,
  resolveHome,
  homePaths,
  withLock,
  writeFileAtomic,
  unknownComponentError,
  type RegistryClient,
  type Store,
} from '../../registry/index.js';

// Only the parts of semver in use: its index loads every module of the package (~15 ms at start-up).
const semver = { compare, prerelease, rcompare, satisfies };

const PROJECT_FILE = 'rumpkg.json';
const LOCK_FILE = 'rumpkg.lock';
/** The lock file of the project's writers (CA-06). */
const PROJECT_LOCK_FILE = '.rumpkg.lock.lck';

interface ProjectReporter {
  info?(message: string): void;
  warn?(message: string): void;
  note?(message: string): void;
  progress?(label: string, done: number, total: number): void;
}

interface ProjectOptions {
  offline?: boolean;
  reporter?: ProjectReporter;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for another rumpkg holding the project's lock before E_LOCKED (default 30 s). */
  lockTimeoutMs?: number;
}

/** What changed in a lockfile, per target: `name: from → to` (undefined = absent). */
interface LockChange {
  target: Target;
  name: string;
  from?: string;
  to?: string;
}

export interface ProjectResult {
  manifest: ProjectManifest;
  lockfile: Lockfile;
  /** True when rumpkg.lock was (re)written. */
  lockWritten: boolean;
  /**
   * Why rumpkg.lock was written when no version changed (`changes` is empty): e.g. "the
   * requested range of @rump/tcpip changed (^10.0.0 → ^10.1.0)". Absent otherwise.
   */
  lockReason?: string;
  changes: LockChange[];
  /** Components fetched into (or found in) the store. */
  fetched: number;
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Reading and writing the project's files

export async function readProject(dir: string): Promise<ProjectManifest> {
  const path = join(resolve(dir), PROJECT_FILE);
  try {
    statSync(path);
  } catch (e) {
    const err = fsError(e, path, 'read');
    if (isRumpkgError(err, 'E_NOT_FOUND')) {
      throw new RumpkgError('E_NOT_FOUND', `no ${PROJECT_FILE} in ${resolve(dir)}`, {
        context: { path },
        hint: 'run rumpkg init to create one, or pass --cwd DIR',
      });
    }
    throw err;
  }
  const m = await readProjectManifest(path);
  // rumpkg.json may name components bare (`"tcpip": "^10"`, DESIGN.md §4.2): they mean the
  // default scope. Everything past this point uses qualified names.
  const qualify = (requests: Record<string, string>): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [n, r] of Object.entries(requests)) {
      const q = qualifyName(n, { scope: DEFAULT_SCOPE });
      if (out[q] !== undefined && out[q] !== r) {
        throw new RumpkgError('E_MANIFEST', `${path}: ${n} and ${q} name the same component with different ranges`, {
          context: { path, component: q },
          hint: 'keep one of them',
        });
      }
      out[q] = r;
    }
    return sortRecord(out);
  };
  const components = qualify(m.components);
  const targetComponents: Record<Target, Record<string, string>> = {};
  for (const [t, requests] of Object.entries(m.targetComponents ?? {})) {
    const q = qualify(requests);
    for (const n of Object.keys(q)) {
      if (components[n] !== undefined) {
        throw new RumpkgError('E_MANIFEST', `${path}: ${n} is requested for every target (components) and for ${t} (targetComponents)`, {
          context: { path, component: n, target: t },
          hint: 'keep one of them',
        });
      }
    }
    targetComponents[t] = q;
  }
  const { targetComponents: _asWritten, ...rest } = m;
  return { ...rest, components, ...(Object.keys(targetComponents).length > 0 ? { targetComponents } : {}) };
}

/** What the project requests for `target`: its components for every target and those for `target` only. */
export function projectRequests(manifest: Pick<ProjectManifest, 'components' | 'targetComponents'>, target: Target): Record<string, string> {
  return sortRecord({ ...manifest.components, ...(manifest.targetComponents?.[target] ?? {}) });
}

/** The lockfile of the project, or undefined when there is none. */
export async function readLock(dir: string): Promise<Lockfile | undefined> {
  const path = join(resolve(dir), LOCK_FILE);
  let text: string;
  try {
    // Synchronous: a small file, read on every command's start-up path.
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(e, path, 'read');
  }
  const { value, errors } = parseLockfileText(text, { file: path });
  if (value === undefined) {
    throw new RumpkgError('E_LOCKFILE', `${path} is not a valid lockfile: ${errors[0]?.pointer ?? ''} ${errors[0]?.message ?? ''}`.trim(), {
      context: { path, problems: errors },
      hint:
        errors[0]?.pointer === '/lockfileVersion'
          ? 'the lockfile was written in another format version (by another rumpkg): use that rumpkg, or delete rumpkg.lock and run rumpkg install to resolve again'
          : 'fix or delete the lockfile and run rumpkg install',
    });
  }
  return value;
}

async function writeIfChanged(path: string, text: string): Promise<boolean> {
  let old: string | undefined;
  try {
    old = await readFile(path, 'utf8');
  } catch {
    old = undefined;
  }
  if (old === text) return false;
  await writeFileAtomic(path, text);
  return true;
}

/** Runs `fn` holding the project's lock (two writers of one lockfile: CA-06). */
async function withProjectLock<T>(dir: string, fn: () => Promise<T>, options: { lockTimeoutMs?: number } = {}): Promise<T> {
  return withLock(join(resolve(dir), PROJECT_LOCK_FILE), fn, { what: join(resolve(dir), LOCK_FILE), timeoutMs: options.lockTimeoutMs ?? 30_000 });
}

/**
 * RG-08: what a lockfile entry may say, checked before anything is fetched. The schema already
 * keeps tarball locations registry-relative and integrity sha512; on top of that each entry's
 * name must be a valid registry name, its `registry` must be the scope key that rumpkg.json and
 * the config pin for that name (RG-06: a lockfile cannot move a component to another registry),
 * and its tarball must lie under that name's own directory of the registry (`<name>/-/….tgz`;
 * the exact location is compared with the registry's listing when the tarball is fetched).
 */
function checkLockPolicy(lock: Lockfile, client: Pick<RegistryClient, 'registryFor'>): void {
  for (const [target, lt] of Object.entries(lock.targets)) {
    for (const [name, c] of Object.entries(lt.components)) {
      const id = `${name}@${c.version}`;
      const bad = (what: string, hint = 'the lockfile was edited by hand or by someone else; restore it from version control'): RumpkgError =>
        new RumpkgError('E_LOCKFILE', `rumpkg.lock: ${id} (${target}) ${what}`, { context: { component: id, target }, hint });
      try {
        checkRegistryName(name);
        checkRegistryVersion(c.version, name);
      } catch (e) {
        throw bad(`is not a valid component id: ${(e as Error).message}`);
      }
      const { scope } = client.registryFor(name);
      if (c.registry !== scope) throw bad(`names registry ${JSON.stringify(c.registry)}, but ${scope} serves ${name}`);
      const file = c.tarball.startsWith(`${name}/-/`) ? c.tarball.slice(name.length + 3) : undefined;
      if (file === undefined || !/^[A-Za-z0-9][A-Za-z0-9._+-]*\.tgz$/.test(file) || file.includes('..')) {
        throw bad(`has tarball ${JSON.stringify(c.tarball.slice(0, 200))}, which is not a tarball of ${name}`);
      }
    }
  }
}

/**
 * RG-01 / IN-03: before a lockfile is used as the preference of a new resolution, every locked
 * `name@version` must still be listed by its registry with the locked integrity. Otherwise the
 * solver would silently move to another version (a rollback) or write the registry's new
 * integrity into the lockfile (an auto-"fix"); both are errors and the lockfile stays as it is.
 */
type LockedEntry = LockedComponent & { name: string };

function lockedEntries(lock: Lockfile): LockedEntry[] {
  const all = new Map<string, LockedEntry>();
  for (const t of Object.values(lock.targets)) {
    for (const [name, c] of Object.entries(t.components)) all.set(`${name}@${c.version}`, { ...c, name });
  }
  return [...all.values()];
}

async function checkLockAgainstRegistry(lock: Lockfile, session: Session): Promise<void> {
  checkLockPolicy(lock, session.client);
  await checkEntriesAgainstRegistry(lockedEntries(lock), session);
}

/** Every entry listed by its registry with the locked integrity and tarball (all checked before any fetch). */
async function checkEntriesAgainstRegistry(entries: LockedEntry[], session: Session): Promise<void> {
  const names = [...new Set(entries.map((c) => c.name))];
  const listings = new Map<string, Awaited<ReturnType<RegistryClient['versions']>>>();
  const notCached: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const n = names[next++] as string;
      try {
        listings.set(n, await session.client.versions(n));
      } catch (e) {
        if (!isRumpkgError(e, 'E_OFFLINE')) throw e;
        for (const c of entries) if (c.name === n) notCached.push(`${c.name}@${c.version}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, names.length) }, worker));
  if (notCached.length > 0) throw offlineMisses(notCached);
  for (const c of entries) {
    const id = `${c.name}@${c.version}`;
    const v = listings.get(c.name)?.find((x) => x.version === c.version);
    if (v === undefined) {
      throw new RumpkgError('E_REGISTRY_ROLLBACK', `${id} is locked, but its registry no longer lists it`, {
        context: { component: id },
        hint: 'a published version never disappears from an honest registry: the registry may be serving rolled-back metadata; the lockfile is left as it is',
      });
    }
    if (v.integrity !== c.integrity) {
      throw new RumpkgError('E_INTEGRITY_LOCK', `${id}: the lockfile says ${c.integrity} but the registry says ${v.integrity}`, {
        context: { component: id, expected: c.integrity, registry: v.integrity },
        hint: 'a published version must never change; the lockfile is not rewritten — investigate the registry',
      });
    }
    if (v.tarball !== c.tarball) {
      throw new RumpkgError('E_LOCKFILE', `${id}: the lockfile says the tarball is ${JSON.stringify(c.tarball)} but the registry lists ${JSON.stringify(v.tarball)}`, {
        context: { component: id, tarball: c.tarball, listed: v.tarball },
        hint: 'the lockfile was edited by hand or by someone else; restore it from version control',
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// init

interface InitOptions {
  name?: string;
  targets?: string[];
  registries?: Record<string, string>;
}

export async function initProject(dir: string, options: InitOptions = {}): Promise<ProjectManifest> {
  const root = resolve(dir);
  const path = join(root, PROJECT_FILE);
  try {
    await stat(path);
    throw new RumpkgError('E_USAGE', `${path} already exists`, { context: { path }, hint: 'edit it, or use rumpkg add' });
  } catch (e) {
    if (isRumpkgError(e)) throw e;
  }
  const targets = options.targets !== undefined && options.targets.length > 0 ? [...new Set(options.targets)] : [defaultTarget()];
  for (const t of targets) parseTarget(t);
  const name = sanitizeProjectName(options.name ?? basename(root));
  // Like cargo finding src/main.rs: C sources already in the directory become the application.
  let sources: string[] = [];
  try {
    sources = (await readdir(root, { withFileTypes: true })).filter((e) => e.isFile() && e.name.endsWith('.c')).map((e) => e.name).sort();
  } catch {
    sources = [];
  }
  const manifest: ProjectManifest = {
    schemaVersion: 1,
    name,
    targets,
    components: {},
    registries: options.registries ?? {},
    image: { ...(sources.length > 0 ? { sources } : {}), entry: [], net: [], block: [] },
  };
  await writeFileAtomic(path, renderProjectManifest(manifest));
  return manifest;
}

function defaultTarget(): string {
  return process.arch === 'arm64' ? 'posix-aarch64' : 'posix-x86_64';
}

function sanitizeProjectName(n: string): string {
  const s = n.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-._]+|[-._]+$/g, '');
  return s.length > 0 ? s.slice(0, 100) : 'rump-project';
}

// ---------------------------------------------------------------------------------------------
// resolving

interface Session {
  client: RegistryClient;
  provider: Provider;
  home: string;
}

async function openSession(dir: string, options: ProjectOptions, deferWrites = false): Promise<Session> {
  const { client, home } = await openRegistryClient({
    cwd: resolve(dir),
    ...(options.offline === undefined ? {} : { offline: options.offline }),
    ...(options.env === undefined ? {} : { env: options.env }),
    reporter: {
      info: (m) => options.reporter?.info?.(m),
      warn: (m) => options.reporter?.warn?.(m),
    },
    ...(deferWrites ? { deferWrites } : {}),
  });
  return { client, provider: createRegistryProvider(client), home };
}

/**
 * `fn` with a session whose cache entries and RG-01 seen records are written off the critical
 * path (client `deferWrites`): `commit` writes them before rumpkg.json and rumpkg.lock, and they
 * are written before this returns or throws whatever happens (a failed run still records what it
 * has checked).
 */
async function withSession<T>(dir: string, options: ProjectOptions, fn: (session: Session) => Promise<T>): Promise<T> {
  const session = await openSession(dir, options, true);
  try {
    return await fn(session);
  } finally {
    await session.client.flush();
  }
}

/** Solves every target of the project; throws E_RESOLVE with the explanation on failure. */
async function resolveProject(
  manifest: ProjectManifest,
  provider: Provider,
  options: { lock?: Lockfile; unlock?: string[] } = {},
): Promise<Lockfile> {
  if (manifest.targets.length === 0) {
    throw new RumpkgError('E_TARGET', `${PROJECT_FILE} lists no targets`, { hint: 'add one, e.g. rumpkg add --target posix-x86_64' });
  }
  const perTarget: Record<Target, LockedTarget> = {};
  for (const target of [...manifest.targets].sort()) {
    const locked = options.lock?.targets[target] === undefined ? undefined : lockedVersions(options.lock, target);
    const res = await solve(
      {
        root: { name: manifest.name, dependencies: projectRequests(manifest, target) },
        target,
        ...(locked === undefined ? {} : { locked }),
        ...(options.unlock === undefined ? {} : { unlock: options.unlock }),
      },
      provider,
    );
    if (!res.ok) throw resolutionError(res.failure);
    perTarget[target] = buildLockedTarget(res.solution);
  }
  return buildLockfile(manifest.components, perTarget, manifest.targetComponents === undefined ? {} : { targetRequested: manifest.targetComponents });
}

function diffLocks(before: Lockfile | undefined, after: Lockfile): LockChange[] {
  const changes: LockChange[] = [];
  const targets = new Set([...Object.keys(before?.targets ?? {}), ...Object.keys(after.targets)]);
  for (const target of [...targets].sort()) {
    const a = before?.targets[target]?.components ?? {};
    const b = after.targets[target]?.components ?? {};
    for (const name of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const from = a[name]?.version;
      const to = b[name]?.version;
      if (from !== to) changes.push({ target, name, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) });
    }
  }
  return changes;
}

/**
 * Fetches every locked component of every target into the store (bounded concurrency).
 * `onRequested` is called on the turn of the event loop after the fetch workers started, unless
 * the fetch is over before: by then the first request of every worker has gone out (each reaches
 * it without waiting on I/O, unless the home's download cache is looked into first).
 */
async function fetchLocked(session: Session, lock: Lockfile, reporter?: ProjectReporter, onRequested?: () => void): Promise<number> {
  checkLockPolicy(lock, session.client);
  const source: Parameters<typeof createStore>[0] = {
    tarball: (name, version, options) => session.client.tarball(name, version, options),
    tarballToUnpack: (name, version, options) => session.client.tarballToUnpack(name, version, options),
  };
  const store = createStore(source, { home: session.home, reporter: { info: (m) => reporter?.info?.(m), warn: (m) => reporter?.warn?.(m) } });
  const items = lockedEntries(lock);
  // What the store lacks is checked against the registry as a whole before anything is fetched:
  // a lockfile that fails for one component leaves the store as it was (IN-03, RG-01, RG-08).
  const present = await Promise.all(items.map((c) => store.has(c.integrity)));
  const absent = items.filter((_, i) => !present[i]);
  if (absent.length > 0) await checkEntriesAgainstRegistry(absent, session);
  let done = 0;
  let next = 0;
  const notCached: string[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const c = items[next++] as LockedComponent & { name: string };
      try {
        await store.ensureUnpacked(c.name, c.version, { integrity: c.integrity, tarball: c.tarball });
      } catch (e) {
        if (!isRumpkgError(e, 'E_OFFLINE')) throw e;
        notCached.push(`${c.name}@${c.version}`);
      }
      done++;
      reporter?.progress?.('fetching', done, items.length);
    }
  };
  // One worker per socket the HTTP agent keeps (16): a closure of up to 16 components has every
  // tarball request out at once, so none waits for another component to unpack first.
  const workers = Promise.all(Array.from({ length: Math.min(16, items.length) }, worker));
  const requested = onRequested === undefined ? undefined : setImmediate(onRequested);
  try {
    await workers;
  } finally {
    if (requested !== undefined) clearImmediate(requested);
  }
  if (notCached.length > 0) throw offlineMisses(notCached);
  return items.length;
}

/** One E_OFFLINE naming every locked component the cache lacks (not just the first one met). */
function offlineMisses(missing: string[]): RumpkgError {
  const all = [...new Set(missing)].sort();
  return new RumpkgError('E_OFFLINE', `offline: ${all.length} locked component${all.length === 1 ? ' is' : 's are'} not in the cache: ${all.join(', ')}`, {
    context: { missing: all },
    hint: 'run rumpkg install once without --offline to fill the cache',
  });
}

/**
 * The store lookup `rumpkg build` uses: where a locked component is unpacked, verified (and
 * fetched if need be) by `ensureUnpacked`. Its `lookup` is the cheap unverified presence check
 * (registry/store.ts `lookup`: is there an index.json) that buildProject uses for the up-to-date check:
 * a stamp that matches proves the bytes; any mismatch goes through the verified path before
 * linking. `checkLookup` is that path's check without repair: a build links over looked-up
 * directories while it runs, checks every byte it read, and takes the verified path when it
 * finds a problem (or a step fails: then every file of every entry is checked first).
 * The registry session is opened only when the verified path is first taken.
 */
type StoreComponentDirResolver = ((name: string, locked: LockedComponent) => Promise<string>) & {
  /** The entry's directory when it has an index.json (store `lookup` with `files: false`: the build checks what it reads, identity included). */
  lookup(name: string, locked: LockedComponent): string | undefined;
  /**
   * The verified path's check of a directory `lookup` gave (store `checkLookup`: every file
   * re-hashed against index.json; `known`, absolute path → sha256 hex, are digests of bytes the
   * caller read and uses; `scope: 'read'`: only those are checked). Undefined when intact, else
   * the problem; nothing is repaired.
   */
  checkLookup(name: string, locked: LockedComponent, known?: ReadonlyMap<string, string>, scope?: 'all' | 'read'): string | undefined;
  /** The home's archive facts cache for the audit (`<home>/cache/prints`; packager/audit/evidence.ts). */
  printsCache?: string;
};

export async function storeComponentDirResolver(dir: string, options: ProjectOptions = {}): Promise<StoreComponentDirResolver> {
  const home = resolveHome(options.env ?? process.env);
  const peek = createStore(noTarballs, { home });
  let verified: Promise<Store> | undefined;
  const resolveDir = async (name: string, locked: LockedComponent): Promise<string> => {
    verified ??= openSession(dir, options).then((session) =>
      createStore(session.client, { home: session.home, reporter: { info: (m) => options.reporter?.info?.(m), warn: (m) => options.reporter?.warn?.(m) } }),
    );
    return (await verified).ensureUnpacked(name, locked.version, { integrity: locked.integrity, tarball: locked.tarball });
  };
  return Object.assign(resolveDir, {
    lookup: (name: string, locked: LockedComponent) => peek.lookup(name, locked.version, { integrity: locked.integrity, files: false }),
    checkLookup: (name: string, locked: LockedComponent, known?: ReadonlyMap<string, string>, scope?: 'all' | 'read') =>
      peek.checkLookup(name, locked.version, { integrity: locked.integrity, ...(known === undefined ? {} : { known }), ...(scope === undefined ? {} : { scope }) }),
    printsCache: join(homePaths(home).cache, 'prints'),
  });
}

/** The tarball source of a store that is only looked into. */
const noTarballs = { tarball: (): Promise<Buffer> => Promise.reject(new Error('this store is only looked into')) };

/**
 * `rumpkg install` with nothing to do: rumpkg.lock satisfies rumpkg.json, passes the lockfile
 * policy (RG-08) and every entry is in the store (`lookup`: identity and file sizes, no hashing,
 * no registry session, no project lock — nothing is written). Undefined → the full install; so
 * too while a writer holds (or a dead one left) the project's lock: the full install waits for
 * it, or reclaims it.
 */
async function installIfUpToDate(dir: string, options: InstallOptions): Promise<ProjectResult | undefined> {
  if (existsSync(join(resolve(dir), PROJECT_LOCK_FILE))) return undefined;
  const manifest = await readProject(dir);
  const lock = await readLock(dir);
  if (lock === undefined || lockfileSatisfies(lock, manifest).length > 0) return undefined;
  const home = resolveHome(options.env ?? process.env);
  const registries = effectiveRegistries(await readConfig(home), { project: manifest.registries ?? {}, projectDir: resolve(dir) });
  checkLockPolicy(lock, { registryFor: (name) => registryForName(name, registries) });
  const store = createStore(noTarballs, { home });
  const items = lockedEntries(lock);
  const seen = options.depended === undefined ? undefined : [join(resolve(dir), PROJECT_FILE), join(resolve(dir), LOCK_FILE), join(resolve(dir), PROJECT_LOCK_FILE), homePaths(home).config];
  for (const c of items) if (store.lookup(c.name, c.version, { integrity: c.integrity, ...(seen === undefined ? {} : { seen }) }) === undefined) return undefined;
  // CA-01: what killed runs left in <home>/tmp goes, as on every run that opens the registry.
  await cleanStaleTemp(home);
  if (seen !== undefined) options.depended?.(seen);
  return { manifest, lockfile: lock, lockWritten: false, changes: [], fetched: items.length, notes: [] };
}

async function commit(
  dir: string,
  session: Session,
  manifest: ProjectManifest,
  before: Lockfile | undefined,
  lock: Lockfile,
  options: ProjectOptions & { writeManifest?: boolean; notes?: string[] },
): Promise<ProjectResult> {
  const root = resolve(dir);
  // Fetch first: a closure that cannot be fetched is not written down. What the session
  // deferred (cache entries, seen records) is written before rumpkg.json and rumpkg.lock; the
  // writes start once the first request of every fetch worker has gone out (so they do not
  // delay them), and wait on the disk while the tarballs arrive and unpack (which take no turn
  // of libuv's thread pool: store.ts, tarball.ts).
  let flushed: Promise<void> = Promise.resolve();
  const fetched = await fetchLocked(session, lock, options.reporter, () => {
    flushed = session.client.flush();
  }).finally(() => flushed);
  await session.client.flush();
  const manifestPath = join(root, PROJECT_FILE);
  const oldManifest = options.writeManifest === true ? await readFile(manifestPath, 'utf8').catch(() => undefined) : undefined;
  const manifestWritten = options.writeManifest === true && (await writeIfChanged(manifestPath, renderProjectManifest(manifest)));
  let lockWritten: boolean;
  try {
    lockWritten = await writeIfChanged(join(root, LOCK_FILE), renderLockfile(lock));
  } catch (e) {
    // rumpkg.json and rumpkg.lock change together or not at all (CA-08: ENOSPC between the two).
    if (manifestWritten && oldManifest !== undefined) await writeFileAtomic(manifestPath, oldManifest).catch(() => undefined);
    throw e;
  }
  const changes = diffLocks(before, lock);
  const lockReason = lockWritten && changes.length === 0 ? rewriteReason(before, lock) : undefined;
  return { manifest, lockfile: lock, lockWritten, ...(lockReason === undefined ? {} : { lockReason }), changes, fetched, notes: [...(options.notes ?? []), ...anyOfNotes(before, lock)] };
}

/** One sentence per any-of group whose choice is new or changed: which member and why. */
function anyOfNotes(before: Lockfile | undefined, after: Lockfile): string[] {
  const notes: string[] = [];
  for (const [target, lt] of Object.entries(after.targets).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const [name, c] of Object.entries(lt.components).sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const [key, choice] of Object.entries(c.anyOf ?? {})) {
        if (before?.targets[target]?.components[name]?.anyOf?.[key]?.chosen === choice.chosen) continue;
        notes.push(`${target}: ${renderAnyOfChoice(name, key, choice, { target, neededBy: neededBy(lt, key, choice.chosen) })}`);
      }
    }
  }
  return notes;
}

/** Who pulls `chosen` into the closure other than the components that need it through the group `key`. */
function neededBy(lt: LockedTarget, key: string, chosen: string): string[] {
  return (lt.components[chosen]?.requiredBy ?? []).filter((by) => by !== PROJECT && lt.components[by]?.anyOf?.[key]?.chosen !== chosen);
}

/** Why a lockfile whose versions did not change was written anew (for the user; see ProjectResult). */
function rewriteReason(before: Lockfile | undefined, after: Lockfile): string {
  if (before === undefined) return 'there was no rumpkg.lock';
  const said: string[] = [];
  for (const name of [...new Set([...Object.keys(before.requested), ...Object.keys(after.requested)])].sort()) {
    const a = before.requested[name];
    const b = after.requested[name];
    if (a === b) continue;
    if (a === undefined) said.push(`${name}@${b} is now requested`);
    else if (b === undefined) said.push(`${name} is no longer requested`);
    else said.push(`the requested range of ${name} changed (${a} → ${b})`);
  }
  if (JSON.stringify(before.targetRequested ?? {}) !== JSON.stringify(after.targetRequested ?? {})) said.push('the per-target requests changed');
  const ta = Object.keys(before.targets).sort().join(', ');
  const tb = Object.keys(after.targets).sort().join(', ');
  if (ta !== tb) said.push(`the locked targets changed (${ta || 'none'} → ${tb || 'none'})`);
  if (said.length > 0) return said.join('; ');
  if (renderLockfile(before) === renderLockfile(after)) return 'it was not in the canonical form rumpkg writes (edited by hand?); its content is the same';
  return 'the recorded edges, link order or init order changed (same versions)';
}

/**
 * A word of `rumpkg remove|update WORD` → the component of this project it means. The project's
 * own components are asked first — by full or bare name, by the library name the lockfile
 * records, then by the names and aliases their registry metadata claims — so a component that
 * later claims the same word (a squatter) changes nothing for an existing project
 * (docs/registry-policy.md). Only a word no component of the project claims is resolved against
 * the registry (`resolveName`, which refuses ambiguity).
 */
async function projectWord(word: string, manifest: ProjectManifest, lock: Lockfile | undefined, session: Session, verb: string): Promise<string> {
  if (word.startsWith('@')) return word;
  const mine = [...new Set([...Object.keys(manifest.components), ...Object.values(lock?.targets ?? {}).flatMap((t) => Object.keys(t.components))])].sort();
  const qualified = `${DEFAULT_SCOPE}/${word}`;
  if (mine.includes(qualified)) return qualified;
  const want = word.toLowerCase();
  const byLib = new Set<string>();
  for (const t of Object.values(lock?.targets ?? {})) {
    for (const [n, c] of Object.entries(t.components)) if (c.lib.toLowerCase() === want || c.lib.toLowerCase() === `lib${want}`) byLib.add(n);
  }
  if (byLib.size === 1) return [...byLib][0] as string;
  const claimed: string[] = [];
  for (const n of mine) {
    const p = await session.client.packument(n).catch(() => undefined);
    if (p !== undefined && componentClaims(n, p).has(want)) claimed.push(n);
  }
  if (claimed.length === 1) return claimed[0] as string;
  if (claimed.length > 1 || byLib.size > 1) {
    const names = claimed.length > 1 ? claimed : [...byLib].sort();
    throw new RumpkgError('E_AMBIGUOUS_NAME', `"${word}" means ${names.length} components of ${manifest.name}: ${names.join(', ')}`, {
      context: { word, candidates: names },
      hint: `name the one you mean in full: ${names.map((n) => `rumpkg ${verb} ${n}`).join(', or ')}`,
    });
  }
  return (await session.client.resolveName(word, { defaultScope: DEFAULT_SCOPE, verb })).name;
}

// ---------------------------------------------------------------------------------------------
// add / remove / install / update

interface AddOptions extends ProjectOptions {
  /**
   * Request the components for these targets only (rumpkg.json `targetComponents`), adding each
   * target to the project when it is new. Without it a component is requested for every target.
   */
  targets?: string[];
}

interface Requested {
  /** What the user typed (`virtio-net`, `tcpip@^10`), for hints. */
  spec: string;
  name: string;
  range?: string;
}

/**
 * `rumpkg add`: a component for every target of the project (or, with `targets`, for those only),
 * resolved, locked and fetched. Bare names are pinned to `^` the version chosen (npm/cargo): for
 * every target, the lowest version chosen among the targets; for one target, the version chosen
 * there. A component requested for every target that cannot serve some of them, while it does
 * serve others, fails with the explanation and a hint naming `--target` for the targets it serves
 * (nothing is written): a project never silently lacks a component on one target.
 */
export async function addComponents(dir: string, specs: string[], options: AddOptions = {}): Promise<ProjectResult> {
  return withProjectLock(dir, async () => {
    const manifest = await readProject(dir);
    const before = await readLock(dir);
    return withSession(dir, options, async (session) => {
      if (before !== undefined) await checkLockAgainstRegistry(before, session);
      const notes: string[] = [];
      const only = options.targets === undefined || options.targets.length === 0 ? undefined : [...new Set(options.targets)];
      for (const t of only ?? []) {
        parseTarget(t);
        if (!manifest.targets.includes(t)) {
          manifest.targets = [...manifest.targets, t];
          notes.push(`added target ${t} to ${PROJECT_FILE}`);
        }
      }
      // The names are looked up at once (one packument round trip, not one per name); notes and
      // requests keep the order the user typed them in. The components the words name (the usual
      // outcome of a lookup) are read through the provider meanwhile, so the capability searches
      // and provider reads their newest versions call for start with the lookups instead of after
      // them (the answers are memoised: what the lookups and the solve see is the same).
      const words = specs.map((spec) => {
        const at = spec.lastIndexOf('@');
        return { spec, at, word: at > 0 ? spec.slice(0, at) : spec };
      });
      session.provider.prefetch?.(words.map(({ word }) => (word.startsWith('@') ? word : `${DEFAULT_SCOPE}/${word}`)));
      const resolved = await Promise.all(
        words.map(async (w) => ({ ...w, ...(await session.client.resolveName(w.word, { defaultScope: DEFAULT_SCOPE, verb: 'add' })) })),
      );
      const requested: Requested[] = [];
      for (const { spec, at, word, name, note } of resolved) {
        if (note !== undefined) notes.push(note);
        if ((await session.client.versions(name)).length === 0) throw await unknownComponentError(session.client, word, name);
        const parsed = parseSpec(at > 0 ? `${name}@${spec.slice(at + 1)}` : name);
        requested.push({ spec, name: parsed.name, ...(at > 0 ? { range: parsed.range } : {}) });
      }
      // Solve with `*` for bare names, then pin them to ^chosen.
      const components = { ...manifest.components };
      const targetComponents = cloneTargetComponents(manifest.targetComponents);
      for (const r of requested) {
        if (only === undefined) {
          const was = Object.keys(targetComponents).filter((t) => targetComponents[t]?.[r.name] !== undefined).sort();
          for (const t of was) delete targetComponents[t]?.[r.name];
          if (was.length > 0) notes.push(`${r.name} is now requested for every target (it was for ${was.join(', ')} only)`);
          components[r.name] = r.range ?? '*';
          continue;
        }
        if (components[r.name] !== undefined) {
          throw new RumpkgError('E_USAGE', `${r.name} is already requested for every target of ${manifest.name}`, {
            context: { component: r.name, targets: only },
            hint: `to keep it off a target instead, run rumpkg remove ${r.spec.replace(/@[^@/]*$/, '')} --target <that target>`,
          });
        }
        for (const t of only) (targetComponents[t] ??= {})[r.name] = r.range ?? '*';
      }
      const draft = withTargetComponents({ ...manifest, components }, targetComponents);
      const prefer = before === undefined ? {} : { lock: before };
      let lock: Lockfile;
      try {
        lock = await resolveProject(draft, session.provider, prefer);
      } catch (e) {
        if (only === undefined && isRumpkgError(e, 'E_RESOLVE')) throw (await servesSomeTargets(manifest, requested, session.provider, prefer)) ?? e;
        throw e;
      }
      let repin = false;
      for (const r of requested) {
        if (r.range !== undefined) continue;
        if (only === undefined) {
          const versions = Object.values(lock.targets).flatMap((t) => (t.components[r.name] === undefined ? [] : [t.components[r.name]!.version]));
          const lowest = versions.sort(semver.compare)[0];
          if (lowest !== undefined) {
            components[r.name] = `^${lowest}`;
            repin = true;
          }
          continue;
        }
        for (const t of only) {
          const v = lock.targets[t]?.components[r.name]?.version;
          if (v !== undefined) {
            (targetComponents[t] as Record<string, string>)[r.name] = `^${v}`;
            repin = true;
          }
        }
      }
      const next = withTargetComponents({ ...manifest, components: sortRecord(components) }, targetComponents);
      // One resolution when the pins admit what was chosen (always so for one target): the same
      // closure, recorded with the pinned ranges. Otherwise (a lower version on another target
      // pins ^lower) the closure is solved again under the pins.
      if (repin) lock = pinsAdmit(next, lock) ? relock(next, lock) : await resolveProject(next, session.provider, { lock });
      return commit(dir, session, next, before, lock, { ...options, writeManifest: true, notes });
    });
  }, options);
}

/** Does every target's locked version of each requested component satisfy what `m` requests for that target? */
function pinsAdmit(m: ProjectManifest, lock: Lockfile): boolean {
  for (const [target, lt] of Object.entries(lock.targets)) {
    for (const [name, range] of Object.entries(projectRequests(m, target))) {
      const v = lt.components[name]?.version;
      if (v === undefined || !semver.satisfies(v, range)) return false;
    }
  }
  return true;
}

/** `lock`'s closures, recorded for the requests of `m`. */
function relock(m: ProjectManifest, lock: Lockfile): Lockfile {
  return buildLockfile(m.components, lock.targets, m.targetComponents === undefined ? {} : { targetRequested: m.targetComponents });
}

function cloneTargetComponents(tc: ProjectManifest['targetComponents']): Record<Target, Record<string, string>> {
  return Object.fromEntries(Object.entries(tc ?? {}).map(([t, r]) => [t, { ...r }]));
}

/** `m` with these per-target requests (sorted; empty targets and an empty map dropped). */
function withTargetComponents(m: ProjectManifest, tc: Record<Target, Record<string, string>>): ProjectManifest {
  const kept: Record<Target, Record<string, string>> = {};
  for (const t of Object.keys(tc).sort()) if (Object.keys(tc[t] ?? {}).length > 0) kept[t] = sortRecord(tc[t] as Record<string, string>);
  const { targetComponents: _old, ...rest } = m;
  return { ...rest, ...(Object.keys(kept).length > 0 ? { targetComponents: kept } : {}) };
}

/**
 * After `add` for every target failed: the first requested component that resolves (with what the
 * project already requests) for some targets of the project but not for others, as an E_RESOLVE
 * that explains the first target it cannot serve and suggests `--target` for those it serves.
 * Undefined when no requested component is like that (the failure is not about targets).
 */
async function servesSomeTargets(manifest: ProjectManifest, requested: Requested[], provider: Provider, prefer: { lock?: Lockfile }): Promise<RumpkgError | undefined> {
  const targets = [...manifest.targets].sort();
  for (const r of requested) {
    const serves: Target[] = [];
    const failures: Array<{ target: Target; failure: Parameters<typeof renderFailure>[0] }> = [];
    for (const target of targets) {
      const locked = prefer.lock?.targets[target] === undefined ? undefined : lockedVersions(prefer.lock, target);
      const res = await solve(
        { root: { name: manifest.name, dependencies: { ...projectRequests(manifest, target), [r.name]: r.range ?? '*' } }, target, ...(locked === undefined ? {} : { locked }) },
        provider,
      );
      if (res.ok) serves.push(target);
      else failures.push({ target, failure: res.failure });
    }
    const first = failures[0];
    if (serves.length === 0 || first === undefined) continue;
    const explanation = renderFailure(first.failure);
    const cannot = failures.map((f) => f.target);
    return new RumpkgError(
      'E_RESOLVE',
      `${r.name} cannot be used for ${cannot.join(', ')} (it resolves for ${serves.join(', ')}); for ${first.target}:\n${explanation}`,
      {
        context: { project: manifest.name, component: r.name, target: first.target, cannot, serves, explanation, derivation: failureToJSON(first.failure) },
        hint: `to request it for the targets it serves only, run rumpkg add ${r.spec} ${serves.map((t) => `--target ${t}`).join(' ')}`,
      },
    );
  }
  return undefined;
}

interface RemoveOptions extends ProjectOptions {
  /** Remove the components for these targets only; a component requested for every target stays for the others. */
  targets?: string[];
}

export async function removeComponents(dir: string, words: string[], options: RemoveOptions = {}): Promise<ProjectResult> {
  return withProjectLock(dir, async () => {
    const manifest = await readProject(dir);
    const before = await readLock(dir);
    return withSession(dir, options, async (session) => {
      if (before !== undefined) await checkLockAgainstRegistry(before, session);
      const components = { ...manifest.components };
      const targetComponents = cloneTargetComponents(manifest.targetComponents);
      const only = options.targets === undefined || options.targets.length === 0 ? undefined : [...new Set(options.targets)];
      for (const t of only ?? []) {
        if (!manifest.targets.includes(t)) {
          throw new RumpkgError('E_TARGET', `${t} is not a target of ${manifest.name}`, { context: { target: t }, hint: `its targets: ${manifest.targets.join(', ')}` });
        }
      }
      const notes: string[] = [];
      const requestedNames = (): string[] => [...new Set([...Object.keys(components), ...Object.values(targetComponents).flatMap((r) => Object.keys(r))])].sort();
      for (const w of words) {
        const name = requestedNames().find((n) => n === w || n === `${DEFAULT_SCOPE}/${w}`) ?? (await projectWord(w, manifest, before, session, 'remove'));
        const notRequested = (where: string): RumpkgError =>
          new RumpkgError('E_NOT_FOUND', `${name} is not a component of ${manifest.name}${where}`, {
            context: { component: name, ...(only === undefined ? {} : { targets: only }) },
            hint: `the project has: ${requestedNames().join(', ') || '(none)'}`,
          });
        if (only === undefined) {
          const perTarget = Object.keys(targetComponents).filter((t) => targetComponents[t]?.[name] !== undefined);
          if (components[name] === undefined && perTarget.length === 0) throw notRequested('');
          delete components[name];
          for (const t of perTarget) delete targetComponents[t]?.[name];
          continue;
        }
        const range = components[name];
        if (range !== undefined) {
          // Requested for every target: it stays requested for the other targets, each on its own.
          const others = manifest.targets.filter((t) => !only.includes(t));
          delete components[name];
          for (const t of others) (targetComponents[t] ??= {})[name] = range;
          notes.push(others.length === 0 ? `${name} is no longer requested` : `${name} stays requested for ${others.join(', ')} only`);
          continue;
        }
        for (const t of only) {
          if (targetComponents[t]?.[name] === undefined) throw notRequested(` for ${t}`);
          delete targetComponents[t]?.[name];
        }
      }
      const next = withTargetComponents({ ...manifest, components }, targetComponents);
      const lock = await resolveProject(next, session.provider, before === undefined ? {} : { lock: before });
      return commit(dir, session, next, before, lock, { ...options, writeManifest: true, notes });
    });
  }, options);
}

interface InstallOptions extends ProjectOptions {
  /** Refuse a lockfile that does not satisfy rumpkg.json; never write it. */
  frozen?: boolean;
  /**
   * Receives, when there was nothing to do, every path whose state decided it (the project's
   * files, the configuration, each store entry's index and files): for the launcher's replay of
   * an install with nothing to do (packager/early, replayNoop).
   */
  depended?: (paths: string[]) => void;
}

export async function installProject(dir: string, options: InstallOptions = {}): Promise<ProjectResult> {
  // Read-only and lock-free: a concurrent writer replaces each file atomically, and whatever
  // pair of files this reads, a satisfied lockfile whose entries are all present is installed.
  const done = await installIfUpToDate(dir, options);
  if (done !== undefined) return done;
  const run = async (): Promise<ProjectResult> => {
    const manifest = await readProject(dir);
    const before = await readLock(dir);
    const reasons = before === undefined ? ['there is no rumpkg.lock'] : lockfileSatisfies(before, manifest);
    return withSession(dir, options, async (session) => {
      if (reasons.length === 0 && before !== undefined) {
        const fetched = await fetchLocked(session, before, options.reporter);
        return { manifest, lockfile: before, lockWritten: false, changes: [], fetched, notes: [] };
      }
      if (options.frozen === true) {
        throw new RumpkgError('E_LOCKFILE', `rumpkg.lock does not satisfy rumpkg.json (--frozen): ${reasons.join('; ')}`, {
          context: { reasons },
          hint: 'run rumpkg install without --frozen to update the lockfile, and commit it',
        });
      }
      if (before !== undefined) await checkLockAgainstRegistry(before, session);
      const lock = await resolveProject(manifest, session.provider, before === undefined ? {} : { lock: before });
      return commit(dir, session, manifest, before, lock, options);
    });
  };
  return options.frozen === true ? run() : withProjectLock(dir, run, options);
}

export async function updateComponents(dir: string, words: string[], options: ProjectOptions = {}): Promise<ProjectResult> {
  return withProjectLock(dir, async () => {
    const manifest = await readProject(dir);
    const before = await readLock(dir);
    return withSession(dir, options, async (session) => {
      if (before !== undefined) await checkLockAgainstRegistry(before, session);
      let unlock: string[];
      if (words.length === 0) unlock = Object.keys(before?.targets ?? {}).flatMap((t) => Object.keys(before?.targets[t]?.components ?? {}));
      else unlock = await Promise.all(words.map((w) => projectWord(w, manifest, before, session, 'update')));
      const lock = await resolveProject(manifest, session.provider, { ...(before === undefined ? {} : { lock: before }), unlock: [...new Set(unlock)] });
      return commit(dir, session, manifest, before, lock, options);
    });
  }, options);
}

// ---------------------------------------------------------------------------------------------
// outdated / tree / why (read-only)

interface OutdatedRow {
  name: string;
  target: Target;
  current: string;
  /** The newest version the requested range allows (not yanked). */
  wanted: string;
  /** The newest version published (not yanked, no prerelease). */
  latest: string;
  range: string;
}

export async function outdatedComponents(dir: string, options: ProjectOptions = {}): Promise<OutdatedRow[]> {
  const manifest = await readProject(dir);
  const lock = await readLock(dir);
  if (lock === undefined) throw new RumpkgError('E_NOT_FOUND', 'there is no rumpkg.lock', { hint: 'run rumpkg install' });
  const session = await openSession(dir, options);
  const rows: OutdatedRow[] = [];
  for (const [target, lt] of Object.entries(lock.targets).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const [name, c] of Object.entries(lt.components).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const candidates = (await session.provider.versions(name)).filter((v) => !v.yanked && v.targets.includes(target) && semver.prerelease(v.version) === null);
      const versions = candidates.map((v) => v.version).sort(semver.rcompare);
      const range = projectRequests(manifest, target)[name] ?? c.requiredBy.map((by) => lt.components[by]?.dependencies[name]).find((r) => r !== undefined) ?? '*';
      const wanted = versions.find((v) => semver.satisfies(v, range)) ?? c.version;
      const latest = versions[0] ?? c.version;
      if (wanted !== c.version || latest !== c.version) rows.push({ name, target, current: c.version, wanted, latest, range });
    }
  }
  return rows;
}

export interface TreeNode {
  name: string;
  version: string;
  /** How it is reached from its parent: a range, `capability <cap>`, or `one of <a> | <b>`. */
  via: string;
  /** A request of the project for this target only (rumpkg.json targetComponents). */
  targetOnly?: true;
  children: TreeNode[];
  /** Already shown above (cycles and shared dependencies are printed once). */
  deduped?: boolean;
}

/** The dependency tree of one target's closure, from the lockfile alone (offline). */
export function planTree(lock: Lockfile, target: Target, requested: Record<string, string>): TreeNode[] {
  const lt = lock.targets[target];
  if (lt === undefined) throw new RumpkgError('E_TARGET', `rumpkg.lock has no closure for ${target}`, { context: { target } });
  const seen = new Set<string>();
  const node = (name: string, via: string): TreeNode => {
    const c = lt.components[name];
    const version = c?.version ?? '?';
    if (seen.has(name) || c === undefined) return { name, version, via, children: [], ...(seen.has(name) ? { deduped: true } : {}) };
    seen.add(name);
    const kids: TreeNode[] = [];
    for (const [dep, range] of Object.entries(c.dependencies).sort(([a], [b]) => (a < b ? -1 : 1))) kids.push(node(dep, range));
    for (const [cap, provider] of Object.entries(c.requires).sort(([a], [b]) => (a < b ? -1 : 1))) kids.push(node(provider, `capability ${cap}`));
    for (const [key, choice] of Object.entries(c.anyOf ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) kids.push(node(choice.chosen, `one of ${key.split('|').join(' | ')}`));
    return { name, version, via, children: kids };
  };
  const only = lock.targetRequested?.[target] ?? {};
  const roots = Object.entries(requested)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([n, r]) => ({ ...node(n, r), ...(Object.hasOwn(only, n) ? { targetOnly: true as const } : {}) }));
  // Anything locked but not reached (e.g. a platform pulled only by a capability of the root).
  for (const name of lt.linkOrder) if (!seen.has(name)) roots.push(node(name, 'locked'));
  return roots;
}

/** Every chain from the project to `name` in one target's closure. */
export function planWhy(lock: Lockfile, target: Target, name: string): string[][] {
  const lt = lock.targets[target];
  if (lt === undefined) throw new RumpkgError('E_TARGET', `rumpkg.lock has no closure for ${target}`, { context: { target } });
  if (lt.components[name] === undefined) {
    throw new RumpkgError('E_NOT_FOUND', `${name} is not in the ${target} closure`, {
      context: { component: name, target },
      hint: 'rumpkg tree shows what is there',
    });
  }
  return whyChains(lt, name);
}

/**
 * What the chains to `name` in one target's closure pass through that a chain alone does not say
 * (from the lockfile, offline): a request for this target only, and for every any-of group on a
 * chain, which member was chosen and why. One sentence each, in chain order, each once.
 */
export function planWhyReasons(lock: Lockfile, target: Target, name: string): string[] {
  const lt = lock.targets[target];
  if (lt === undefined) return [];
  const out: string[] = [];
  const add = (line: string): void => {
    if (!out.includes(line)) out.push(line);
  };
  for (const chain of planWhy(lock, target, name)) {
    for (let i = 1; i < chain.length; i++) {
      const from = chain[i - 1] as string;
      const to = chain[i] as string;
      if (from === PROJECT) {
        if (lock.targetRequested?.[target]?.[to] !== undefined) add(`rumpkg.json requests ${to} for ${target} only`);
        continue;
      }
      for (const [key, choice] of Object.entries(lt.components[from]?.anyOf ?? {})) {
        if (choice.chosen === to) add(renderAnyOfChoice(from, key, choice, { target, neededBy: neededBy(lt, key, to) }));
      }
    }
  }
  return out;
}

/** A bare word → the locked component name it means (`tcpip`, `netinet`, `@rump/tcpip`). */
export function lockedNameFor(lock: Lockfile, word: string): string {
  if (word.startsWith('@')) return word;
  const all = Object.values(lock.targets).flatMap((t) => Object.entries(t.components));
  const exact = all.find(([n]) => n === `${DEFAULT_SCOPE}/${word}` || n.endsWith(`/${word}`));
  if (exact !== undefined) return exact[0];
  const byLib = all.find(([, c]) => c.lib === word || c.lib === `lib${word}` || c.lib.replace(/^librump[a-z]*_/, '') === word);
  return byLib?.[0] ?? `${DEFAULT_SCOPE}/${word}`;
}

function sortRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
