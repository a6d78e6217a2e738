import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  archiveSymbols,
  imageSymbols,
  isRumpkgError,
  RUMP_COMPONENT_TYPES,
  symbolEvidence,
} from '../../components/index.js';
import { compile, componentSource, nm, nmDefinedGlobals, read, run, tempDir, works } from './elf-helpers.js';

/** Three components (rc_type KERN=7, NET=2, DEV=0) in one archive, with long member names. */
const COMPONENTS: Array<[string, number, string[]]> = [
  ['kernel_base', 7, []],
  ['networking_stack_core', 2, ['rumpns_kernel_base_attach', 'rumpns_missing_elsewhere']],
  ['dev', 0, ['rumpns_kernel_base_attach']],
];
const EXTRA = `
extern int optional_thing(void) __attribute__((weak));
int rumpns_uses_optional(void) { return optional_thing ? optional_thing() : 0; }
`;

let tmp: ReturnType<typeof tempDir>;
function buildArchive(tag: string, flags: string[], compiler = 'cc'): string {
  const objs = COMPONENTS.map(([name, rc, needs], i) =>
    compile(tmp.dir, `${tag}-${name}`, componentSource(name, rc, needs) + (i === 0 ? EXTRA : ''), flags, compiler),
  );
  const lib = join(tmp.dir, `librump_${tag}.a`);
  run('ar', ['rcs', lib, ...objs]);
  return lib;
}

function expectMatchesNm(lib: string): void {
  const s = archiveSymbols(read(lib), { file: lib });
  expect(s.defined).toEqual(nmDefinedGlobals(lib));
  const defined = new Set(s.defined);
  const undef = nm(lib, ['-u']);
  const strong = [...new Set(undef.filter(([, t]) => t === 'U').map(([n]) => n))].filter((n) => !defined.has(n)).sort();
  const weak = [...new Set(undef.filter(([, t]) => t === 'w' || t === 'v').map(([n]) => n))]
    .filter((n) => !defined.has(n) && !strong.includes(n))
    .sort();
  expect(s.undefined).toEqual(strong);
  expect(s.weakUndefined).toEqual(weak);
}

beforeAll(() => {
  tmp = tempDir('rumpkg-sym-');
});
afterAll(() => tmp.cleanup());

