/**
 * Symbol evidence from the bytes of archives, objects and linked images: which global symbols
 * they define, which they need, and what their `link_set_rump_components` section holds.
 * Publishing fingerprints archives with it (`symbolEvidence`), the importer derives dependency
 * edges from it (`archiveSymbols`), and the audit checks images against it (`imageSymbols`).
 *
 * Built on the hand-written ELF and ar readers next to it (no maintained ELF library exists on
 * npm); it lives in components/ because publishing and importing, below the packager, need it.
 * The scans here walk the symbol table directly and decode only the names they return.
 */
import { createHash } from 'node:crypto';
import { RumpkgError } from './errors.js';
import { isAr, parseAr } from './ar.js';
import {
  type ElfHeaderInfo,
  type ElfSection,
  type SymbolTableView,
  elfError,
  findSymbolTable,
  isElf,
  parseElfSections,
  SHF_ALLOC,
  SHT,
  symbolTableView,
} from './elf.js';
import type { SymbolEvidence } from './types.js';

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

export interface LinkSetSummary {
  /** Pointer slots in the section (section size / pointer size). */
  entries: number;
  /** Relocations against the section (objects; 0 in linked images). */
  relocations: number;
  /** The `rc_type` of each entry's `struct rump_component`, when it could be followed. */
  types: number[] | null;
}

export interface ArchiveSymbols {
  file: string;
  kind: 'archive' | 'object';
  /** ELF objects read (1 for a single object). */
  objects: number;
  /** Archive members that are not ELF (e.g. LLVM bitcode): their symbols are not counted. */
  nonElfMembers: string[];
  class: 32 | 64 | null;
  endian: 'le' | 'be' | null;
  machine: number | null;
  machineName: string | null;
  /** Defined global, weak and unique symbol names: sorted, unique. */
  defined: string[];
  /** Names referenced by a strong undefined symbol and defined by no member: sorted, unique. */
  undefined: string[];
  /** Names referenced only weakly and defined by no member: sorted, unique. */
  weakUndefined: string[];
  /** Summed over the objects that carry a link set; null when none does. */
  linkSet: LinkSetSummary | null;
}

export interface SymbolsOptions {
  /** Named in errors. */
  file?: string;
}

interface ObjectScan {
  defined: string[];
  undef: string[];
  weakUndef: string[];
}

/** Walks a symbol table, decoding names of global/weak/unique symbols only. */
function scanSymbols(info: ElfHeaderInfo, view: SymbolTableView, wantUndefined: boolean): ObjectScan {
  const r = info.reader;
  const { count, entsize, names } = view;
  const base = view.section.offset;
  const bytes = r.bytes;
  const infoAt = r.is64 ? 4 : 12;
  const shndxAt = r.is64 ? 6 : 14;
  const defined: string[] = [];
  const undef: string[] = [];
  const weakUndef: string[] = [];
  for (let i = 1; i < count; i++) {
    const o = base + i * entsize;
    const bind = (bytes[o + infoAt] as number) >> 4;
    if (bind !== 1 && bind !== 2 && bind !== 10) continue; // STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE
    const sec = view.sectionOf(i, r.u16(o + shndxAt));
    if (sec === 'UND') {
      if (!wantUndefined) continue;
      const name = names.get(r.u32(o), `symbol ${i}`);
      if (name !== '') (bind === 2 ? weakUndef : undef).push(name);
    } else {
      const name = names.get(r.u32(o), `symbol ${i}`);
      if (name !== '') defined.push(name);
    }
  }
  return { defined, undef, weakUndef };
}

function ptrAt(info: ElfHeaderInfo, off: number): bigint {
  const r = info.reader;
  return r.is64 ? r.dv.getBigUint64(off, r.le) : BigInt(r.u32(off));
}

/** Reads the 4-byte `rc_type` at byte `at` of section `sec`, if it lies inside its data. */
function rcTypeIn(info: ElfHeaderInfo, sec: ElfSection | undefined, at: bigint): number | null {
  if (sec === undefined || sec.type === SHT.NOBITS || sec.type === SHT.NULL) return null;
  if (at < 0n || at + 4n > BigInt(sec.size)) return null;
  return info.reader.u32(sec.offset + Number(at));
}

