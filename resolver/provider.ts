/**
 * The provider interface: the only way the solver sees the world (README.md § provider.ts).
 * The registry client implements it over registry metadata; tests use `createMemoryProvider`
 * and the one-line builder `registryOf`.
 */
import type { ComponentKind } from '../components/index.js';

/** One published version of a component, as the solver needs it (metadata only, no tarball). */
export interface CandidateVersion {
  name: string;
  version: string;
  /** Hard edges: name → range. */
  dependencies: Record<string, string>;
  /** Recorded on the solution, never pulled in. */
  optionalDependencies: Record<string, string>;
  /** Capabilities, e.g. `bus:pci`, `hypercall:17`. */
  requires: string[];
  provides: string[];
  /** Component names this version can never be linked with. */
  conflicts: string[];
  /** Any-of requirements: one member of each group must be in the closure (default none). */
  anyOf?: string[][];
  /** The targets this version ships. */
  targets: string[];
  yanked: boolean;
  kind: ComponentKind;
  lib: string;
  license: string;
  initLevels: string[];
  /** Passed through to the lockfile. */
  integrity?: string;
  tarball?: string;
  registry?: string;
}

export interface Provider {
  /**
   * Every published version of `name` (any order); an unknown name gives []. Never modified by
   * the solver. A frozen list is a promise that neither it nor its candidates ever change: what
   * listings derive from it is then shared by every solve (package-lister.ts `listComponent`).
   */
  versions(name: string): Promise<readonly CandidateVersion[]>;
  /**
   * Optional: what `versions(name)` would give, when it is at hand without waiting (a memory
   * provider, a client's cache), else `undefined` and the solver awaits `versions`. The same
   * contract as `versions` (unknown name → [], never modified); throwing fails the listing like
   * a rejection. It lets a solve over a memory provider skip a promise and an await per listing
   * (b3: ~210,000 per round).
   */
  versionsNow?(name: string): readonly CandidateVersion[] | undefined;
  /** Names with some version providing `capability` (any order). */
  providersOf(capability: string): Promise<string[]>;
  /** A hint that these names will be asked for soon: fetch them in parallel. */
  prefetch?(names: string[]): void;
}

/** What `versions` gives for an unknown name (shared). */
const NO_VERSIONS: readonly CandidateVersion[] = Object.freeze([]);

/**
 * A provider over a fixed list (tests, benchmarks, offline use of a lockfile's metadata), whose
 * candidates must not change afterwards. `versions` hands out its own per-name lists, frozen, not
 * copies: a solve keeps the lists of every package it lists (b3: ~182,000 listings per round),
 * and a copy of each was ~5 % of its allocation; and solves share what they derive from a frozen
 * list.
 */
export function createMemoryProvider(list: readonly CandidateVersion[]): Provider {
  const byName = new Map<string, CandidateVersion[]>();
  const byCapability = new Map<string, Set<string>>();
  // Index loops: a registry has a million candidates, and an iterator per `provides` list shows.
  // A name's candidates are usually adjacent: each run of one name is copied at once (one lookup
  // per run, not per candidate, and a list of the exact size: lists grown by `push` carry up to
  // twice their length in spare slots for as long as the provider lives).
  const addRun = (from: number, to: number): void => {
    const name = (list[from] as CandidateVersion).name;
    const versions = byName.get(name);
    if (versions === undefined) byName.set(name, list.slice(from, to));
    else for (let k = from; k < to; k++) versions.push(list[k] as CandidateVersion);
  };
  let runStart = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i] as CandidateVersion;
    if (c.name !== (list[runStart] as CandidateVersion).name) {
      addRun(runStart, i);
      runStart = i;
    }
    for (let k = 0; k < c.provides.length; k++) {
      const cap = c.provides[k] as string;
      let names = byCapability.get(cap);
      if (names === undefined) {
        names = new Set();
        byCapability.set(cap, names);
      }
      names.add(c.name);
    }
  }
  if (list.length > 0) addRun(runStart, list.length);
  const now = (name: string): readonly CandidateVersion[] => {
    const versions = byName.get(name);
    if (versions === undefined) return NO_VERSIONS;
    // Frozen when first handed out (freezing every list up front cost a large registry ~10 ms).
    if (!Object.isFrozen(versions)) Object.freeze(versions);
    return versions;
  };
  return {
    versions: (name) => Promise.resolve(now(name)),
    versionsNow: now,
    providersOf: async (capability) => [...(byCapability.get(capability) ?? [])],
  };
}

