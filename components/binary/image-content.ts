/**
 * What a linked image holds, for matching archive members against it by content (fingerprint.ts):
 * its symbols by name (locals included: shims and static functions only have locals), the bytes
 * at an address, and the components it registers — through constructors (`.init_array`) or
 * `link_set_rump_components` — each with its init level and the address of its init function.
 *
 * Constructors are decoded on x86_64 (the machine of the real posix archives): a registering
 * constructor is `lea struct(%rip),%rdi; jmp rump_component_load` (48 8d 3d disp32, e9 disp32),
 * so the struct is at ctor + 7 + disp32 — readable even from an image stripped of its symbols.
 * When the image names `rump_component_load`, the jump must go there (kernel-module and sysctl
 * constructors do not). Pointers that position-independent images leave zero are taken from their
 * R_*_RELATIVE relocations. Every read is bounds-checked; anything unreadable gives null.
 *
 * `parseImageContent` (the audit's path) gives what `imageContent(parseElf(bytes))` gives without
 * decoding the symbol table into objects: the sized FUNC / OBJECT symbols are indexed by the
 * bytes of their names (a hash table over the string table, as symbol-index.ts does for defined
 * globals) and an entry is decoded when its name is asked for. Decoding every symbol of the real
 * UDP image (~10,000, each with its name as a string and its value as a BigInt) and mapping them
 * by name cost the audit more CPU, and more fresh memory, than all the lookups it then makes (a
 * few thousand). Every entry still passes the checks `parseElf` makes (name index, section
 * index, size, the string table's budget), so a malformed table fails as it did. A string table
 * with a byte ≥ 0x80 (names decoded as UTF-8, where invalid bytes can merge names) takes the
 * decoding path, so lookups stay exactly those of decoded strings.
 */
import {
  findSymbolTable,
  parseElfSections,
  SHT,
  sectionHasData,
  symbolTableName,
  symbolTableView,
  elfFileOf,
  type ElfFile,
  type ElfSection,
  type ElfSymbol,
  type SymbolBind,
  type SymbolTableView,
  type SymbolType,
} from './elf.js';
import { LINK_SET_SECTION } from './registrations.js';

export interface ImageSymbolEntry {
  name: string;
  bind: SymbolBind;
  type: SymbolType;
  size: number;
  value: bigint;
  /** `st_other & 3`: 0 default, 1 internal, 2 hidden, 3 protected. */
  visibility: number;
}

export interface ImageRegistration {
  via: 'constructor' | 'link-set';
  /** `rc_type`, null when the struct is not readable. */
  type: number | null;
  /** Address of `rc_init`, null when unreadable. */
  init: bigint | null;
  /**
   * The struct's third field when it points at a printable NUL-terminated string (≤ 255 bytes):
   * the library name in rumpkg's miniature corpus; real structs have a list link there (null).
   */
  name: string | null;
}

export interface ImageContent {
  /** Whether the image has a symbol table to find members by name. */
  readonly hasSymbols: boolean;
  /** Every symbol called `name` (locals repeat), sized FUNC/OBJECT only. */
  symbols(name: string): readonly ImageSymbolEntry[];
  /** The bytes at [addr, addr + size) when a file-backed allocated section holds them all. */
  bytes(addr: bigint, size: number): Uint8Array | null;
  registrations: ImageRegistration[];
}

const SHF_ALLOC = 0x2;
const SHT_INIT_ARRAY = 14;
/** R_*_RELATIVE relocation types of RELA machines (x86_64, aarch64, powerpc64, riscv). */
const RELATIVE: Record<number, number> = { 62: 8, 183: 1027, 21: 22, 243: 3 };

/** The content view of a parsed image (`parseElf` with symbols). Pure. */
export function imageContent(elf: ElfFile): ImageContent {
  const byName = new Map<string, ImageSymbolEntry[]>();
  // An indexed loop: once per image symbol, in code not yet optimised (for…of would go through
  // the array iterator).
  for (let i = 0; i < elf.symbols.length; i++) {
    const s = elf.symbols[i] as ElfSymbol;
    if ((s.type !== 'func' && s.type !== 'object') || s.size === 0 || typeof s.section !== 'number') continue;
    let list = byName.get(s.name);
    if (list === undefined) byName.set(s.name, (list = []));
    list.push({ name: s.name, bind: s.bind, type: s.type, size: s.size, value: s.value, visibility: s.visibility });
  }
  const loadFn = elf.symbols.find((s) => s.name === 'rump_component_load' && s.type === 'func' && typeof s.section === 'number');
  return contentView(elf, { symbols: (name) => byName.get(name) ?? NONE, loadFn: loadFn?.value });
}

