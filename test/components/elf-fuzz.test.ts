/**
 * Property-based fuzzing of the ELF / ar readers: thousands of mutated real images (byte flips,
 * overwritten header words, truncation, splices of two files) must give either a result that
 * satisfies the reader's invariants or a RumpkgError E_ELF / E_ARCH — never another exception,
 * never a hang (each parse is timed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import {
  archiveSymbols,
  imageContent,
  imageSymbols,
  parseImageContent,
  isRumpkgError,
  parseElf,
  sectionData,
  symbolEvidence,
} from '../../components/index.js';
import { buildElf, compile, componentSource, read, run, tempDir, works } from './elf-helpers.js';

interface Seed {
  name: string;
  bytes: Uint8Array;
  /** Offsets worth hitting: ELF header, section headers, symbol table, ar headers. */
  hot: number[];
}

const seeds: Seed[] = [];
let tmp: ReturnType<typeof tempDir>;

function hotOffsets(bytes: Uint8Array): number[] {
  const hot: number[] = [];
  for (let i = 0; i < 64; i++) hot.push(i);
  try {
    const elf = parseElf(bytes);
    for (const s of elf.sections) {
      const size = elf.class === 64 ? 64 : 40;
      const dv = new DataView(bytes.buffer, bytes.byteOffset);
      const shoff = elf.class === 64 ? Number(dv.getBigUint64(40, elf.endian === 'le')) : dv.getUint32(32, elf.endian === 'le');
      for (let k = 0; k < size; k += 4) hot.push(shoff + s.index * size + k);
      if (s.type === 2 || s.type === 9 || s.type === 4) for (let k = 0; k < Math.min(s.size, 512); k += 4) hot.push(s.offset + k);
    }
  } catch {
    // archives: their member headers are every 60 bytes near the start
    for (let i = 8; i < Math.min(bytes.length, 2048); i += 4) hot.push(i);
  }
  return hot;
}

function addSeed(name: string, bytes: Uint8Array): void {
  seeds.push({ name, bytes, hot: hotOffsets(bytes) });
}

beforeAll(() => {
  tmp = tempDir('rumpkg-fuzz-');
  const src = componentSource('fuzz', 2, ['rumpns_other']) + 'int table[4] = {1,2,3,4};\n';
  const o = compile(tmp.dir, 'fuzz', src, ['-O1', '-fcommon']);
  addSeed('x86_64.o', read(o));
  const o2 = compile(tmp.dir, 'fuzz2', componentSource('other', 7), ['-O1']);
  const lib = join(tmp.dir, 'libfuzz.a');
  run('ar', ['rcs', lib, o, o2]);
  addSeed('lib.a', read(lib));
  if (works('clang', ['--version'])) {
    addSeed('i386.o', read(compile(tmp.dir, 'f386', src, ['--target=i386-linux-gnu', '-O1'], 'clang')));
    const be = compile(tmp.dir, 'fppc', src, ['--target=powerpc64-linux-gnu', '-O1'], 'clang');
    addSeed('ppc64.o', read(be));
    const img = join(tmp.dir, 'img');
    run('clang', ['--target=powerpc64-linux-gnu', '-fuse-ld=lld', '-nostdlib', '-static', '-Wl,-e,rumpns_fuzz_attach', '-Wl,--unresolved-symbols=ignore-all', be, '-o', img]);
    addSeed('ppc64-image', read(img));
  }
  addSeed('built32be', buildElf({ class: 32, endian: 'be', symbols: [{ name: 'rumpns_a', bind: 1, type: 2, shndx: 1 }] }).bytes);
});
afterAll(() => tmp.cleanup());

type Mutation =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'byte'; pos: number; val: number }
  | { kind: 'word'; pos: number; val: number }
  | { kind: 'truncate'; len: number }
  | { kind: 'splice'; other: number; from: number; len: number; to: number };

const mutation: fc.Arbitrary<Mutation & { hot?: boolean }> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }), hot: fc.boolean() }),
  fc.record({ kind: fc.constant('byte' as const), pos: fc.nat(), val: fc.integer({ min: 0, max: 255 }), hot: fc.boolean() }),
  fc.record({
    kind: fc.constant('word' as const),
    pos: fc.nat(),
    val: fc.oneof(fc.constantFrom(0, 1, 0xff00, 0xffff, 0xfff1, 0x7fffffff, 0xffffffff), fc.nat()),
    hot: fc.constant(true),
  }),
  fc.record({ kind: fc.constant('truncate' as const), len: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), other: fc.nat(), from: fc.nat(), len: fc.nat({ max: 256 }), to: fc.nat() }),
);

function mutate(seed: Seed, muts: Array<Mutation & { hot?: boolean }>): Uint8Array {
  let b = seed.bytes.slice();
  for (const m of muts) {
    if (b.length === 0) break;
    const at = (pos: number, hot?: boolean): number =>
      hot === true ? (seed.hot[pos % seed.hot.length] as number) % b.length : pos % b.length;
    switch (m.kind) {
      case 'flip':
        { const p = at(m.pos, m.hot); b[p] = (b[p] as number) ^ (1 << m.bit); }
        break;
      case 'byte':
        b[at(m.pos, m.hot)] = m.val;
        break;
      case 'word': {
        const p = at(m.pos, m.hot);
        for (let k = 0; k < 4 && p + k < b.length; k++) b[p + k] = (m.val >>> (8 * (k % 4))) & 0xff;
        break;
      }
      case 'truncate':
        b = b.slice(0, m.len % (b.length + 1));
        break;
      case 'splice': {
        const other = (seeds[m.other % seeds.length] as Seed).bytes;
        const from = m.from % other.length;
        const chunk = other.subarray(from, from + m.len);
        const to = m.to % b.length;
        b.set(chunk.subarray(0, b.length - to), to);
        break;
      }
      default: {
        const never: never = m;
        throw new Error(`unknown mutation ${JSON.stringify(never)}`);
      }
    }
  }
  return b;
}

