/**
 * The registry client: one small facade over one backend per registry kind (backend.ts: `file:`
 * storage in-process, `http(s):` over HTTP with the download cache), chosen per scope with no fallback (RG-06).
 *
 * Policies the facade applies whatever the backend:
 * - RG-01: metadata older than what this home has already seen is refused (home/ seen.ts).
 * - RG-08: a lockfile's tarball location must be the one the registry lists for the version.
 * - IN-01/02: the registry's `dist.integrity` must be sha512; the bytes must match it (and the
 *   caller's expected integrity, if given — a difference is E_INTEGRITY_LOCK, IN-03).
 * - IN-04: the version's registry metadata must equal the tarball's package.json
 *   → else E_MANIFEST_CONFUSION.
 * - Registry data is blamed on the registry: a version whose tarball location is not a tarball
 *   of that very name (`<name>/-/<file>.tgz` under the registry) is E_REGISTRY (another origin:
 *   E_FOREIGN_TARBALL) naming the registry URL and `name@version` — before it can reach a
 *   lockfile, whose own checks would otherwise blame the lockfile.
 * - Words are claims (docs/registry-policy.md): a bare word resolves to a component of the
 *   default scope only when exactly one component claims it (by name, alias or library name);
 *   two claimants are E_AMBIGUOUS_NAME naming both, whatever the registry and whatever their
 *   names' order — no registry but rumpkg's own enforces alias ownership. The candidates come
 *   from the registry's claims query where it has one (rumpkg's own: one request for all the
 *   words asked at once), else from a search per word; either way each is confirmed against its
 *   packument.
 * The backends add what is particular to their kind: RG-03 same-origin tarballs and RG-04/05,
 * NW-01/02 deadlines, caps, retries and offline handling (transport/) for HTTP.
 */
import { join } from 'node:path';
import { DEFAULT_SCOPE, RumpkgError, integrityOf, isRumpkgError, parseIntegrity, readProjectManifest, readTarballEntries, verifyIntegrity } from '../../components/index.js';
import { checkSeen, cleanStaleTemp, effectiveRegistries, ensureHome, normalizeRegistryUrl, readConfig, registryForName, resolveHome, type RumpkgConfig } from '../home/index.js';
import { DEFAULT_LIMITS, redactUrl, type TransportLimits } from '../transport/index.js';
import { componentClaims, isYanked, metadataDifferences, tarballPath, type Packument, type PackumentVersion } from '../storage/index.js';
import { createBackend } from './backend.js';
import type { BackendContext, BackendSearchHit, ClientReporter, RegistryBackend } from './types.js';
import compare from 'semver/functions/compare.js';
import valid from 'semver/functions/valid.js';

// Only the parts of semver in use: its index loads every module of the package (~15 ms at start-up).
const semver = { compare, valid };

export type { ClientReporter } from './types.js';

interface RegistryClientOptions {
  /** The rumpkg home root (cache under `<home>/cache`). */
  home: string;
  /** Scope → normalised registry URL (config.ts `effectiveRegistries`). */
  registries: Record<string, string>;
  /** NW-02: use only the cache; a miss is E_OFFLINE naming what is missing. */
  offline?: boolean;
  /** Revalidate cached packuments with the registry even when fresh. */
  preferOnline?: boolean;
  limits?: Partial<TransportLimits>;
  /** Injected fetch for publish/yank/search requests (tests). */
  fetch?: typeof fetch;
  reporter?: ClientReporter;
  /**
   * Takes the writes that only serve later runs off the critical path: the download cache's
   * entries (packuments, tarballs) and the RG-01 seen records are written when `flush` is
   * called, not as each answer is read. Every check is still made when the data is read (and a
   * seen record counts for the checks of this process at once); the caller must call `flush`
   * before it finishes, or those writes do not happen.
   *
   * A deferred client also knows, at `flush`, what each packument was used for: one read only to
   * confirm that another component does not claim a word (`resolveName`'s candidates) enters
   * the download cache only when the registry lets it be used without asking (max-age). Offline
   * such packuments are never read (searching needs the network), and online a `no-cache` copy
   * would only turn the next answer into a 304 — while each entry costs a cold run two fresh
   * directory pairs and three files. Its seen record is written like any other (RG-01).
   */
  deferWrites?: boolean;
}

