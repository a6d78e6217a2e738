/**
 * A strict, hand-written ELF reader (ELF32/ELF64, little- and big-endian).
 *
 * Why hand-written and why here: no maintained ELF library exists on npm, so this is a small
 * reader of our own. It lives in components/ (not packager/ as DESIGN.md §3 first suggested)
 * because publishing (fingerprints at pack time) and importing archives — modules below the
 * packager — need symbol evidence too.
 *
 * Contract:
 * - Every offset, size, count and string index is bounds-checked against the bytes given;
 *   counts are capped by the file size before anything is allocated; every loop is bounded by
 *   such a count. Malformed input gives `RumpkgError('E_ELF')` naming the file and the defect —
 *   never another exception, a hang, or a silently wrong answer.
 * - Offsets, sizes and flags are decoded as `number` and must be exact (≤ 2^53 − 1, otherwise
 *   E_ELF); addresses and symbol values are `bigint` (kernel addresses exceed 2^53).
 * - Extended numbering is handled: `e_shnum == 0` takes the count from section 0's `sh_size`,
 *   `e_shstrndx == SHN_XINDEX` takes it from section 0's `sh_link`, and symbols with
 *   `st_shndx == SHN_XINDEX` are resolved through the `SHT_SYMTAB_SHNDX` section.
 * - Program headers are not decoded (nothing here needs them); notes come from SHT_NOTE sections.
 */
import { Buffer, isAscii } from 'node:buffer';
import { RumpkgError } from '../model/index.js';

export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  HASH: 5,
  DYNAMIC: 6,
  NOTE: 7,
  NOBITS: 8,
  REL: 9,
  DYNSYM: 11,
  SYMTAB_SHNDX: 18,
} as const;

export const SHF_ALLOC = 0x2;

const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
const SHN_ABS = 0xfff1;
const SHN_COMMON = 0xfff2;
const SHN_XINDEX = 0xffff;

/** e_machine → the name used in targets (`<platform>-<arch>`). */
const MACHINE_NAMES: Record<number, string> = {
  0: 'none',
  2: 'sparc',
  3: 'i386',
  8: 'mips',
  20: 'powerpc',
  21: 'powerpc64',
  22: 's390',
  40: 'arm',
  43: 'sparc64',
  50: 'ia64',
  62: 'x86_64',
  183: 'aarch64',
  243: 'riscv',
  258: 'loongarch',
};

export type ElfFileType = 'none' | 'rel' | 'exec' | 'dyn' | 'core' | 'other';
export type SymbolBind = 'local' | 'global' | 'weak' | 'unique' | 'other';
export type SymbolType = 'notype' | 'object' | 'func' | 'section' | 'file' | 'common' | 'tls' | 'ifunc' | 'other';
/** A section index, or where an undefined / absolute / common symbol lives. */
export type SymbolSection = number | 'UND' | 'ABS' | 'COMMON' | 'RESERVED';

export interface ElfSection {
  /** Index in the section header table. */
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: number;
  bind: SymbolBind;
  type: SymbolType;
  /** `st_other & 3`: 0 default, 1 internal, 2 hidden, 3 protected. */
  visibility: number;
  section: SymbolSection;
  /** The raw `st_shndx` (after SHN_XINDEX resolution). */
  shndx: number;
}

export interface ElfNote {
  section: string;
  name: string;
  type: number;
  desc: Uint8Array;
}

export interface ElfFile {
  file: string;
  class: 32 | 64;
  endian: 'le' | 'be';
  /** e_machine. */
  machine: number;
  /** `x86_64`, `i386`, `aarch64`, `arm`, `riscv64`, … or `machine-<n>` when unknown. */
  machineName: string;
  type: ElfFileType;
  entry: bigint;
  sections: ElfSection[];
  /** Which table `symbols` came from. */
  symbolTable: '.symtab' | '.dynsym' | null;
  /** Entry i is symbol table entry i (entry 0 is the null symbol); empty with `symbols: false`. */
  symbols: ElfSymbol[];
  notes: ElfNote[];
  /** The bytes parsed (a view, not a copy). */
  bytes: Uint8Array;
}

export interface ParseElfOptions {
  /** Named in errors. */
  file?: string;
  /** Decode the symbol table into `symbols` (default true). */
  symbols?: boolean;
  /** Decode SHT_NOTE sections (default true). */
  notes?: boolean;
}

const HINT = 'the file is truncated, corrupt or not an ELF file; rebuild it or check the path';

/** Throws the E_ELF error for `file`. */
export function elfError(file: string, what: string, context: Record<string, unknown> = {}): never {
  throw new RumpkgError('E_ELF', `malformed ELF ${file}: ${what}`, { context: { file, ...context }, hint: HINT });
}

/** True when `bytes` start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/**
 * Low-level decoding state shared with symbols.ts: the fast symbol scans read through it
 * without building `ElfSymbol` objects.
 */
