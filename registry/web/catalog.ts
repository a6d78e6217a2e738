/**
 * What the web pages show, read from the registry's storage: a summary per component (its latest
 * version's description, licence, targets, kind) and, for one component, the closure of its
 * latest version per target, solved by the resolver over the registry's own packuments (an
 * in-memory provider: the pages never reach another registry).
 * Nothing here renders HTML; only what anonymous `GET` requests can read is used.
 */
import compare from 'semver/functions/compare.js';
import prerelease from 'semver/functions/prerelease.js';
import valid from 'semver/functions/valid.js';
import { isRumpkgError } from '../../components/index.js';
import { createMemoryProvider, solve, type CandidateVersion, type Resolution } from '../../resolver/index.js';
import { isYanked, tarballPath, type Packument, type PackumentVersion, type RegistryStorage } from '../storage/index.js';
import { toCandidate } from '../client/index.js';

const semver = { compare, prerelease, valid };

export interface ComponentSummary {
  name: string;
  /** The version the pages call latest (see `latestVersion`). */
  latest: string;
  description: string;
  license: string;
  kind: string;
  lib: string;
  aliases: string[];
  keywords: string[];
  /** Targets the latest version ships. */
  targets: string[];
  versions: number;
  /** Every version is yanked. */
  yanked: boolean;
  modified: string;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const rumpOf = (v: PackumentVersion | undefined): Record<string, unknown> => (v?.rump !== null && typeof v?.rump === 'object' ? v.rump : {});

/** The valid versions of a packument, oldest first. */
export function sortedVersions(p: Packument): string[] {
  return Object.keys(p.versions)
    .filter((v) => semver.valid(v) === v)
    .sort(semver.compare);
}

/** Targets a version ships (keys of `rump.targets`), sorted. */
export function targetsOf(v: PackumentVersion | undefined): string[] {
  const t = rumpOf(v).targets;
  return t !== null && typeof t === 'object' && !Array.isArray(t) ? Object.keys(t).sort() : [];
}

/**
 * The version a person means by "latest": the `latest` dist-tag unless it is yanked, else the
 * newest version that is neither yanked nor a prerelease, else the newest; `pick` narrows (e.g.
 * to the versions shipping one target).
 */
export function latestVersion(p: Packument, pick: (v: string) => boolean = () => true): string | undefined {
  const all = sortedVersions(p).filter(pick);
  const tagged = p['dist-tags'].latest;
  if (tagged !== undefined && all.includes(tagged) && !isYanked(p.versions[tagged])) return tagged;
  const live = all.filter((v) => !isYanked(p.versions[v]));
  return live.filter((v) => semver.prerelease(v) === null).at(-1) ?? live.at(-1) ?? all.at(-1);
}

export function summarize(p: Packument): ComponentSummary | undefined {
  const latest = latestVersion(p);
  if (latest === undefined) return undefined;
  const v = p.versions[latest];
  const rump = rumpOf(v);
  return {
    name: p.name,
    latest,
    description: text(v?.description) || text(p.description),
    license: text(v?.license),
    kind: rump.kind === 'platform' ? 'platform' : 'component',
    lib: text(rump.lib),
    aliases: strings(rump.aliases),
    keywords: strings(v?.keywords),
    targets: targetsOf(v),
    versions: sortedVersions(p).length,
    yanked: sortedVersions(p).every((x) => isYanked(p.versions[x])),
    modified: text(p.time.modified),
  };
}

/** Every packument of the registry (names that vanish or do not parse are skipped). */
export async function readPackuments(storage: RegistryStorage): Promise<Packument[]> {
  const out: Packument[] = [];
  for (const name of await storage.listNames()) {
    try {
      out.push(await storage.readPackument(name));
    } catch (e) {
      if (!isRumpkgError(e)) throw e;
    }
  }
  return out;
}

/** The solver's candidates of every component in `packuments`. */
export function candidatesOf(packuments: readonly Packument[]): CandidateVersion[] {
  const out: CandidateVersion[] = [];
  for (const p of packuments) {
    const scope = p.name.startsWith('@') ? (p.name.split('/')[0] as string) : '';
    for (const version of sortedVersions(p)) {
      const doc = p.versions[version] as PackumentVersion;
      const c = toCandidate({
        name: p.name,
        version,
        manifest: doc,
        integrity: text(doc.dist?.integrity),
        tarball: tarballPath(p.name, version),
        registry: scope,
        yanked: isYanked(doc),
      });
      if (c !== undefined) out.push(c);
    }
  }
  return out;
}

/** One target's closure of a component's latest version there. */
export interface TargetClosure {
  target: string;
  version: string;
  resolution: Resolution;
}

/** The project name the component pages solve for (what their graphs and explanations call it). */
export const WEB_PROJECT = 'your project';

/**
 * For each target some version of `name` ships: the latest version shipping it, solved on that
 * target against the registry's own components (a yanked latest is allowed, as if locked).
 */
export async function solveLatestPerTarget(packuments: readonly Packument[], name: string): Promise<TargetClosure[]> {
  const p = packuments.find((x) => x.name === name);
  if (p === undefined) return [];
  const provider = createMemoryProvider(candidatesOf(packuments));
  const targets = [...new Set(sortedVersions(p).flatMap((v) => targetsOf(p.versions[v])))].sort();
  const out: TargetClosure[] = [];
  for (const target of targets) {
    const version = latestVersion(p, (v) => targetsOf(p.versions[v]).includes(target));
    if (version === undefined) continue;
    const resolution = await solve(
      { root: { name: WEB_PROJECT, dependencies: { [name]: version } }, target, locked: { [name]: version }, prerelease: [name] },
      provider,
      { maxSteps: 200_000 },
    );
    out.push({ target, version, resolution });
  }
  return out;
}