const NONE: readonly ImageSymbolEntry[] = Object.freeze([]);

/** What `contentView` needs of an image besides its sections and bytes. */
interface ImageSymbols {
  /** As `ImageContent.symbols`. */
  symbols(name: string): readonly ImageSymbolEntry[];
  /** The value of the first defined FUNC symbol `rump_component_load`, when there is one. */
  loadFn: bigint | undefined;
}

/**
 * The content view of the image `bytes` (see the module head): the same view as
 * `imageContent(parseElf(bytes, { file }))`, the same E_ELF errors. Pure.
 */
export function parseImageContent(bytes: Uint8Array, options: { file: string }): ImageContent {
  const info = parseElfSections(bytes, options.file);
  const symtab = findSymbolTable(info.sections);
  const view = symtab === undefined ? undefined : symbolTableView(info, symtab);
  const image = { class: info.class, endian: info.endian, machine: info.machine, sections: info.sections, bytes: info.reader.bytes, symbolTable: symbolTableName(symtab) };
  if (view === undefined) return contentView(image, { symbols: () => NONE, loadFn: undefined });
  const index = indexSymbolNames(view);
  if (index === undefined) return imageContent(elfFileOf(info, view));
  return contentView(image, index);
}

const BINDS: readonly SymbolBind[] = ['local', 'global', 'weak'];
const SHN_LORESERVE = 0xff00;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const finish = (h: number): number => {
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
};

/**
 * The FUNC / OBJECT symbols of `view` defined in a section, by the bytes of their names (see the
 * module head); undefined when some name has a byte ≥ 0x80. Checks every entry as `parseElf`
 * decodes it (E_ELF).
 */
