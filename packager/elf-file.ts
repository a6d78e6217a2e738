/**
 * Just enough ELF and `ar` reading for the packager: the machine of an object (E_ARCH checks
 * before linking), the sections of an image (the embedded manifest) and its symbol table (size
 * attribution). Every offset is bounds-checked; malformed input is an E_ELF error naming the file,
 * never a crash or a wrong answer. Pure functions over Buffers.
 */
import { RumpkgError } from '../components/index.js';

export interface ElfHeader {
  elfClass: 32 | 64;
  littleEndian: boolean;
  type: number;
  machine: number;
}

export interface ElfSection {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: number;
  /** STT_*: 0 NOTYPE, 1 OBJECT, 2 FUNC, 3 SECTION, 4 FILE. */
  type: number;
  /** STB_*: 0 LOCAL, 1 GLOBAL, 2 WEAK. */
  bind: number;
  shndx: number;
}

export const SHT_SYMTAB = 2;
export const SHT_NOBITS = 8;
export const SHF_ALLOC = 2n;

const malformed = (file: string, why: string): RumpkgError =>
  new RumpkgError('E_ELF', `${file} is not a valid ELF file: ${why}`, { context: { path: file }, hint: 'the file is corrupted or not an ELF object; rebuild or refetch it' });

export function isElf(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46;
}

class Reader {
  readonly dv: DataView;
  constructor(readonly buf: Buffer, readonly le: boolean, readonly file: string) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  check(off: number, len: number): void {
    if (!Number.isSafeInteger(off) || off < 0 || len < 0 || off + len > this.buf.length) throw malformed(this.file, `offset ${off}+${len} is outside the file (${this.buf.length} bytes)`);
  }
  u16(off: number): number { this.check(off, 2); return this.dv.getUint16(off, this.le); }
  u32(off: number): number { this.check(off, 4); return this.dv.getUint32(off, this.le); }
  u64(off: number): bigint { this.check(off, 8); return this.dv.getBigUint64(off, this.le); }
  num64(off: number): number {
    const v = this.u64(off);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(this.file, `value at ${off} is too large`);
    return Number(v);
  }
  cstr(off: number, end: number): string {
    if (off < 0 || off >= end || end > this.buf.length) throw malformed(this.file, `string offset ${off} is outside its table`);
    const nul = this.buf.indexOf(0, off);
    if (nul < 0 || nul >= end) throw malformed(this.file, 'unterminated string');
    return this.buf.toString('latin1', off, nul);
  }
}

export function parseElfHeader(buf: Buffer, file: string): ElfHeader {
  if (!isElf(buf)) throw malformed(file, 'no ELF magic');
  if (buf.length < 52) throw malformed(file, 'truncated header');
  const cls = buf[4];
  const data = buf[5];
  if (cls !== 1 && cls !== 2) throw malformed(file, `bad class ${String(cls)}`);
  if (data !== 1 && data !== 2) throw malformed(file, `bad data encoding ${String(data)}`);
  const r = new Reader(buf, data === 1, file);
  return { elfClass: cls === 1 ? 32 : 64, littleEndian: data === 1, type: r.u16(16), machine: r.u16(18) };
}

export interface ElfFile {
  header: ElfHeader;
  sections: ElfSection[];
}

export function parseElf(buf: Buffer, file: string): ElfFile {
  const header = parseElfHeader(buf, file);
  const r = new Reader(buf, header.littleEndian, file);
  const is64 = header.elfClass === 64;
  const shoff = is64 ? r.num64(0x28) : r.u32(0x20);
  const shentsize = r.u16(is64 ? 0x3a : 0x2e);
  let shnum = r.u16(is64 ? 0x3c : 0x30);
  let shstrndx = r.u16(is64 ? 0x3e : 0x32);
  if (shoff === 0) return { header, sections: [] };
  if (shentsize !== (is64 ? 64 : 40)) throw malformed(file, `section header size ${shentsize}`);
  if (shnum === 0) shnum = is64 ? r.num64(shoff + 0x20) : r.u32(shoff + 0x14);
  if (shstrndx === 0xffff) shstrndx = r.u32(shoff + (is64 ? 0x28 : 0x18));
  if (shnum > 65536 * 4) throw malformed(file, `${shnum} sections`);
  r.check(shoff, shnum * shentsize);
  const raw: Array<Omit<ElfSection, 'name'> & { nameOff: number }> = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    const s = is64
      ? { nameOff: r.u32(o), type: r.u32(o + 4), flags: r.u64(o + 8), addr: r.u64(o + 16), offset: r.num64(o + 24), size: r.num64(o + 32), link: r.u32(o + 40), entsize: r.num64(o + 56) }
      : { nameOff: r.u32(o), type: r.u32(o + 4), flags: BigInt(r.u32(o + 8)), addr: BigInt(r.u32(o + 12)), offset: r.u32(o + 16), size: r.u32(o + 20), link: r.u32(o + 24), entsize: r.u32(o + 36) };
    if (s.type !== SHT_NOBITS && s.type !== 0) r.check(s.offset, s.size);
    raw.push(s);
  }
  const strtab = raw[shstrndx];
  if (strtab === undefined) throw malformed(file, `section name table index ${shstrndx} out of range`);
  const sections = raw.map(({ nameOff, ...s }) => ({ ...s, name: r.cstr(strtab.offset + nameOff, strtab.offset + strtab.size) }));
  return { header, sections };
}

