/**
 * Version sets: a finite union of disjoint, sorted intervals over semver versions. PubGrub needs
 * intersection, union and complement of version constraints, which npm ranges cannot express
 * (there is no "not ^1.0.0" range); intervals can. See README.md § version-set.ts.
 *
 * npm ranges are converted through `semver.Range`'s desugared comparator sets (`^1.0.0` becomes
 * `>=1.0.0 <2.0.0-0`), so caret/tilde/x-ranges/hyphen ranges all keep npm's meaning except for one
 * documented difference: a prerelease lying inside an interval is inside the set (npm's extra
 * "prerelease only with a same-tuple comparator" rule is applied by the candidate filter instead:
 * prereleases are not candidates unless asked for).
 */
import parse from 'semver/functions/parse.js';
import RangeClass from 'semver/classes/range.js';
import Comparator from 'semver/classes/comparator.js';

import type { Range, SemVer } from 'semver';
import { RumpkgError } from '../components/index.js';

// Only the parts of semver in use: its index loads every module of the package (~15 ms at start-up).
const semver = { parse, Range: RangeClass, Comparator };

export type Version = SemVer;

export interface Bound {
  v: Version;
  inclusive: boolean;
}

/** `lo === null` is -∞, `hi === null` is +∞. Never empty. */
export interface Interval {
  lo: Bound | null;
  hi: Bound | null;
}

/** Sorted, disjoint, non-adjacent intervals. Immutable. */
export interface VersionSet {
  readonly intervals: readonly Interval[];
}

const versionCache = new Map<string, Version>();

/** Parses (and caches) an exact version; throws E_SEMVER on an invalid one. */
export function parseVersion(text: string): Version {
  let v = versionCache.get(text);
  if (v === undefined) {
    const parsed = semver.parse(text);
    if (parsed === null) {
      throw new RumpkgError('E_SEMVER', `invalid version "${text.slice(0, 80)}"`, {
        context: { version: text.slice(0, 200) },
        hint: 'versions are semver: MAJOR.MINOR.PATCH[-PRERELEASE]',
      });
    }
    v = parsed;
    if (versionCache.size > 200_000) versionCache.clear();
    versionCache.set(text, v);
  }
  return v;
}

export function compareVersions(a: Version, b: Version): number {
  if (a === b) return 0;
  // The common case without semver's call overhead: numeric fields, no prerelease.
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.prerelease.length === 0 && b.prerelease.length === 0) return 0;
  return a.compare(b);
}

export const EMPTY: VersionSet = Object.freeze({ intervals: Object.freeze([]) as readonly Interval[] });
export const ANY: VersionSet = Object.freeze({
  intervals: Object.freeze([Object.freeze({ lo: null, hi: null })]) as readonly Interval[],
});

export function isEmpty(s: VersionSet): boolean {
  return s.intervals.length === 0;
}

export function isAny(s: VersionSet): boolean {
  const i = s.intervals[0];
  return s.intervals.length === 1 && i !== undefined && i.lo === null && i.hi === null;
}

/**
 * Sets built from versions alone are immutable and interned per `Version` object (versions are
 * interned by `parseVersion`): a decision's set `exactly(v)` and the lister's run sets are made
 * once, not once per decision or per edge (they were a tenth of a large solve's allocation).
 * Both maps are bounded like the version cache.
 */
const exactCache = new Map<Version, VersionSet>();
const runCache = new Map<Version | null, Map<Version | null, VersionSet>>();
let runCacheSize = 0;

export function exactly(v: Version): VersionSet {
  let s = exactCache.get(v);
  if (s === undefined) {
    const b: Bound = Object.freeze({ v, inclusive: true });
    s = Object.freeze({ intervals: Object.freeze([Object.freeze({ lo: b, hi: b })]) });
    if (exactCache.size > 200_000) exactCache.clear();
    exactCache.set(v, s);
  }
  return s;
}

/** Compares two lower bounds (null = -∞): which one admits fewer versions is larger. */
function cmpLo(a: Bound | null, b: Bound | null): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  const c = compareVersions(a.v, b.v);
  if (c !== 0) return c;
  if (a.inclusive === b.inclusive) return 0;
  return a.inclusive ? -1 : 1;
}

/** Compares two upper bounds (null = +∞). */
function cmpHi(a: Bound | null, b: Bound | null): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  const c = compareVersions(a.v, b.v);
  if (c !== 0) return c;
  if (a.inclusive === b.inclusive) return 0;
  return a.inclusive ? 1 : -1;
}

