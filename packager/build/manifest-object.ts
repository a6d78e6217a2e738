/**
 * The image manifest as a relocatable ELF object for the link: one non-allocated PROGBITS section
 * `.rumpkg.manifest` holding the manifest's bytes (flags 0, alignment 1 — what `objcopy
 * --add-section … --set-section-flags …=noload,readonly` gives the image), an empty
 * `.note.GNU-stack` (without it GNU ld would mark the image's stack executable) and `.shstrtab`.
 * Linked after the archives, GNU ld places the section where that objcopy step put it: on
 * posix-x86_64 the image is byte for byte the one the objcopy step made, one process fewer. On the
 * freestanding targets (ld.lld with the platform's linker script) the section is an orphan outside
 * every segment, as objcopy's is; the image differs from objcopy's only in where the section and
 * the section headers sit in the file, and saves objcopy rewriting the whole image (~35 ms for
 * the real rumprun unikernel).
 *
 * Layout: ELF header, the manifest's bytes, the section name table, padding to 8, the section
 * headers. The object is `head + manifest + tail` (manifestObjectParts), so the --dry-run script
 * writes the head and the tail with printf and the manifest, readable, with a here-document.
 *
 * Written by hand: a few dozen bytes of headers, no symbols, no relocations; objcopy makes the
 * same section, but as a process of its own that rewrites the whole image.
 *
 * Only for the architectures whose ELF flags say nothing an object must agree on (e_flags 0 links
 * with any object): x86_64, i386, aarch64. Elsewhere (arm's EABI version, riscv's float ABI live
 * in e_flags) the plan keeps the objcopy step.
 */
import { MANIFEST_SECTION, type Target } from '../../components/index.js';
import { parseTarget } from './targets.js';

const OBJECT_ARCHES = new Set(['x86_64', 'i386', 'aarch64']);

/** Whether the link can take the manifest as an object (manifestObjectParts) for `target`. */
export function manifestObjectFits(target: Target): boolean {
  return OBJECT_ARCHES.has(parseTarget(target).arch);
}

/** The bytes before and after the manifest's in the object for `target` (little-endian ELF). */
export function manifestObjectParts(manifestBytes: number, target: Target): { head: Buffer; tail: Buffer } {
  const t = parseTarget(target);
  const is64 = t.elfClass === 64;
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const names = Buffer.from(`\0${MANIFEST_SECTION}\0.shstrtab\0.note.GNU-stack\0`, 'latin1');
  const nameAt = (n: string): number => names.indexOf(Buffer.from(`\0${n}\0`, 'latin1')) + 1;
  const strtabAt = ehsize + manifestBytes;
  const shoff = (strtabAt + names.length + 7) & ~7;
  const head = Buffer.alloc(ehsize);
  head.write('\x7fELF', 0, 'latin1');
  head[4] = is64 ? 2 : 1; // EI_CLASS
  head[5] = 1; // EI_DATA: little-endian
  head[6] = 1; // EI_VERSION
  head.writeUInt16LE(1, 16); // e_type: ET_REL
  head.writeUInt16LE(t.elfMachine, 18);
  head.writeUInt32LE(1, 20); // e_version
  if (is64) {
    head.writeBigUInt64LE(BigInt(shoff), 40);
    head.writeUInt16LE(ehsize, 52);
    head.writeUInt16LE(shentsize, 58);
    head.writeUInt16LE(4, 60); // e_shnum
    head.writeUInt16LE(2, 62); // e_shstrndx
  } else {
    head.writeUInt32LE(shoff, 32);
    head.writeUInt16LE(ehsize, 40);
    head.writeUInt16LE(shentsize, 46);
    head.writeUInt16LE(4, 48);
    head.writeUInt16LE(2, 50);
  }
  const tail = Buffer.alloc(shoff - strtabAt + 4 * shentsize);
  names.copy(tail, 0);
  const section = (i: number, name: number, type: number, offset: number, size: number): void => {
    const o = shoff - strtabAt + i * shentsize;
    tail.writeUInt32LE(name, o);
    tail.writeUInt32LE(type, o + 4);
    if (is64) {
      tail.writeBigUInt64LE(BigInt(offset), o + 24);
      tail.writeBigUInt64LE(BigInt(size), o + 32);
      tail.writeBigUInt64LE(1n, o + 48); // sh_addralign
    } else {
      tail.writeUInt32LE(offset, o + 16);
      tail.writeUInt32LE(size, o + 20);
      tail.writeUInt32LE(1, o + 32);
    }
  };
  // [0] is the null section; flags are 0 throughout (not allocated, not writable).
  section(1, nameAt(MANIFEST_SECTION), 1 /* SHT_PROGBITS */, ehsize, manifestBytes);
  section(2, nameAt('.shstrtab'), 3 /* SHT_STRTAB */, strtabAt, names.length);
  section(3, nameAt('.note.GNU-stack'), 1, strtabAt, 0);
  return { head, tail };
}

/** The object holding `manifest` (its UTF-8 bytes) in `.rumpkg.manifest`, for `target`. */
export function renderManifestObject(manifest: string, target: Target): Buffer {
  const bytes = Buffer.from(manifest, 'utf8');
  const { head, tail } = manifestObjectParts(bytes.length, target);
  return Buffer.concat([head, bytes, tail]);
}
