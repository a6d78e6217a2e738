/**
 * How rump kernel objects register their components, read from the relocations of a relocatable
 * object (one archive member). Both conventions are real:
 *
 * - **constructors** (Linux/ELF hosts, buildrump.sh): `RUMP_COMPONENT(LEVEL)` emits a local
 *   `struct rump_component rumpcomp<LEVEL> = { LEVEL, rumpcompinit<LEVEL> }` and a constructor
 *   `rumpcomp_ctor<LEVEL>` in `.init_array` whose body is `lea rumpcomp<LEVEL>(%rip),%rdi;
 *   jmp rump_component_load`. The `.init_array` relocation names a section symbol plus an offset
 *   (`.text.startup+0x10`), so the constructor is the function covering that offset; it registers
 *   a component only when its body has a relocation against `rump_component_load` (kernel module
 *   `modctor_*` and `sysctlctor_*` constructors do not). The body's other relocation leads to
 *   the struct: for a PC-relative field the target is S + A + 4 (the field ends the instruction).
 * - **link set** (NetBSD-native and rumprun hw builds): `__link_set_add_rodata(rump_components,
 *   …)` puts a pointer to the struct in `link_set_rump_components`; its relocation leads there.
 *
 * Either way the level is the int32 `rc_type` at offset 0 of the struct (never relocated), and
 * `rc_init` is the relocation at offset `pointer size` of the struct. Names are never trusted
 * alone (locals repeat across objects, member names mislead: `sysproxy.o` registers a component,
 * `rumpuser_component.o` does not); they are reported for cross-checks. Constructors are followed
 * on x86_64, the machine of the real archives; other machines report link-set entries only.
 */
import {
  SHT,
  elfIdentity,
  findSymbolTable,
  sectionHasData,
  symbolTableName,
  type ElfFile,
  type ElfHeaderInfo,
  type ElfSection,
  type ElfSymbol,
  type SymbolSection,
  type SymbolTableView,
} from './elf.js';
import { relocationsFor, type Relocation, type RelocationSource } from './relocations.js';

/** The section NetBSD's `__link_set_add_rodata(rump_components, …)` fills (one pointer each). */
export const LINK_SET_SECTION = 'link_set_rump_components';

/**
 * `enum rump_component_type` of NetBSD's sys/rump/librump/rumpkern/rump_private.h in the source
 * snapshot of ../shared/netbsd/components.json: index = the `rc_type` value stored in each
 * `struct rump_component`. Other trees may number differently: pass `levelNames`.
 */
export const RUMP_COMPONENT_TYPES: readonly string[] = [
  'RUMP_COMPONENT_DEV',
  'RUMP_COMPONENT_DEV_AFTERMAINBUS',
  'RUMP_COMPONENT_NET',
  'RUMP_COMPONENT_NET_ROUTE',
  'RUMP_COMPONENT_NET_IF',
  'RUMP_COMPONENT_NET_IFCFG',
  'RUMP_COMPONENT_VFS',
  'RUMP_COMPONENT_KERN',
  'RUMP_COMPONENT_KERN_VFS',
  'RUMP_COMPONENT_POSTINIT',
  'RUMP_COMPONENT_SYSCALL',
  'RUMP__FACTION_DEV',
  'RUMP__FACTION_VFS',
  'RUMP__FACTION_NET',
];

/** SHT_INIT_ARRAY. */
const SHT_INIT_ARRAY = 14;
const X86_64 = 62;
/** x86_64 relocation types whose field is PC-relative and ends the instruction (target = S + A + 4). */
const X86_64_PC_RELATIVE = new Set([2 /* PC32 */, 4 /* PLT32 */, 9 /* GOTPCREL */, 41 /* GOTPCRELX */, 42 /* REX_GOTPCRELX */]);

export interface ObjectRegistration {
  /** `rc_type` of the struct; null when the struct's bytes are not in the object (SHT_NOBITS). */
  type: number | null;
  via: 'constructor' | 'link-set';
  /** Index in `elf.symbols` of the struct's symbol (`rumpcomp<LEVEL>`), when the object has one. */
  struct: number | null;
  /** Index in `elf.symbols` of the init function `rc_init` points at, when it could be followed. */
  init: number | null;
  /** Index in `elf.symbols` of the constructor (constructor convention). */
  ctor: number | null;
}

/** A place in an object: a section and an offset in it. */
interface Place {
  section: number;
  offset: number;
}

/**
 * An object's symbol table as the registration rules read it: entry by entry, for the few
 * entries a registration leads to, plus the sized symbols gathered in one pass (decoding every
 * entry of every registering object into an object cost the importer more than the rules).
 * Entry i is symbol table entry i.
 */
