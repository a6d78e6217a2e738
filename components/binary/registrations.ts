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
import { SHT, sectionHasData, type ElfFile, type ElfSection, type ElfSymbol } from './elf.js';
import { relocationsFor, type Relocation } from './relocations.js';

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

/** Sized FUNC/OBJECT symbols per section, sorted by value, for "which symbol covers this offset". */
function symbolsBySection(elf: ElfFile): Map<number, number[]> {
  const by = new Map<number, number[]>();
  elf.symbols.forEach((s, i) => {
    if (typeof s.section !== 'number' || (s.type !== 'func' && s.type !== 'object')) return;
    let list = by.get(s.section);
    if (list === undefined) by.set(s.section, (list = []));
    list.push(i);
  });
  for (const list of by.values()) list.sort((a, b) => Number((elf.symbols[a] as ElfSymbol).value - (elf.symbols[b] as ElfSymbol).value));
  return by;
}

function covering(elf: ElfFile, by: Map<number, number[]>, p: Place): number | null {
  for (const i of by.get(p.section) ?? []) {
    const s = elf.symbols[i] as ElfSymbol;
    const v = Number(s.value);
    if (p.offset === v || (p.offset > v && p.offset < v + s.size)) return i;
  }
  return null;
}

/** Where a relocation points: its symbol's section and value plus the addend (and `bias`). */
function placeOf(elf: ElfFile, r: Relocation, bias = 0): Place | null {
  const s = elf.symbols[r.symbol];
  if (s === undefined || typeof s.section !== 'number') return null;
  const off = Number(s.value + r.addend) + bias;
  return Number.isSafeInteger(off) && off >= 0 ? { section: s.section, offset: off } : null;
}

function int32At(elf: ElfFile, p: Place): number | null {
  const sec = elf.sections[p.section];
  if (sec === undefined || !sectionHasData(sec) || p.offset + 4 > sec.size) return null;
  const dv = new DataView(elf.bytes.buffer, elf.bytes.byteOffset + sec.offset + p.offset, 4);
  return dv.getInt32(0, elf.endian === 'le');
}

/** The components an ELF relocatable object registers, in section order (see the module head). */
export function objectRegistrations(elf: ElfFile): ObjectRegistration[] {
  if (elf.type !== 'rel' || elf.symbols.length === 0) return [];
  const by = symbolsBySection(elf);
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
    const initPlace = initRel === undefined ? null : placeOf(elf, initRel);
    return {
      type: int32At(elf, p),
      via,
      struct: covering(elf, by, p),
      init: initPlace === null ? null : covering(elf, by, initPlace),
      ctor,
    };
  };
  const out: ObjectRegistration[] = [];
  for (const sec of elf.sections) {
    if (!sectionHasData(sec) && sec.type !== SHT.NOBITS) continue;
    if (sec.name === LINK_SET_SECTION) {
      for (const r of relocs(sec)) {
        const p = placeOf(elf, r);
        if (p !== null) out.push(structAt(p, 'link-set', null));
      }
    } else if (elf.machine === X86_64 && (sec.type === SHT_INIT_ARRAY || sec.name.startsWith('.init_array') || sec.name.startsWith('.ctors'))) {
      for (const r of relocs(sec)) {
        const at = placeOf(elf, r);
        const ctor = at === null ? null : covering(elf, by, at);
        if (ctor === null) continue;
        const fn = elf.symbols[ctor] as ElfSymbol;
        const body = elf.sections[fn.section as number] as ElfSection;
        const start = Number(fn.value);
        const inBody = relocs(body).filter((x) => x.offset >= start && x.offset < start + fn.size);
        const loads = inBody.some((x) => {
          const s = elf.symbols[x.symbol];
          return s !== undefined && s.section === 'UND' && s.name === 'rump_component_load';
        });
        if (!loads) continue;
        for (const x of inBody) {
          const s = elf.symbols[x.symbol];
          if (s === undefined || s.section === 'UND') continue;
          const p = placeOf(elf, x, X86_64_PC_RELATIVE.has(x.type) ? 4 : 0);
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