function indexSymbolNames(view: SymbolTableView): ImageSymbols | undefined {
  const d = view.data;
  const r = view.reader;
  const le = r.le;
  const is64 = r.is64;
  const es = view.entsize;
  const n = view.count;
  const names = view.names;
  const str = names.data;
  const strSize = str.length;
  // Indexed entries: symbol number, hash, name start and length, next entry of the same name.
  const sym = new Int32Array(n);
  const hs = new Int32Array(n);
  const st = new Int32Array(n);
  const ln = new Int32Array(n);
  let m = 0;
  let acc = 0;
  const sectionCount = view.sectionCount;
  // Fields read from the bytes, and the checks' calls made only where they could fail: this loop
  // runs once per symbol, mostly before the engine has optimised it.
  const infoAt = is64 ? 4 : 12;
  const shndxAt = is64 ? 6 : 14;
  const sizeHiAt = le ? 20 : 16; // ELF64: the high word of st_size
  for (let i = 0; i < n; i++) {
    const o = i * es;
    const nameIdx = le
      ? ((d[o] as number) | ((d[o + 1] as number) << 8) | ((d[o + 2] as number) << 16) | ((d[o + 3] as number) << 24)) >>> 0
      : (((d[o] as number) << 24) | ((d[o + 1] as number) << 16) | ((d[o + 2] as number) << 8) | (d[o + 3] as number)) >>> 0;
    const stInfo = d[o + infoAt] as number;
    const rawShndx = le ? (d[o + shndxAt] as number) | ((d[o + shndxAt + 1] as number) << 8) : ((d[o + shndxAt] as number) << 8) | (d[o + shndxAt + 1] as number);
    // the checks decoding makes: st_size an exact number, the section index in range (SHN_XINDEX resolved)
    if (is64 && ((d[o + sizeHiAt] as number) | (d[o + sizeHiAt + 1] as number) | (d[o + sizeHiAt + 2] as number) | (d[o + sizeHiAt + 3] as number)) !== 0) r.word(o + 16, 'symbol # st_size', i);
    const special = rawShndx >= SHN_LORESERVE || rawShndx >= sectionCount;
    if (special) view.shndx(i, rawShndx);
    if (nameIdx >= strSize) {
      if (nameIdx !== 0) names.get(nameIdx, 'symbol #', i); // E_ELF, as decoding says it
      continue;
    }
    const t = stInfo & 0xf;
    // defined in a section: a plain index (not SHN_UNDEF), or SHN_XINDEX resolved to one
    const indexed = (t === 1 || t === 2) && (special ? typeof view.sectionOf(i, rawShndx) === 'number' : rawShndx !== 0);
    let h = FNV_OFFSET;
    let j = nameIdx;
    if (indexed) {
      let c = str[j] as number;
      while (c !== 0) {
        h = Math.imul(h ^ c, FNV_PRIME);
        acc |= c;
        c = str[++j] as number; // the table ends with NUL: j stays inside it
      }
    } else j = str.indexOf(0, nameIdx);
    if (j > nameIdx) names.charge(j - nameIdx); // per name, as decoding charges it
    if (!indexed) continue;
    sym[m] = i;
    hs[m] = finish(h);
    st[m] = nameIdx;
    ln[m] = j - nameIdx;
    m++;
  }
  if (acc >= 0x80) return undefined;
  // Open addressing: a slot holds 1 + the first indexed entry of a name; `next` chains the rest
  // in table order.
  let cap = 16;
  while (cap < m * 2) cap *= 2;
  const mask = cap - 1;
  const table = new Int32Array(cap);
  const next = new Int32Array(m).fill(-1);
  const last = new Int32Array(m);
  const sameName = (a: number, b: number): boolean => {
    const len = ln[a] as number;
    if (ln[b] !== len || hs[a] !== hs[b]) return false;
    const sa = st[a] as number;
    const sb = st[b] as number;
    for (let x = 0; x < len; x++) if (str[sa + x] !== str[sb + x]) return false;
    return true;
  };
  for (let k = 0; k < m; k++) {
    let slot = (hs[k] as number) & mask;
    for (;;) {
      const e = table[slot] as number;
      if (e === 0) {
        table[slot] = k + 1;
        last[k] = k;
        break;
      }
      if (sameName(e - 1, k)) {
        next[last[e - 1] as number] = k;
        last[e - 1] = k;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  /** The first indexed entry named `name`, or -1. */
  const first = (name: string): number => {
    const len = name.length;
    let h = FNV_OFFSET;
    for (let x = 0; x < len; x++) {
      const c = name.charCodeAt(x);
      if (c >= 0x80 || c === 0) return -1; // the indexed names are ASCII without NUL
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    h = finish(h);
    let slot = h & mask;
    for (;;) {
      const e = table[slot] as number;
      if (e === 0) return -1;
      const k = e - 1;
      if (hs[k] === h && ln[k] === len) {
        const s0 = st[k] as number;
        let x = 0;
        while (x < len && str[s0 + x] === name.charCodeAt(x)) x++;
        if (x === len) return k;
      }
      slot = (slot + 1) & mask;
    }
  };
  const dv = r.dv;
  const valueOf = (o: number): bigint => (is64 ? dv.getBigUint64(o + 8, le) : BigInt(r.u32(o + 4)));
  const symbols = (name: string): readonly ImageSymbolEntry[] => {
    let k = first(name);
    if (k < 0) return NONE;
    const out: ImageSymbolEntry[] = [];
    for (; k >= 0; k = next[k] as number) {
      const o = (sym[k] as number) * es;
      const size = is64 ? r.word(o + 16, 'symbol # st_size', sym[k] as number) : r.u32(o + 8); // checked when indexed
      if (size === 0) continue;
      const stInfo = d[o + (is64 ? 4 : 12)] as number;
      const b = stInfo >> 4;
      out.push({
        name,
        bind: BINDS[b] ?? (b === 10 ? 'unique' : 'other'),
        type: (stInfo & 0xf) === 2 ? 'func' : 'object',
        size,
        value: valueOf(o),
        visibility: (d[o + (is64 ? 5 : 13)] as number) & 3,
      });
    }
    return out.length === 0 ? NONE : out;
  };
  let loadFn: bigint | undefined;
  for (let k = first('rump_component_load'); k >= 0; k = next[k] as number) {
    const o = (sym[k] as number) * es;
    if (((d[o + (is64 ? 4 : 12)] as number) & 0xf) === 2) {
      loadFn = valueOf(o);
      break;
    }
  }
  return { symbols, loadFn };
}

/** The content view over an image's sections and bytes, with its symbols looked up by `syms`. */
function contentView(elf: Pick<ElfFile, 'class' | 'endian' | 'machine' | 'sections' | 'bytes' | 'symbolTable'>, syms: ImageSymbols): ImageContent {
  const le = elf.endian === 'le';
  const ptr = elf.class === 64 ? 8 : 4;
  const loaded = elf.sections.filter((s) => (s.flags & SHF_ALLOC) !== 0 && sectionHasData(s) && s.size > 0).sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  const sectionAt = (addr: bigint, size: number): ElfSection | undefined => {
    let lo = 0;
    let hi = loaded.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = loaded[mid] as ElfSection;
      if (addr < s.addr) hi = mid - 1;
      else if (addr >= s.addr + BigInt(s.size)) lo = mid + 1;
      else return addr + BigInt(size) <= s.addr + BigInt(s.size) ? s : undefined;
    }
    return undefined;
  };
  // The same search over numbers when every section ends below 2^52 (user-space images): the
  // audit looks up thousands of symbols, and BigInt arithmetic allocates on every step. An
  // address ≥ 2^52 is past every section either way; below, addr + size stays exact.
  const starts = loaded.map((s) => Number(s.addr));
  const ends = loaded.map((s) => Number(s.addr) + s.size);
  const numeric = loaded.every((s) => s.addr + BigInt(s.size) <= 1n << 52n);
  const bytes = (addr: bigint, size: number): Uint8Array | null => {
    if (numeric) {
      const a = Number(addr);
      let lo = 0;
      let hi = loaded.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (a < (starts[mid] as number)) hi = mid - 1;
        else if (a >= (ends[mid] as number)) lo = mid + 1;
        else {
          if (a + size > (ends[mid] as number)) return null;
          const off = (loaded[mid] as ElfSection).offset + (a - (starts[mid] as number));
          return elf.bytes.subarray(off, off + size);
        }
      }
      return null;
    }
    const s = sectionAt(addr, size);
    if (s === undefined) return null;
    const off = s.offset + Number(addr - s.addr);
    return elf.bytes.subarray(off, off + size);
  };
  const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

  // R_*_RELATIVE: address → target, for pointers a PIE leaves zero in the file.
  const relative = new Map<bigint, bigint>();
  const rel = RELATIVE[elf.machine];
  if (rel !== undefined && elf.class === 64) {
    for (const rs of elf.sections) {
      if (!sectionHasData(rs) || rs.type !== SHT.RELA || (rs.flags & SHF_ALLOC) === 0 || rs.entsize !== 24 || rs.size % 24 !== 0) continue;
      const d = new DataView(elf.bytes.buffer, elf.bytes.byteOffset + rs.offset, rs.size);
      for (let o = 0; o + 24 <= rs.size; o += 24) {
        if (d.getUint32(o + (le ? 8 : 12), le) !== rel) continue;
        relative.set(d.getBigUint64(o, le), d.getBigUint64(o + 16, le));
      }
    }
  }
  const pointerAt = (addr: bigint): bigint | null => {
    const b = bytes(addr, ptr);
    if (b === null) return null;
    const v = ptr === 8 ? dv(b).getBigUint64(0, le) : BigInt(dv(b).getUint32(0, le));
    return v === 0n ? (relative.get(addr) ?? 0n) : v;
  };
  const stringAt = (addr: bigint): string | null => {
    const s = sectionAt(addr, 1);
    if (s === undefined) return null;
    const start = s.offset + Number(addr - s.addr);
    const end = Math.min(s.offset + s.size, start + 256);
    let i = start;
    while (i < end && elf.bytes[i] !== 0) {
      const c = elf.bytes[i] as number;
      if (c < 0x20 || c > 0x7e) return null;
      i++;
    }
    return i >= end || i === start ? null : Buffer.from(elf.bytes.subarray(start, i)).toString('latin1');
  };
  const struct = (at: bigint, via: ImageRegistration['via']): ImageRegistration => {
    const t = bytes(at, 4);
    const init = pointerAt(at + BigInt(ptr));
    const third = pointerAt(at + BigInt(2 * ptr));
    return {
      via,
      type: t === null ? null : dv(t).getInt32(0, le),
      init: init === null || init === 0n ? null : init,
      name: third === null || third === 0n ? null : stringAt(third),
    };
  };

  const loadFn = syms.loadFn;
  const registrations: ImageRegistration[] = [];
  for (const sec of elf.sections) {
    if (!sectionHasData(sec)) continue;
    const slots = Math.floor(sec.size / ptr);
    if (sec.name === LINK_SET_SECTION) {
      for (let k = 0; k < slots; k++) {
        const p = pointerAt(sec.addr + BigInt(k * ptr));
        registrations.push(p === null || p === 0n ? { via: 'link-set', type: null, init: null, name: null } : struct(p, 'link-set'));
      }
    } else if (elf.machine === 62 && (sec.type === SHT_INIT_ARRAY || sec.name === '.init_array' || sec.name === '.ctors')) {
      for (let k = 0; k < slots; k++) {
        const fn = pointerAt(sec.addr + BigInt(k * ptr));
        if (fn === null || fn === 0n || fn === 0xffffffffffffffffn) continue;
        const code = bytes(fn, 12);
        if (code === null || code[0] !== 0x48 || code[1] !== 0x8d || code[2] !== 0x3d || code[7] !== 0xe9) continue;
        const d = dv(code);
        const target = fn + 7n + BigInt(d.getInt32(3, true));
        const jump = fn + 12n + BigInt(d.getInt32(8, true));
        if (loadFn !== undefined && jump !== loadFn) continue;
        registrations.push(struct(target, 'constructor'));
      }
    }
  }
  return {
    hasSymbols: elf.symbolTable === '.symtab',
    symbols: syms.symbols,
    bytes,
    registrations,
  };
}