/** True when an interval [lo, hi] holds at least one version. */
function nonEmpty(lo: Bound | null, hi: Bound | null): boolean {
  if (lo === null || hi === null) return true;
  const c = compareVersions(lo.v, hi.v);
  if (c < 0) return true;
  return c === 0 && lo.inclusive && hi.inclusive;
}

/** True when `hi` (an upper bound) and the next `lo` touch or overlap, so they can be merged. */
function touches(hi: Bound | null, lo: Bound | null): boolean {
  if (hi === null || lo === null) return true;
  const c = compareVersions(hi.v, lo.v);
  if (c > 0) return true;
  return c === 0 && (hi.inclusive || lo.inclusive);
}

/** Builds a normalised set from intervals in any order (may overlap). */
export function fromIntervals(list: Interval[]): VersionSet {
  const items = list.filter((i) => nonEmpty(i.lo, i.hi));
  if (items.length === 0) return EMPTY;
  items.sort((a, b) => cmpLo(a.lo, b.lo));
  const out: Interval[] = [];
  let cur = { ...(items[0] as Interval) };
  for (let k = 1; k < items.length; k++) {
    const next = items[k] as Interval;
    if (touches(cur.hi, next.lo)) {
      if (cmpHi(next.hi, cur.hi) > 0) cur.hi = next.hi;
    } else {
      out.push(cur);
      cur = { ...next };
    }
  }
  out.push(cur);
  return { intervals: out };
}

/**
 * The set of the normalised intervals `out`, a list grown by `push`. The set keeps a copy of the
 * exact length: a pushed list has room for 16 intervals, and the results of set operations live
 * as long as the solver's assignments. Most hold one or two intervals: those are array literals,
 * which the engine can allocate in the old generation directly (see partial-solution.ts
 * `PackageRecord`).
 */
function setOf(out: Interval[]): VersionSet {
  switch (out.length) {
    case 0:
      return EMPTY;
    case 1:
      return { intervals: [out[0] as Interval] };
    case 2:
      return { intervals: [out[0] as Interval, out[1] as Interval] };
    default:
      return { intervals: out.slice() };
  }
}

export function intersect(a: VersionSet, b: VersionSet): VersionSet {
  if (isAny(a)) return b;
  if (isAny(b)) return a;
  // Each interval of the smaller set against the intervals of the larger one it meets (found by
  // binary search): a package's accumulated term can hold hundreds of intervals.
  // (Two assignments, not a destructured pair: this runs per propagation step.)
  const small = a.intervals.length <= b.intervals.length;
  const A = small ? a.intervals : b.intervals;
  const B = small ? b.intervals : a.intervals;
  const out: Interval[] = [];
  let j = 0;
  for (let i = 0; i < A.length; i++) {
    const x = A[i] as Interval;
    j = seek(B, x.lo, j);
    while (j < B.length) {
      const y = B[j] as Interval;
      if (endsBefore(x.hi, y.lo)) break;
      const lo = cmpLo(x.lo, y.lo) >= 0 ? x.lo : y.lo;
      const hi = cmpHi(x.hi, y.hi) <= 0 ? x.hi : y.hi;
      if (lo === y.lo && hi === y.hi) out.push(y);
      else if (lo === x.lo && hi === x.hi) out.push(x);
      else out.push({ lo, hi });
      if (cmpHi(y.hi, x.hi) > 0) break; // y reaches past x: the next x may meet it too
      j++;
    }
  }
  return setOf(out);
}

/** `a \ b` without building the complement of `b` (which has as many intervals as `b`). */
export function difference(a: VersionSet, b: VersionSet): VersionSet {
  if (isEmpty(b) || isEmpty(a)) return a;
  if (isAny(b)) return EMPTY;
  const B = b.intervals;
  const out: Interval[] = [];
  let j = 0;
  const A = a.intervals;
  for (let i = 0; i < A.length; i++) {
    const x = A[i] as Interval;
    j = seek(B, x.lo, j);
    let lo: Bound | null = x.lo;
    let open = true; // whether part of x above `lo` is still left
    let untouched = true;
    while (j < B.length) {
      const y = B[j] as Interval;
      if (endsBefore(x.hi, y.lo)) break;
      untouched = false;
      // The part of x below y.
      if (y.lo !== null) {
        const hi: Bound = { v: y.lo.v, inclusive: !y.lo.inclusive };
        if (nonEmpty(lo, hi)) out.push({ lo, hi });
      }
      if (y.hi === null || cmpHi(y.hi, x.hi) >= 0) {
        open = false; // y covers the rest of x (and may meet the next x)
        break;
      }
      lo = { v: y.hi.v, inclusive: !y.hi.inclusive };
      j++;
    }
    if (untouched) out.push(x);
    else if (open && nonEmpty(lo, x.hi)) out.push({ lo, hi: x.hi });
  }
  return setOf(out);
}

