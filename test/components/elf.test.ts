import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  archiveSymbols,
  imageSymbols,
  isRumpkgError,
  openFileSource,
  parseElf,
  readArchiveSymbols,
  readElfLayout,
  readImageIndex,
  sectionData,
  type ElfFile,
} from '../../components/index.js';
import {
  buildElf,
  compile,
  componentSource,
  read,
  readelfSections,
  readelfSymbols,
  run,
  tempDir,
  works,
} from './elf-helpers.js';

const TYPE: Record<string, string> = {
  notype: 'NOTYPE', object: 'OBJECT', func: 'FUNC', section: 'SECTION', file: 'FILE', common: 'COMMON', tls: 'TLS', ifunc: 'IFUNC',
};
const BIND: Record<string, string> = { local: 'LOCAL', global: 'GLOBAL', weak: 'WEAK', unique: 'UNIQUE' };

/** Every symbol table entry equals readelf's view of it. */
function expectSymbolsMatchReadelf(elf: ElfFile, path: string): void {
  const table = elf.symbolTable as string;
  const want = readelfSymbols(path, table);
  expect(want.length).toBeGreaterThan(0);
  expect(elf.symbols.length).toBe(want.length);
  const got = elf.symbols.map((s, i) => ({
    num: i,
    value: s.value.toString(16).padStart(elf.class === 64 ? 16 : 8, '0'),
    size: s.size,
    type: TYPE[s.type] ?? s.type,
    bind: BIND[s.bind] ?? s.bind,
    ndx: s.section === 'UND' ? 'UND' : s.section === 'ABS' ? 'ABS' : s.section === 'COMMON' ? 'COM' : String(s.shndx),
    // readelf names section symbols after their section
    name: s.type === 'section' && s.name === '' && typeof s.section === 'number' ? (elf.sections[s.section]?.name ?? '') : s.name,
  }));
  const expected = want.map((w) => ({ ...w, name: table === '.dynsym' ? w.name.replace(/@.*$/, '') : w.name }));
  // first difference only: the tables can have 100k rows
  const bad = got.findIndex((g, i) => JSON.stringify(g) !== JSON.stringify(expected[i]));
  expect(bad === -1 ? null : got[bad]).toEqual(bad === -1 ? null : expected[bad]);
}

function expectSectionsMatchReadelf(elf: ElfFile, path: string): void {
  const want = readelfSections(path);
  expect(elf.sections.map((s) => ({ index: s.index, name: s.name, offset: s.offset, size: s.size }))).toEqual(
    want.map((w) => ({ index: w.index, name: w.name, offset: w.offset, size: w.size })),
  );
}

function expectElfError(bytes: Uint8Array, pattern: RegExp): void {
  let err: unknown;
  try {
    parseElf(bytes, { file: 'bad.o' });
  } catch (e) {
    err = e;
  }
  expect(isRumpkgError(err, 'E_ELF'), String(err)).toBe(true);
  expect((err as Error).message).toContain('bad.o');
  expect((err as Error).message).toMatch(pattern);
}

const SRC = componentSource('netinet', 2, ['rumpns_net_attach']) + `
int big_table[1024] = { 1 };
__thread int tls_var;
const char *greeting = "hello";
int rumpns_net_attach(void) { return tls_var; }
`;

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

