/**
 * Symbol evidence from the bytes of archives, objects and linked images: which global symbols
 * they define, which they need, and what their `link_set_rump_components` section holds.
 * Publishing fingerprints archives with it (`symbolEvidence`), the importer derives dependency
 * edges from it (`archiveSymbols`), and the audit checks images against it (`imageSymbols`).
 *
 * Built on the hand-written ELF and ar readers next to it (no maintained ELF library exists on
 * npm); it lives in components/ because publishing and importing, below the packager, need it.
 * The scans here walk the symbol table directly and decode only the names they return.
 *
 * Two ways in, one set of checks: bytes in memory (`archiveSymbols`, `imageSymbols`,
 * `symbolEvidence`) or a file read with positioned reads through a `ByteSource`
 * (`readArchiveSymbols`, `readImageSymbols`, `readSymbolEvidence`, `readImageIndex`): the ELF
 * header, the section table, the symbol table and its strings and the few small sections the
 * link set needs — a few MB of a 100 MB image, the member headers and symbol tables of an
 * archive. Both paths decode through the same functions (`symbolTableViewOf`, `linkSetSlots`,
 * …) and the fuzz tests hold them to the same answers. For images, the defined names are
 * indexed as bytes (symbol-index.ts) and decoded only when asked for.
 */
import { createHash } from 'node:crypto';
import { RumpkgError } from '../model/index.js';
import { isAr, parseAr, readArMembers } from './ar.js';
import { openFileSource, subSource } from './byte-source.js';
import {
  type ByteSource,
  type ElfHeaderInfo,
  type ElfLayout,
  type ElfSection,
  type SymbolTableView,
  createReader,
  elfError,
  elfIdentity,
  findSymbolTable,
  symbolTableName,
  sectionHasData,
  isElf,
  parseElfSections,
  readElfLayout,
  readSymbolTableView,
  SHF_ALLOC,
  SHT,
  parseElf,
  symbolTableView,
} from './elf.js';
import { indexDefinedSymbols, type DefinedIndex } from './symbol-index.js';
import { LINK_SET_SECTION, RUMP_COMPONENT_TYPES, objectRegistrations, viewRegistrations } from './registrations.js';
import type { SymbolEvidence } from '../model/index.js';


interface LinkSetSummary {
  /** Pointer slots in the section (section size / pointer size). */
  entries: number;
  /** Relocations against the section (objects; 0 in linked images). */
  relocations: number;
  /** The `rc_type` of each entry's `struct rump_component`, when it could be followed. */
  types: number[] | null;
}