/** One version as the client hands it to callers (provider, info). */
export interface VersionInfo {
  name: string;
  version: string;
  /** The registry metadata of this version (package.json + dist). */
  manifest: PackumentVersion;
  integrity: string;
  /** Registry-relative tarball location, e.g. `@rump/tcpip/-/tcpip-10.0.0.tgz`. */
  tarball: string;
  /** The scope key whose registry serves it. */
  registry: string;
  yanked: boolean;
  deprecated?: string;
  time?: string;
}

interface ClientPublishResult {
  name: string;
  version: string;
  integrity: string;
  tag: string;
  /** The registry URL (redacted) it went to. */
  registry: string;
}

type ClientSearchHit = BackendSearchHit & {
  /** The scope key whose registry answered. */
  registry: string;
};

export interface RegistryClient {
  readonly offline: boolean;
  /** The registry that serves `name` (E_SCOPE when none). */
  registryFor(name: string): { scope: string; url: string };
  /** The full packument (E_NOT_FOUND for an unknown name). Memoised per client. */
  packument(name: string): Promise<Packument>;
  /** All versions, oldest first; an unknown name gives []. */
  versions(name: string): Promise<VersionInfo[]>;
  /** Fetches and checks one tarball (see the module head for the policies). */
  tarball(name: string, version: string, options?: { integrity?: string; tarball?: string }): Promise<Buffer>;
  /**
   * `tarball` for a caller that unpacks the bytes anyway and keeps them (the store): every check
   * but IN-04, which is `checkPackageJson`, run on the package.json unpack read — one validation
   * pass instead of two. The caller must call it before it puts anything unpacked in place.
   * Downloaded bytes do not enter the download cache (the caller keeps them); `bytes`, a copy
   * the caller kept, stands in for the download when it matches the registry's integrity —
   * every check of the metadata still applies.
   */
  tarballToUnpack(name: string, version: string, options?: { integrity?: string; tarball?: string; bytes?: Buffer }): Promise<{ bytes: Buffer; checkPackageJson(packageJson: unknown): void }>;
  publish(tgz: Uint8Array, options?: { registry?: string; tag?: string; token?: string }): Promise<ClientPublishResult>;
  yank(name: string, version: string, options?: { undo?: boolean; reason?: string; token?: string }): Promise<void>;
  search(words: string[], options?: { size?: number; scope?: string }): Promise<ClientSearchHit[]>;
  /**
   * A word from the command line → a component name: scoped names stay; a bare word means the
   * component of the default scope that claims it — by name (`tcpip` → `@rump/tcpip`), alias or
   * library name (`netinet` → `@rump/tcpip`, with a note saying so). Two components claiming the
   * word is E_AMBIGUOUS_NAME naming both (the hint shows `rumpkg <verb> <full name>`); none gives
   * the default-scope name (whose absence the caller reports). Lookups asked in one synchronous
   * stretch (the words of one command) share one claims request per registry.
   */
  resolveName(word: string, options?: { defaultScope?: string; verb?: string }): Promise<{ name: string; note?: string }>;
  /**
   * Runs the writes deferred so far (`deferWrites`: cache entries, seen records) and waits for
   * them; without `deferWrites` there are none. Never rejects: a failed write is a warning.
   */
  flush(): Promise<void>;
}

/** A tarball's package.json as a record (E_TAR_CONTENT when it is another JSON value). */
function packageJsonRecord(pj: unknown, what: string): Record<string, unknown> {
  if (pj === null || typeof pj !== 'object' || Array.isArray(pj)) {
    throw new RumpkgError('E_TAR_CONTENT', `${what}: package/package.json is not a JSON object`, { context: { component: what } });
  }
  return pj as Record<string, unknown>;
}