export function union(a: VersionSet, b: VersionSet): VersionSet {
  if (isEmpty(a)) return b;
  if (isEmpty(b)) return a;
  if (isAny(a) || isAny(b)) return ANY;
  // Both are sorted: merge by lower bound and coalesce, no sort; an interval that merges with
  // nothing is kept as is (intervals are immutable), so only merged ones are allocated.
  const A = a.intervals;
  const B = b.intervals;
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  let cur: Interval | null = null;
  let fresh = false;
  while (i < A.length || j < B.length) {
    let next: Interval;
    if (j >= B.length || (i < A.length && cmpLo((A[i] as Interval).lo, (B[j] as Interval).lo) <= 0)) next = A[i++] as Interval;
    else next = B[j++] as Interval;
    if (cur === null) {
      cur = next;
      fresh = false;
    } else if (touches(cur.hi, next.lo)) {
      if (cmpHi(next.hi, cur.hi) > 0) {
        if (fresh) cur.hi = next.hi;
        else {
          cur = { lo: cur.lo, hi: next.hi };
          fresh = true;
        }
      }
    } else {
      out.push(cur);
      cur = next;
      fresh = false;
    }
  }
  if (cur !== null) out.push(cur);
  return setOf(out);
}

export function complement(a: VersionSet): VersionSet {
  if (isEmpty(a)) return ANY;
  if (isAny(a)) return EMPTY;
  const out: Interval[] = [];
  let prev: Bound | null = null;
  let first = true;
  for (const i of a.intervals) {
    if (first) {
      if (i.lo !== null) out.push({ lo: null, hi: { v: i.lo.v, inclusive: !i.lo.inclusive } });
      first = false;
    } else if (prev !== null && i.lo !== null) {
      out.push({ lo: { v: prev.v, inclusive: !prev.inclusive }, hi: { v: i.lo.v, inclusive: !i.lo.inclusive } });
    }
    prev = i.hi;
  }
  if (prev !== null) out.push({ lo: { v: prev.v, inclusive: !prev.inclusive }, hi: null });
  return out.length === 0 ? EMPTY : { intervals: out };
}

/** True when an interval ending at `hi` lies wholly below one starting at `lo` (no common version). */
function endsBefore(hi: Bound | null, lo: Bound | null): boolean {
  if (hi === null || lo === null) return false;
  const c = compareVersions(hi.v, lo.v);
  return c < 0 || (c === 0 && !(hi.inclusive && lo.inclusive));
}

/**
 * The first index k >= `from` of `list` whose interval does not end before `lo`, or list.length.
 * Binary search: the accumulated terms of a package can hold hundreds of intervals (every
 * version ruled out one by one), and the terms checked against them one or two.
 */
function seek(list: readonly Interval[], lo: Bound | null, from: number): number {
  let a = from;
  let b = list.length;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (endsBefore((list[mid] as Interval).hi, lo)) a = mid + 1;
    else b = mid;
  }
  return a;
}

/** `a ⊆ b`, without allocating (sets are normalised: disjoint, non-adjacent). */
export function isSubset(a: VersionSet, b: VersionSet): boolean {
  if (a === b || isEmpty(a) || isAny(b)) return true;
  const A = a.intervals;
  const B = b.intervals;
  let j = 0;
  for (let i = 0; i < A.length; i++) {
    const x = A[i] as Interval;
    j = seek(B, x.lo, j);
    const y = B[j];
    if (y === undefined) return false;
    // x is non-empty and b's intervals neither touch nor overlap, so x must fit inside y alone.
    if (cmpLo(y.lo, x.lo) > 0 || cmpHi(x.hi, y.hi) > 0) return false;
  }
  return true;
}

/** `a ∩ b = ∅`, without allocating: each interval of the smaller set is looked up in the larger. */
export function isDisjoint(a: VersionSet, b: VersionSet): boolean {
  const small = a.intervals.length <= b.intervals.length;
  const A = small ? a.intervals : b.intervals;
  const B = small ? b.intervals : a.intervals;
  let j = 0;
  for (let i = 0; i < A.length; i++) {
    const x = A[i] as Interval;
    j = seek(B, x.lo, j);
    const y = B[j];
    if (y === undefined) return true;
    // y is the first interval of the larger set that does not end before x starts: they meet
    // unless y starts after x ends.
    if (!endsBefore(x.hi, y.lo)) return false;
  }
  return true;
}