interface ElfReader {
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  readonly le: boolean;
  readonly is64: boolean;
  u8(off: number): number;
  u16(off: number): number;
  u32(off: number): number;
  /**
   * A 64-bit (ELF64) or 32-bit (ELF32) word that must be an exact number. `what` names it in
   * errors; with `n`, its `#` stands for `n` (hot loops pass a constant: no string is built per
   * call unless there is an error).
   */
  word(off: number, what: string, n?: number): number;
  /** A 64-bit (ELF64) or 32-bit (ELF32) address. */
  addr(off: number): bigint;
  /** Decodes bytes [start, end) as UTF-8. */
  utf8(start: number, end: number): string;
}

/** An error's name for a field: `what`, its `#` replaced by `n` when given. */
function fieldName(what: string, n: number | undefined): string {
  return n === undefined ? what : what.replace('#', String(n));
}

/** `bytes` as a Buffer: itself when it is one (archive members and sections are views of one). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A reader over `bytes` (a whole file, or one section read on its own: offsets are local to it).
 * A class, not an object of closures: objects keep one reader per member and per table read.
 */
class Reader implements ElfReader {
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    readonly le: boolean,
    readonly is64: boolean,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(off: number): number {
    return this.dv.getUint8(off);
  }
  u16(off: number): number {
    return this.dv.getUint16(off, this.le);
  }
  u32(off: number): number {
    return this.dv.getUint32(off, this.le);
  }
  word(off: number, what: string, n?: number): number {
    if (!this.is64) return this.dv.getUint32(off, this.le);
    const le = this.le;
    const lo = this.dv.getUint32(off + (le ? 0 : 4), le);
    const hi = this.dv.getUint32(off + (le ? 4 : 0), le);
    // (hi 0, the common case: `lo` itself, a small integer, where the arithmetic would give a
    // heap number in code the engine has not optimised yet)
    if (hi === 0) return lo;
    if (hi > 0x1fffff) elfError(this.file, `${fieldName(what, n)} is implausibly large (0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')})`);
    return hi * 0x100000000 + lo;
  }
  addr(off: number): bigint {
    if (!this.is64) return BigInt(this.dv.getUint32(off, this.le));
    // the address of every section of a relocatable object is 0: no BigInt made for it
    if (this.dv.getUint32(off, true) === 0 && this.dv.getUint32(off + 4, true) === 0) return 0n;
    return this.dv.getBigUint64(off, this.le);
  }
  // only notes decode UTF-8 through a reader
  utf8(start: number, end: number): string {
    return asBuffer(this.bytes).toString('utf8', start, end);
  }
}

export function createReader(bytes: Uint8Array, file: string, le: boolean, is64: boolean): ElfReader {
  return new Reader(bytes, file, le, is64);
}

/** Reads NUL-terminated strings from one string table section, with a total work budget. */
interface StringTable {
  /** The section's bytes (offsets below are local to them). */
  readonly data: Uint8Array;
  /** Decodes the string at `index`; E_ELF if out of range or unterminated (`what`, `n` as in `ElfReader.word`). */
  get(index: number, what: string, n?: number): string;
  /** Byte range [start, end) of the string at `index` within `data` (no decoding). */
  range(index: number, what: string): [number, number];
  /**
   * Charges `n` decoded bytes to the budget (for scans that find string ends themselves);
   * E_ELF when references overlap implausibly.
   */
  charge(n: number): void;
}

/**
 * A string table over `data`, the bytes of section `sec` (read from anywhere). `sec` undefined:
 * only index 0 (the empty name) is valid.
 */
function stringTableOf(file: string, sec: ElfSection | undefined, data: Uint8Array, label: string): StringTable {
  if (sec === undefined) {
    return {
      data: new Uint8Array(0),
      get: (index, what, n) => (index === 0 ? '' : elfError(file, `${fieldName(what, n)}: name index ${index} but there is no ${label}`)),
      range: (index, what) => (index === 0 ? [0, 0] : elfError(file, `${what}: name index ${index} but there is no ${label}`)),
      charge: () => undefined,
    };
  }
  if (sec.type !== SHT.STRTAB) elfError(file, `${label} (section ${sec.index}) is not a string table (type ${sec.type})`);
  const size = sec.size;
  if (data.length !== size) throw new Error(`bug: ${label} data is ${data.length} bytes, the section ${size}`);
  // The ELF spec requires the last byte of a string table to be NUL; relying on it bounds every
  // scan below by the section end.
  if (size > 0 && data[size - 1] !== 0) elfError(file, `${label} (section ${sec.index}) does not end with a NUL byte`);
  return new Strings(file, data, label);
}

type Slice = (this: Buffer, start: number, end: number) => string;
const bufferProto = Buffer.prototype as Buffer & { latin1Slice?: Slice; utf8Slice?: Slice };
/** Buffer's own latin1Slice / utf8Slice skip toString's argument handling (a third of the decode time). */
const latin1Slice: Slice = typeof bufferProto.latin1Slice === 'function' ? bufferProto.latin1Slice : function (s, e) { return this.toString('latin1', s, e); };
const utf8Slice: Slice = typeof bufferProto.utf8Slice === 'function' ? bufferProto.utf8Slice : function (s, e) { return this.toString('utf8', s, e); };