/** A tarball file name as npm writes it: `tcpip-10.0.0.tgz`, never a path. */
const TARBALL_FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*\.tgz$/;

/**
 * The registry-relative location the registry lists for `name@version`, if it is a tarball of
 * that very name (`<name>/-/<file>.tgz`); otherwise the registry served bad data, and the error
 * says so (the lockfile's own policy would otherwise blame a lockfile that may not even exist).
 */
function checkTarballLocation(name: string, version: string, location: string, registryUrl: string): string {
  const id = `${name}@${version}`;
  const file = location.startsWith(`${name}/-/`) ? location.slice(name.length + 3) : undefined;
  if (file !== undefined && TARBALL_FILE_RE.test(file) && !file.includes('..')) return location;
  const shown = JSON.stringify(location.slice(0, 200));
  if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(location)) {
    throw new RumpkgError('E_FOREIGN_TARBALL', `${redactUrl(registryUrl)} lists the tarball of ${id} at ${redactUrl(location.slice(0, 200))}, outside the registry`, {
      context: { component: id, url: redactUrl(registryUrl), tarball: redactUrl(location.slice(0, 200)) },
      hint: 'rumpkg only downloads a tarball from the registry that served its metadata (dependency confusion guard); nothing was fetched or written',
    });
  }
  throw new RumpkgError('E_REGISTRY', `${redactUrl(registryUrl)} lists the tarball of ${id} as ${shown}, which is not a tarball of ${name} (expected ${tarballPath(name, version)})`, {
    context: { component: id, url: redactUrl(registryUrl), tarball: location.slice(0, 200) },
    hint: 'the registry serves hostile or broken metadata for this version; nothing was fetched or written — report it to the registry operator',
  });
}

/** Reads the tarball's package.json (validation pass over all headers, no writes). */
async function tarballPackageJson(tgz: Uint8Array, integrity: string | undefined, what: string): Promise<Record<string, unknown>> {
  const r = await readTarballEntries(Buffer.from(tgz), { what, ...(integrity === undefined ? {} : { integrity }) });
  return packageJsonRecord(r.packageJson, what);
}