interface ArchiveSymbols {
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

interface SymbolsOptions {
  /** Named in errors. */
  file?: string;
}

interface ObjectScan {
  defined: string[];
  undef: string[];
  weakUndef: string[];
}

/**
 * How defined names are defined, gathered by `scanSymbols` as it decodes them (by the raw
 * st_shndx: any non-zero one counts as a definition here).
 */
interface DefinitionKinds {
  /** Names of STB_WEAK definitions. */
  weak: Set<string>;
  /** Names of non-weak SHN_COMMON (tentative) definitions. */
  common: Set<string>;
  /** Names of the other (strong) definitions, in table order, repeats kept. */
  strong: string[];
}

/**
 * Walks a symbol table, decoding names of global/weak/unique symbols only (each once), and
 * appends them to `out` (one set of arrays for all the tables of an archive).
 */
function scanSymbols(view: SymbolTableView, out: ObjectScan, kinds?: DefinitionKinds): void {
  const r = view.reader;
  const { count, entsize, names } = view;
  const bytes = view.data;
  const dv = r.dv;
  const le = r.le;
  const infoAt = r.is64 ? 4 : 12;
  const shndxAt = r.is64 ? 6 : 14;
  const sectionCount = view.sectionCount;
  const { defined, undef, weakUndef } = out;
  for (let i = 1; i < count; i++) {
    const o = i * entsize;
    const bind = (bytes[o + infoAt] as number) >> 4;
    if (bind !== 1 && bind !== 2 && bind !== 10) continue; // STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE
    const raw = dv.getUint16(o + shndxAt, le);
    // a plain section index (the common case) needs no classification
    const sec = raw !== 0 && raw < 0xff00 && raw < sectionCount ? raw : view.sectionOf(i, raw);
    const name = names.get(dv.getUint32(o, le), 'symbol #', i);
    if (sec === 'UND') {
      if (name !== '') (bind === 2 ? weakUndef : undef).push(name);
    } else if (name !== '') defined.push(name);
    if (kinds !== undefined && raw !== 0) {
      if (bind === 2) kinds.weak.add(name);
      else if (raw === 0xfff2) kinds.common.add(name); // SHN_COMMON
      else kinds.strong.push(name);
    }
  }
}

function ptrAt(info: ElfHeaderInfo, off: number): bigint {
  const r = info.reader;
  return r.is64 ? r.dv.getBigUint64(off, r.le) : BigInt(r.u32(off));
}

/** Reads the 4-byte `rc_type` at byte `at` of section `sec`, if it lies inside its data. */
function rcTypeIn(info: ElfHeaderInfo, sec: ElfSection | undefined, at: bigint): number | null {
  const o = rcTypeOffset(sec, at);
  return o === null ? null : info.reader.u32(o);
}

/** File offset of the 4-byte `rc_type` at byte `at` of `sec`, when that lies inside its data. */
function rcTypeOffset(sec: ElfSection | undefined, at: bigint): number | null {
  if (sec === undefined || !sectionHasData(sec)) return null;
  if (at < 0n || at + 4n > BigInt(sec.size)) return null;
  return sec.offset + Number(at);
}

/** The sections an object's link set needs read: the link set itself and its relocation sections. */
function linkSetSections(layout: ElfLayout): { ls: ElfSection; rels: ElfSection[] } | null {
  const ls = layout.sections.find((s) => s.name === LINK_SET_SECTION);
  if (ls === undefined) return null;
  return { ls, rels: layout.sections.filter((rs) => sectionHasData(rs) && (rs.type === SHT.REL || rs.type === SHT.RELA) && rs.info === ls.index) };
}

interface LinkSetSlots {
  entries: number;
  /** Per relocation (sorted by offset): where its `struct rump_component` starts, when known. */
  slots: Array<{ offset: number; sec: ElfSection | undefined; at: bigint } | null>;
}

/**
 * Phase 1 of an object's link set: its relocations, each followed to the section and offset of
 * the struct it points at. `data(sec)` gives a section's bytes (the link set when it has data,
 * and each relocation section).
 */
function linkSetSlots(layout: ElfLayout, view: SymbolTableView | undefined, data: (sec: ElfSection) => Uint8Array): LinkSetSlots | null {
  const parts = linkSetSections(layout);
  if (parts === null) return null;
  const { ls, rels } = parts;
  const file = layout.file;
  const is64 = layout.class === 64;
  const le = layout.endian === 'le';
  const ptr = is64 ? 8 : 4;
  const entries = Math.floor(ls.size / ptr);
  const lsr = sectionHasData(ls) ? createReader(data(ls), file, le, is64) : undefined;
  const relocs: Array<{ offset: number; slot: LinkSetSlots['slots'][number] }> = [];
  const resolvable = view !== undefined && ls.type !== SHT.NOBITS;
  for (const rs of rels) {
    const rela = rs.type === SHT.RELA;
    const ent = (is64 ? 16 : 8) + (rela ? ptr : 0);
    if (rs.entsize !== ent || rs.size % ent !== 0) {
      elfError(file, `relocation section ${rs.name} has entry size ${rs.entsize} (size ${rs.size}), expected ${ent}`);
    }
    const r = createReader(data(rs), file, le, is64);
    const n = rs.size / ent;
    for (let k = 0; k < n; k++) {
      const o = k * ent;
      const rOffset = r.word(o, `relocation ${k} of ${rs.name} r_offset`);
      if (!resolvable || view === undefined || rs.link !== view.section.index) {
        relocs.push({ offset: rOffset, slot: null });
        continue;
      }
      const symIdx = is64 ? r.u32(o + (le ? 12 : 8)) : r.u32(o + 4) >>> 8;
      if (symIdx >= view.count) elfError(file, `relocation ${k} of ${rs.name} refers to symbol ${symIdx} (there are ${view.count})`);
      let addend: bigint;
      if (rela) addend = is64 ? r.dv.getBigInt64(o + 16, le) : BigInt(r.dv.getInt32(o + 8, le));
      else if (rOffset + ptr <= ls.size && lsr !== undefined) addend = is64 ? lsr.dv.getBigUint64(rOffset, le) : BigInt(lsr.u32(rOffset));
      else addend = -1n;
      const so = symIdx * view.entsize;
      const vr = view.reader;
      const where = view.sectionOf(symIdx, vr.u16(so + (is64 ? 6 : 14)));
      const value = is64 ? vr.dv.getBigUint64(so + 8, le) : BigInt(vr.u32(so + 4));
      const target = typeof where === 'number' ? layout.sections[where] : undefined;
      relocs.push({ offset: rOffset, slot: { offset: rOffset, sec: target, at: value + addend } });
    }
  }
  relocs.sort((a, b) => a.offset - b.offset);
  return { entries, slots: relocs.map((x) => x.slot) };
}

/** Phase 2: the rc_type of each slot through `rcType` (offset of the 4 bytes → value). */
function finishLinkSet(p: LinkSetSlots, rcType: (offset: number) => number): LinkSetSummary {
  const types = p.slots.map((x) => {
    const o = x === null ? null : rcTypeOffset(x.sec, x.at);
    return o === null ? null : rcType(o);
  });
  const resolvable = types.length === p.entries && types.every((t) => t !== null);
  return { entries: p.entries, relocations: p.slots.length, types: resolvable ? (types as number[]) : null };
}

/** The link set of a relocatable object: entries, relocations and, through them, each rc_type. */
function objectLinkSet(info: ElfHeaderInfo, view: SymbolTableView | undefined): LinkSetSummary | null {
  const b = info.reader.bytes;
  const p = linkSetSlots(info, view, (sec) => b.subarray(sec.offset, sec.offset + sec.size));
  return p === null ? null : finishLinkSet(p, (o) => info.reader.u32(o));
}

/** The same through positioned reads. */
async function readObjectLinkSet(layout: ElfLayout, view: SymbolTableView | undefined, source: ByteSource): Promise<LinkSetSummary | null> {
  const parts = linkSetSections(layout);
  if (parts === null) return null;
  const loaded = new Map<number, Uint8Array>();
  for (const sec of [parts.ls, ...parts.rels]) {
    if (!sectionHasData(sec)) continue;
    loaded.set(sec.index, await source.read(sec.offset, sec.size));
  }
  const p = linkSetSlots(layout, view, (sec) => loaded.get(sec.index) as Uint8Array);
  if (p === null) return null;
  const values = new Map<number, number>();
  const le = layout.endian === 'le';
  for (const x of p.slots) {
    const o = x === null ? null : rcTypeOffset(x.sec, x.at);
    if (o === null || values.has(o)) continue;
    const b = await source.read(o, 4);
    values.set(o, new DataView(b.buffer, b.byteOffset, 4).getUint32(0, le));
  }
  return finishLinkSet(p, (o) => values.get(o) as number);
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
    if (!sectionHasData(rs) || rs.type !== SHT.RELA || (rs.flags & SHF_ALLOC) === 0 || rs.entsize !== 24 || rs.size % 24 !== 0) continue;
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
  if (ls === undefined || !sectionHasData(ls)) return null;
  const r = info.reader;
  const pointerSize = r.is64 ? 8 : 4;
  const entries = Math.floor(ls.size / pointerSize);
  const loaded = info.sections.filter((s) => (s.flags & SHF_ALLOC) !== 0 && sectionHasData(s) && s.size > 0);
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


/**
 * `xs` sorted (by UTF-16 code unit, = byte order for ASCII names) and unique, in place: the
 * default sort (strings compared inside the engine, no comparator call per comparison) and an
 * adjacent-duplicate pass (cheaper than a `Set` of thousands of fresh strings).
 */
function sortUnique(xs: string[]): string[] {
  xs.sort();
  let w = 0;
  for (let i = 0; i < xs.length; i++) if (i === 0 || xs[i] !== xs[w - 1]) xs[w++] = xs[i] as string;
  xs.length = w;
  return xs;
}

/** One ELF object of an archive (or a lone object), its symbol table read. */
interface ObjectTables {
  /** `file` or `file(member)`. */
  label: string;
  /** Member name ('' for a lone object). */
  member: string;
  /** Where the object's bytes are in the file read: [offset, offset + size). */
  offset: number;
  size: number;
  layout: ElfLayout;
  view: SymbolTableView | undefined;
  linkSet: LinkSetSummary | null;
}

export interface ArchiveTables {
  file: string;
  kind: 'archive' | 'object';
  objects: ObjectTables[];
  nonElfMembers: string[];
}

function checkSameTarget(file: string, first: ElfLayout | undefined, o: ObjectTables): void {
  if (first === undefined) return;
  const info = o.layout;
  if (info.machine !== first.machine || info.class !== first.class || info.endian !== first.endian) {
    throw new RumpkgError(
      'E_ARCH',
      `${o.label} is ${info.machineName} ELF${info.class} ${info.endian} but earlier members are ${first.machineName} ELF${first.class} ${first.endian}`,
      { context: { file, member: o.member }, hint: 'an archive must hold objects for one target; rebuild it' },
    );
  }
}

/** The ELF objects of an archive or lone object in memory, each with its symbol table and link set. */
export function archiveTables(bytes: Uint8Array, options: SymbolsOptions = {}): ArchiveTables {
  const file = options.file ?? '<bytes>';
  let members: Array<{ name: string; data: Uint8Array }>;
  let kind: ArchiveSymbols['kind'];
  const nonElfMembers: string[] = [];
  if (isAr(bytes)) {
    kind = 'archive';
    members = [];
    for (const m of parseAr(bytes, { file }).members) {
      if (isElf(m.data)) members.push(m);
      else nonElfMembers.push(m.name);
    }
  } else if (isElf(bytes)) {
    kind = 'object';
    members = [{ name: '', data: bytes }];
  } else {
    elfError(file, 'neither an ar archive (!<arch>) nor an ELF object (\\x7fELF)');
  }
  const objects: ObjectTables[] = [];
  for (const m of members) {
    const label = m.name === '' ? file : `${file}(${m.name})`;
    const info = parseElfSections(m.data, label);
    const symtab = findSymbolTable(info.sections);
    const view = symtab === undefined ? undefined : symbolTableView(info, symtab);
    const o: ObjectTables = { label, member: m.name, offset: 'offset' in m ? (m.offset as number) : 0, size: m.data.length, layout: info, view, linkSet: null };
    checkSameTarget(file, objects[0]?.layout, o);
    o.linkSet = objectLinkSet(info, view);
    objects.push(o);
  }
  return { file, kind, objects, nonElfMembers };
}

/**
 * The same as `archiveTables` through positioned reads of `source`: member headers, then per
 * ELF member its header, section table, symbol table, string table and link set — never the
 * members' code and data.
 */
export async function readArchiveTables(source: ByteSource): Promise<ArchiveTables> {
  const file = source.file;
  const head = source.size === 0 ? new Uint8Array(0) : await source.read(0, Math.min(8, source.size));
  let kind: ArchiveSymbols['kind'];
  const nonElfMembers: string[] = [];
  const objects: ObjectTables[] = [];
  const add = (o: ObjectTables): void => {
    checkSameTarget(file, objects[0]?.layout, o);
    objects.push(o);
  };
  if (isAr(head)) {
    kind = 'archive';
    for (const m of (await readArMembers(source)).members) {
      const label = `${file}(${m.name})`;
      if (m.size < 4) {
        nonElfMembers.push(m.name);
        continue;
      }
      if (m.size <= SMALL_MEMBER) {
        // A small member costs one read whole, then the in-memory readers.
        const data = await source.read(m.offset, m.size);
        if (!isElf(data)) {
          nonElfMembers.push(m.name);
          continue;
        }
        const info = parseElfSections(data, label);
        const symtab = findSymbolTable(info.sections);
        const view = symtab === undefined ? undefined : symbolTableView(info, symtab);
        const o: ObjectTables = { label, member: m.name, offset: m.offset, size: m.size, layout: info, view, linkSet: null };
        add(o);
        o.linkSet = objectLinkSet(info, view);
        continue;
      }
      // A large member: its header, section table, symbol and string tables only.
      const sub = subSource(source, m.offset, m.size, label);
      if (isElf(await sub.read(0, 4))) add({ ...(await readObjectTables(m.name, sub)), offset: m.offset });
      else nonElfMembers.push(m.name);
    }
  } else if (isElf(head)) {
    kind = 'object';
    add(await readObjectTables('', source));
  } else {
    elfError(file, 'neither an ar archive (!<arch>) nor an ELF object (\\x7fELF)');
  }
  return { file, kind, objects, nonElfMembers };
}

/** One ELF object through positioned reads: header, section table, symbol table, link set. */
async function readObjectTables(member: string, source: ByteSource): Promise<ObjectTables> {
  // Assemblers put the relocations, symbol table, string tables and section headers at the end
  // of an object: one read of its tail usually serves them all.
  await source.prefetch?.(Math.max(0, source.size - TAIL), Math.min(source.size, TAIL));
  const layout = await readElfLayout(source);
  const symtab = findSymbolTable(layout.sections);
  const view = symtab === undefined ? undefined : await readSymbolTableView(layout, symtab, source);
  return { label: source.file, member, offset: 0, size: source.size, layout, view, linkSet: await readObjectLinkSet(layout, view, source) };
}

/** How much of a large member's end `readObjectTables` reads at once. */
const TAIL = 256 * 1024;

/** Archive members up to this size are read whole (one read beats five for small objects). */
const SMALL_MEMBER = 256 * 1024;

/** Defined, undefined and link set of the objects read by `archiveTables` / `readArchiveTables`. */
export function summarizeArchive(t: ArchiveTables): ArchiveSymbols {
  return summarizeScans(t, undefined);
}

/** `summarizeArchive` and how each defined name is defined, from one walk of the symbol tables. */
export interface ArchiveDefinitions extends ArchiveSymbols {
  /** Names some member defines weakly (STB_WEAK, any section). */
  weakDefined: Set<string>;
  /** Names some member defines as a non-weak common (SHN_COMMON). */
  commonDefined: Set<string>;
  /**
   * Names of `weakDefined` ∪ `commonDefined` that another member defines strongly (only looked
   * for when there are two symbol tables or more: one table holds one entry per global name).
   */
  strongToo: Set<string>;
}

/** `summarizeArchive` plus the kinds of definitions (`ArchiveDefinitions`), each name decoded once. */
export function archiveDefinitions(t: ArchiveTables): ArchiveDefinitions {
  const kinds: DefinitionKinds = { weak: new Set(), common: new Set(), strong: [] };
  const s = summarizeScans(t, kinds);
  const strongToo = new Set<string>();
  const tables = t.objects.reduce((n, o) => n + (o.view === undefined ? 0 : 1), 0);
  if ((kinds.weak.size > 0 || kinds.common.size > 0) && tables >= 2) {
    for (const n of kinds.strong) if (kinds.weak.has(n) || kinds.common.has(n)) strongToo.add(n);
  }
  return { ...s, weakDefined: kinds.weak, commonDefined: kinds.common, strongToo };
}

function summarizeScans(t: ArchiveTables, kinds: DefinitionKinds | undefined): ArchiveSymbols {
  // Every table's names into one set of arrays (no arrays per table).
  const all: ObjectScan = { defined: [], undef: [], weakUndef: [] };
  let linkSet: LinkSetSummary | null = null;
  const objects = t.objects;
  for (let k = 0; k < objects.length; k++) {
    const o = objects[k] as ObjectTables;
    if (o.view !== undefined) scanSymbols(o.view, all, kinds);
    const ls = o.linkSet;
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
  // Sets first for the names referenced (many members reference the same names, most of them
  // defined by another member): only what is left is sorted. (Sorting every reference and
  // merging measured slower.)
  const definedSet = new Set(all.defined);
  const definedSorted = sortUnique(all.defined);
  const strong = sortUnique([...new Set(all.undef)].filter((n) => !definedSet.has(n)));
  const strongSet = new Set(strong);
  const weakUndefined = sortUnique([...new Set(all.weakUndef)].filter((n) => !definedSet.has(n) && !strongSet.has(n)));
  const head = t.objects[0]?.layout;
  return {
    file: t.file,
    kind: t.kind,
    objects: t.objects.length,
    nonElfMembers: t.nonElfMembers,
    class: head?.class ?? null,
    endian: head?.endian ?? null,
    machine: head?.machine ?? null,
    machineName: head?.machineName ?? null,
    defined: definedSorted,
    undefined: strong,
    weakUndefined,
    linkSet,
  };
}

/**
 * Symbols of a static archive (`!<arch>`) or a single ELF object: defined globals, what it
 * needs from elsewhere, its link set, its machine. Malformed input → E_ELF; members of
 * different machines → E_ARCH.
 */
export function archiveSymbols(bytes: Uint8Array, options: SymbolsOptions = {}): ArchiveSymbols {
  return summarizeArchive(archiveTables(bytes, options));
}

/** `archiveSymbols` of a file read with positioned reads (E_NOT_FOUND / E_EACCES / E_ELF / E_ARCH). */
export async function readArchiveSymbols(path: string): Promise<ArchiveSymbols> {
  const source = await openFileSource(path);
  try {
    return summarizeArchive(await readArchiveTables(source));
  } finally {
    await source.close();
  }
}

/** `sha256-<base64>` over the sorted defined global names joined by `\n` (SymbolEvidence.digest). */
export function symbolDigest(sortedNames: readonly string[]): string {
  return `sha256-${createHash('sha256').update(sortedNames.join('\n'), 'utf8').digest('base64')}`;
}

interface SymbolEvidenceOptions extends SymbolsOptions {
  /** rc_type value → init level name (default RUMP_COMPONENT_TYPES). */
  levelNames?: readonly string[];
}

/** rc_type values → init level names (`rc_type:<n>` for values outside `levelNames`), sorted. */
export function linkSetLevels(types: readonly number[], levelNames: readonly string[] = RUMP_COMPONENT_TYPES): string[] {
  return types.map((t) => levelNames[t] ?? `rc_type:${t}`).sort();
}

/** One component an archive member registers (registrations.ts), by level name. */
export interface ArchiveRegistration {
  member: string;
  /** Init level name, `rc_type:<n>` outside the known enum, null when the struct is unreadable. */
  level: string | null;
  via: 'constructor' | 'link-set';
}

/** SHT_INIT_ARRAY. */
const SHT_INIT_ARRAY = 14;

/**
 * The registrations of the objects of `t` that can carry one (`registeringObjects`): their
 * relocations are followed (registrations.ts) — from the parse `t` already holds when the object
 * was read whole, else taken whole through `read`; the others (most of an archive) cost nothing more.
 */
export function tableRegistrations(t: ArchiveTables, read: (offset: number, size: number) => Uint8Array, levelNames: readonly string[] = RUMP_COMPONENT_TYPES): ArchiveRegistration[] {
  const out: ArchiveRegistration[] = [];
  for (const o of t.objects) {
    if (!registers(o)) continue;
    // Read in memory (`archiveTables`): its header, sections and symbol table are parsed already.
    const regs = 'reader' in o.layout ? viewRegistrations(o.layout as ElfHeaderInfo, o.view) : objectRegistrations(parseElf(read(o.offset, o.size), { file: o.label, notes: false }));
    for (const r of regs) {
      out.push({ member: o.member, level: r.type === null ? null : (levelNames[r.type] ?? `rc_type:${r.type}`), via: r.via });
    }
  }
  return out;
}

/** The objects of `t` that can carry a registration (a `.init_array` or link-set section). */
export function registeringObjects(t: ArchiveTables): Array<{ label: string; member: string; offset: number; size: number }> {
  return t.objects.filter(registers);
}

function registers(o: ObjectTables): boolean {
  return o.layout.sections.some((s) => s.type === SHT_INIT_ARRAY || s.name.startsWith('.init_array') || s.name.startsWith('.ctors') || s.name === LINK_SET_SECTION);
}

/** The fingerprint recorded per target at pack/publish time (SymbolEvidence in types.ts). */
export function symbolEvidence(bytes: Uint8Array, options: SymbolEvidenceOptions = {}): SymbolEvidence {
  const t = archiveTables(bytes, options);
  return evidenceOf(summarizeArchive(t), tableRegistrations(t, (o, n) => bytes.subarray(o, o + n), options.levelNames), options);
}

function evidenceOf(s: ArchiveSymbols, registrations: readonly ArchiveRegistration[], options: Pick<SymbolEvidenceOptions, 'levelNames'>): SymbolEvidence {
  const ev: SymbolEvidence = { defined: s.defined.length, digest: symbolDigest(s.defined) };
  if (s.linkSet !== null && s.linkSet.types !== null && s.linkSet.types.length > 0) {
    ev.linkSet = linkSetLevels(s.linkSet.types, options.levelNames);
  }
  const ctors = registrations.filter((r) => r.via === 'constructor').map((r) => r.level ?? 'unknown');
  if (ctors.length > 0) ev.constructors = ctors.sort();
  return ev;
}

interface ImageLinkSet {
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

interface ImageSymbols {
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
  const defined = symtab === undefined ? [] : indexDefinedSymbols(symbolTableView(info, symtab)).names();
  return {
    ...elfIdentity({ ...info, file }),
    symbolTable: symbolTableName(symtab),
    defined,
    linkSet: imageLinkSet(info),
  };
}

/** One `struct rump_component { int rc_type; void (*rc_init)(void); const char *rc_name; … }` of an image's link set. */
interface ImageLinkSetStruct {
  /** `rc_type`, null when the pointer leads nowhere in the image's bytes. */
  type: number | null;
  /** `rc_name` when the third field points at a NUL-terminated printable string (≤ 255 bytes), else null. */
  name: string | null;
}

interface ImageLinkSetEntries extends ImageLinkSet {
  structs: ImageLinkSetStruct[];
}

/** What the audit reads of an image: its layout, an index of its defined globals, its link set. */
interface ImageIndex {
  layout: ElfLayout;
  symbolTable: '.symtab' | '.dynsym' | null;
  /** Defined global, weak and unique names (no strings made until `names()`). */
  defined: DefinedIndex;
  /** Defined local names of hidden visibility (globals of the inputs the link made local), indexed on first call. */
  hidden(): DefinedIndex;
  linkSet: ImageLinkSetEntries | null;
}

/** Address → addend of the R_*_RELATIVE relocations of the allocated RELA sections (PIE images). */
async function readRelativeRelocations(layout: ElfLayout, source: ByteSource): Promise<Map<bigint, bigint>> {
  const out = new Map<bigint, bigint>();
  const rel = RELATIVE[layout.machine];
  if (rel === undefined || layout.class !== 64) return out;
  const le = layout.endian === 'le';
  for (const rs of layout.sections) {
    if (!sectionHasData(rs) || rs.type !== SHT.RELA || (rs.flags & SHF_ALLOC) === 0 || rs.entsize !== 24 || rs.size % 24 !== 0) continue;
    const b = await source.read(rs.offset, rs.size);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let o = 0; o + 24 <= b.length; o += 24) {
      if (dv.getUint32(o + (le ? 8 : 12), le) !== rel) continue;
      out.set(dv.getBigUint64(o, le), dv.getBigUint64(o + 16, le));
    }
  }
  return out;
}

/**
 * Follows every pointer of an image's link set to its struct, with positioned reads: the level
 * (`rc_type`) and, when the third field points at a printable string, the name. Every read is
 * checked against the allocated section it falls in; anything unreadable gives nulls, never a
 * throw. Pointers left zero (position-independent images linked without applying dynamic
 * relocations) are taken from the R_*_RELATIVE relocations.
 */
async function readImageLinkSet(layout: ElfLayout, source: ByteSource): Promise<ImageLinkSetEntries | null> {
  const ls = layout.sections.find((s) => s.name === LINK_SET_SECTION);
  if (ls === undefined || !sectionHasData(ls)) return null;
  const is64 = layout.class === 64;
  const ptr = is64 ? 8 : 4;
  const le = layout.endian === 'le';
  const data = await source.read(ls.offset, ls.size);
  const loaded = layout.sections.filter((s) => (s.flags & SHF_ALLOC) !== 0 && sectionHasData(s) && s.size > 0);
  let relative: Map<bigint, bigint> | undefined;
  const relativeAt = async (addr: bigint): Promise<bigint> => {
    relative ??= await readRelativeRelocations(layout, source);
    return relative.get(addr) ?? 0n;
  };
  const fileOffset = (addr: bigint, len: number): number | null => {
    const s = loaded.find((x) => addr >= x.addr && addr + BigInt(len) <= x.addr + BigInt(x.size));
    return s === undefined ? null : s.offset + Number(addr - s.addr);
  };
  const word = (b: Uint8Array): bigint => {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return is64 ? dv.getBigUint64(0, le) : BigInt(dv.getUint32(0, le));
  };
  const readPtr = async (addr: bigint): Promise<bigint | null> => {
    const o = fileOffset(addr, ptr);
    if (o === null) return null;
    const v = word(await source.read(o, ptr));
    return v === 0n ? relativeAt(addr) : v;
  };
  const readString = async (addr: bigint): Promise<string | null> => {
    const s = loaded.find((x) => addr >= x.addr && addr < x.addr + BigInt(x.size));
    if (s === undefined) return null;
    const start = s.offset + Number(addr - s.addr);
    const end = Math.min(s.offset + s.size, start + 256);
    const b = await source.read(start, end - start);
    let i = 0;
    while (i < b.length && b[i] !== 0) {
      const c = b[i] as number;
      if (c < 0x20 || c > 0x7e) return null;
      i++;
    }
    if (i >= b.length || i === 0) return null;
    return Buffer.from(b.buffer, b.byteOffset, i).toString('latin1');
  };
  const entries = Math.floor(ls.size / ptr);
  const structs: ImageLinkSetStruct[] = [];
  // One entry after another: the reads of neighbouring structs share the source's read-ahead windows.
  for (let k = 0; k < entries; k++) {
    let p = word(data.subarray(k * ptr, k * ptr + ptr));
    if (p === 0n) p = await relativeAt(ls.addr + BigInt(k * ptr));
    let type: number | null = null;
    let name: string | null = null;
    if (p !== 0n) {
      const o = fileOffset(p, 4);
      if (o !== null) {
        const b = await source.read(o, 4);
        type = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, le);
      }
      const q = await readPtr(p + BigInt(2 * ptr));
      if (q !== null && q !== 0n) name = await readString(q);
    }
    structs.push({ type, name });
  }
  const types = structs.every((x) => x.type !== null) ? structs.map((x) => x.type as number) : null;
  return { data, pointerSize: ptr, endian: layout.endian, addr: ls.addr, entries, types, structs };
}

/**
 * Reads what the audit needs of an image through `source` with positioned reads: the ELF
 * header and section table, the symbol table and its strings (indexed, not decoded), the link
 * set and the structs it points at. A few MB of a 100 MB image.
 */
export async function readImageIndex(source: ByteSource): Promise<ImageIndex> {
  const layout = await readElfLayout(source);
  const symtab = findSymbolTable(layout.sections);
  const [view, linkSet] = await Promise.all([
    symtab === undefined ? undefined : readSymbolTableView(layout, symtab, source),
    readImageLinkSet(layout, source),
  ]);
  const empty: DefinedIndex = { count: 0, has: () => false, lookup: () => -1, lookupMany: (ns) => new Int32Array(ns.length).fill(-1), names: () => [] };
  let hidden: DefinedIndex | undefined;
  return {
    layout,
    symbolTable: symbolTableName(symtab),
    defined: view === undefined ? empty : indexDefinedSymbols(view),
    hidden: () => (hidden ??= view === undefined ? empty : indexDefinedSymbols(view, { hiddenLocals: true })),
    linkSet,
  };
}

/** `imageSymbols` of a file, read with positioned reads (E_NOT_FOUND / E_EACCES / E_ELF). */
export async function readImageSymbols(path: string): Promise<ImageSymbols> {
  const source = await openFileSource(path);
  try {
    const x = await readImageIndex(source);
    const l = x.layout;
    let linkSet: ImageLinkSet | null = null;
    if (x.linkSet !== null) {
      const { structs: _structs, ...rest } = x.linkSet;
      linkSet = rest;
    }
    return {
      file: path,
      class: l.class,
      endian: l.endian,
      machine: l.machine,
      machineName: l.machineName,
      symbolTable: x.symbolTable,
      defined: x.defined.names(),
      linkSet,
    };
  } finally {
    await source.close();
  }
}
