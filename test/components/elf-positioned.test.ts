/**
 * The positioned-read path (byte-source.ts, `readElfLayout`, `readArMembers`,
 * `readArchiveTables`, `readImageIndex`) against the in-memory readers it must agree with:
 * - property-based, on thousands of mutated real objects, archives and images: both paths give
 *   the same answer, or both a typed error (E_ELF / E_ARCH) — never another exception, no hang;
 * - on real files: truncated files, offsets past the end, a file truncated while it is being
 *   read, directories and missing paths give typed errors; a large image is read in a few
 *   hundred KB, not whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  archiveSymbols,
  imageSymbols,
  isRumpkgError,
  memorySource,
  openFileSource,
  parseAr,
  readArchiveSymbols,
  readArMembers,
  readElfLayout,
  readImageIndex,
  readImageSymbols,
} from '../../components/index.js';
import { parseElfSections } from '../../components/binary/elf.js';
import { readArchiveTables, summarizeArchive } from '../../components/binary/symbols.js';
import { compile, componentSource, read, run, tempDir, works } from './elf-helpers.js';

interface Seed {
  name: string;
  bytes: Uint8Array;
}
const seeds: Seed[] = [];
let tmp: ReturnType<typeof tempDir>;
let bigImage = '';

beforeAll(() => {
  tmp = tempDir('rumpkg-positioned-');
  const src = componentSource('pos', 2, ['rumpns_other']) + 'int table[4] = {1,2,3,4};\n';
  const o = compile(tmp.dir, 'pos', src, ['-O1', '-fcommon']);
  seeds.push({ name: 'x86_64.o', bytes: read(o) });
  const o2 = compile(tmp.dir, 'pos2', componentSource('other', 7), ['-O1']);
  // a member larger than the small-member limit, so archives exercise both member paths
  const big = compile(tmp.dir, 'posbig', componentSource('big', 0) + 'char rumpns_big_pad[300000] = {1};\n', ['-O1']);
  const lib = join(tmp.dir, 'libpos_long_member_names.a');
  run('ar', ['rcs', lib, o, o2, big]);
  seeds.push({ name: 'lib.a', bytes: read(lib) });
  const exe = join(tmp.dir, 'exe');
  writeFileSync(join(tmp.dir, 'main.c'), 'int main(void) { return 0; }\n');
  run('cc', ['-no-pie', '-o', exe, join(tmp.dir, 'main.c'), o2, big]);
  seeds.push({ name: 'exe', bytes: read(exe) });
  if (works('clang', ['--version'])) {
    seeds.push({ name: 'ppc64.o', bytes: read(compile(tmp.dir, 'pppc', src, ['--target=powerpc64-linux-gnu', '-O1'], 'clang')) });
    seeds.push({ name: 'i386.o', bytes: read(compile(tmp.dir, 'p386', src, ['--target=i386-linux-gnu', '-O1'], 'clang')) });
  }
  // an image with 8 MB of initialised data: the positioned reader must not read it
  writeFileSync(join(tmp.dir, 'big.c'), 'char big_array[8000000] = {1};\nint main(void) { return big_array[0]; }\n');
  bigImage = join(tmp.dir, 'bigimage');
  run('cc', ['-no-pie', '-o', bigImage, join(tmp.dir, 'big.c'), o2]);
});
afterAll(() => tmp.cleanup());

type Mutation =
  | { kind: 'byte'; pos: number; val: number }
  | { kind: 'word'; pos: number; val: number }
  | { kind: 'truncate'; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('byte' as const), pos: fc.nat(), val: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('word' as const),
    pos: fc.nat(),
    val: fc.oneof(fc.constantFrom(0, 1, 0xff00, 0xffff, 0xfff1, 0x7fffffff, 0xffffffff), fc.nat()),
  }),
  fc.record({ kind: fc.constant('truncate' as const), len: fc.nat() }),
);

/** Mutations land in the first and last 4 KB half the time (headers, section tables). */
function mutate(seed: Seed, muts: Mutation[]): Uint8Array {
  let b = seed.bytes.slice();
  for (const m of muts) {
    if (b.length === 0) break;
    const at = (pos: number): number => {
      const n = b.length;
      if (pos % 2 === 0) return (pos >> 1) % Math.min(n, 4096);
      return Math.max(0, n - 1 - ((pos >> 1) % Math.min(n, 4096)));
    };
    if (m.kind === 'byte') b[at(m.pos)] = m.val;
    else if (m.kind === 'word') {
      const p = at(m.pos);
      for (let k = 0; k < 4 && p + k < b.length; k++) b[p + k] = (m.val >>> (8 * k)) & 0xff;
    } else b = b.slice(0, m.len % (b.length + 1));
  }
  return b;
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };
const counts = { ok: 0, typed: 0 };