/** IN-04: the registry's version metadata must describe the tarball's own package.json. */
function checkManifestConfusion(id: string, doc: PackumentVersion, inside: Record<string, unknown>): void {
  const diffs = metadataDifferences(doc as unknown as Record<string, unknown>, inside);
  if (diffs.length > 0) {
    throw new RumpkgError('E_MANIFEST_CONFUSION', `${id}: registry metadata differs from the tarball's package.json in ${diffs.join(', ')}`, {
      context: { component: id, fields: diffs },
      hint: 'the registry serves metadata that does not describe the tarball; do not use this version',
    });
  }
}

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  /** Writes waiting for `flush` (deferWrites), each with the test of whether it is still wanted then. */
  const deferred: Array<{ task: () => Promise<void>; wanted?: () => boolean }> = [];
  const defer = options.deferWrites === true ? (task: () => Promise<void>): void => void deferred.push({ task }) : undefined;
  /** Names whose packument served more than a claim check (resolveName's candidates). */
  const used = new Set<string>();
  const ctx: BackendContext = {
    home: options.home,
    limits: { ...DEFAULT_LIMITS, ...(options.limits ?? {}) },
    offline: options.offline === true,
    preferOnline: options.preferOnline === true,
    reporter: options.reporter ?? {},
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    later: (task, entry) => {
      if (defer === undefined) return task();
      deferred.push({ task, ...(entry === undefined || entry.fresh ? {} : { wanted: () => used.has(entry.packument) }) });
      return Promise.resolve();
    },
  };
  const offline = ctx.offline;
  const reporter = ctx.reporter;
  const packuments = new Map<string, Promise<Packument>>();
  const backends = new Map<string, RegistryBackend>();

  const registryFor = (name: string): { scope: string; url: string } => registryForName(name, options.registries);

  const backendOf = (url: string): RegistryBackend => {
    let b = backends.get(url);
    if (b === undefined) backends.set(url, (b = createBackend(url, ctx)));
    return b;
  };

  const fetchPackument = async (name: string): Promise<Packument> => {
    const { url } = registryFor(name);
    const p = await backendOf(url).readPackument(name);
    // RG-01: never accept metadata older than what this home has already seen.
    await checkSeen(options.home, url, p, {
      name,
      onWriteError: (e) => reporter.warn?.(`could not record the metadata of ${name}: ${(e as { code?: unknown }).code ?? 'error'}`),
      ...(defer === undefined ? {} : { defer }),
    });
    return p;
  };

  /** The packument of `name`, memoised; `packument` (what callers use) also marks it used. */
  const read = (name: string): Promise<Packument> => {
    let p = packuments.get(name);
    if (p === undefined) {
      p = fetchPackument(name);
      packuments.set(name, p);
      p.catch(() => packuments.delete(name));
    }
    return p;
  };

  const packument = (name: string): Promise<Packument> => {
    used.add(name);
    return read(name);
  };

  /**
   * The list `versions` made from each packument object read (one per name while it is
   * memoised): the provider and the project flow both ask for the names a user typed, and each
   * list costs a sort and a check of every version. Callers get a copy of the array.
   */
  const listed = new WeakMap<Packument, VersionInfo[]>();

  const versions = async (name: string): Promise<VersionInfo[]> => {
    let p: Packument;
    try {
      p = await packument(name);
    } catch (e) {
      if (e instanceof RumpkgError && e.code === 'E_NOT_FOUND') return [];
      throw e;
    }
    let list = listed.get(p);
    if (list === undefined) listed.set(p, (list = listVersions(name, p)));
    return [...list];
  };

  const listVersions = (name: string, p: Packument): VersionInfo[] => {
    const { scope, url } = registryFor(name);
    const backend = backendOf(url);
    return Object.entries(p.versions)
      .filter(([v]) => semver.valid(v) !== null)
      .sort(([a], [b]) => semver.compare(a, b))
      .map(([v, doc]) => ({
        name,
        version: v,
        manifest: doc,
        integrity: doc.dist?.integrity ?? '',
        tarball: checkTarballLocation(name, v, backend.tarballLocation(name, v, doc), url),
        registry: scope,
        yanked: isYanked(doc),
        ...(typeof doc.deprecated === 'string' && doc.deprecated !== '' ? { deprecated: doc.deprecated } : {}),
        ...(typeof p.time?.[v] === 'string' ? { time: p.time[v] } : {}),
      }));
  };

  /** The verified bytes of name@version and its registry metadata: every policy but IN-04. */
  const fetchVerified = async (
    name: string,
    version: string,
    opts: { integrity?: string; tarball?: string; kept?: Buffer; keep?: boolean },
  ): Promise<{ id: string; bytes: Buffer; doc: PackumentVersion; sri: string }> => {
    const id = `${name}@${version}`;
    const { url: registryUrl } = registryFor(name);
    const backend = backendOf(registryUrl);
    const p = await packument(name);
    const doc = p.versions[version];
    if (doc === undefined) {
      if (opts.integrity !== undefined) {
        // RG-01: the lockfile pins a version the registry no longer lists.
        throw new RumpkgError('E_REGISTRY_ROLLBACK', `${id} is locked, but ${redactUrl(registryUrl)} no longer lists it (known: ${Object.keys(p.versions).slice(-8).join(', ') || 'none'})`, {
          context: { component: id, url: redactUrl(registryUrl) },
          hint: 'a published version never disappears from an honest registry: the registry may be serving rolled-back metadata; the lockfile is left as it is',
        });
      }
      throw new RumpkgError('E_NOT_FOUND', `${id} is not published (known: ${Object.keys(p.versions).slice(-8).join(', ') || 'none'})`, {
        context: { component: id, url: redactUrl(registryUrl) },
      });
    }
    // RG-08: a lockfile's tarball location must be the one the registry lists for this version.
    if (opts.tarball !== undefined) {
      const listed = backend.tarballLocation(name, version, doc);
      if (opts.tarball !== listed) {
        throw new RumpkgError('E_LOCKFILE', `${id}: the lockfile says the tarball is ${JSON.stringify(opts.tarball)} but ${redactUrl(registryUrl)} lists ${JSON.stringify(listed)}`, {
          context: { component: id, tarball: opts.tarball, listed },
          hint: 'the lockfile was edited by hand or by someone else; restore it from version control',
        });
      }
    }
    // IN-02: the registry's integrity must be present and sha512.
    const declared = parseIntegrity(doc.dist?.integrity, { what: id });
    if (declared.algorithm !== 'sha512') {
      throw new RumpkgError('E_INTEGRITY_WEAK', `${id}: the registry gives only ${declared.algorithm} integrity; rumpkg requires sha512`, {
        context: { component: id },
        hint: 'republish the component with rumpkg',
      });
    }
    // IN-03: what the caller expects (the lockfile) must be what the registry says.
    if (opts.integrity !== undefined) {
      const expected = parseIntegrity(opts.integrity, { what: id });
      if (expected.sri !== declared.sri) {
        throw new RumpkgError('E_INTEGRITY_LOCK', `${id}: the lockfile says ${expected.sri} but the registry says ${declared.sri}`, {
          context: { component: id, expected: expected.sri, registry: declared.sri },
          hint: 'a published version must never change; the lockfile is not rewritten — investigate the registry',
        });
      }
    }
    const kept = opts.kept !== undefined && integrityOf(opts.kept) === declared.sri ? opts.kept : undefined;
    const bytes = kept ?? (await backend.readTarball(id, name, version, doc, declared.sri, opts.keep === false ? { keep: false } : {}));
    verifyIntegrity(bytes, declared.sri, { what: id });
    return { id, bytes, doc, sri: declared.sri };
  };

  const tarball = async (name: string, version: string, opts: { integrity?: string; tarball?: string } = {}): Promise<Buffer> => {
    const { id, bytes, doc, sri } = await fetchVerified(name, version, opts);
    // IN-04: metadata ≠ the tarball's own package.json → manifest confusion.
    checkManifestConfusion(id, doc, await tarballPackageJson(bytes, sri, id));
    return bytes;
  };

  const tarballToUnpack = async (name: string, version: string, opts: { integrity?: string; tarball?: string; bytes?: Buffer } = {}): Promise<{ bytes: Buffer; checkPackageJson(packageJson: unknown): void }> => {
    const { id, bytes, doc } = await fetchVerified(name, version, {
      ...(opts.integrity === undefined ? {} : { integrity: opts.integrity }),
      ...(opts.tarball === undefined ? {} : { tarball: opts.tarball }),
      ...(opts.bytes === undefined ? {} : { kept: opts.bytes }),
      keep: false,
    });
    return { bytes, checkPackageJson: (pj) => checkManifestConfusion(id, doc, packageJsonRecord(pj, id)) };
  };

  const publish = async (tgz: Uint8Array, opts: { registry?: string; tag?: string; token?: string } = {}): Promise<ClientPublishResult> => {
    const bytes = Buffer.from(tgz);
    const integrity = integrityOf(bytes);
    const pj = await tarballPackageJson(bytes, integrity, 'the tarball to publish');
    const name = String(pj.name);
    const version = String(pj.version);
    const tag = opts.tag ?? 'latest';
    const registryUrl = opts.registry ?? registryFor(name).url;
    const r = await backendOf(registryUrl).publish(bytes, pj, { tag, ...(opts.token === undefined ? {} : { token: opts.token }) });
    packuments.delete(name);
    return { name, version, integrity, tag, registry: r.registry };
  };

  const yank = async (name: string, version: string, opts: { undo?: boolean; reason?: string; token?: string } = {}): Promise<void> => {
    packuments.delete(name);
    await backendOf(registryFor(name).url).yank(name, version, {
      undo: opts.undo === true,
      ...(opts.reason === undefined ? {} : { reason: opts.reason }),
      ...(opts.token === undefined ? {} : { token: opts.token }),
    });
  };

  const search = async (words: string[], opts: { size?: number; scope?: string } = {}): Promise<ClientSearchHit[]> => {
    const size = opts.size ?? 20;
    const scopes = opts.scope !== undefined ? [opts.scope] : Object.keys(options.registries).sort();
    // Each registry is asked once, however many scopes are pinned to it, and a hit counts only
    // when its scope is one of those asked and pinned to the registry that answered (RG-06: a
    // name is only ever fetched from its scope's registry).
    const urls = [...new Set(scopes.flatMap((s) => (options.registries[s] === undefined ? [] : [options.registries[s]!])))];
    const all = await Promise.all(
      urls.map(async (url): Promise<ClientSearchHit[]> =>
        (await backendOf(url).search(words, { size })).flatMap((h) => {
          const scope = h.name.startsWith('@') ? h.name.slice(0, Math.max(0, h.name.indexOf('/'))) : '';
          return scopes.includes(scope) && options.registries[scope] === url ? [{ ...h, registry: scope }] : [];
        }),
      ),
    );
    const best = new Map<string, ClientSearchHit>();
    for (const h of all.flat()) if ((best.get(h.name)?.score ?? -Infinity) < h.score) best.set(h.name, h);
    return [...best.values()].sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, size);
  };

  /**
   * Claim lookups waiting for their registry's answer, per registry URL: the words asked in one
   * synchronous stretch (the project flow resolves every word of a command line at once) share
   * one request, sent on the next microtask.
   */
  const claimBatches = new Map<string, { words: Set<string>; answer: Promise<Map<string, string[]>> }>();

  /** Who claims `word` (lower-cased) at the registry `url`, by its claims query; rejects when it has none. */
  const claimantsAt = (url: string, word: string): Promise<string[]> => {
    let batch = claimBatches.get(url);
    if (batch === undefined) {
      const words = new Set<string>();
      const answer = Promise.resolve().then(() => {
        claimBatches.delete(url);
        return backendOf(url).claimants([...words]);
      });
      claimBatches.set(url, (batch = { words, answer }));
    }
    batch.words.add(word);
    return batch.answer.then((claims) => claims.get(word) ?? []);
  };

  /**
   * The components that may claim `word` in `scope` (to be confirmed against their packuments):
   * the registry's claimants when it can name them, else the hits of a search for the word. A
   * registry that can do neither (or --offline over HTTP) gives none.
   */
  const claimCandidates = async (word: string, scope: string): Promise<string[]> => {
    const url = options.registries[scope];
    if (url === undefined) return [];
    try {
      return await claimantsAt(url, word.toLowerCase());
    } catch {
      return (await search([word], { size: 50, scope }).catch(() => [] as ClientSearchHit[])).map((h) => h.name);
    }
  };

  const resolveName = async (word: string, opts: { defaultScope?: string; verb?: string } = {}): Promise<{ name: string; note?: string }> => {
    if (word.startsWith('@')) return { name: word };
    const scope = opts.defaultScope ?? DEFAULT_SCOPE;
    const qualified = `${scope}/${word}`;
    const want = word.toLowerCase();
    // The name itself and the candidates for every other component of the scope that claims the
    // word are asked at once, and the packuments of the candidates as soon as they are known
    // (not after the name's own packument is read). A registry that can neither name claimants
    // nor search (or --offline over HTTP) leaves only the name itself to go by.
    const named = packument(qualified).then(
      () => true,
      (e: unknown) => {
        if (!isRumpkgError(e, 'E_NOT_FOUND')) throw e;
        return false;
      },
    );
    named.catch(() => undefined); // awaited below; its failure is the answer then
    const candidates = await claimCandidates(word, scope);
    const others = [...new Set(candidates)].filter((n) => n !== qualified && n.startsWith(`${scope}/`)).sort();
    const claimed: Array<{ name: string; as: string }> = [];
    const confirmed = Promise.all(
      others.map(async (n) => {
        const p = await read(n).catch(() => undefined);
        const as = p === undefined ? undefined : componentClaims(n, p).get(want);
        if (as !== undefined) claimed.push({ name: n, as });
      }),
    );
    const claimants: Array<{ name: string; as: string }> = (await named) ? [{ name: qualified, as: 'name' }] : [];
    await confirmed;
    claimants.push(...claimed);
    claimants.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (claimants.length > 1) {
      const verb = opts.verb ?? 'add';
      throw new RumpkgError('E_AMBIGUOUS_NAME', `"${word}" is claimed by ${claimants.length} components: ${claimants.map((c) => `${c.name} (its ${c.as})`).join(', ')}; rumpkg does not choose between them`, {
        context: { word, candidates: claimants, registry: redactUrl(registryFor(qualified).url) },
        hint: `name the one you mean in full: ${claimants.map((c) => `rumpkg ${verb} ${c.name}`).join(', or ')} (docs/registry-policy.md)`,
      });
    }
    const only = claimants[0];
    if (only === undefined || only.name === qualified) return { name: qualified };
    return { name: only.name, note: `${word} is the ${only.as} of ${only.name}; rumpkg.json records the full name` };
  };

  const flush = async (): Promise<void> => {
    for (;;) {
      // What is not wanted now stays queued: a later use of that packument makes it wanted.
      const tasks = deferred.filter((t) => t.wanted?.() ?? true);
      if (tasks.length === 0) return;
      for (const t of tasks) deferred.splice(deferred.indexOf(t), 1);
      await Promise.all(tasks.map((t) => t.task().catch(() => undefined)));
    }
  };

  return { offline, registryFor, packument, versions, tarball, tarballToUnpack, publish, yank, search, resolveName, flush };
}

