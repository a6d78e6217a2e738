/**
 * The resolver's view of the registries (resolver `Provider`): packument versions mapped to
 * `CandidateVersion`s. Metadata only — the solver never needs a tarball (DESIGN.md §4.1).
 *
 * - `versions(name)`: every version of the packument of `name` from the registry of its scope;
 *   targets = keys of `rump.targets`; yanked via `isYanked`; registry = scope key; tarball
 *   registry-relative; integrity passed through to the lockfile; `rump.anyOf` groups. Versions
 *   without a `rump` section are not components and are left out.
 * - `providersOf(cap)`: works from packuments alone, so any npm-protocol registry resolves
 *   capabilities. The candidates are the union of (1) the known providers that the manifests
 *   read so far name for `cap` (`rump.providers`, Debian's `a | b`: the requirer names its
 *   alternatives), (2) the components read so far that provide `cap`, and (3) the hits of a
 *   search for the keyword `rump-provides:<cap>` — an extension that finds providers nobody
 *   names yet (third-party platforms), on registries whose search indexes keywords. A search
 *   that fails (typed error: offline, HTTP error, no search endpoint) or finds nothing adds
 *   nothing; a hit whose keywords are shown and lack the keyword is no candidate. "Read so
 *   far" means every packument asked for before the call: it first waits for the fetches in
 *   flight and queued, so the answer is the same whatever the timing. Each
 *   candidate is then confirmed against its own metadata (some version provides `cap`); a name
 *   that is not published, or whose scope has no registry configured, is no provider.
 * - `prefetch(names)`: fetches packuments in parallel with bounded concurrency; failures are
 *   left for `versions` to report. The capability searches for what the newest version of a
 *   packument requires, and the reads of the providers it names for them, start as soon as it is
 *   read.
 */
import type { CandidateVersion, Provider } from '../../resolver/index.js';
import { isRumpkgError } from '../../components/index.js';
import type { RegistryClient, VersionInfo } from './client.js';

interface RegistryProviderOptions {
  /** Parallel packument fetches for `prefetch` (default 16). */
  concurrency?: number;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
/** `rump.providers` as published: capability → names (anything else in it is ignored). */
function providerLists(v: unknown): Array<[string, string[]]> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, unknown>).map(([cap, names]) => [cap, strings(names)]);
}
/** `rump.anyOf` as published: groups of names (malformed groups are dropped). */
function groups(v: unknown): string[][] {
  return Array.isArray(v) ? v.filter((g) => Array.isArray(g)).map((g) => strings(g)).filter((g) => g.length > 0) : [];
}
function record(v: unknown): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Maps one registry version to the solver's candidate (undefined when it is not a component). */
export function toCandidate(v: VersionInfo): CandidateVersion | undefined {
  const rump = v.manifest.rump as Record<string, unknown> | undefined;
  if (rump === undefined || rump === null || typeof rump !== 'object') return undefined;
  const targets = rump.targets !== null && typeof rump.targets === 'object' ? Object.keys(rump.targets as object).sort() : [];
  return {
    name: v.name,
    version: v.version,
    dependencies: record(v.manifest.dependencies),
    optionalDependencies: record(rump.optionalDependencies),
    requires: strings(rump.requires),
    provides: strings(rump.provides),
    conflicts: strings(rump.conflicts),
    ...(groups(rump.anyOf).length === 0 ? {} : { anyOf: groups(rump.anyOf) }),
    targets,
    yanked: v.yanked,
    kind: rump.kind === 'platform' ? 'platform' : 'component',
    lib: typeof rump.lib === 'string' ? rump.lib : '',
    license: typeof v.manifest.license === 'string' ? v.manifest.license : '',
    initLevels: strings(rump.initLevels),
    integrity: v.integrity,
    tarball: v.tarball,
    registry: v.registry,
  };
}