/** The long form of one `registryOf` entry; a plain `Record<string, string>` is just `deps`. */
export interface CandidateSpec {
  deps?: Record<string, string>;
  optional?: Record<string, string>;
  requires?: string[];
  provides?: string[];
  conflicts?: string[];
  anyOf?: string[][];
  targets?: string[];
  yanked?: boolean;
  kind?: ComponentKind;
  initLevels?: string[];
  lib?: string;
  license?: string;
  integrity?: string;
}

export interface RegistryOfOptions {
  /** Targets every version ships unless its entry says otherwise. Default `['posix-x86_64']`. */
  targets?: string[];
}

/** The target `registryOf` entries ship by default. */
export const TEST_TARGET = 'posix-x86_64';

/** A well-formed, deterministic, fake `sha512-` SRI string for test candidates (not a real digest). */
function fakeIntegrity(text: string): string {
  const bytes = new Uint8Array(64);
  let h = 2166136261;
  for (let i = 0; i < 64; i++) {
    for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k) ^ i, 16777619) >>> 0;
    bytes[i] = h & 0xff;
  }
  return `sha512-${Buffer.from(bytes).toString('base64')}`;
}

function isSpec(v: Record<string, unknown>): v is CandidateSpec & Record<string, unknown> {
  return Object.values(v).some((x) => typeof x !== 'string');
}

/**
 * Builds a list of candidates in one line:
 * `registryOf({ 'a 1.0.0': { b: '^1.0.0' }, 'b 1.0.0': {}, 'pci 1.0.0': { provides: ['bus:pci'] } })`.
 * An entry whose values are all strings is a dependency map; any non-string value (an array,
 * a boolean, a nested `deps` object) makes it a `CandidateSpec`.
 */
export function registryOf(
  entries: Record<string, Record<string, string> | CandidateSpec>,
  options: RegistryOfOptions = {},
): CandidateVersion[] {
  const out: CandidateVersion[] = [];
  for (const [key, value] of Object.entries(entries)) {
    const [name, version, ...rest] = key.trim().split(/\s+/);
    if (name === undefined || version === undefined || rest.length > 0) {
      throw new Error(`registryOf: key "${key}" must be "<name> <version>"`);
    }
    const spec: CandidateSpec = isSpec(value as Record<string, unknown>) ? (value as CandidateSpec) : { deps: value as Record<string, string> };
    const short = name.replace(/^@[^/]+\//, '');
    out.push({
      name,
      version,
      dependencies: { ...(spec.deps ?? {}) },
      optionalDependencies: { ...(spec.optional ?? {}) },
      requires: [...(spec.requires ?? [])],
      provides: [...(spec.provides ?? [])],
      conflicts: [...(spec.conflicts ?? [])],
      ...(spec.anyOf === undefined ? {} : { anyOf: spec.anyOf.map((g) => [...g]) }),
      targets: [...(spec.targets ?? options.targets ?? [TEST_TARGET])],
      yanked: spec.yanked ?? false,
      kind: spec.kind ?? 'component',
      lib: spec.lib ?? `librump${short.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`,
      license: spec.license ?? 'BSD-2-Clause',
      initLevels: [...(spec.initLevels ?? [])],
      integrity: spec.integrity ?? fakeIntegrity(`${name}@${version}`),
      tarball: `${name}/-/${short}-${version}.tgz`,
      registry: name.startsWith('@') ? (name.split('/')[0] as string) : '@rump',
    });
  }
  return out;
}