/** The link set of a relocatable object: entries, relocations and, through them, each rc_type. */
function objectLinkSet(info: ElfHeaderInfo, view: SymbolTableView | undefined): LinkSetSummary | null {
  const ls = info.sections.find((s) => s.name === LINK_SET_SECTION);
  if (ls === undefined) return null;
  const r = info.reader;
  const ptr = r.is64 ? 8 : 4;
  const entries = Math.floor(ls.size / ptr);
  const relocs: Array<{ offset: number; type: number | null }> = [];
  let resolvable = view !== undefined && ls.type !== SHT.NOBITS;
  for (const rs of info.sections) {
    if ((rs.type !== SHT.REL && rs.type !== SHT.RELA) || rs.info !== ls.index) continue;
    const rela = rs.type === SHT.RELA;
    const ent = (r.is64 ? 16 : 8) + (rela ? ptr : 0);
    if (rs.entsize !== ent || rs.size % ent !== 0) {
      elfError(r.file, `relocation section ${rs.name} has entry size ${rs.entsize} (size ${rs.size}), expected ${ent}`);
    }
    const n = rs.size / ent;
    for (let k = 0; k < n; k++) {
      const o = rs.offset + k * ent;
      const rOffset = r.word(o, `relocation ${k} of ${rs.name} r_offset`);
      if (!resolvable || view === undefined || rs.link !== view.section.index) {
        relocs.push({ offset: rOffset, type: null });
        continue;
      }
      const symIdx = r.is64 ? r.u32(o + (r.le ? 12 : 8)) : r.u32(o + 4) >>> 8;
      if (symIdx >= view.count) elfError(r.file, `relocation ${k} of ${rs.name} refers to symbol ${symIdx} (there are ${view.count})`);
      let addend: bigint;
      if (rela) addend = r.is64 ? r.dv.getBigInt64(o + 16, r.le) : BigInt(r.dv.getInt32(o + 8, r.le));
      else if (rOffset + ptr <= ls.size && ls.type !== SHT.NOBITS) addend = ptrAt(info, ls.offset + rOffset);
      else addend = -1n;
      const so = view.section.offset + symIdx * view.entsize;
      const where = view.sectionOf(symIdx, r.u16(so + (r.is64 ? 6 : 14)));
      const value = r.is64 ? r.dv.getBigUint64(so + 8, r.le) : BigInt(r.u32(so + 4));
      const target = typeof where === 'number' ? info.sections[where] : undefined;
      relocs.push({ offset: rOffset, type: rcTypeIn(info, target, value + addend) });
    }
  }
  relocs.sort((a, b) => a.offset - b.offset);
  const types = relocs.map((x) => x.type);
  resolvable = types.length === entries && types.every((t) => t !== null);
  return { entries, relocations: relocs.length, types: resolvable ? (types as number[]) : null };
}

/** R_*_RELATIVE relocation types of RELA machines (x86_64, aarch64, powerpc64, riscv). */
const RELATIVE: Record<number, number> = { 62: 8, 183: 1027, 21: 22, 243: 3 };

/**
 * Position-independent images linked without applying dynamic relocations (lld's default) hold
 * zeros in the link set; the pointers are the addends of R_*_RELATIVE relocations at those
 * addresses. Returns address → target for the link set's slots.
 */
function relativeAddends(info: ElfHeaderInfo, ls: ElfSection): Map<bigint, bigint> {
  const out = new Map<bigint, bigint>();
  const rel = RELATIVE[info.machine];
  const r = info.reader;
  if (rel === undefined || !r.is64) return out;
  const lo = ls.addr;
  const hi = ls.addr + BigInt(ls.size);
  for (const rs of info.sections) {
    if (rs.type !== SHT.RELA || (rs.flags & SHF_ALLOC) === 0 || rs.entsize !== 24 || rs.size % 24 !== 0) continue;
    const n = rs.size / 24;
    for (let k = 0; k < n; k++) {
      const o = rs.offset + k * 24;
      const type = r.u32(o + (r.le ? 8 : 12));
      if (type !== rel) continue;
      const at = r.dv.getBigUint64(o, r.le);
      if (at >= lo && at < hi) out.set(at, r.dv.getBigUint64(o + 16, r.le));
    }
  }
  return out;
}