describe('parseElf on real files from the toolchain', () => {
  it('an x86_64 relocatable object: header, sections and every symbol equal readelf', () => {
    const o = compile(tmp.dir, 'native', SRC, ['-O1', '-fcommon']);
    const elf = parseElf(read(o), { file: o });
    expect(elf).toMatchObject({ class: 64, endian: 'le', machine: 62, machineName: 'x86_64', type: 'rel', symbolTable: '.symtab' });
    expectSectionsMatchReadelf(elf, o);
    expectSymbolsMatchReadelf(elf, o);
    expect(elf.symbols.find((s) => s.name === 'rumpns_netinet_counter')?.section).toBe('COMMON');
    expect(elf.symbols.find((s) => s.name === 'rumpns_netinet_hook')?.bind).toBe('weak');
    expect(elf.symbols.find((s) => s.name === 'tls_var')?.type).toBe('tls');
    const ls = sectionData(elf, 'link_set_rump_components');
    expect(ls?.length).toBe(8);
    expect(sectionData(elf, '.no-such-section')).toBeUndefined();
  });

  it('an x86_64 PIE executable: .symtab, sections and the GNU build-id note equal readelf', () => {
    writeFileSync(join(tmp.dir, 'main.c'), 'int rumpns_net_attach(void);\nint main(void) { return rumpns_net_attach(); }\n');
    const o = compile(tmp.dir, 'native2', SRC, ['-O1']);
    const exe = join(tmp.dir, 'prog');
    run('cc', ['-Wl,--build-id=sha1', join(tmp.dir, 'main.c'), o, '-o', exe]);
    const elf = parseElf(read(exe), { file: exe });
    expect(elf.type).toBe('dyn');
    expect(elf.entry).toBeGreaterThan(0n);
    expectSectionsMatchReadelf(elf, exe);
    expectSymbolsMatchReadelf(elf, exe);
    const buildId = /Build ID: ([0-9a-f]+)/.exec(run('readelf', ['-n', exe]))?.[1];
    const note = elf.notes.find((n) => n.name === 'GNU' && n.type === 3);
    expect(buildId).toBeDefined();
    expect(Buffer.from(note?.desc ?? []).toString('hex')).toBe(buildId);
    // the same executable stripped of .symtab: the reader falls back to .dynsym
    const stripped = join(tmp.dir, 'prog.stripped');
    run('strip', ['-o', stripped, exe]);
    const s = parseElf(read(stripped), { file: stripped });
    expect(s.symbolTable).toBe('.dynsym');
    expectSymbolsMatchReadelf(s, stripped);
  });

  const cross: Array<[string, 32 | 64, 'le' | 'be', string]> = [
    ['i386-linux-gnu', 32, 'le', 'i386'],
    ['powerpc-linux-gnu', 32, 'be', 'powerpc'],
    ['powerpc64-linux-gnu', 64, 'be', 'powerpc64'],
    ['aarch64_be-linux-gnu', 64, 'be', 'aarch64'],
    ['aarch64-linux-gnu', 64, 'le', 'aarch64'],
    ['riscv64-linux-gnu', 64, 'le', 'riscv64'],
    ['arm-linux-gnueabi', 32, 'le', 'arm'],
  ];
  const haveClang = works('clang', ['--version']);
  it.skipIf(!haveClang).each(cross)('%s objects and lld-linked images equal readelf', (target, cls, endian, machineName) => {
    const o = compile(tmp.dir, `x-${target}`, SRC.replace('__thread int tls_var;', 'int tls_var;'), ['--target=' + target, '-O1', '-fcommon'], 'clang');
    const elf = parseElf(read(o), { file: o });
    expect(elf).toMatchObject({ class: cls, endian, machineName, type: 'rel' });
    expectSectionsMatchReadelf(elf, o);
    expectSymbolsMatchReadelf(elf, o);
    const img = join(tmp.dir, `img-${target}`);
    run('clang', [`--target=${target}`, '-fuse-ld=lld', '-nostdlib', '-static', '-Wl,-e,rumpns_netinet_attach', '-Wl,--build-id=md5', o, '-o', img]);
    const ie = parseElf(read(img), { file: img });
    expect(ie).toMatchObject({ class: cls, endian, machineName, type: 'exec' });
    expectSectionsMatchReadelf(ie, img);
    expectSymbolsMatchReadelf(ie, img);
    expect(ie.notes.find((n) => n.name === 'GNU' && n.type === 3)?.desc.length).toBe(16);
  });

  it.skipIf(!works('cc', ['-m32', '-c', '-x', 'c', '/dev/null', '-o', '/dev/null']))('cc -m32 objects (ELF32) equal readelf', () => {
    const o = compile(tmp.dir, 'm32', SRC, ['-m32', '-fcommon']);
    const elf = parseElf(read(o), { file: o });
    expect(elf).toMatchObject({ class: 32, endian: 'le', machineName: 'i386' });
    expectSymbolsMatchReadelf(elf, o);
  });

  it('extended section numbering (more than 65279 sections, SHN_XINDEX symbols) equals readelf', async () => {
    const n = 22_000; // .text.f, .rela.text.f and .data.v per i → more than 0xff00 sections
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`int v${i} = ${i + 1}; int f${i}(void) { return v${i}; }`);
    const o = compile(tmp.dir, 'many', lines.join('\n'), ['-O0', '-ffunction-sections', '-fdata-sections']);
    const bytes = read(o);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    expect(dv.getUint16(60, true)).toBe(0); // e_shnum escapes to section 0
    expect(dv.getUint16(62, true)).toBe(0xffff); // e_shstrndx = SHN_XINDEX
    const elf = parseElf(bytes, { file: o });
    expect(elf.sections.length).toBeGreaterThan(0xff00);
    expect(elf.sections.some((s) => s.type === 18)).toBe(true);
    expectSymbolsMatchReadelf(elf, o);
    const high = elf.symbols.find((s) => s.name === `f${n - 1}`);
    expect(typeof high?.section === 'number' && high.section > 0xff00).toBe(true);
    expect(elf.sections[high?.shndx ?? 0]?.name).toBe(`.text.f${n - 1}`);
    // the positioned readers resolve extended numbering (section 0 read first) the same way
    const src = await openFileSource(o);
    try {
      const layout = await readElfLayout(src);
      expect(layout.sections).toEqual(elf.sections);
      const x = await readImageIndex(src);
      expect(x.defined.names()).toEqual(imageSymbols(bytes, { file: o }).defined);
      expect(x.defined.has(`f${n - 1}`)).toBe(true);
    } finally {
      await src.close();
    }
    expect(await readArchiveSymbols(o)).toEqual(archiveSymbols(bytes, { file: o }));
  }, 120_000);
});

