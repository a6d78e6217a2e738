/**
 * Relocations of ELF files parsed by elf.ts: the entries of SHT_RELA / SHT_REL sections, checked
 * against the file like everything else the readers decode (entry size, symbol index in range).
 * Objects use them to say which bytes the linker will rewrite (fingerprints mask those bytes)
 * and what a pointer or an instruction refers to (constructors, link-set entries); images use
 * their R_*_RELATIVE entries to find pointers that position-independent images leave zero.
 *
 * Field sizes are known for x86_64 (the machine of the real archives); other machines get the
 * pointer size, which over-masks rather than under-masks.
 */
import { elfError, SHT, sectionHasData, type ElfFile, type ElfSection } from './elf.js';

export interface Relocation {
  /** Offset of the field in the section the relocation applies to (object) or its address (image). */
  offset: number;
  type: number;
  /** Symbol table index (0: none). */
  symbol: number;
  /** The explicit addend (RELA); REL entries carry 0n (their addend lives in the field). */
  addend: bigint;
}

/**
 * What decoding relocations reads of an object: an `ElfFile`, or the same fields of an object
 * whose symbol table is read entry by entry (only its length is needed here).
 */
export interface RelocationSource extends Pick<ElfFile, 'file' | 'class' | 'endian' | 'bytes' | 'sections' | 'symbolTable'> {
  symbols: { readonly length: number };
}

/** Decodes one SHT_RELA / SHT_REL section (E_ELF for a malformed one). */
export function relocationsOf(elf: RelocationSource, sec: ElfSection): Relocation[] {
  const is64 = elf.class === 64;
  const rela = sec.type === SHT.RELA;
  const ent = (is64 ? 16 : 8) + (rela ? (is64 ? 8 : 4) : 0);
  if (sec.entsize !== ent || sec.size % ent !== 0) {
    elfError(elf.file, `relocation section ${sec.name} has entry size ${sec.entsize} (size ${sec.size}), expected ${ent}`);
  }
  const le = elf.endian === 'le';
  const dv = new DataView(elf.bytes.buffer, elf.bytes.byteOffset + sec.offset, sec.size);
  const n = sec.size / ent;
  const out: Relocation[] = new Array<Relocation>(n);
  const symbols = elf.symbols.length;
  // Indices are checked against the table parseElf decoded when this section refers to it.
  const checkSymbols = elf.sections[sec.link]?.type === SHT.SYMTAB && elf.symbolTable === '.symtab';
  for (let k = 0; k < n; k++) {
    const o = k * ent;
    let offset: number;
    let symbol: number;
    let type: number;
    if (is64) {
      const lo = dv.getUint32(o + (le ? 0 : 4), le);
      const hi = dv.getUint32(o + (le ? 4 : 0), le);
      if (hi > 0x1fffff) elfError(elf.file, `relocation ${k} of ${sec.name}: r_offset is implausibly large`);
      offset = hi * 0x100000000 + lo;
      // r_info's halves as two 32-bit reads (ELF64_R_SYM: high, ELF64_R_TYPE: low): no BigInt per entry
      symbol = dv.getUint32(o + (le ? 12 : 8), le);
      type = dv.getUint32(o + (le ? 8 : 12), le);
    } else {
      offset = dv.getUint32(o, le);
      const info = dv.getUint32(o + 4, le);
      symbol = info >>> 8;
      type = info & 0xff;
    }
    if (checkSymbols && symbol >= symbols) {
      elfError(elf.file, `relocation ${k} of ${sec.name} refers to symbol ${symbol} (there are ${symbols})`);
    }
    const addend = rela ? (is64 ? dv.getBigInt64(o + 16, le) : BigInt(dv.getInt32(o + 8, le))) : 0n;
    out[k] = { offset, type, symbol, addend };
  }
  return out;
}

/** All relocations that apply to `target`, sorted by offset. */
export function relocationsFor(elf: RelocationSource, target: ElfSection): Relocation[] {
  const out: Relocation[] = [];
  for (const rs of elf.sections) {
    if ((rs.type !== SHT.RELA && rs.type !== SHT.REL) || rs.info !== target.index || !sectionHasData(rs)) continue;
    out.push(...relocationsOf(elf, rs));
  }
  return out.sort((a, b) => a.offset - b.offset);
}

const X86_64 = 62;

/**
 * The bytes a relocation of `type` rewrites, relative to its offset: [start, length). x86_64
 * GOTPCRELX / REX_GOTPCRELX / GOTTPOFF also cover the opcode bytes before the field, which the
 * linker may relax (mov → lea, mov → mov $imm).
 */
export function relocatedBytes(machine: number, type: number, pointerSize: number): [number, number] {
  if (machine === X86_64) {
    switch (type) {
      case 0: // R_X86_64_NONE
        return [0, 0];
      case 1: // 64
      case 24: // PC64
      case 25: // GOTOFF64
      case 16: // DTPMOD64
      case 17: // DTPOFF64
      case 18: // TPOFF64
        return [0, 8];
      case 41: // GOTPCRELX: ff 15 / ff 25 / 8b modrm
        return [-2, 6];
      case 42: // REX_GOTPCRELX: rex 8b modrm
      case 22: // GOTTPOFF: rex 8b modrm
      case 34: // GOTPC32_TLSDESC: rex lea modrm
        return [-3, 7];
      case 19: // TLSGD: the whole 16-byte general-dynamic sequence may become local-exec
        return [-4, 16];
      case 20: // TLSLD: the 12-byte local-dynamic sequence
        return [-3, 12];
      case 35: // TLSDESC_CALL: call *(%rax) may become a 2-byte nop
        return [0, 2];
      default:
        return [0, 4];
    }
  }
  return [0, pointerSize];
}
