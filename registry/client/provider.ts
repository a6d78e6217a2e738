/**
 * The resolver's view of the registries (resolver `Provider`): packument versions mapped to
 * `CandidateVersion`s. Metadata only — the solver never needs a tarball (DESIGN.md §4.1).
 *
 * - `versions(name)`: every version of the packument of `name` from the registry of its scope;
 *   targets = keys of `rump.targets`; yanked via `isYanked`; registry = scope key; tarball
 *   registry-relative; integrity passed through to the lockfile. Versions without a `rump`
 *   section are not components and are left out.
 * - `providersOf(cap)`: a search for the keyword `rump-provides:<cap>` (published components
 *   carry one keyword per capability they provide), confirmed against each hit's metadata.
 * - `prefetch(names)`: fetches packuments in parallel with bounded concurrency; failures are
 *   left for `versions` to report.
 */
import type { CandidateVersion, Provider } from '../../resolver/index.js';
import type { RegistryClient, VersionInfo } from './client.js';

interface RegistryProviderOptions {
  /** Parallel packument fetches for `prefetch` (default 16). */
  concurrency?: number;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
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
  const providers = new Map<string, Promise<string[]>>();

  const versions = (name: string): Promise<CandidateVersion[]> => {
    let p = cache.get(name);
    if (p === undefined) {
      p = client.versions(name).then((vs) => vs.flatMap((v) => toCandidate(v) ?? []));
      cache.set(name, p);
      p.catch(() => cache.delete(name));
    }
    return p;
  };

  const providersOf = (capability: string): Promise<string[]> => {
    let p = providers.get(capability);
    if (p === undefined) {
      p = (async () => {
        const hits = await client.search([`rump-provides:${capability}`], { size: 250 });
        const names = [...new Set(hits.map((h) => h.name))].sort();
        const confirmed = await Promise.all(
          names.map(async (n) => ((await versions(n)).some((c) => c.provides.includes(capability)) ? n : undefined)),
        );
        return confirmed.filter((n): n is string => n !== undefined);
      })();
      providers.set(capability, p);
      p.catch(() => providers.delete(capability));
    }
    return p;
  };

  const prefetch = (names: string[]): void => {
    const queue = names.filter((n) => !cache.has(n));
    let running = 0;
    const next = (): void => {
      while (running < concurrency && queue.length > 0) {
        const n = queue.shift() as string;
        if (cache.has(n)) continue;
        running++;
        versions(n)
          .catch(() => undefined)
          .finally(() => {
            running--;
            next();
          });
      }
    };
    next();
  };

  return { versions, providersOf, prefetch };
}