async function outcome(fn: () => unknown): Promise<Outcome> {
  const t0 = performance.now();
  try {
    const value = await fn();
    counts.ok++;
    return { ok: true, value };
  } catch (e) {
    if (!isRumpkgError(e) || (e.code !== 'E_ELF' && e.code !== 'E_ARCH')) throw e;
    counts.typed++;
    return { ok: false, code: e.code };
  } finally {
    expect(performance.now() - t0).toBeLessThan(2000);
  }
}

/** Both succeed with equal values, or both fail with a typed error. */
function agree(a: Outcome, b: Outcome): void {
  if (a.ok !== b.ok) {
    const show = (o: Outcome): string => JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 300);
    expect.fail(`positioned ${show(a)} vs in-memory ${show(b)}`);
  }
  if (a.ok && b.ok) expect(a.value).toEqual(b.value);
}

const input = fc.record({ seed: fc.nat(), muts: fc.array(mutation, { minLength: 1, maxLength: 4 }) });

describe('positioned reads agree with the in-memory readers on mutated files', () => {
  it('readElfLayout = parseElfSections; readArMembers = parseAr', async () => {
    await fc.assert(
      fc.asyncProperty(input, async ({ seed, muts }) => {
        const s = seeds[seed % seeds.length] as Seed;
        const bytes = mutate(s, muts);
        const strip = (x: { sections: unknown[]; class: number; machine: number }): unknown => ({ sections: x.sections, class: x.class, machine: x.machine });
        agree(
          await outcome(async () => strip(await readElfLayout(memorySource(bytes, s.name)))),
          await outcome(() => strip(parseElfSections(bytes, s.name))),
        );
        agree(
          await outcome(async () => (await readArMembers(memorySource(bytes, s.name))).members),
          await outcome(() => parseAr(bytes, { file: s.name }).members.map((m) => ({ name: m.name, offset: m.offset, size: m.size }))),
        );
      }),
      { numRuns: 2500 },
    );
  }, 120_000);

  it('readArchiveTables + summarizeArchive = archiveSymbols; readImageIndex = imageSymbols', async () => {
    await fc.assert(
      fc.asyncProperty(input, async ({ seed, muts }) => {
        const s = seeds[seed % seeds.length] as Seed;
        const bytes = mutate(s, muts);
        agree(
          await outcome(async () => summarizeArchive(await readArchiveTables(memorySource(bytes, s.name)))),
          await outcome(() => archiveSymbols(bytes, { file: s.name })),
        );
        const positioned = await outcome(async () => {
          const x = await readImageIndex(memorySource(bytes, s.name));
          const defined = x.defined.names();
          // the index answers lookups for the names it lists (distinct ids), and not for others
          const ids = new Set(defined.map((n) => x.defined.lookup(n)));
          if (ids.has(-1) || ids.size !== defined.length || x.defined.has('rumpns_not_there')) throw new Error('index lookups disagree with names()');
          return { defined, count: x.defined.count, entries: x.linkSet?.entries ?? null, types: x.linkSet?.types ?? null };
        });
        const memory = await outcome(() => {
          const x = imageSymbols(bytes, { file: s.name });
          return { defined: x.defined, count: x.defined.length, entries: x.linkSet?.entries ?? null, types: x.linkSet?.types ?? null };
        });
        expect(positioned.ok).toBe(memory.ok);
        if (positioned.ok && memory.ok) {
          const p = positioned.value as { defined: string[]; count: number; entries: number | null; types: number[] | null };
          const m = memory.value as typeof p;
          expect(p.defined).toEqual(m.defined);
          expect(p.count).toBe(m.count);
          expect(p.entries).toBe(m.entries);
          // The positioned reader looks a struct up in the first section holding all 4 bytes of
          // rc_type; the in-memory one in the first holding its start: it can only know more.
          if (m.types !== null) expect(p.types).toEqual(m.types);
        }
      }),
      { numRuns: 2500 },
    );
  }, 120_000);

  it('the mutations exercise both outcomes', () => {
    expect(counts.ok).toBeGreaterThan(1000);
    expect(counts.typed).toBeGreaterThan(1000);
  });
});

