/**
 * The streaming parser gives the same entries, the same data and the same errors however the
 * decompressed stream is cut into chunks (headers split across chunks included).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TarParser, type TarballEntry } from '../../components/tarball/tar-format.js';
import { buildTar, componentEntries, file, pax } from '../helpers/tar.js';

function parseInChunks(tar: Buffer, cuts: number[]): { entries: TarballEntry[]; data: Map<string, Buffer>; error?: string } {
  const p = new TarParser({ what: 't' });
  const entries: TarballEntry[] = [];
  const data = new Map<string, Buffer[]>();
  let current = '';
  const points = [...new Set(cuts.map((c) => c % (tar.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  try {
    for (const c of [...points, tar.length]) {
      for (const ev of p.write(tar.subarray(prev, c))) {
        if (ev.kind === 'entry') {
          entries.push(ev.entry);
          current = ev.entry.path;
          data.set(current, []);
        } else if (ev.kind === 'data') data.get(current)?.push(Buffer.from(ev.bytes));
      }
      prev = c;
    }
    p.end();
  } catch (e) {
    return { entries, data: new Map(), error: (e as Error).message };
  }
  return { entries, data: new Map([...data].map(([k, v]) => [k, Buffer.concat(v)])) };
}

describe('TarParser chunking', () => {
  const good = buildTar([
    ...componentEntries(),
    file('package/a', Buffer.alloc(1000, 3)),
    pax({ path: `package/${'l'.repeat(150)}`, mtime: '1.5' }),
    file('package/placeholder', 'long'),
    file('package/empty', ''),
  ]);
  const bad = buildTar([...componentEntries(), file('package/x', 'y'), file('package/../z', 'w')]);

  it('whole-buffer parse of a good tarball', () => {
    const r = parseInChunks(good, []);
    expect(r.error).toBeUndefined();
    expect(r.entries.map((e) => e.path)).toContain('l'.repeat(150));
    expect(r.data.get('a')).toEqual(Buffer.alloc(1000, 3));
    expect(r.data.get('empty')).toEqual(Buffer.alloc(0));
  });

  it('any chunking gives the same result (good and bad input)', () => {
    const wholeGood = parseInChunks(good, []);
    const wholeBad = parseInChunks(bad, []);
    expect(wholeBad.error).toContain('package/../z');
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (cuts) => {
        expect(parseInChunks(good, cuts)).toEqual(wholeGood);
        expect(parseInChunks(bad, cuts).error).toBe(wholeBad.error);
      }),
      { numRuns: 200 },
    );
  });

  it('byte-by-byte feeding works', () => {
    const cuts = Array.from({ length: good.length }, (_, i) => i);
    expect(parseInChunks(good, cuts)).toEqual(parseInChunks(good, []));
  });
});