export function contains(s: VersionSet, v: Version): boolean {
  const list = s.intervals;
  const bound: Bound = { v, inclusive: true };
  const y = list[seek(list, bound, 0)];
  if (y === undefined) return false;
  if (y.lo === null) return true;
  const c = compareVersions(v, y.lo.v);
  return c > 0 || (c === 0 && y.lo.inclusive);
}

export function equals(a: VersionSet, b: VersionSet): boolean {
  if (a === b) return true;
  if (a.intervals.length !== b.intervals.length) return false;
  return a.intervals.every((x, k) => {
    const y = b.intervals[k] as Interval;
    return cmpLo(x.lo, y.lo) === 0 && cmpHi(x.hi, y.hi) === 0;
  });
}

/** Ranges longer than this are refused (IN-06: hostile ranges, bounded time). */
export const MAX_RANGE_LENGTH = 1024;

const rangeCache = new Map<string, VersionSet>();

/** The set of a range already converted (no message to build on the hot path), if any. */
export function knownRange(text: string): VersionSet | undefined {
  return rangeCache.get(text);
}

/**
 * Converts an npm range to a version set. Throws E_SEMVER for an invalid or oversized range;
 * `where` names the component edge for the message.
 */
export function parseRange(text: string, where = ''): VersionSet {
  const cached = rangeCache.get(text);
  if (cached !== undefined) return cached;
  const at = where === '' ? '' : ` in ${where}`;
  if (text.length > MAX_RANGE_LENGTH) {
    throw new RumpkgError('E_SEMVER', `range of ${text.length} characters${at} is too long (max ${MAX_RANGE_LENGTH})`, {
      context: { range: `${text.slice(0, 80)}…`, where },
      hint: 'write the range in a shorter form, e.g. ^1.2.0',
    });
  }
  let range: Range;
  try {
    range = new semver.Range(text);
  } catch (cause) {
    throw new RumpkgError('E_SEMVER', `invalid range "${text.slice(0, 80)}"${at}`, {
      context: { range: text.slice(0, 200), where },
      hint: 'ranges are npm semver ranges, e.g. ^1.2.0, >=1.0.0 <2.0.0, 1.x',
      cause,
    });
  }
  const parts: Interval[] = [];
  for (const comparators of range.set) {
    let lo: Bound | null = null;
    let hi: Bound | null = null;
    let empty = false;
    for (const c of comparators) {
      if (c.semver === (semver.Comparator as unknown as { ANY: unknown }).ANY) continue;
      const v = parseVersion(c.semver.version);
      const b = (inclusive: boolean): Bound => ({ v, inclusive });
      switch (c.operator) {
        case '>=':
        case '>': {
          const nb = b(c.operator === '>=');
          if (cmpLo(nb, lo) > 0) lo = nb;
          break;
        }
        case '<=':
        case '<': {
          const nb = b(c.operator === '<=');
          if (cmpHi(nb, hi) < 0) hi = nb;
          break;
        }
        case '':
        case '=': {
          const nb = b(true);
          if (cmpLo(nb, lo) > 0) lo = nb;
          if (cmpHi(nb, hi) < 0) hi = nb;
          break;
        }
        default:
          empty = true;
      }
    }
    if (!empty) parts.push({ lo, hi });
  }
  const set = fromIntervals(parts);
  if (rangeCache.size > 50_000) rangeCache.clear();
  rangeCache.set(text, set);
  return set;
}

/** The upper bound a caret range starting at `v` has (`^1.2.3` → 2.0.0). */
function caretMax(v: Version): [number, number, number] {
  if (v.major > 0) return [v.major + 1, 0, 0];
  if (v.minor > 0) return [0, v.minor + 1, 0];
  return [0, 0, v.patch + 1];
}

/** Shows `2.0.0-0` (npm's "below every 2.0.0 prerelease") as `2.0.0`. */
function showUpper(v: Version): string {
  return v.prerelease.length === 1 && v.prerelease[0] === 0 ? `${v.major}.${v.minor}.${v.patch}` : v.version;
}

