/**
 * Fixtures for the ELF / ar / symbol tests: C compiled on the fly with the real toolchain
 * (`cc`, `clang --target=…` for other machines and byte orders, `ld.lld`), the binutils views
 * of the same files (`nm`, `readelf`) to compare against, and a tiny hand-written ELF builder
 * for byte-exact malformed cases.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'rumpkg-elf-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function works(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** Writes `src` to `<dir>/<name>.c` and compiles it to `<dir>/<name>.o`. */
export function compile(dir: string, name: string, src: string, flags: string[] = [], compiler = 'cc'): string {
  writeFileSync(join(dir, `${name}.c`), src);
  const out = join(dir, `${name}.o`);
  execFileSync(compiler, ['-c', ...flags, join(dir, `${name}.c`), '-o', out], { stdio: 'pipe' });
  return out;
}

export function read(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** `nm -P` output as [name, letter] pairs (archive member headers dropped). */
export function nm(path: string, flags: string[]): Array<[string, string]> {
  const out = run('nm', ['-P', ...flags, path]);
  const rows: Array<[string, string]> = [];
  for (const line of out.split('\n')) {
    if (line.trim() === '' || line.endsWith(':')) continue;
    const parts = line.split(' ');
    rows.push([parts[0] as string, parts[1] as string]);
  }
  return rows;
}

export function nmDefinedGlobals(path: string): string[] {
  return [...new Set(nm(path, ['--defined-only', '-g']).map(([n]) => n))].sort();
}

export interface ReadelfSymbol {
  num: number;
  value: string;
  size: number;
  type: string;
  bind: string;
  ndx: string;
  name: string;
}

/** `readelf -Ws` rows of one table (`.symtab` or `.dynsym`). */
export function readelfSymbols(path: string, table: string): ReadelfSymbol[] {
  const out = run('readelf', ['-Ws', path]);
  const rows: ReadelfSymbol[] = [];
  let inTable = false;
  for (const line of out.split('\n')) {
    const head = /^Symbol table '([^']+)'/.exec(line);
    if (head !== null) {
      inTable = head[1] === table;
      continue;
    }
    if (!inTable) continue;
    const m = /^\s*(\d+):\s+([0-9a-f]+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?: (.*))?$/.exec(line);
    if (m === null) continue;
    const size = (m[3] as string).startsWith('0x') ? Number.parseInt(m[3] as string, 16) : Number(m[3]);
    rows.push({
      num: Number(m[1]),
      value: m[2] as string,
      size,
      type: m[4] as string,
      bind: m[5] as string,
      ndx: m[7] as string,
      name: m[8] ?? '',
    });
  }
  return rows;
}

export interface ReadelfSection {
  index: number;
  name: string;
  type: string;
  offset: number;
  size: number;
}

export function readelfSections(path: string): ReadelfSection[] {
  const out = run('readelf', ['-SW', path]);
  const rows: ReadelfSection[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m === null) continue;
    const index = Number(m[1]);
    rows.push({ index, name: index === 0 ? '' : (m[2] as string), type: m[3] as string, offset: Number.parseInt(m[5] as string, 16), size: Number.parseInt(m[6] as string, 16) });
  }
  return rows;
}

/** A NetBSD-like component source: a link set entry with `rc_type`, globals, a dependency. */
export function componentSource(name: string, rcType: number, needs: string[] = []): string {
  return `
struct rump_component { int rc_type; void (*rc_init)(void); void *le_next, **le_prev; };
${needs.map((n) => `extern int ${n}(void);`).join('\n')}
static int ${name}_state;
static void ${name}_init(void) { ${name}_state = 1; }
static const struct rump_component rumpcomp_${name} = { ${rcType}, ${name}_init, 0, 0 };
__attribute__((section("link_set_rump_components"), used))
static const void *__link_set_rump_components_sym_${name} = &rumpcomp_${name};
int rumpns_${name}_attach(void) { return ${name}_state${needs.map((n) => ` + ${n}()`).join('')}; }
__attribute__((weak)) int rumpns_${name}_hook(void) { return 0; }
int rumpns_${name}_counter;
`;
}

// --- A tiny ELF builder for byte-exact fixtures -------------------------------------------

export interface BuildSymbol {
  name: string;
  bind: number;
  type: number;
  shndx: number;
  value?: number;
  size?: number;
}

/**
 * Builds a relocatable ELF with sections [null, .text, .shstrtab, .strtab, .symtab] written
 * field by field with DataView: lets tests make ELF32 / big-endian files without a compiler
 * and corrupt exactly one field. Returns the bytes and the offsets of the interesting fields.
 */