describe('archiveSymbols', () => {
  it('an x86_64 archive: defined/undefined equal nm, link set entries, relocations and rc_types', () => {
    const lib = buildArchive('x86', ['-O1', '-fcommon']);
    expectMatchesNm(lib);
    const s = archiveSymbols(read(lib), { file: lib });
    expect(s).toMatchObject({ kind: 'archive', objects: 3, nonElfMembers: [], class: 64, endian: 'le', machineName: 'x86_64' });
    expect(s.defined).toContain('rumpns_networking_stack_core_counter'); // a common symbol
    expect(s.defined).toContain('rumpns_dev_hook'); // weak
    expect(s.undefined.filter((n) => n.startsWith('rumpns_'))).toEqual(['rumpns_missing_elsewhere']); // kernel_base_attach is defined inside
    expect(s.weakUndefined).toEqual(['optional_thing']);
    expect(s.linkSet).toEqual({ entries: 3, relocations: 3, types: [7, 2, 0] });
  });

  const cross: Array<[string, string]> = [
    ['i386-linux-gnu', 'i386'], // REL: implicit addends
    ['powerpc64-linux-gnu', 'powerpc64'], // big-endian RELA
    ['powerpc-linux-gnu', 'powerpc'], // ELF32 big-endian
    ['aarch64-linux-gnu', 'aarch64'],
  ];
  it.skipIf(!works('clang', ['--version'])).each(cross)('%s archives equal nm and resolve rc_types', (target, machineName) => {
    const lib = buildArchive(target, [`--target=${target}`, '-O1', '-fcommon'], 'clang');
    expectMatchesNm(lib);
    const s = archiveSymbols(read(lib), { file: lib });
    expect(s.machineName).toBe(machineName);
    expect(s.linkSet).toEqual({ entries: 3, relocations: 3, types: [7, 2, 0] });
  });

  it('a single object, non-ELF members, mixed machines (E_ARCH), non-archives (E_ELF)', () => {
    const o = compile(tmp.dir, 'single', componentSource('solo', 11), ['-O1']);
    const one = archiveSymbols(read(o), { file: o });
    expect(one).toMatchObject({ kind: 'object', objects: 1, linkSet: { entries: 1, relocations: 1, types: [11] } });
    expect(one.defined).toEqual(nmDefinedGlobals(o));

    writeFileSync(join(tmp.dir, 'README.txt'), 'not an object\n');
    const withText = join(tmp.dir, 'libtext.a');
    run('ar', ['rcs', withText, o, join(tmp.dir, 'README.txt')]);
    const t = archiveSymbols(read(withText), { file: withText });
    expect(t.nonElfMembers).toEqual(['README.txt']);
    expect(t.defined).toEqual(one.defined);

    if (works('clang', ['--version'])) {
      const o32 = compile(tmp.dir, 'single32', componentSource('solo32', 1), ['--target=i386-linux-gnu'], 'clang');
      const mixed = join(tmp.dir, 'libmixed.a');
      run('ar', ['rcs', mixed, o, o32]);
      let err: unknown;
      try {
        archiveSymbols(read(mixed), { file: mixed });
      } catch (e) {
        err = e;
      }
      expect(isRumpkgError(err, 'E_ARCH'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(/single32\.o.*i386/);
    }
    let err: unknown;
    try {
      archiveSymbols(new TextEncoder().encode('hello world'), { file: 'x.a' });
    } catch (e) {
      err = e;
    }
    expect(isRumpkgError(err, 'E_ELF')).toBe(true);
    expect((err as Error).message).toContain('x.a');
  });
});

describe('symbolEvidence', () => {
  it('digest is sha256 over nm --defined-only -g names joined by \\n; linkSet names the init levels', () => {
    const lib = buildArchive('ev', ['-O1']);
    const ev = symbolEvidence(read(lib), { file: lib });
    const names = nmDefinedGlobals(lib);
    expect(ev.defined).toBe(names.length);
    expect(ev.digest).toBe(`sha256-${createHash('sha256').update(names.join('\n')).digest('base64')}`);
    expect(ev.linkSet).toEqual(['RUMP_COMPONENT_DEV', 'RUMP_COMPONENT_KERN', 'RUMP_COMPONENT_NET']);
    expect(RUMP_COMPONENT_TYPES[7]).toBe('RUMP_COMPONENT_KERN');
    // any change to the defined globals changes the digest; locals do not
    const o = compile(tmp.dir, 'ev-extra', 'int rumpns_extra_symbol;\nstatic int hidden_local;\nint *p = &hidden_local;', ['-O1', '-fcommon']);
    const lib2 = join(tmp.dir, 'librump_ev2.a');
    run('cp', [lib, lib2]);
    run('ar', ['rs', lib2, o]);
    expect(symbolEvidence(read(lib2)).digest).not.toBe(ev.digest);
    const custom = symbolEvidence(read(lib), { levelNames: ['A', 'B', 'C'] });
    expect(custom.linkSet).toEqual(['C', 'rc_type:0', 'rc_type:7'].map((x) => (x === 'rc_type:0' ? 'A' : x)).sort());
  });

  it('an archive without a link set has no linkSet', () => {
    const o = compile(tmp.dir, 'plain', 'int rumpns_plain(void) { return 1; }', []);
    expect(symbolEvidence(read(o))).toEqual({
      defined: 1,
      digest: `sha256-${createHash('sha256').update('rumpns_plain').digest('base64')}`,
    });
  });
});

describe('imageSymbols', () => {
  const MAIN = 'int rumpns_networking_stack_core_attach(void);\nint main(void) { return rumpns_networking_stack_core_attach(); }\n';
  const STUB = 'int rumpns_missing_elsewhere(void) { return 0; }\n';

  it.each(['-no-pie', '-pie'])('a cc %s image: defined equals nm, link set entries and rc_types', (pie) => {
    const lib = buildArchive(`img${pie}`, ['-O1', '-fPIE']);
    writeFileSync(join(tmp.dir, 'main.c'), MAIN + STUB);
    const exe = join(tmp.dir, `image${pie}`);
    run('cc', [pie, join(tmp.dir, 'main.c'), '-Wl,--whole-archive', lib, '-Wl,--no-whole-archive', '-o', exe]);
    const s = imageSymbols(read(exe), { file: exe });
    expect(s.symbolTable).toBe('.symtab');
    expect(s.defined).toEqual(nmDefinedGlobals(exe));
    expect(s.linkSet).toMatchObject({ entries: 3, pointerSize: 8, endian: 'le', types: [7, 2, 0] });
    expect(s.linkSet?.data.length).toBe(24);
  });

  it.skipIf(!works('ld.lld', ['--version']))('an lld PIE image (zeros in the link set, pointers in R_X86_64_RELATIVE) resolves rc_types', () => {
    const lib = buildArchive('img-lld', ['-O1', '-fPIE']);
    writeFileSync(join(tmp.dir, 'main.c'), MAIN + STUB);
    const exe = join(tmp.dir, 'image-lld-pie');
    run('cc', ['-fuse-ld=lld', '-pie', join(tmp.dir, 'main.c'), '-Wl,--whole-archive', lib, '-Wl,--no-whole-archive', '-o', exe]);
    const s = imageSymbols(read(exe), { file: exe });
    expect([...(s.linkSet?.data ?? [1])].every((b) => b === 0)).toBe(true); // really zeros in the file
    expect(s.linkSet).toMatchObject({ entries: 3, types: [7, 2, 0] });
  });

  it.skipIf(!works('clang', ['--version']))('an lld-linked big-endian image resolves every link set pointer', () => {
    const target = 'powerpc64-linux-gnu';
    const lib = buildArchive('ppc-img', [`--target=${target}`, '-O1'], 'clang');
    const stub = compile(tmp.dir, 'ppc-stub', STUB, [`--target=${target}`], 'clang');
    const img = join(tmp.dir, 'img-ppc64');
    run('clang', [`--target=${target}`, '-fuse-ld=lld', '-nostdlib', '-static', '-Wl,-e,rumpns_networking_stack_core_attach', stub, '-Wl,--whole-archive', lib, '-o', img]);
    const s = imageSymbols(read(img), { file: img });
    expect(s).toMatchObject({ class: 64, endian: 'be', machineName: 'powerpc64' });
    expect(s.defined).toEqual(nmDefinedGlobals(img));
    expect(s.linkSet).toMatchObject({ entries: 3, pointerSize: 8, endian: 'be', types: [7, 2, 0] });
  });

  it('an image without a link set, and a stripped image (.dynsym only)', () => {
    writeFileSync(join(tmp.dir, 'plain.c'), 'int exported_fn(void) { return 1; }\nint main(void) { return exported_fn(); }\n');
    const exe = join(tmp.dir, 'plain-exe');
    run('cc', ['-rdynamic', join(tmp.dir, 'plain.c'), '-o', exe]);
    const s = imageSymbols(read(exe));
    expect(s.linkSet).toBeNull();
    expect(s.defined).toEqual(nmDefinedGlobals(exe));
    run('strip', [exe]);
    const d = imageSymbols(read(exe));
    expect(d.symbolTable).toBe('.dynsym');
    expect(d.defined).toEqual([...new Set(nm(exe, ['-D', '--defined-only', '-g']).map(([n]) => n.replace(/@.*$/, '')))].sort());
    expect(d.defined).toContain('exported_fn');
  });
});