interface SymbolEntries {
  readonly length: number;
  /** Where entry i is defined (SHN_XINDEX resolved), as `ElfSymbol.section`. */
  section(i: number): SymbolSection;
  value(i: number): bigint;
  name(i: number): string;
  /** The STT_FUNC / STT_OBJECT entries defined in a section, in table order. */
  sized: SizedSymbols;
}

/** Parallel arrays, one element per sized symbol: its entry, section, `Number(st_value)`, st_size. */
interface SizedSymbols {
  index: number[];
  section: number[];
  value: number[];
  size: number[];
}

/** What the registration rules read of a relocatable object. */
interface RegistrationObject extends RelocationSource {
  machine: number;
  type: ElfFile['type'];
  symbols: SymbolEntries;
}

/** `SymbolEntries` over decoded symbols (`parseElf`). */
function decodedEntries(symbols: readonly ElfSymbol[]): SymbolEntries {
  const sized: SizedSymbols = { index: [], section: [], value: [], size: [] };
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i] as ElfSymbol;
    if (typeof s.section !== 'number' || (s.type !== 'func' && s.type !== 'object')) continue;
    sized.index.push(i);
    sized.section.push(s.section);
    sized.value.push(Number(s.value));
    sized.size.push(s.size);
  }
  const at = (i: number): ElfSymbol => symbols[i] as ElfSymbol;
  return { length: symbols.length, section: (i) => at(i).section, value: (i) => at(i).value, name: (i) => at(i).name, sized };
}

/**
 * `SymbolEntries` read from the table's bytes (`view`). Every entry is checked as `parseElf`
 * decoding it would (st_size, section index, name index: the same E_ELF errors in the same
 * order), so reading an entry later cannot fail.
 */
function viewEntries(view: SymbolTableView): SymbolEntries {
  const r = view.reader;
  const { count, entsize, names } = view;
  const dv = r.dv;
  const le = r.le;
  const is64 = r.is64;
  const infoAt = is64 ? 4 : 12;
  const shndxAt = is64 ? 6 : 14;
  const sectionCount = view.sectionCount;
  const strSize = names.data.length;
  const sized: SizedSymbols = { index: [], section: [], value: [], size: [] };
  for (let i = 0; i < count; i++) {
    const o = i * entsize;
    let size: number;
    if (is64) {
      const hi = dv.getUint32(o + (le ? 20 : 16), le);
      size = hi > 0x1fffff ? r.word(o + 16, 'symbol # st_size', i) : hi * 0x100000000 + dv.getUint32(o + (le ? 16 : 20), le);
    } else size = dv.getUint32(o + 8, le);
    const raw = dv.getUint16(o + shndxAt, le);
    const sec = raw !== 0 && raw < 0xff00 && raw < sectionCount ? raw : view.sectionOf(i, raw);
    const nameIdx = dv.getUint32(o, le);
    if (nameIdx !== 0 && nameIdx >= strSize) names.get(nameIdx, 'symbol #', i);
    const t = dv.getUint8(o + infoAt) & 0xf;
    if (typeof sec !== 'number' || (t !== 1 && t !== 2)) continue; // STT_OBJECT, STT_FUNC
    sized.index.push(i);
    sized.section.push(sec);
    // one rounding of the exact value, as Number(bigint)
    sized.value.push(is64 ? dv.getUint32(o + (le ? 12 : 8), le) * 0x100000000 + dv.getUint32(o + (le ? 8 : 12), le) : dv.getUint32(o + 4, le));
    sized.size.push(size);
  }
  return {
    length: count,
    section: (i) => {
      const raw = dv.getUint16(i * entsize + shndxAt, le);
      return raw !== 0 && raw < 0xff00 && raw < sectionCount ? raw : view.sectionOf(i, raw);
    },
    value: (i) => (is64 ? dv.getBigUint64(i * entsize + 8, le) : BigInt(dv.getUint32(i * entsize + 4, le))),
    name: (i) => names.get(dv.getUint32(i * entsize, le), 'symbol #', i),
    sized,
  };
}

/**
 * The sized FUNC/OBJECT symbol of `p.section` that covers `p.offset` (starts there, or spans
 * it): of several, the one with the lowest value, then the lowest index. Its position in `sized`.
 */
function covering(sized: SizedSymbols, p: Place): number | null {
  let best = -1;
  let bestValue = 0;
  const n = sized.index.length;
  for (let k = 0; k < n; k++) {
    if (sized.section[k] !== p.section) continue;
    const v = sized.value[k] as number;
    if (p.offset !== v && !(p.offset > v && p.offset < v + (sized.size[k] as number))) continue;
    // a covering value is below 2^53 (p.offset is a safe integer): compared exactly
    if (best < 0 || v < bestValue) {
      best = k;
      bestValue = v;
    }
  }
  return best < 0 ? null : best;
}

