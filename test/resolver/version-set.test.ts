/**
 * The version-set algebra against a membership oracle: random sets built from npm ranges and
 * exact versions (so bounds are inclusive and exclusive, open and closed), every operation
 * checked version by version on a grid that has versions on, between and beyond every bound,
 * and every result checked to be normalised (sorted, disjoint, not touching) — two normalised
 * sets with the same members have the same intervals, so the renderer sees the same text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ANY,
  EMPTY,
  complement,
  contains,
  countIn,
  difference,
  equals,
  exactly,
  fromIntervals,
  highestIn,
  indexIn,
  intersect,
  isDisjoint,
  isSubset,
  parseRange,
  parseVersion,
  renderSet,
  union,
  type Interval,
  type VersionSet,
} from '../../resolver/version-set.js';

const grid: string[] = [];
for (let M = 0; M <= 4; M++) {
  for (let m = 0; m <= 2; m++) {
    for (let p = 0; p <= 2; p++) grid.push(`${M}.${m}.${p}`);
    grid.push(`${M}.${m}.7`);
  }
  grid.push(`${M}.9.0`, `${M + 1}.0.0-0`, `${M + 1}.0.0-rc.1`);
}
const points = grid.map(parseVersion).sort((a, b) => a.compare(b));

const version = fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })).map(([M, m, p]) => `${M}.${m}.${p}`);
const range = fc.oneof(
  version.map((v) => `^${v}`),
  version.map((v) => `~${v}`),
  version.map((v) => `>=${v}`),
  version.map((v) => `>${v}`),
  version.map((v) => `<${v}`),
  version.map((v) => `<=${v}`),
  version,
  fc.tuple(version, version).map(([a, b]) => `>=${a} <${b}`),
  fc.tuple(version, version).map(([a, b]) => `${a} - ${b}`),
  fc.constant('*'),
);
/** A union of up to 6 ranges and exact versions: sets of one to many intervals. */
const set: fc.Arbitrary<VersionSet> = fc
  .array(fc.oneof(range.map((r) => parseRange(r)), version.map((v) => exactly(parseVersion(v)))), { minLength: 0, maxLength: 6 })
  .map((sets) => sets.reduce((a, b) => union(a, b), EMPTY));

const members = (s: VersionSet): boolean[] => points.map((v) => contains(s, v));

function normalised(s: VersionSet): boolean {
  return s.intervals.every((x: Interval, k) => {
    const y = s.intervals[k + 1];
    // rebuilding from the intervals changes nothing when they are sorted, disjoint, not touching
    return y === undefined || equals(fromIntervals([x, y]), { intervals: [x, y] });
  });
}

describe('version sets', () => {
  it('intersect, union, difference and complement agree with membership, normalised', () => {
    fc.assert(
      fc.property(set, set, (a, b) => {
        const ma = members(a);
        const mb = members(b);
        for (const [r, want] of [
          [intersect(a, b), ma.map((x, k) => x && mb[k])],
          [union(a, b), ma.map((x, k) => x || mb[k])],
          [difference(a, b), ma.map((x, k) => x && !mb[k])],
          [complement(a), ma.map((x) => !x)],
        ] as Array<[VersionSet, boolean[]]>) {
          expect(members(r)).toEqual(want);
          expect(normalised(r)).toBe(true);
        }
        expect(equals(difference(a, b), intersect(a, complement(b)))).toBe(true);
        expect(equals(intersect(a, b), intersect(b, a))).toBe(true);
        expect(renderSet(union(a, b))).toBe(renderSet(union(b, a)));
      }),
      { numRuns: 2000 },
    );
  });

  it('isSubset and isDisjoint agree with the algebra', () => {
    fc.assert(
      fc.property(set, set, (a, b) => {
        expect(isSubset(a, b)).toBe(equals(difference(a, b), EMPTY));
        expect(isDisjoint(a, b)).toBe(equals(intersect(a, b), EMPTY));
        expect(isSubset(a, union(a, b))).toBe(true);
        expect(isDisjoint(a, complement(a))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('countIn, highestIn and indexIn agree with a scan of the candidates', () => {
    const candidates = fc.uniqueArray(fc.integer({ min: 0, max: points.length - 1 }), { maxLength: 25 }).map((ks) => ks.sort((x, y) => x - y).map((k) => points[k] as (typeof points)[number]));
    fc.assert(
      fc.property(set, candidates, (s, cs) => {
        const inside = cs.map((v) => contains(s, v));
        expect(countIn(s, cs)).toBe(inside.filter(Boolean).length);
        expect(highestIn(s, cs)).toBe(inside.lastIndexOf(true));
        for (const [k, v] of points.entries()) expect(indexIn(v, cs)).toBe(cs.indexOf(points[k] as (typeof points)[number]));
      }),
      { numRuns: 1000 },
    );
  });

  it('the two ends of the algebra', () => {
    const a = parseRange('^1.2.0');
    expect(equals(intersect(a, ANY), a)).toBe(true);
    expect(equals(union(a, ANY), ANY)).toBe(true);
    expect(equals(difference(a, ANY), EMPTY)).toBe(true);
    expect(equals(difference(a, EMPTY), a)).toBe(true);
    expect(renderSet(difference(ANY, a))).toBe('<1.2.0 or >=2.0.0-0');
    expect(renderSet(difference(parseRange('>=1.0.0 <3.0.0'), exactly(parseVersion('2.0.0'))))).toBe('^1.0.0 or >2.0.0 <3.0.0');
  });
});