function renderInterval(i: Interval): string {
  const { lo, hi } = i;
  if (lo === null && hi === null) return 'any';
  if (lo !== null && hi !== null && lo.inclusive && hi.inclusive && compareVersions(lo.v, hi.v) === 0) return lo.v.version;
  if (lo !== null && hi !== null && lo.inclusive && !hi.inclusive && lo.v.prerelease.length === 0) {
    const [M, m, p] = caretMax(lo.v);
    const h = hi.v;
    const pre0 = h.prerelease.length === 0 || (h.prerelease.length === 1 && h.prerelease[0] === 0);
    if (h.major === M && h.minor === m && h.patch === p && pre0) return `^${lo.v.version}`;
  }
  const out: string[] = [];
  if (lo !== null) out.push(`${lo.inclusive ? '>=' : '>'}${lo.v.version}`);
  if (hi !== null) out.push(`${hi.inclusive ? '<=' : '<'}${showUpper(hi.v)}`);
  return out.join(' ');
}

/** Pub-style rendering: `any`, `1.0.0`, `^1.0.0`, `>=1.1.0`, `>=1.0.0 <1.5.0 or >=2.0.0`. */
export function renderSet(s: VersionSet): string {
  if (isEmpty(s)) return '<empty>';
  return s.intervals.map(renderInterval).join(' or ');
}

/** The number of `sorted` (ascending) versions below `b` as a lower bound (null = -∞). */
function countBelow(sorted: readonly Version[], b: Bound | null): number {
  if (b === null) return 0;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = compareVersions(sorted[mid] as Version, b.v);
    if (c < 0 || (c === 0 && !b.inclusive)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The number of `sorted` (ascending) versions at or below `b` as an upper bound (null = +∞). */
function countUpTo(sorted: readonly Version[], b: Bound | null): number {
  if (b === null) return sorted.length;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = compareVersions(sorted[mid] as Version, b.v);
    if (c < 0 || (c === 0 && b.inclusive)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many of the ascending, distinct `sorted` versions lie in `s` (binary searches, no scan). */
export function countIn(s: VersionSet, sorted: readonly Version[]): number {
  let n = 0;
  for (let x = 0; x < s.intervals.length; x++) {
    const i = s.intervals[x] as Interval;
    const k = countUpTo(sorted, i.hi) - countBelow(sorted, i.lo);
    if (k > 0) n += k;
  }
  return n;
}

/** The index of the highest of the ascending, distinct `sorted` versions in `s`, or -1. */
export function highestIn(s: VersionSet, sorted: readonly Version[]): number {
  for (let k = s.intervals.length - 1; k >= 0; k--) {
    const i = s.intervals[k] as Interval;
    const top = countUpTo(sorted, i.hi) - 1;
    if (top >= countBelow(sorted, i.lo)) return top;
  }
  return -1;
}

/** The index of `v` in the ascending, distinct `sorted` versions, or -1. */
export function indexIn(v: Version, sorted: readonly Version[]): number {
  // (`countBelow` without its bound object: this runs once per decision and per solution entry.)
  let k = 0;
  let hi = sorted.length;
  while (k < hi) {
    const mid = (k + hi) >> 1;
    if (compareVersions(sorted[mid] as Version, v) < 0) k = mid + 1;
    else hi = mid;
  }
  return k < sorted.length && compareVersions(sorted[k] as Version, v) === 0 ? k : -1;
}

/**
 * The set "from `versions[from]` up to but excluding `versions[to + 1]`", open-ended when the run
 * touches either end of the list (pub's package lister: dependency ranges look like user ranges).
 */
export function runSet(versions: readonly Version[], from: number, to: number): VersionSet {
  const lo = from === 0 ? null : (versions[from] as Version);
  const hi = to >= versions.length - 1 ? null : (versions[to + 1] as Version);
  if (lo === null && hi === null) return ANY;
  // Interned by its two bounds (see `exactly`).
  if (runCacheSize > 200_000) {
    runCache.clear();
    runCacheSize = 0;
  }
  let byHi = runCache.get(lo);
  if (byHi === undefined) {
    byHi = new Map();
    runCache.set(lo, byHi);
  }
  let s = byHi.get(hi);
  if (s === undefined) {
    const interval: Interval = Object.freeze({
      lo: lo === null ? null : Object.freeze({ v: lo, inclusive: true }),
      hi: hi === null ? null : Object.freeze({ v: hi, inclusive: false }),
    });
    s = Object.freeze({ intervals: Object.freeze([interval]) });
    runCacheSize++;
    byHi.set(hi, s);
  }
  return s;
}