/** A checked, NUL-terminated string table (`stringTableOf`): a class, one per table read. */
class Strings implements StringTable {
  readonly #buf: Buffer;
  readonly #size: number;
  /** All names ASCII (checked once, natively): no per-byte scan of each name. */
  readonly #ascii: boolean;
  // Overlapping names (suffix sharing) are legitimate, but a hostile table could make many
  // symbols point at one huge string: cap the total bytes decoded.
  #budget: number;
  constructor(
    readonly file: string,
    readonly data: Uint8Array,
    readonly label: string,
  ) {
    this.#buf = asBuffer(data);
    this.#size = data.length;
    this.#ascii = isAscii(data);
    this.#budget = data.length * 8 + (1 << 20);
  }
  charge(n: number): void {
    this.#budget -= n;
    if (this.#budget < 0) elfError(this.file, `${this.label}: string references overlap implausibly (decoding budget exceeded)`);
  }
  range(index: number, what: string): [number, number] {
    if (index >= this.#size) {
      if (index === 0) return [0, 0];
      elfError(this.file, `${what}: string index ${index} is outside ${this.label} (size ${this.#size})`, { index });
    }
    const e = this.data.indexOf(0, index); // the table's final NUL bounds it
    this.charge(e - index);
    return [index, e];
  }
  get(index: number, what: string, n?: number): string {
    if (index >= this.#size) {
      if (index === 0) return '';
      elfError(this.file, `${fieldName(what, n)}: string index ${index} is outside ${this.label} (size ${this.#size})`, { index });
    }
    const data = this.data;
    if (this.#ascii) {
      // Names are short: a loop finds the NUL (the table's last byte) sooner than a call of
      // indexOf; ASCII decodes the same as latin1
      let end = index;
      while (data[end] !== 0) end++;
      if (end === index) return '';
      this.charge(end - index);
      return latin1Slice.call(this.#buf, index, end);
    }
    // Names are short: a loop finds the NUL (the table's last byte) and whether the name is
    // ASCII (then latin1 decoding, which skips UTF-8 validation, gives the same string).
    let e = index;
    let acc = 0;
    let c = data[e] as number;
    while (c !== 0) {
      acc |= c;
      c = data[++e] as number;
    }
    if (e === index) return '';
    this.charge(e - index);
    return acc < 0x80 ? latin1Slice.call(this.#buf, index, e) : utf8Slice.call(this.#buf, index, e);
  }
}

/** What the ELF header and section header table say, read without the rest of the file. */
export interface ElfLayout {
  file: string;
  /** Size of the file (or archive member) the offsets are checked against. */
  size: number;
  class: 32 | 64;
  endian: 'le' | 'be';
  machine: number;
  machineName: string;
  type: ElfFileType;
  entry: bigint;
  sections: ElfSection[];
}

export interface ElfHeaderInfo extends ElfLayout {
  /** A reader over the whole file (sync path). */
  reader: ElfReader;
}

const FILE_TYPES: ElfFileType[] = ['none', 'rel', 'exec', 'dyn', 'core'];

interface HeaderFields {
  layout: Omit<ElfLayout, 'sections'>;
  le: boolean;
  is64: boolean;
  shoff: number;
  shnum: number;
  shstrndx: number;
  shdrSize: number;
  /** A reader over `head`. */
  reader: ElfReader;
}

/**
 * Decodes and checks the ELF header; `head` holds the first min(size, 64) bytes of a file of
 * `size` bytes, or more (the whole file: then `reader` serves the whole file).
 */
function decodeHeader(head: Uint8Array, size: number, file: string): HeaderFields {
  const len = size;
  if (len === 0) elfError(file, 'the file is empty');
  if (!isElf(head)) elfError(file, 'no ELF magic (\\x7fELF) at offset 0');
  if (len < 16) elfError(file, `truncated: ${len} bytes, shorter than e_ident`);
  const cls = head[4];
  if (cls !== 1 && cls !== 2) elfError(file, `EI_CLASS is ${cls}, not 1 (ELF32) or 2 (ELF64)`);
  const data = head[5];
  if (data !== 1 && data !== 2) elfError(file, `EI_DATA is ${data}, not 1 (little-endian) or 2 (big-endian)`);
  if (head[6] !== 1) elfError(file, `EI_VERSION is ${head[6]}, not 1`);
  const is64 = cls === 2;
  const le = data === 1;
  const ehsize = is64 ? 64 : 52;
  if (len < ehsize || head.length < ehsize) elfError(file, `truncated: ${len} bytes, shorter than the ELF${is64 ? 64 : 32} header (${ehsize})`);
  const r = createReader(head, file, le, is64);

  const eType = r.u16(16);
  const machine = r.u16(18);
  const version = r.u32(20);
  if (version !== 1) {
    elfError(file, `e_version is ${version}, not 1 (is the byte order flag EI_DATA=${data} right?)`);
  }
  const entry = r.addr(24);
  const shoff = r.word(is64 ? 40 : 32, 'e_shoff');
  const eEhsize = r.u16(is64 ? 52 : 40);
  if (eEhsize !== ehsize) {
    elfError(file, `e_ehsize is ${eEhsize}, not ${ehsize} (is the byte order flag EI_DATA=${data} right?)`);
  }
  const shentsize = r.u16(is64 ? 58 : 46);
  const shnum = r.u16(is64 ? 60 : 48);
  const shstrndx = r.u16(is64 ? 62 : 50);
  const shdrSize = is64 ? 64 : 40;
  const machineName =
    machine === 243 ? (is64 ? 'riscv64' : 'riscv32') : (MACHINE_NAMES[machine] ?? `machine-${machine}`);
  const layout = {
    file,
    size,
    class: (is64 ? 64 : 32) as 32 | 64,
    endian: (le ? 'le' : 'be') as 'le' | 'be',
    machine,
    machineName,
    type: FILE_TYPES[eType] ?? 'other',
    entry,
  };
  if (shoff === 0) {
    if (shnum !== 0) elfError(file, `e_shnum is ${shnum} but e_shoff is 0`);
  } else {
    if (shentsize !== shdrSize) {
      elfError(file, `e_shentsize is ${shentsize}, not ${shdrSize} (is the byte order flag EI_DATA=${data} right?)`);
    }
    if (shoff > len || len - shoff < shdrSize) {
      elfError(file, `the section header table (e_shoff ${shoff}) lies past the end of the file (${len} bytes)`, { offset: shoff });
    }
  }
  return { layout, le, is64, shoff, shnum, shstrndx, shdrSize, reader: r };
}

/**
 * The ELF header alone, fully checked: `head` holds at least the first min(size, 64) bytes of a
 * file of `size` bytes (default: `head.length`). For machine and class checks before linking or
 * booting, without reading the rest of the file.
 */
export function parseElfHeader(head: Uint8Array, options: { file: string; size?: number }): Omit<ElfLayout, 'sections'> {
  return decodeHeader(head.subarray(0, 64), options.size ?? head.length, options.file).layout;
}

/** Whether the real section count / name table index live in section 0 (extended numbering). */
function needsSection0(h: HeaderFields): boolean {
  return h.shoff !== 0 && (h.shnum === 0 || h.shstrndx === SHN_XINDEX);
}

/** Resolves extended numbering from section 0's header `s0` and caps the count by the file size. */
function sectionCount(h: HeaderFields, s0: Uint8Array | undefined): { shnum: number; shstrndx: number } {
  const file = h.layout.file;
  let { shnum, shstrndx } = h;
  if (needsSection0(h)) {
    if (s0 === undefined) throw new Error('bug: section 0 header not given');
    const r = createReader(s0, file, h.le, h.is64);
    if (shnum === 0) shnum = r.word(h.is64 ? 32 : 20, 'section 0 sh_size (extended e_shnum)');
    if (shstrndx === SHN_XINDEX) shstrndx = r.u32(h.is64 ? 40 : 24);
  }
  if (shnum === 0) elfError(file, 'e_shoff is set but the section count is 0');
  // Cap the count against the file before allocating anything.
  if (shnum > Math.floor((h.layout.size - h.shoff) / h.shdrSize)) {
    elfError(file, `${shnum} section headers at offset ${h.shoff} do not fit in ${h.layout.size} bytes`, { shnum, offset: h.shoff });
  }
  return { shnum, shstrndx };
}

/** Decodes `shnum` section headers from `table` (the table's bytes), checking each against the file size. */
function decodeSections(h: HeaderFields, table: Table, shnum: number): ElfSection[] {
  const { size: len } = h.layout;
  const file = h.layout.file;
  const is64 = h.is64;
  const { r, at } = table;
  const shdrSize = h.shdrSize;
  const sections: ElfSection[] = new Array<ElfSection>(shnum);
  const dv = r.dv;
  const le = r.le;
  const hi = le ? 4 : 0; // the high half of a 64-bit field
  const lo = le ? 0 : 4;
  for (let i = 0; i < shnum; i++) {
    const o = at + i * shdrSize;
    const type = dv.getUint32(o + 4, le);
    // ELF64 with every 64-bit field below 2^32 (all but the oddest files): read in place, with
    // no call per field; otherwise through `word`, which checks and names a field too large.
    const small =
      is64 &&
      (dv.getUint32(o + 8 + hi, le) | dv.getUint32(o + 16, le) | dv.getUint32(o + 20, le) | dv.getUint32(o + 24 + hi, le) | dv.getUint32(o + 32 + hi, le) | dv.getUint32(o + 48 + hi, le) | dv.getUint32(o + 56 + hi, le)) === 0;
    const sec: ElfSection = small
      ? {
          index: i,
          name: '',
          type,
          flags: dv.getUint32(o + 8 + lo, le),
          addr: 0n,
          offset: dv.getUint32(o + 24 + lo, le),
          size: dv.getUint32(o + 32 + lo, le),
          link: dv.getUint32(o + 40, le),
          info: dv.getUint32(o + 44, le),
          addralign: dv.getUint32(o + 48 + lo, le),
          entsize: dv.getUint32(o + 56 + lo, le),
        }
      : is64
      ? {
          index: i,
          name: '',
          type,
          flags: r.word(o + 8, 'section # sh_flags', i),
          addr: r.addr(o + 16),
          offset: r.word(o + 24, 'section # sh_offset', i),
          size: r.word(o + 32, 'section # sh_size', i),
          link: r.u32(o + 40),
          info: r.u32(o + 44),
          addralign: r.word(o + 48, 'section # sh_addralign', i),
          entsize: r.word(o + 56, 'section # sh_entsize', i),
        }
      : {
          index: i,
          name: '',
          type,
          flags: r.u32(o + 8),
          addr: BigInt(r.u32(o + 12)),
          offset: r.u32(o + 16),
          size: r.u32(o + 20),
          link: r.u32(o + 24),
          info: r.u32(o + 28),
          addralign: r.u32(o + 32),
          entsize: r.u32(o + 36),
        };
    if (i > 0 && type !== SHT.NOBITS && type !== SHT.NULL && (sec.offset > len || sec.size > len - sec.offset)) {
      elfError(file, `section ${i} (offset ${sec.offset}, size ${sec.size}) extends past the end of the file (${len} bytes)`, {
        section: i,
        offset: sec.offset,
        size: sec.size,
      });
    }
    sections[i] = sec;
  }
  return sections;
}

/** The section name table of `sections`, checked (undefined when e_shstrndx is SHN_UNDEF). */
function sectionNameTable(h: HeaderFields, sections: ElfSection[], shstrndx: number): ElfSection | undefined {
  if (shstrndx === SHN_UNDEF) return undefined;
  if (shstrndx >= sections.length) elfError(h.layout.file, `e_shstrndx ${shstrndx} is not a section (there are ${sections.length})`);
  const sec = sections[shstrndx] as ElfSection;
  if (sec.type !== SHT.STRTAB) elfError(h.layout.file, `the section name table (section ${sec.index}) is not a string table (type ${sec.type})`);
  return sec;
}

function nameSections(h: HeaderFields, sections: ElfSection[], table: Table, shstrtab: ElfSection, data: Uint8Array): void {
  const strtab = stringTableOf(h.layout.file, shstrtab, data, 'the section name table');
  const { r, at } = table;
  for (let i = 0; i < sections.length; i++) {
    const s = sections[i] as ElfSection;
    s.name = strtab.get(r.u32(at + s.index * h.shdrSize), 'section # name', s.index);
  }
}

/** The section header table: a reader and the table's offset in its bytes. */
interface Table {
  r: ElfReader;
  at: number;
}

/** Decodes the ELF header and the section header table (with names); no symbols. */
export function parseElfSections(bytes: Uint8Array, file: string): ElfHeaderInfo {
  const h = decodeHeader(bytes, bytes.length, file);
  const reader = h.reader;
  if (h.shoff === 0) return headerInfo(h, []);
  const { shnum, shstrndx } = sectionCount(h, bytes.subarray(h.shoff, h.shoff + h.shdrSize));
  // the whole-file reader serves the section table too (sectionCount checked that it fits)
  const table = { r: reader, at: h.shoff };
  const sections = decodeSections(h, table, shnum);
  const names = sectionNameTable(h, sections, shstrndx);
  if (names !== undefined) nameSections(h, sections, table, names, bytes.subarray(names.offset, names.offset + names.size));
  return headerInfo(h, sections);
}

/**
 * The `ElfHeaderInfo` of a decoded header and its sections, property by property (the same
 * object as `{ ...h.layout, reader, sections }`: a spread costs several times more in code the
 * engine has not optimised yet, and this runs once per archive member).
 */
function headerInfo(h: HeaderFields, sections: ElfSection[]): ElfHeaderInfo {
  const l = h.layout;
  return { file: l.file, size: l.size, class: l.class, endian: l.endian, machine: l.machine, machineName: l.machineName, type: l.type, entry: l.entry, reader: h.reader, sections };
}

/**
 * Where `readElfLayout` and the positioned scans get bytes: a file read with positioned reads,
 * an archive member inside one, or bytes in memory. `read` returns exactly `length` bytes at
 * `offset` (callers keep offset + length ≤ size) or throws E_ELF when the file ended early.
 */
export interface ByteSource {
  /** Named in errors. */
  readonly file: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Optional hint: [offset, offset + length) will be read in pieces soon (one read instead of many). */
  prefetch?(offset: number, length: number): Promise<void>;
}

/**
 * Reads the ELF header, the section header table and the section names with positioned reads:
 * a few KB whatever the file size. The same checks as `parseElfSections`, against `source.size`.
 */
export async function readElfLayout(source: ByteSource): Promise<ElfLayout> {
  const file = source.file;
  const h = decodeHeader(source.size === 0 ? new Uint8Array(0) : await source.read(0, Math.min(source.size, 64)), source.size, file);
  if (h.shoff === 0) return { ...h.layout, sections: [] };
  const s0 = needsSection0(h) ? await source.read(h.shoff, h.shdrSize) : undefined;
  const { shnum, shstrndx } = sectionCount(h, s0);
  const table = { r: createReader(await source.read(h.shoff, shnum * h.shdrSize), file, h.le, h.is64), at: 0 };
  const sections = decodeSections(h, table, shnum);
  const names = sectionNameTable(h, sections, shstrndx);
  if (names !== undefined) nameSections(h, sections, table, names, await source.read(names.offset, names.size));
  return { ...h.layout, sections };
}

/** The symbol table parseElf uses: `.symtab` (SHT_SYMTAB), else `.dynsym` (SHT_DYNSYM). */
export function findSymbolTable(sections: readonly ElfSection[]): ElfSection | undefined {
  return sections.find((s) => s.type === SHT.SYMTAB) ?? sections.find((s) => s.type === SHT.DYNSYM);
}

/** The name of the table `findSymbolTable` chose, as reports show it. */
export function symbolTableName(symtab: ElfSection | undefined): '.symtab' | '.dynsym' | null {
  return symtab === undefined ? null : symtab.type === SHT.SYMTAB ? '.symtab' : '.dynsym';
}

/** The identity every reader's result starts with: the file and what its ELF header says it is for. */
export function elfIdentity(info: Pick<ElfLayout, 'file' | 'class' | 'endian' | 'machine' | 'machineName'>): Pick<ElfLayout, 'file' | 'class' | 'endian' | 'machine' | 'machineName'> {
  return { file: info.file, class: info.class, endian: info.endian, machine: info.machine, machineName: info.machineName };
}

/** Validated geometry of a symbol table: where entries are, how many, their names, SHN_XINDEX. */
export interface SymbolTableView {
  section: ElfSection;
  /** The symbol table's bytes: entry i at `i * entsize`. */
  data: Uint8Array;
  /** A reader over `data`. */
  reader: ElfReader;
  count: number;
  entsize: number;
  names: StringTable;
  /** Sections in the file (a raw st_shndx below this and below SHN_LORESERVE is a plain section index). */
  sectionCount: number;
  /** Resolves entry `i`'s raw st_shndx to a checked section index or a reserved value. */
  shndx(i: number, raw: number): number;
  /** Classifies entry `i` from its raw st_shndx (SHN_XINDEX resolved to a section index). */
  sectionOf(i: number, raw: number): SymbolSection;
}

/** The sections a symbol table needs besides itself (checked): its string table and SHT_SYMTAB_SHNDX. */
interface SymbolTableParts {
  count: number;
  entsize: number;
  strtab: ElfSection;
  xindex: ElfSection | undefined;
}

function symbolTableParts(layout: ElfLayout, sec: ElfSection): SymbolTableParts {
  const file = layout.file;
  const want = layout.class === 64 ? 24 : 16;
  if (!sectionHasData(sec)) elfError(file, `symbol table ${sec.name || sec.index} has no data (section ${sec.index}, type ${sec.type})`);
  if (sec.entsize !== want) elfError(file, `symbol table ${sec.name || sec.index} has sh_entsize ${sec.entsize}, not ${want}`);
  if (sec.size % want !== 0) elfError(file, `symbol table ${sec.name || sec.index} size ${sec.size} is not a multiple of ${want}`);
  const count = sec.size / want;
  const shnum = layout.sections.length;
  if (sec.link >= shnum) elfError(file, `symbol table ${sec.name || sec.index} links to string table ${sec.link}, which does not exist`);
  const strtab = layout.sections[sec.link] as ElfSection;
  if (strtab.index === 0) elfError(file, `symbol table ${sec.name || sec.index} links to section 0 as its string table`);
  if (strtab.type !== SHT.STRTAB) {
    elfError(file, `the symbol string table (section ${sec.link}) (section ${strtab.index}) is not a string table (type ${strtab.type})`);
  }
  const xindex = layout.sections.find((s) => s.index !== 0 && s.type === SHT.SYMTAB_SHNDX && s.link === sec.index);
  if (xindex !== undefined && xindex.size < count * 4) {
    elfError(file, `SHT_SYMTAB_SHNDX section ${xindex.index} has ${xindex.size / 4} entries for ${count} symbols`);
  }
  return { count, entsize: want, strtab, xindex };
}

/** A symbol table view over the whole-file bytes of the sync path. */
export function symbolTableView(info: ElfHeaderInfo, sec: ElfSection): SymbolTableView {
  const parts = symbolTableParts(info, sec);
  const b = info.reader.bytes;
  const slice = (s: ElfSection): Uint8Array => b.subarray(s.offset, s.offset + s.size);
  return viewOf(info, sec, parts, {
    symtab: slice(sec),
    strtab: slice(parts.strtab),
    xindex: parts.xindex === undefined ? undefined : slice(parts.xindex),
  });
}

/** A symbol table view over section bytes read by any means (`data` as `symbolTableParts` names them). */
export function symbolTableViewOf(
  layout: ElfLayout,
  sec: ElfSection,
  data: { symtab: Uint8Array; strtab: Uint8Array; xindex: Uint8Array | undefined },
): SymbolTableView {
  return viewOf(layout, sec, symbolTableParts(layout, sec), data);
}

/** `symbolTableViewOf` with the parts already checked (`symbolTableParts` of `layout`, `sec`). */
function viewOf(layout: ElfLayout, sec: ElfSection, parts: SymbolTableParts, data: { symtab: Uint8Array; strtab: Uint8Array; xindex: Uint8Array | undefined }): SymbolTableView {
  const file = layout.file;
  const { count, entsize, strtab, xindex } = parts;
  const le = layout.endian === 'le';
  const is64 = layout.class === 64;
  if (data.symtab.length !== sec.size) throw new Error(`bug: symbol table data is ${data.symtab.length} bytes, the section ${sec.size}`);
  const names = stringTableOf(file, strtab, data.strtab, `the symbol string table (section ${sec.link})`);
  const xr = xindex === undefined || data.xindex === undefined ? undefined : createReader(data.xindex, file, le, is64);
  const shnum = layout.sections.length;
  const machine = layout.machine;
  const view: SymbolTableView = {
    section: sec,
    data: data.symtab,
    reader: createReader(data.symtab, file, le, is64),
    count,
    entsize,
    names,
    sectionCount: shnum,
    sectionOf: (i, raw) => (raw === SHN_XINDEX ? view.shndx(i, raw) : symbolSection(view.shndx(i, raw), machine)),
    shndx(i, raw) {
      if (raw === SHN_XINDEX) {
        if (xr === undefined) elfError(file, `symbol ${i} uses SHN_XINDEX but there is no SHT_SYMTAB_SHNDX section`);
        const x = xr.u32(i * 4);
        if (x >= shnum) elfError(file, `symbol ${i} refers to section ${x} (there are ${shnum})`, { symbol: i });
        return x;
      }
      if (raw < SHN_LORESERVE && raw >= shnum) {
        elfError(file, `symbol ${i} refers to section ${raw} (there are ${shnum})`, { symbol: i });
      }
      return raw;
    },
  };
  return view;
}

/** Reads a symbol table and the sections it needs through `source` (positioned reads). */
export async function readSymbolTableView(layout: ElfLayout, sec: ElfSection, source: ByteSource): Promise<SymbolTableView> {
  const parts = symbolTableParts(layout, sec);
  const [symtab, strtab, xindex] = await Promise.all([
    source.read(sec.offset, sec.size),
    source.read(parts.strtab.offset, parts.strtab.size),
    parts.xindex === undefined ? undefined : source.read(parts.xindex.offset, parts.xindex.size),
  ]);
  return viewOf(layout, sec, parts, { symtab, strtab, xindex });
}

const BINDS: SymbolBind[] = ['local', 'global', 'weak'];
const TYPES: SymbolType[] = ['notype', 'object', 'func', 'section', 'file', 'common', 'tls'];

/** Classifies a raw st_shndx other than SHN_XINDEX for `machine`. */
function symbolSection(shndx: number, machine: number): SymbolSection {
  if (shndx === SHN_UNDEF) return 'UND';
  if (shndx < SHN_LORESERVE) return shndx;
  if (shndx === SHN_ABS) return 'ABS';
  if (shndx === SHN_COMMON) return 'COMMON';
  if (machine === 62 && shndx === 0xff02) return 'COMMON'; // SHN_X86_64_LCOMMON
  if (machine === 8 && (shndx === 0xff00 || shndx === 0xff03)) return 'COMMON'; // SHN_MIPS_ACOMMON/SCOMMON
  if (machine === 8 && shndx === 0xff04) return 'UND'; // SHN_MIPS_SUNDEFINED
  return 'RESERVED';
}

/**
 * A decoded symbol whose name is decoded when first read: for readers that need the names of a
 * few symbols of a table (registrations.ts). The name index was checked when it was made.
 */
class LazyNameSymbol implements ElfSymbol {
  #names: StringTable;
  #index: number;
  #symbol: number;
  #name: string | undefined;
  constructor(
    names: StringTable,
    index: number,
    symbol: number,
    public value: bigint,
    public size: number,
    public bind: SymbolBind,
    public type: SymbolType,
    public visibility: number,
    public section: SymbolSection,
    public shndx: number,
  ) {
    this.#names = names;
    this.#index = index;
    this.#symbol = symbol;
  }
  get name(): string {
    this.#name ??= this.#names.get(this.#index, 'symbol #', this.#symbol);
    return this.#name;
  }
}

function decodeSymbols(view: SymbolTableView, lazyNames = false): ElfSymbol[] {
  const r = view.reader;
  const { count, entsize, names } = view;
  const base = 0;
  const out = new Array<ElfSymbol>(count);
  for (let i = 0; i < count; i++) {
    const o = base + i * entsize;
    const nameIdx = r.u32(o);
    const stInfo = r.u8(o + (r.is64 ? 4 : 12));
    const other = r.u8(o + (r.is64 ? 5 : 13));
    const rawShndx = r.u16(o + (r.is64 ? 6 : 14));
    const value = r.is64 ? r.dv.getBigUint64(o + 8, r.le) : BigInt(r.u32(o + 4));
    const size = r.is64 ? r.word(o + 16, 'symbol # st_size', i) : r.u32(o + 8);
    const shndx = view.shndx(i, rawShndx);
    const section = view.sectionOf(i, rawShndx);
    const b = stInfo >> 4;
    const t = stInfo & 0xf;
    if (lazyNames) {
      // the same range check (and error) decoding would give now; the string itself later
      if (nameIdx !== 0 && nameIdx >= names.data.length) names.get(nameIdx, 'symbol #', i);
      const bind = BINDS[b] ?? (b === 10 ? 'unique' : 'other');
      out[i] = new LazyNameSymbol(names, nameIdx, i, value, size, bind, TYPES[t] ?? (t === 10 ? 'ifunc' : 'other'), other & 3, section, shndx);
      continue;
    }
    out[i] = {
      name: names.get(nameIdx, 'symbol #', i),
      value,
      size,
      bind: BINDS[b] ?? (b === 10 ? 'unique' : 'other'),
      type: TYPES[t] ?? (t === 10 ? 'ifunc' : 'other'),
      visibility: other & 3,
      section,
      shndx,
    };
  }
  return out;
}

function decodeNotes(info: ElfHeaderInfo): ElfNote[] {
  const r = info.reader;
  const notes: ElfNote[] = [];
  for (const sec of info.sections) {
    if (sec.type !== SHT.NOTE || sec.index === 0) continue;
    const align = sec.addralign === 8 ? 8 : 4;
    const pad = (n: number): number => (n + align - 1) & ~(align - 1);
    const end = sec.offset + sec.size;
    let o = sec.offset;
    while (o < end) {
      if (end - o < 12) elfError(r.file, `note section ${sec.name} is truncated at offset ${o}`);
      const namesz = r.u32(o);
      const descsz = r.u32(o + 4);
      const type = r.u32(o + 8);
      const nameStart = o + 12;
      if (namesz > end - nameStart) elfError(r.file, `note in ${sec.name} at offset ${o}: name size ${namesz} overruns the section`);
      const descStart = nameStart + ((namesz + 3) & ~3);
      if (descStart > end || descsz > end - descStart) {
        elfError(r.file, `note in ${sec.name} at offset ${o}: descriptor size ${descsz} overruns the section`);
      }
      const nameEnd = namesz > 0 && r.bytes[nameStart + namesz - 1] === 0 ? nameStart + namesz - 1 : nameStart + namesz;
      notes.push({
        section: sec.name,
        name: r.utf8(nameStart, nameEnd),
        type,
        desc: r.bytes.subarray(descStart, descStart + descsz),
      });
      o = Math.min(end, descStart + pad(descsz)); // always advances by at least 12
    }
  }
  return notes;
}

/** Parses an ELF file. Malformed input → RumpkgError E_ELF naming `options.file`. */
export function parseElf(bytes: Uint8Array, options: ParseElfOptions = {}): ElfFile {
  const file = options.file ?? '<bytes>';
  const info = parseElfSections(bytes, file);
  const symtab = findSymbolTable(info.sections);
  const view = options.symbols === false || symtab === undefined ? undefined : symbolTableView(info, symtab);
  return elfFileOf(info, view, options.notes !== false);
}

/**
 * The `ElfFile` of an object already read by `parseElfSections` (+ `symbolTableView` of the table
 * `findSymbolTable` picks, or undefined for no symbols): what `parseElf` of the same bytes gives,
 * without decoding the header and section table again. `lazyNames`: symbol names are decoded
 * when read (name indexes are still checked here).
 */
export function elfFileOf(info: ElfHeaderInfo, view: SymbolTableView | undefined, notes = false, lazyNames = false): ElfFile {
  return {
    ...elfIdentity(info),
    type: info.type,
    entry: info.entry,
    sections: info.sections,
    symbolTable: symbolTableName(findSymbolTable(info.sections)),
    symbols: view === undefined ? [] : decodeSymbols(view, lazyNames),
    notes: notes ? decodeNotes(info) : [],
    bytes: info.reader.bytes,
  };
}

/**
 * Whether a section's bytes lie in the file (and were bounds-checked): not section 0 (its fields
 * carry extended numbering), not SHT_NULL, not SHT_NOBITS.
 */
export function sectionHasData(sec: ElfSection): boolean {
  return sec.index !== 0 && sec.type !== SHT.NOBITS && sec.type !== SHT.NULL;
}

/** The bytes of the first section called `name` (a view); undefined if absent or SHT_NOBITS. */
export function sectionData(elf: ElfFile, name: string): Uint8Array | undefined {
  const s = elf.sections.find((x) => x.name === name);
  if (s === undefined || !sectionHasData(s)) return undefined;
  return elf.bytes.subarray(s.offset, s.offset + s.size);
}