describe('positioned reads of real files', () => {
  it('an image: the same symbols as imageSymbols, reading a small part of the file', async () => {
    const whole = imageSymbols(read(bigImage), { file: bigImage });
    const src = await openFileSource(bigImage);
    try {
      const x = await readImageIndex(src);
      expect(x.defined.names()).toEqual(whole.defined);
      expect(x.defined.count).toBe(whole.defined.length);
      for (const n of whole.defined) expect(x.defined.has(n)).toBe(true);
      expect(x.defined.has('rumpns_no_such_symbol')).toBe(false);
      expect(x.defined.lookup('big_array')).toBeGreaterThanOrEqual(0);
      expect(src.size).toBeGreaterThan(8_000_000);
      expect(src.bytesRead).toBeLessThan(500_000);
    } finally {
      await src.close();
    }
    expect((await readImageSymbols(bigImage)).defined).toEqual(whole.defined);
  });

  it('lookupMany answers as lookup does, for thousands of names present, absent and non-ASCII (a batch as large as the table and a smaller one)', async () => {
    const n = 3000;
    writeFileSync(join(tmp.dir, 'many.c'), `${Array.from({ length: n }, (_, i) => `int rumpns_many_${i}(void) { return ${i}; }`).join('\n')}\nint main(void) { return 0; }\n`);
    const exe = join(tmp.dir, 'many');
    run('cc', ['-O0', '-no-pie', '-o', exe, join(tmp.dir, 'many.c')]);
    const src = await openFileSource(exe);
    try {
      const x = await readImageIndex(src);
      const names = x.defined.names();
      const probes = [...names, ...Array.from({ length: n }, (_, i) => `rumpns_many_${i + n}`), 'rumpns_many_1\u00e9', 'rumpns_\u0000', '', ...names.slice(0, 10)];
      const many = x.defined.lookupMany(probes);
      expect([...many]).toEqual(probes.map((p) => x.defined.lookup(p)));
      expect(new Set([...many].slice(0, names.length)).size).toBe(names.length); // distinct ids
      expect([...many].slice(0, names.length).every((id) => id >= 0 && id < x.defined.count)).toBe(true);
      expect([...many].slice(names.length, names.length + n + 3).every((id) => id === -1)).toBe(true);
      // a batch of more than 1024 names but less than half the table: probed bucket by bucket
      const some = [...names.filter((_, i) => i % 5 < 2), 'rumpns_many_x', 'rumpns_many_1\u00e9', 'rumpns_\u0000', ''];
      expect(some.length).toBeGreaterThan(1024);
      expect(some.length * 2).toBeLessThan(x.defined.count);
      expect([...x.defined.lookupMany(some)]).toEqual(some.map((p) => x.defined.lookup(p)));
    } finally {
      await src.close();
    }
  });

  it('an archive: readArchiveSymbols equals archiveSymbols', async () => {
    const lib = join(tmp.dir, 'libpos_long_member_names.a');
    expect(await readArchiveSymbols(lib)).toEqual(archiveSymbols(read(lib), { file: lib }));
  });

  it('truncated files and section offsets past the end: E_ELF', async () => {
    const exe = seeds.find((s) => s.name === 'exe') as Seed;
    for (const len of [0, 3, 16, 40, 63, 64, 1000, Math.floor(exe.bytes.length / 2), exe.bytes.length - 1]) {
      const p = join(tmp.dir, `trunc-${len}`);
      writeFileSync(p, exe.bytes.subarray(0, len));
      const e = await readImageSymbols(p).then(() => null, (x: unknown) => x);
      expect(isRumpkgError(e, 'E_ELF'), `${len}: ${String(e)}`).toBe(true);
      const a = await readArchiveSymbols(p).then(() => null, (x: unknown) => x);
      expect(isRumpkgError(a, 'E_ELF'), `${len}: ${String(a)}`).toBe(true);
    }
    // e_shoff far past the end of the file
    const b = exe.bytes.slice();
    new DataView(b.buffer).setBigUint64(40, 1n << 40n, true);
    const p = join(tmp.dir, 'shoff');
    writeFileSync(p, b);
    await expect(readImageSymbols(p)).rejects.toMatchObject({ code: 'E_ELF', message: expect.stringMatching(/past the end/) });
  });

  it('a file truncated while being read: E_ELF, not a short or stale answer', async () => {
    const p = join(tmp.dir, 'shrinking');
    writeFileSync(p, read(bigImage));
    const src = await openFileSource(p);
    try {
      truncateSync(p, 4096);
      const e = await readImageIndex(src).then(() => null, (x: unknown) => x);
      expect(isRumpkgError(e, 'E_ELF'), String(e)).toBe(true);
      expect((e as Error).message).toMatch(/ended at offset|past the end/);
    } finally {
      await src.close();
    }
  });

  it('a directory is E_ELF, a missing file E_NOT_FOUND', async () => {
    await expect(readImageSymbols(tmp.dir)).rejects.toMatchObject({ code: 'E_ELF' });
    await expect(readArchiveSymbols(join(tmp.dir, 'nope.a'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
