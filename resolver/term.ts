/**
 * Terms (pub doc/solver.md § Term): a statement "package is selected at a version in `set`"
 * (positive) or its negation (negative; also true when the package is not selected at all).
 * `set` is the constraint as written; a negative term allows `complement(set)` or "absent".
 * Set algebra is done on the extended domain (versions ∪ {absent}), which makes intersection,
 * satisfaction and contradiction of mixed positive/negative terms one rule each.
 */
import {
  ANY,
  EMPTY,
  complement,
  difference,
  intersect as setIntersect,
  isDisjoint,
  isEmpty,
  isSubset,
  union as setUnion,
  type VersionSet,
} from './version-set.js';

export interface Term {
  readonly name: string;
  readonly positive: boolean;
  /** The constraint as written (for negative terms: the versions that are *not* allowed). */
  readonly set: VersionSet;
}

export type Relation = 'satisfies' | 'contradicts' | 'inconclusive';

export function term(name: string, set: VersionSet, positive = true): Term {
  return { name, positive, set };
}

export function negate(t: Term): Term {
  return { name: t.name, positive: !t.positive, set: t.set };
}

interface Ext {
  s: VersionSet;
  absent: boolean;
}

function ext(t: Term): Ext {
  return t.positive ? { s: t.set, absent: false } : { s: complement(t.set), absent: true };
}

function fromExt(name: string, e: Ext): Term {
  return e.absent ? { name, positive: false, set: complement(e.s) } : { name, positive: true, set: e.s };
}

/** The versions a term allows for its package (ignoring "absent"). */
export function allowed(t: Term): VersionSet {
  return t.positive ? t.set : complement(t.set);
}

/** `a ∩ b`, or null when nothing satisfies both (only possible if one is positive). */
export function intersectTerms(a: Term, b: Term): Term | null {
  if (a.positive && b.positive) {
    // A decision inside the package's term (the common case) needs no new set.
    if (isSubset(b.set, a.set)) return b;
    if (isSubset(a.set, b.set)) return a;
    const s = setIntersect(a.set, b.set);
    return isEmpty(s) ? null : { name: a.name, positive: true, set: s };
  }
  if (!a.positive && !b.positive) return { name: a.name, positive: false, set: setUnion(a.set, b.set) };
  const p = a.positive ? a : b;
  const n = a.positive ? b : a;
  const s = difference(p.set, n.set);
  return isEmpty(s) ? null : { name: a.name, positive: true, set: s };
}

/** `a \ b`, or null when empty. */
export function differenceTerms(a: Term, b: Term): Term | null {
  return intersectTerms(a, negate(b));
}

/** `a ∪ b`. */
export function unionTerms(a: Term, b: Term): Term {
  const x = ext(a);
  const y = ext(b);
  return fromExt(a.name, { s: setUnion(x.s, y.s), absent: x.absent || y.absent });
}

/** True when every selection satisfying `a` satisfies `b` (`a ⊆ b`). */
export function satisfies(a: Term, b: Term): boolean {
  if (a.positive && b.positive) return isSubset(a.set, b.set);
  if (a.positive && !b.positive) return isDisjoint(a.set, b.set);
  if (!a.positive && b.positive) return false; // `a` allows "absent", `b` does not
  return isSubset(b.set, a.set);
}

/**
 * How a term known to be true (`known`) relates to `other`. "Contradicts" means the extended
 * sets are disjoint; written out per sign so no complement is built: `P ∩ ¬Q = ∅` iff `P ⊆ Q`,
 * and two negative terms both allow "absent".
 */
export function relation(known: Term, other: Term): Relation {
  if (satisfies(known, other)) return 'satisfies';
  if (known.positive) {
    if (other.positive ? isDisjoint(known.set, other.set) : isSubset(known.set, other.set)) return 'contradicts';
  } else if (other.positive && isSubset(other.set, known.set)) {
    return 'contradicts';
  }
  return 'inconclusive';
}

export const ANY_SET = ANY;
export const EMPTY_SET = EMPTY;