/** `covering` as a symbol table index. */
function coveringSymbol(sized: SizedSymbols, p: Place): number | null {
  const k = covering(sized, p);
  return k === null ? null : (sized.index[k] as number);
}

/** Where a relocation points: its symbol's section and value plus the addend (and `bias`). */
function placeOf(syms: SymbolEntries, r: Relocation, bias = 0): Place | null {
  if (r.symbol >= syms.length) return null;
  const section = syms.section(r.symbol);
  if (typeof section !== 'number') return null;
  const off = Number(syms.value(r.symbol) + r.addend) + bias;
  return Number.isSafeInteger(off) && off >= 0 ? { section, offset: off } : null;
}

function int32At(obj: RegistrationObject, p: Place): number | null {
  const sec = obj.sections[p.section];
  if (sec === undefined || !sectionHasData(sec) || p.offset + 4 > sec.size) return null;
  const dv = new DataView(obj.bytes.buffer, obj.bytes.byteOffset + sec.offset + p.offset, 4);
  return dv.getInt32(0, obj.endian === 'le');
}

/** The components an ELF relocatable object registers, in section order (see the module head). */
export function objectRegistrations(elf: ElfFile): ObjectRegistration[] {
  return registrationsOf({ ...elf, symbols: decodedEntries(elf.symbols) });
}

/**
 * `objectRegistrations` of an object read by `parseElfSections` and its symbol table view
 * (undefined: none), without decoding the table: the same answers and the same errors.
 */
export function viewRegistrations(info: ElfHeaderInfo, view: SymbolTableView | undefined): ObjectRegistration[] {
  const symbols: SymbolEntries = view === undefined ? decodedEntries([]) : viewEntries(view);
  return registrationsOf({ ...elfIdentity(info), type: info.type, sections: info.sections, symbolTable: symbolTableName(findSymbolTable(info.sections)), bytes: info.reader.bytes, symbols });
}

function registrationsOf(elf: RegistrationObject): ObjectRegistration[] {
  if (elf.type !== 'rel' || elf.symbols.length === 0) return [];
  const syms = elf.symbols;
  const relocCache = new Map<number, Relocation[]>();
  const relocs = (sec: ElfSection): Relocation[] => {
    let r = relocCache.get(sec.index);
    if (r === undefined) relocCache.set(sec.index, (r = relocationsFor(elf, sec)));
    return r;
  };
  const ptr = elf.class === 64 ? 8 : 4;
  const structAt = (p: Place, via: ObjectRegistration['via'], ctor: number | null): ObjectRegistration => {
    const sec = elf.sections[p.section] as ElfSection;
    const initRel = relocs(sec).find((r) => r.offset === p.offset + ptr);
    const initPlace = initRel === undefined ? null : placeOf(syms, initRel);
    return {
      type: int32At(elf, p),
      via,
      struct: coveringSymbol(syms.sized, p),
      init: initPlace === null ? null : coveringSymbol(syms.sized, initPlace),
      ctor,
    };
  };
  const out: ObjectRegistration[] = [];
  for (const sec of elf.sections) {
    if (!sectionHasData(sec) && sec.type !== SHT.NOBITS) continue;
    if (sec.name === LINK_SET_SECTION) {
      for (const r of relocs(sec)) {
        const p = placeOf(syms, r);
        if (p !== null) out.push(structAt(p, 'link-set', null));
      }
    } else if (elf.machine === X86_64 && (sec.type === SHT_INIT_ARRAY || sec.name.startsWith('.init_array') || sec.name.startsWith('.ctors'))) {
      for (const r of relocs(sec)) {
        const at = placeOf(syms, r);
        const k = at === null ? null : covering(syms.sized, at);
        if (k === null) continue;
        const ctor = syms.sized.index[k] as number;
        const body = elf.sections[syms.sized.section[k] as number] as ElfSection;
        const start = syms.sized.value[k] as number;
        const end = start + (syms.sized.size[k] as number);
        const inBody = relocs(body).filter((x) => x.offset >= start && x.offset < end);
        const loads = inBody.some((x) => x.symbol < syms.length && syms.section(x.symbol) === 'UND' && syms.name(x.symbol) === 'rump_component_load');
        if (!loads) continue;
        for (const x of inBody) {
          if (x.symbol >= syms.length || syms.section(x.symbol) === 'UND') continue;
          const p = placeOf(syms, x, X86_64_PC_RELATIVE.has(x.type) ? 4 : 0);
          if (p === null) continue;
          const target = elf.sections[p.section];
          if (target === undefined || (target.flags & 0x4) !== 0) continue; // code, not the struct
          out.push(structAt(p, 'constructor', ctor));
          break;
        }
      }
    }
  }
  return out;
}