/** The bytes of a named section, or undefined when there is none. */
export function sectionBytes(buf: Buffer, elf: ElfFile, name: string): Buffer | undefined {
  const s = elf.sections.find((x) => x.name === name);
  if (s === undefined || s.type === SHT_NOBITS) return undefined;
  return buf.subarray(s.offset, s.offset + s.size);
}

export function parseSymbols(buf: Buffer, elf: ElfFile, file: string): ElfSymbol[] {
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB);
  if (symtab === undefined) return [];
  const strtab = elf.sections[symtab.link];
  if (strtab === undefined) throw malformed(file, 'symbol table without a string table');
  const r = new Reader(buf, elf.header.littleEndian, file);
  const is64 = elf.header.elfClass === 64;
  const ent = is64 ? 24 : 16;
  const out: ElfSymbol[] = [];
  for (let o = symtab.offset; o + ent <= symtab.offset + symtab.size; o += ent) {
    const nameOff = r.u32(o);
    const info = is64 ? (buf[o + 4] ?? 0) : (buf[o + 12] ?? 0);
    const sym: ElfSymbol = is64
      ? { name: '', value: r.u64(o + 8), size: r.num64(o + 16), type: info & 0xf, bind: info >> 4, shndx: r.u16(o + 6) }
      : { name: '', value: BigInt(r.u32(o + 4)), size: r.u32(o + 8), type: info & 0xf, bind: info >> 4, shndx: r.u16(o + 14) };
    sym.name = nameOff === 0 ? '' : r.cstr(strtab.offset + nameOff, strtab.offset + strtab.size);
    out.push(sym);
  }
  return out;
}

export interface ArMember {
  name: string;
  offset: number;
  size: number;
}

/**
 * The members of a System V / GNU `ar` archive (symbol and long-name tables excluded), with
 * their data offsets. Truncated or garbled archives are E_ELF errors naming `file`.
 */
export function parseArchive(buf: Buffer, file: string): ArMember[] {
  const bad = (why: string): RumpkgError =>
    new RumpkgError('E_ELF', `${file} is not a valid ar archive: ${why}`, { context: { path: file }, hint: 'the archive is corrupted; refetch the component (rumpkg cache verify) or rebuild it' });
  if (buf.length < 8 || buf.toString('latin1', 0, 8) !== '!<arch>\n') throw bad('no !<arch> magic');
  const members: ArMember[] = [];
  let longNames = '';
  let off = 8;
  while (off < buf.length) {
    if (off + 60 > buf.length) throw bad(`truncated member header at offset ${off}`);
    const h = buf.toString('latin1', off, off + 60);
    if (h.slice(58, 60) !== '`\n') throw bad(`bad member header at offset ${off}`);
    const sizeText = h.slice(48, 58).trim();
    if (!/^\d+$/.test(sizeText)) throw bad(`bad member size at offset ${off}`);
    const size = Number(sizeText);
    const data = off + 60;
    if (data + size > buf.length) throw bad(`member at offset ${off} runs past the end of the file`);
    let name = h.slice(0, 16).trimEnd();
    if (name === '//') longNames = buf.toString('latin1', data, data + size);
    else if (name !== '/' && name !== '/SYM64/' && name !== '__.SYMDEF' && name !== '__.SYMDEF SORTED') {
      if (/^\/\d+$/.test(name)) {
        const start = Number(name.slice(1));
        const end = longNames.indexOf('/\n', start);
        if (start >= longNames.length || end < 0) throw bad(`bad long member name at offset ${off}`);
        name = longNames.slice(start, end);
      } else if (name.endsWith('/')) name = name.slice(0, -1);
      members.push({ name, offset: data, size });
    }
    off = data + size + (size % 2);
  }
  return members;
}