/** Runs `fn`; it must return, or throw a typed E_ELF/E_ARCH error, within the time bound. */
const outcomes = { ok: 0, typed: 0 };
function mustBeTyped(fn: () => void): void {
  const t0 = performance.now();
  try {
    fn();
    outcomes.ok++;
  } catch (e) {
    if (!isRumpkgError(e) || (e.code !== 'E_ELF' && e.code !== 'E_ARCH')) throw e;
    expect(e.message.length).toBeGreaterThan(0);
    outcomes.typed++;
  }
  expect(performance.now() - t0).toBeLessThan(2000);
}

const input = fc.record({ seed: fc.nat(), muts: fc.array(mutation, { minLength: 1, maxLength: 6 }) });

describe('fuzzing the readers with mutated real images', () => {
  it('parseElf: a result satisfying its invariants, or E_ELF', () => {
    fc.assert(
      fc.property(input, ({ seed, muts }) => {
        const s = seeds[seed % seeds.length] as Seed;
        const bytes = mutate(s, muts);
        mustBeTyped(() => {
          const elf = parseElf(bytes, { file: s.name });
          for (const sec of elf.sections) {
            if (sec.index === 0 || sec.type === 8 || sec.type === 0) continue;
            if (sec.offset + sec.size > bytes.length) throw new Error(`section ${sec.index} out of bounds accepted`);
            const first = elf.sections.find((x) => x.name === sec.name);
            if (first === sec && sectionData(elf, sec.name)?.length !== sec.size) throw new Error('sectionData length');
          }
          for (const sym of elf.symbols) {
            if (typeof sym.section === 'number' && sym.section >= elf.sections.length) throw new Error('symbol section out of range');
          }
        });
      }),
      { numRuns: 8000 },
    );
  }, 60_000);

  it('archiveSymbols / symbolEvidence / imageSymbols: a result or E_ELF / E_ARCH', () => {
    fc.assert(
      fc.property(input, ({ seed, muts }) => {
        const s = seeds[seed % seeds.length] as Seed;
        const bytes = mutate(s, muts);
        mustBeTyped(() => {
          const a = archiveSymbols(bytes, { file: s.name });
          if (a.linkSet !== null && a.linkSet.types !== null && a.linkSet.types.length !== a.linkSet.entries) throw new Error('types/entries');
        });
        mustBeTyped(() => void symbolEvidence(bytes, { file: s.name }));
        mustBeTyped(() => {
          const i = imageSymbols(bytes, { file: s.name });
          if (i.linkSet !== null && i.linkSet.data.length < i.linkSet.entries * i.linkSet.pointerSize) throw new Error('link set bounds');
        });
      }),
      { numRuns: 4000 },
    );
  }, 60_000);

  it('parseImageContent: the view (or the E_ELF error) of imageContent over parseElf, name by name', () => {
    const same = { views: 0, errors: 0 };
    /** The view, or the error's code and message. */
    const outcome = <T>(fn: () => T): T | string => {
      try {
        return fn();
      } catch (e) {
        if (!isRumpkgError(e)) throw e;
        return `${e.code}: ${e.message}`;
      }
    };
    const text = (x: unknown): string => JSON.stringify(x, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    fc.assert(
      fc.property(input, ({ seed, muts }) => {
        const s = seeds[seed % seeds.length] as Seed;
        const bytes = mutate(s, muts);
        const elf = outcome(() => parseElf(bytes, { file: s.name, notes: false }));
        const want = typeof elf === 'string' ? elf : outcome(() => imageContent(elf));
        const got = outcome(() => parseImageContent(bytes, { file: s.name }));
        if (typeof want === 'string' || typeof got === 'string') {
          expect(got).toBe(want);
          same.errors++;
          return;
        }
        expect(got.hasSymbols).toBe(want.hasSymbols);
        expect(text(got.registrations)).toBe(text(want.registrations));
        const names = new Set((elf as Exclude<typeof elf, string>).symbols.map((x) => x.name));
        for (const n of [...names, 'rump_component_load', 'not_a_symbol_here', 'caf\u00e9']) expect(text(got.symbols(n)), n).toBe(text(want.symbols(n)));
        same.views++;
      }),
      { numRuns: 3000 },
    );
    expect(same.views).toBeGreaterThan(300);
    expect(same.errors).toBeGreaterThan(300);
  }, 60_000);

  it('the mutations exercise both outcomes (valid results and typed errors)', () => {
    expect(outcomes.ok).toBeGreaterThan(1000);
    expect(outcomes.typed).toBeGreaterThan(1000);
  });

  it('the unmutated seeds parse (so the fuzz starts from valid files)', () => {
    expect(seeds.length).toBeGreaterThanOrEqual(3);
    for (const s of seeds) expect(() => archiveSymbols(s.bytes, { file: s.name })).not.toThrow();
  });
});
