/**
 * Content fingerprints of archive members, to recognise them inside a linked image from the
 * bytes (the audit's strongest evidence; REAL-ARCHIVES.md, measured on the real archives):
 *
 * - per sized FUNC / OBJECT symbol of an allocated PROGBITS section (no mergeable strings: the
 *   linker rewrites those): its name, binding, size and the sha256 of its bytes with every byte a
 *   relocation rewrites zeroed (the mask, kept so the same bytes of the image can be zeroed);
 * - per component registration (registrations.ts): its level and the fingerprint of its init
 *   function, which tells activation shims apart (netinet and netinet6 have byte-identical
 *   constructors but different init functions) and survives stripping of symbol names.
 *
 * Names are not unique (locals repeat; `component_simple.o` is in three archives), so matching
 * uses name + size + masked hash, and a member only counts as present by content where at least
 * one of its symbols is distinctive (the audit decides that across the components it knows).
 */
import { hash } from 'node:crypto';
import { isAr, parseAr } from './ar.js';
import { elfError, isElf, parseElf, SHT, sectionHasData, type ElfFile, type ElfSection, type ElfSymbol, type SymbolBind } from './elf.js';
import { RUMP_COMPONENT_TYPES, objectRegistrations } from './registrations.js';
import { relocatedBytes, relocationsFor, type Relocation } from './relocations.js';

export interface SymbolPrint {
  name: string;
  bind: SymbolBind;
  type: 'func' | 'object';
  size: number;
  /** sha256 (hex, 32 digits) of the symbol's bytes with the `mask` ranges zeroed. */
  hash: string;
  /** Byte ranges a relocation rewrites, relative to the symbol's start: start, length, start, length… */
  mask: number[];
  /** Hidden or internal visibility: a global the link turns into a local of the image. */
  hidden?: true;
}

export interface RegistrationPrint {
  /** Init level name (`RUMP_COMPONENT_NET`), `rc_type:<n>` outside the known enum, null when unreadable. */
  level: string | null;
  via: 'constructor' | 'link-set';
  /** The init function (`rc_init`), when it could be followed. */
  init: SymbolPrint | null;
}

export interface MemberPrint {
  /** Member name (`netinet_component.o`), '' for a lone object. */
  member: string;
  symbols: SymbolPrint[];
  registrations: RegistrationPrint[];
}

const SHF_ALLOC = 0x2;
const SHF_MERGE = 0x10;

/** Symbols up to this size are masked in one reused buffer; larger ones in a copy of their own. */
const SCRATCH_MAX = 64 * 1024;
let scratch = new Uint8Array(4096);

/** sha256 (hex, 32 digits) of `bytes` with the `mask` ranges zeroed. */
export function maskedHash(bytes: Uint8Array, mask: readonly number[]): string {
  let data = bytes;
  if (mask.length > 0) {
    // A copy to zero the ranges in, never `bytes` itself (a view of an image or archive): the
    // audit masks thousands of small symbols, and a fresh buffer each cost more than its hash.
    if (bytes.length > SCRATCH_MAX) data = new Uint8Array(bytes);
    else {
      if (scratch.length < bytes.length) scratch = new Uint8Array(Math.max(bytes.length, 2 * scratch.length));
      scratch.set(bytes);
      data = scratch.subarray(0, bytes.length);
    }
    // Ranges are a relocated field each (mostly 4 bytes): zeroed in a loop, where a call of
    // fill per range (the real closure has ~40,000) costs more than the bytes.
    for (let i = 0; i + 1 < mask.length; i += 2) {
      const from = Math.max(0, mask[i] as number);
      const to = Math.min(data.length, (mask[i] as number) + (mask[i + 1] as number));
      if (to - from > 16) data.fill(0, from, to);
      else for (let k = from; k < to; k++) data[k] = 0;
    }
  }
  // crypto.hash (one shot; Node ≥ 20.12): the same digest as createHash, without a Hash object per call.
  return hash('sha256', data, 'hex').slice(0, 32);
}

function printable(elf: ElfFile, s: ElfSymbol): ElfSection | undefined {
  if ((s.type !== 'func' && s.type !== 'object') || s.size === 0 || typeof s.section !== 'number') return undefined;
  const sec = elf.sections[s.section];
  if (sec === undefined || sec.type !== SHT.PROGBITS || !sectionHasData(sec) || (sec.flags & SHF_ALLOC) === 0 || (sec.flags & SHF_MERGE) !== 0) return undefined;
  const off = Number(s.value);
  return off + s.size <= sec.size ? sec : undefined;
}

/** Fingerprints of one relocatable object (see the module head). */
export function objectPrint(elf: ElfFile, member: string): MemberPrint {
  const relocs = new Map<number, Relocation[]>();
  const relocsOf = (sec: ElfSection): Relocation[] => {
    let r = relocs.get(sec.index);
    if (r === undefined) relocs.set(sec.index, (r = relocationsFor(elf, sec)));
    return r;
  };
  const ptr = elf.class === 64 ? 8 : 4;
  const prints = new Map<number, SymbolPrint>();
  const printOf = (i: number): SymbolPrint | null => {
    const done = prints.get(i);
    if (done !== undefined) return done;
    const s = elf.symbols[i] as ElfSymbol;
    const sec = printable(elf, s);
    if (sec === undefined) return null;
    const start = Number(s.value);
    const mask: number[] = [];
    for (const r of relocsOf(sec)) {
      if (r.offset + 8 < start || r.offset >= start + s.size) continue;
      const [from, len] = relocatedBytes(elf.machine, r.type, ptr);
      const a = Math.max(0, r.offset - start + from);
      const b = Math.min(s.size, r.offset - start + from + len);
      if (b > a) mask.push(a, b - a);
    }
    const bytes = elf.bytes.subarray(sec.offset + start, sec.offset + start + s.size);
    const p: SymbolPrint = { name: s.name, bind: s.bind, type: s.type as 'func' | 'object', size: s.size, hash: maskedHash(bytes, mask), mask, ...(s.bind !== 'local' && (s.visibility === 1 || s.visibility === 2) ? { hidden: true as const } : {}) };
    prints.set(i, p);
    return p;
  };
  const symbols: SymbolPrint[] = [];
  elf.symbols.forEach((_, i) => {
    const p = printOf(i);
    if (p !== null) symbols.push(p);
  });
  const registrations = objectRegistrations(elf).map((r) => ({
    level: r.type === null ? null : (RUMP_COMPONENT_TYPES[r.type] ?? `rc_type:${r.type}`),
    via: r.via,
    init: r.init === null ? null : printOf(r.init),
  }));
  return { member, symbols, registrations };
}

/** Fingerprints of every ELF member of an archive (or of a lone object). Malformed input → E_ELF. */
export function archivePrints(bytes: Uint8Array, options: { file: string }): MemberPrint[] {
  const file = options.file;
  if (isElf(bytes)) return [objectPrint(parseElf(bytes, { file, notes: false }), '')];
  if (!isAr(bytes)) elfError(file, 'neither an ar archive (!<arch>) nor an ELF object (\\x7fELF)');
  const out: MemberPrint[] = [];
  for (const m of parseAr(bytes, { file }).members) {
    if (!isElf(m.data)) continue;
    out.push(objectPrint(parseElf(m.data, { file: `${file}(${m.name})`, notes: false }), m.name));
  }
  return out;
}