describe('parseElf on hand-built ELF headers (both classes, both byte orders)', () => {
  const syms = [
    { name: 'local_one', bind: 0, type: 2, shndx: 1, value: 4, size: 4 },
    { name: 'rumpns_defined', bind: 1, type: 2, shndx: 1, value: 0, size: 4 },
    { name: 'rumpns_needed', bind: 1, type: 0, shndx: 0 },
    { name: 'abs_sym', bind: 2, type: 0, shndx: 0xfff1, value: 0x1234 },
  ];
  it.each([
    [32, 'le'],
    [32, 'be'],
    [64, 'le'],
    [64, 'be'],
  ] as const)('ELF%i %s', (cls, endian) => {
    const { bytes } = buildElf({ class: cls, endian, symbols: syms });
    const elf = parseElf(bytes, { file: 'built.o' });
    expect(elf).toMatchObject({ class: cls, endian, type: 'rel' });
    expect(elf.sections.map((s) => s.name)).toEqual(['', '.text', '.shstrtab', '.strtab', '.symtab']);
    expect(elf.symbols.slice(1).map((s) => [s.name, s.bind, s.section, s.value])).toEqual([
      ['local_one', 'local', 1, 4n],
      ['rumpns_defined', 'global', 1, 0n],
      ['rumpns_needed', 'global', 'UND', 0n],
      ['abs_sym', 'weak', 'ABS', 0x1234n],
    ]);
    // readelf agrees with the builder, so the builder is a faithful fixture
    const p = join(tmp.dir, `built-${cls}-${endian}.o`);
    writeFileSync(p, bytes);
    expectSymbolsMatchReadelf(elf, p);
  });
});

