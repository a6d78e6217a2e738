/**
 * Incompatibilities (pub doc/solver.md § Incompatibility): sets of terms that must not all be
 * true. External ones carry the fact that produced them (`cause.kind` other than `derived`);
 * derived ones keep their two causes, which makes every failure a derivation graph (a value,
 * rendered to English separately by report.ts).
 */
import { intersectTerms, type Term } from './term.js';

/** The package name the solver uses for the project itself (also `requiredBy` in the lockfile). */
export const PROJECT = '<project>';

/** Capabilities are virtual packages named `cap:<capability>` (component names never hold ':'). */
export const CAP_PREFIX = 'cap:';

export function capabilityPackage(capability: string): string {
  return CAP_PREFIX + capability;
}

export function capabilityOf(name: string): string | null {
  return name.startsWith(CAP_PREFIX) ? name.slice(CAP_PREFIX.length) : null;
}

/**
 * An any-of requirement (manifest `rump.anyOf`) is the virtual package `any:<names>`: its members
 * sorted, each once, joined by `|` (component names never hold `|`), so every component naming
 * the same group shares one virtual package.
 */
export const ANY_OF_PREFIX = 'any:';

/** The key of a group: its members sorted, each once, joined by `|` (the lockfile's key too). */
export function anyOfKey(group: readonly string[]): string {
  return [...new Set(group)].sort().join('|');
}

export function anyOfPackage(group: readonly string[]): string {
  return ANY_OF_PREFIX + anyOfKey(group);
}

/** The members of an any-of virtual package, or null for any other name. */
export function anyOfGroup(name: string): string[] | null {
  return name.startsWith(ANY_OF_PREFIX) ? name.slice(ANY_OF_PREFIX.length).split('|') : null;
}

export type Cause =
  /** `{not <project>}`: the project must be selected. */
  | { kind: 'root' }
  /** `{depender R, not dependee S}` */
  | { kind: 'dependency' }
  /** `{component R, not cap:C}`: the component requires capability C. */
  | { kind: 'requires'; capability: string }
  /** `{cap:C via P, not P S}`: providing C through P needs P at a version S that provides it. */
  | { kind: 'provider'; capability: string; provider: string }
  /** `{component R, not any:G}`: the component needs one member of the group G in the closure. */
  | { kind: 'anyOf'; group: string[] }
  /** `{any:G via P, not P any}`: satisfying G through its member P needs P in the closure. */
  | { kind: 'alternative'; group: string[]; provider: string }
  /** `{a R, b any}` (or `{a R}` for a self-conflict): `a` declares a conflict with `b`. */
  | { kind: 'conflict'; with: string }
  /** `{depender R}`: its dependency on `dependency` has a range no version can match. */
  | { kind: 'emptyRange'; dependency: string; range: string }
  /** `{name R}`: no candidate version matches R. */
  | { kind: 'noVersions'; yanked: string[]; prerelease: string[]; otherTargets: string[] }
  /** `{name R}`: versions matching R exist but none ships the target. */
  | { kind: 'target'; target: string }
  /** `{name any}`: the provider knows no versions of the name. */
  | { kind: 'unknown' }
  /** `{cap:C any}`: no component for the target provides C; `elsewhere` provide it for other targets. */
  | { kind: 'noProvider'; capability: string; target: string; elsewhere: string[] }
  /** `{any:G any}`: no member of G ships the target; `elsewhere` ship other targets only, the rest do not exist. */
  | { kind: 'noAlternative'; group: string[]; target: string; elsewhere: string[] }
  /** Derived by conflict resolution from `conflict` and `other` (the satisfier's cause). */
  | { kind: 'derived'; conflict: Incompatibility; other: Incompatibility };

export interface Incompatibility {
  readonly id: number;
  readonly terms: readonly Term[];
  readonly cause: Cause;
}

let nextId = 1;

/**
 * Builds a normalised incompatibility: at most one term per package (intersected; positive
 * terms win), and positive `<project>` terms dropped from derived ones with several terms.
 * Returns null when two terms for one package are mutually exclusive: such an incompatibility
 * can never be satisfied and carries no information.
 */
export function createIncompatibility(terms: Term[], cause: Cause): Incompatibility | null {
  let list = terms;
  if (list.length !== 1 && cause.kind === 'derived' && list.some((t) => t.positive && t.name === PROJECT)) {
    list = list.filter((t) => !(t.positive && t.name === PROJECT));
  }
  if (list.length === 1 || (list.length === 2 && list[0]?.name !== list[1]?.name)) {
    return { id: nextId++, terms: list, cause };
  }
  const byName = new Map<string, Term>();
  for (const t of list) {
    const prev = byName.get(t.name);
    if (prev === undefined) {
      byName.set(t.name, t);
      continue;
    }
    const merged = intersectTerms(prev, t);
    if (merged === null) return null;
    byName.set(t.name, merged);
  }
  return { id: nextId++, terms: [...byName.values()], cause };
}

/** Version solving has failed when this is derived: no terms, or only the project. */
export function isFailure(i: Incompatibility): boolean {
  const t = i.terms[0];
  return i.terms.length === 0 || (i.terms.length === 1 && t !== undefined && t.name === PROJECT && t.positive);
}

/** Every external incompatibility in the derivation graph, each once (iterative). */
export function externalIncompatibilities(root: Incompatibility): Incompatibility[] {
  const out: Incompatibility[] = [];
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length > 0) {
    const i = stack.pop() as Incompatibility;
    if (seen.has(i.id)) continue;
    seen.add(i.id);
    if (i.cause.kind === 'derived') stack.push(i.cause.other, i.cause.conflict);
    else out.push(i);
  }
  return out;
}