export function createRegistryProvider(client: RegistryClient, options: RegistryProviderOptions = {}): Provider {
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const cache = new Map<string, Promise<CandidateVersion[]>>();
  const searched = new Map<string, Promise<string[]>>();
  /** Capability → names that read manifests offer as its providers, or that provide it. */
  const known = new Map<string, Set<string>>();
  /** Fetches started and not settled; names waiting for a prefetch slot. */
  const inflight = new Set<Promise<unknown>>();
  const queue: string[] = [];
  let running = 0;

  const note = (cap: string, name: string): void => {
    let names = known.get(cap);
    if (names === undefined) known.set(cap, (names = new Set()));
    names.add(name);
  };

  const read = async (name: string): Promise<CandidateVersion[]> => {
    const vs = await client.versions(name);
    for (const v of vs) {
      const rump = v.manifest.rump as Record<string, unknown> | undefined;
      if (rump === undefined || rump === null || typeof rump !== 'object') continue;
      for (const [cap, names] of providerLists(rump.providers)) for (const n of names) note(cap, n);
      for (const cap of strings(rump.provides)) note(cap, name);
    }
    // The searches `providersOf` will likely make — for what the newest version requires — start
    // now, beside the packument fetches (an answer is memoised: the same whenever it is used).
    // So do the reads of the providers it names for them (the candidates providersOf confirms).
    const newest = vs[vs.length - 1]?.manifest.rump as Record<string, unknown> | undefined;
    if (newest !== undefined && newest !== null && typeof newest === 'object') {
      for (const cap of strings(newest.requires)) search(cap).catch(() => undefined);
      prefetch(providerLists(newest.providers).flatMap(([cap, names]) => (strings(newest.requires).includes(cap) ? names : [])));
    }
    return vs.flatMap((v) => toCandidate(v) ?? []);
  };

  const versions = (name: string): Promise<CandidateVersion[]> => {
    let p = cache.get(name);
    if (p === undefined) {
      p = read(name);
      cache.set(name, p);
      p.catch(() => cache.delete(name));
      const settled = p.then(
        () => undefined,
        () => undefined,
      );
      inflight.add(settled);
      void settled.then(() => inflight.delete(settled));
    }
    return p;
  };

  /** Search hits for the keyword; a registry that cannot answer (a typed error) has none. */
  const search = (capability: string): Promise<string[]> => {
    let p = searched.get(capability);
    if (p === undefined) {
      const keyword = `rump-provides:${capability}`;
      p = client.search([keyword], { size: 250 }).then(
        // A hit that shows its keywords without this one matched something else (a description):
        // not a candidate, and not worth fetching its packument to confirm.
        (hits) => hits.filter((h) => h.keywords.length === 0 || h.keywords.includes(keyword)).map((h) => h.name),
        (e: unknown) => {
          if (isRumpkgError(e)) return [];
          throw e;
        },
      );
      searched.set(capability, p);
    }
    return p;
  };

  /** Is `name` a published component that provides `capability`? Unknown names and unconfigured scopes are not. */
  const provides = async (name: string, capability: string): Promise<boolean> => {
    try {
      return (await versions(name)).some((c) => c.provides.includes(capability));
    } catch (e) {
      if (isRumpkgError(e, 'E_SCOPE') || isRumpkgError(e, 'E_NOT_FOUND')) return false;
      throw e;
    }
  };

  const providersOf = async (capability: string): Promise<string[]> => {
    const hits = await search(capability);
    // Every packument asked for so far has been read (or has failed) before the known set is taken.
    while (inflight.size > 0) await Promise.all([...inflight]);
    const names = [...new Set([...(known.get(capability) ?? []), ...hits])].sort();
    const confirmed = await Promise.all(names.map(async (n) => ((await provides(n, capability)) ? n : undefined)));
    return confirmed.filter((n): n is string => n !== undefined);
  };

  const next = (): void => {
    while (running < concurrency && queue.length > 0) {
      const n = queue.shift() as string;
      if (cache.has(n)) continue;
      running++;
      // Tracked until the next queued fetch has started, so `providersOf` never sees a gap.
      const task = versions(n)
        .catch(() => undefined)
        .finally(() => {
          running--;
          next();
        });
      inflight.add(task);
      void task.then(() => inflight.delete(task));
    }
  };

  const prefetch = (names: string[]): void => {
    for (const n of names) if (!cache.has(n) && !queue.includes(n)) queue.push(n);
    next();
  };

  return { versions, providersOf, prefetch };
}