export function buildElf(opts: { class: 32 | 64; endian: 'le' | 'be'; machine?: number; symbols: BuildSymbol[] }): {
  bytes: Uint8Array;
  shoff: number;
  symtabOffset: number;
  strtabSize: number;
} {
  const is64 = opts.class === 64;
  const le = opts.endian === 'le';
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const symentsize = is64 ? 24 : 16;
  const text = new Uint8Array(16).fill(0x90);
  const shstr = ['', '.text', '.shstrtab', '.strtab', '.symtab'];
  const shstrBytes: number[] = [];
  const shNameIdx: number[] = [];
  for (const s of shstr) {
    shNameIdx.push(shstrBytes.length);
    for (const c of Buffer.from(s)) shstrBytes.push(c);
    shstrBytes.push(0);
  }
  const strBytes: number[] = [0];
  const symNameIdx: number[] = [];
  for (const s of opts.symbols) {
    symNameIdx.push(strBytes.length);
    for (const c of Buffer.from(s.name)) strBytes.push(c);
    strBytes.push(0);
  }
  const textOff = ehsize;
  const shstrOff = textOff + text.length;
  const strOff = shstrOff + shstrBytes.length;
  const symOff = (strOff + strBytes.length + 7) & ~7;
  const nsyms = opts.symbols.length + 1;
  const shoff = (symOff + nsyms * symentsize + 7) & ~7;
  const total = shoff + 5 * shentsize;
  const bytes = new Uint8Array(total);
  const dv = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1]);
  const u16 = (o: number, v: number): void => dv.setUint16(o, v, le);
  const u32 = (o: number, v: number): void => dv.setUint32(o, v, le);
  const word = (o: number, v: number): void => (is64 ? dv.setBigUint64(o, BigInt(v), le) : dv.setUint32(o, v, le));
  u16(16, 1); // ET_REL
  u16(18, opts.machine ?? (is64 ? 62 : 3));
  u32(20, 1);
  word(is64 ? 40 : 32, shoff);
  u16(is64 ? 52 : 40, ehsize);
  u16(is64 ? 58 : 46, shentsize);
  u16(is64 ? 60 : 48, 5);
  u16(is64 ? 62 : 50, 2);
  bytes.set(text, textOff);
  bytes.set(shstrBytes, shstrOff);
  bytes.set(strBytes, strOff);
  opts.symbols.forEach((s, k) => {
    const o = symOff + (k + 1) * symentsize;
    u32(o, symNameIdx[k] as number);
    if (is64) {
      bytes[o + 4] = (s.bind << 4) | s.type;
      u16(o + 6, s.shndx);
      dv.setBigUint64(o + 8, BigInt(s.value ?? 0), le);
      dv.setBigUint64(o + 16, BigInt(s.size ?? 0), le);
    } else {
      u32(o + 4, s.value ?? 0);
      u32(o + 8, s.size ?? 0);
      bytes[o + 12] = (s.bind << 4) | s.type;
      u16(o + 14, s.shndx);
    }
  });
  const firstGlobal = opts.symbols.findIndex((s) => s.bind !== 0);
  const sh = (i: number, name: number, type: number, flags: number, off: number, size: number, link: number, info: number, align: number, entsize: number): void => {
    const o = shoff + i * shentsize;
    u32(o, name);
    u32(o + 4, type);
    if (is64) {
      word(o + 8, flags);
      word(o + 24, off);
      word(o + 32, size);
      u32(o + 40, link);
      u32(o + 44, info);
      word(o + 48, align);
      word(o + 56, entsize);
    } else {
      u32(o + 8, flags);
      u32(o + 16, off);
      u32(o + 20, size);
      u32(o + 24, link);
      u32(o + 28, info);
      u32(o + 32, align);
      u32(o + 36, entsize);
    }
  };
  sh(1, shNameIdx[1] as number, 1, 6, textOff, text.length, 0, 0, 16, 0);
  sh(2, shNameIdx[2] as number, 3, 0, shstrOff, shstrBytes.length, 0, 0, 1, 0);
  sh(3, shNameIdx[3] as number, 3, 0, strOff, strBytes.length, 0, 0, 1, 0);
  sh(4, shNameIdx[4] as number, 2, 0, symOff, nsyms * symentsize, 3, firstGlobal < 0 ? nsyms : firstGlobal + 1, 8, symentsize);
  return { bytes, shoff, symtabOffset: symOff, strtabSize: strBytes.length };
}