/** The link set of a linked image: pointers followed to their `struct rump_component`. */
function imageLinkSet(info: ElfHeaderInfo): ImageLinkSet | null {
  const ls = info.sections.find((s) => s.name === LINK_SET_SECTION);
  if (ls === undefined || ls.type === SHT.NOBITS) return null;
  const r = info.reader;
  const pointerSize = r.is64 ? 8 : 4;
  const entries = Math.floor(ls.size / pointerSize);
  const loaded = info.sections.filter((s) => (s.flags & SHF_ALLOC) !== 0 && s.type !== SHT.NOBITS && s.size > 0);
  const relative = relativeAddends(info, ls);
  let types: number[] | null = [];
  for (let k = 0; k < entries && types !== null; k++) {
    let p = ptrAt(info, ls.offset + k * pointerSize);
    if (p === 0n) p = relative.get(ls.addr + BigInt(k * pointerSize)) ?? 0n;
    const sec = p === 0n ? undefined : loaded.find((s) => p >= s.addr && p < s.addr + BigInt(s.size));
    const t = sec === undefined ? null : rcTypeIn(info, sec, p - sec.addr);
    if (t === null) types = null;
    else types.push(t);
  }
  return {
    data: r.bytes.subarray(ls.offset, ls.offset + ls.size),
    pointerSize,
    endian: info.endian,
    addr: ls.addr,
    entries,
    types,
  };
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sorted (by UTF-16 code unit, = byte order for ASCII names) and unique. */
function sortedUnique(xs: Iterable<string>): string[] {
  // An explicit comparator and an adjacent-duplicate pass: much faster than `new Set` +
  // the default sort on hundreds of thousands of fresh strings.
  const a = Array.isArray(xs) ? (xs as string[]).slice() : [...xs];
  a.sort(byCodeUnit);
  let w = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[w - 1]) a[w++] = a[i] as string;
  a.length = w;
  return a;
}

/**
 * Symbols of a static archive (`!<arch>`) or a single ELF object: defined globals, what it
 * needs from elsewhere, its link set, its machine. Malformed input → E_ELF; members of
 * different machines → E_ARCH.
 */
export function archiveSymbols(bytes: Uint8Array, options: SymbolsOptions = {}): ArchiveSymbols {
  const file = options.file ?? '<bytes>';
  let objects: Array<{ name: string; data: Uint8Array }>;
  let kind: ArchiveSymbols['kind'];
  const nonElfMembers: string[] = [];
  if (isAr(bytes)) {
    kind = 'archive';
    objects = [];
    for (const m of parseAr(bytes, { file }).members) {
      if (isElf(m.data)) objects.push(m);
      else nonElfMembers.push(m.name);
    }
  } else if (isElf(bytes)) {
    kind = 'object';
    objects = [{ name: '', data: bytes }];
  } else {
    elfError(file, 'neither an ar archive (!<arch>) nor an ELF object (\\x7fELF)');
  }
  const defined = new Set<string>();
  const undef = new Set<string>();
  const weakUndef = new Set<string>();
  let head: ElfHeaderInfo | undefined;
  let linkSet: LinkSetSummary | null = null;
  for (const o of objects) {
    const label = o.name === '' ? file : `${file}(${o.name})`;
    const info = parseElfSections(o.data, label);
    if (head === undefined) head = info;
    else if (info.machine !== head.machine || info.class !== head.class || info.endian !== head.endian) {
      throw new RumpkgError(
        'E_ARCH',
        `${label} is ${info.machineName} ELF${info.class} ${info.endian} but earlier members are ${head.machineName} ELF${head.class} ${head.endian}`,
        { context: { file, member: o.name }, hint: 'an archive must hold objects for one target; rebuild it' },
      );
    }
    const symtab = findSymbolTable(info.sections);
    const view = symtab === undefined ? undefined : symbolTableView(info, symtab);
    if (view !== undefined) {
      const s = scanSymbols(info, view, true);
      for (const n of s.defined) defined.add(n);
      for (const n of s.undef) undef.add(n);
      for (const n of s.weakUndef) weakUndef.add(n);
    }
    const ls = objectLinkSet(info, view);
    if (ls !== null) {
      linkSet =
        linkSet === null
          ? ls
          : {
              entries: linkSet.entries + ls.entries,
              relocations: linkSet.relocations + ls.relocations,
              types: linkSet.types === null || ls.types === null ? null : [...linkSet.types, ...ls.types],
            };
    }
  }
  const strong = sortedUnique([...undef].filter((n) => !defined.has(n)));
  const strongSet = new Set(strong);
  return {
    file,
    kind,
    objects: objects.length,
    nonElfMembers,
    class: head?.class ?? null,
    endian: head?.endian ?? null,
    machine: head?.machine ?? null,
    machineName: head?.machineName ?? null,
    defined: sortedUnique(defined),
    undefined: strong,
    weakUndefined: sortedUnique([...weakUndef].filter((n) => !defined.has(n) && !strongSet.has(n))),
    linkSet,
  };
}

