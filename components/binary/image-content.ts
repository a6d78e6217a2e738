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
 */
import { SHT, sectionHasData, type ElfFile, type ElfSection, type ElfSymbol, type SymbolBind, type SymbolType } from './elf.js';
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
        if (loadFn !== undefined && jump !== loadFn.value) continue;
        registrations.push(struct(target, 'constructor'));
      }
    }
  }
  return {
    hasSymbols: elf.symbolTable === '.symtab',
    symbols: (name) => byName.get(name) ?? [],
    bytes,
    registrations,
  };
}