describe('malformed input gives E_ELF naming the file and the defect', () => {
  const base = (): ReturnType<typeof buildElf> =>
    buildElf({ class: 64, endian: 'le', symbols: [{ name: 'rumpns_x', bind: 1, type: 2, shndx: 1 }] });

  it('zero-length, garbage and non-ELF', () => {
    expectElfError(new Uint8Array(0), /empty/);
    expectElfError(new Uint8Array(1000).fill(0xab), /no ELF magic/);
    expectElfError(new TextEncoder().encode('!<arch>\n'), /no ELF magic/);
  });

  it('truncated at every length below the header, and in the middle of the tables', () => {
    const { bytes, shoff } = base();
    for (let n = 1; n < 64; n++) expectElfError(bytes.subarray(0, n), n < 4 ? /no ELF magic/ : /truncated/);
    expectElfError(bytes.subarray(0, shoff + 10), /past the end|do not fit/);
    expectElfError(bytes.subarray(0, bytes.length - 1), /do not fit/);
  });

  it('bad class, data and version bytes', () => {
    const b = base().bytes;
    const c = b.slice();
    c[4] = 3;
    expectElfError(c, /EI_CLASS is 3/);
    const d = b.slice();
    d[5] = 0;
    expectElfError(d, /EI_DATA is 0/);
  });

  it('wrong-endianness flag', () => {
    const b = base().bytes.slice();
    b[5] = 2; // claims big-endian, fields are little-endian
    expectElfError(b, /byte order/);
    const be = buildElf({ class: 32, endian: 'be', symbols: [] }).bytes.slice();
    be[5] = 1;
    expectElfError(be, /byte order/);
  });

  it('huge section count fails without allocating', () => {
    const b = base().bytes.slice();
    new DataView(b.buffer).setUint16(60, 0xfeff, true);
    expectElfError(b, /65279 section headers .* do not fit/);
    // extended numbering: e_shnum = 0 and section 0's sh_size = 2^40
    const x = base();
    const e = x.bytes.slice();
    const dv = new DataView(e.buffer);
    dv.setUint16(60, 0, true);
    dv.setBigUint64(x.shoff + 32, 1n << 40n, true);
    expectElfError(e, /do not fit/);
    dv.setBigUint64(x.shoff + 32, 1n << 62n, true);
    expectElfError(e, /implausibly large/);
  });

  it('section offsets and sizes past EOF', () => {
    const x = base();
    const b = x.bytes.slice();
    const dv = new DataView(b.buffer);
    dv.setBigUint64(x.shoff + 64 + 24, BigInt(b.length + 100), true); // .text sh_offset
    expectElfError(b, /section 1 .* extends past the end/);
    const c = x.bytes.slice();
    new DataView(c.buffer).setBigUint64(x.shoff + 4 * 64 + 32, 1n << 32n, true); // .symtab sh_size
    expectElfError(c, /section 4 .* extends past the end/);
    const d = x.bytes.slice();
    new DataView(d.buffer).setBigUint64(x.shoff, 0n, true);
    new DataView(d.buffer).setBigUint64(40, BigInt(d.length - 10), true); // e_shoff
    expectElfError(d, /section header table .* past the end/);
  });

  it('string indexes out of range and unterminated string tables', () => {
    const x = base();
    const b = x.bytes.slice();
    new DataView(b.buffer).setUint32(x.symtabOffset + 24, 0x7fffffff, true); // symbol 1 st_name
    expectElfError(b, /symbol 1: string index 2147483647 is outside/);
    const c = x.bytes.slice();
    new DataView(c.buffer).setUint32(x.shoff + 64, 9999, true); // section 1 sh_name
    expectElfError(c, /section 1 name: string index 9999/);
    const d = x.bytes.slice();
    new DataView(d.buffer).setUint16(62, 77, true); // e_shstrndx
    expectElfError(d, /e_shstrndx 77/);
    const e = x.bytes.slice();
    // .strtab: drop its terminating NUL by shrinking nothing but overwriting it
    const strtabEnd = x.symtabOffset - 1;
    for (let i = strtabEnd; i > 0 && e[i] === 0; i--) e[i] = 0x41;
    expectElfError(e, /does not end with a NUL|outside/);
  });

  it('symbols pointing at missing sections, bad entry sizes, SHN_XINDEX without a table', () => {
    const x = base();
    const b = x.bytes.slice();
    new DataView(b.buffer).setUint16(x.symtabOffset + 24 + 6, 40, true);
    expectElfError(b, /symbol 1 refers to section 40/);
    const c = x.bytes.slice();
    new DataView(c.buffer).setUint16(x.symtabOffset + 24 + 6, 0xffff, true);
    expectElfError(c, /SHN_XINDEX but there is no SHT_SYMTAB_SHNDX/);
    const d = x.bytes.slice();
    new DataView(d.buffer).setBigUint64(x.shoff + 4 * 64 + 56, 23n, true);
    expectElfError(d, /sh_entsize 23/);
    const e = x.bytes.slice();
    new DataView(e.buffer).setUint32(x.shoff + 4 * 64 + 40, 99, true); // .symtab sh_link
    expectElfError(e, /string table 99/);
  });
});