/** `sha256-<base64>` over the sorted defined global names joined by `\n` (SymbolEvidence.digest). */
export function symbolDigest(sortedNames: readonly string[]): string {
  return `sha256-${createHash('sha256').update(sortedNames.join('\n'), 'utf8').digest('base64')}`;
}

export interface SymbolEvidenceOptions extends SymbolsOptions {
  /** rc_type value → init level name (default RUMP_COMPONENT_TYPES). */
  levelNames?: readonly string[];
}

/** rc_type values → init level names (`rc_type:<n>` for values outside `levelNames`), sorted. */
export function linkSetLevels(types: readonly number[], levelNames: readonly string[] = RUMP_COMPONENT_TYPES): string[] {
  return types.map((t) => levelNames[t] ?? `rc_type:${t}`).sort();
}

/** The fingerprint recorded per target at pack/publish time (SymbolEvidence in types.ts). */
export function symbolEvidence(bytes: Uint8Array, options: SymbolEvidenceOptions = {}): SymbolEvidence {
  const s = archiveSymbols(bytes, options);
  const ev: SymbolEvidence = { defined: s.defined.length, digest: symbolDigest(s.defined) };
  if (s.linkSet !== null && s.linkSet.types !== null && s.linkSet.types.length > 0) {
    ev.linkSet = linkSetLevels(s.linkSet.types, options.levelNames);
  }
  return ev;
}

export interface ImageLinkSet {
  /** The raw section bytes (a view): `entries` pointers of `pointerSize` bytes, `endian`. */
  data: Uint8Array;
  pointerSize: 4 | 8;
  endian: 'le' | 'be';
  /** The section's address. */
  addr: bigint;
  entries: number;
  /**
   * rc_type of each entry, when every pointer leads into the image's bytes (pointers left zero
   * in position-independent images are taken from their R_*_RELATIVE relocations); else null.
   */
  types: number[] | null;
}

export interface ImageSymbols {
  file: string;
  class: 32 | 64;
  endian: 'le' | 'be';
  machine: number;
  machineName: string;
  /** Which table was read; `.dynsym` only for images stripped of `.symtab`. */
  symbolTable: '.symtab' | '.dynsym' | null;
  /** Defined global, weak and unique symbol names: sorted, unique. */
  defined: string[];
  /** The `link_set_rump_components` section, if the image has one. */
  linkSet: ImageLinkSet | null;
}

/** Defined global symbols and the link set of a linked image (or any single ELF file). */
export function imageSymbols(elfBytes: Uint8Array, options: SymbolsOptions = {}): ImageSymbols {
  const file = options.file ?? '<bytes>';
  const info = parseElfSections(elfBytes, file);
  const symtab = findSymbolTable(info.sections);
  const defined = symtab === undefined ? [] : scanSymbols(info, symbolTableView(info, symtab), false).defined;
  return {
    file,
    class: info.class,
    endian: info.endian,
    machine: info.machine,
    machineName: info.machineName,
    symbolTable: symtab === undefined ? null : symtab.type === SHT.SYMTAB ? '.symtab' : '.dynsym',
    defined: sortedUnique(defined),
    linkSet: imageLinkSet(info),
  };
}