interface OpenClientOptions {
  /** The working directory; its `rumpkg.json` `registries` override the home config. */
  cwd: string;
  offline?: boolean;
  preferOnline?: boolean;
  reporter?: ClientReporter;
  env?: NodeJS.ProcessEnv;
  limits?: Partial<TransportLimits>;
  /**
   * A command's `--registry URL`: this registry serves every scope for this run (the default
   * scope included), instead of what config.json and rumpkg.json pin.
   */
  registry?: string;
  /** See RegistryClientOptions `deferWrites` (the caller must `flush`). */
  deferWrites?: boolean;
}

/** The client for a CLI run: home from `$RUMPKG_HOME`, config, and the project's registries. */
export async function openRegistryClient(options: OpenClientOptions): Promise<{
  client: RegistryClient;
  home: string;
  config: RumpkgConfig;
  registries: Record<string, string>;
}> {
  const home = resolveHome(options.env ?? process.env);
  await ensureHome(home);
  await cleanStaleTemp(home);
  const config = await readConfig(home);
  // The project's registries, from rumpkg.json read by its one validated reader (absent: none).
  let project: Record<string, string> | undefined;
  try {
    project = (await readProjectManifest(join(options.cwd, 'rumpkg.json'))).registries;
  } catch (e) {
    if (!isRumpkgError(e, 'E_NOT_FOUND')) throw e;
  }
  let registries = effectiveRegistries(config, { ...(project === undefined ? {} : { project }), projectDir: options.cwd });
  if (options.registry !== undefined) {
    const url = normalizeRegistryUrl(options.registry, { base: options.cwd });
    registries = Object.fromEntries([...new Set([...Object.keys(registries), config.defaultScope])].sort().map((scope) => [scope, url]));
  }
  const client = createRegistryClient({
    home,
    registries,
    ...(options.offline === undefined ? {} : { offline: options.offline }),
    ...(options.preferOnline === undefined ? {} : { preferOnline: options.preferOnline }),
    ...(options.reporter === undefined ? {} : { reporter: options.reporter }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.deferWrites === undefined ? {} : { deferWrites: options.deferWrites }),
  });
  return { client, home, config, registries };
}

