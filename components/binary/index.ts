// components/binary: one reader per binary format — ELF, ar, byte sources, symbol evidence, the
// embedded image manifest section, linker maps.
export { parseElf, parseElfHeader, sectionData, isElf, SHT, SHF_ALLOC, readElfLayout, sectionHasData } from './elf.js';
export type { ElfFile, ElfSection, ElfSymbol, ElfNote, ElfFileType, SymbolBind, SymbolType, SymbolSection, ParseElfOptions, ByteSource, ElfLayout, ElfHeaderInfo } from './elf.js';
export * from './ar.js';
export * from './byte-source.js';
export * from './symbols.js';
export * from './symbol-index.js';
export * from './linker-map.js';
export * from './embedded-manifest.js';
export * from './relocations.js';
export * from './registrations.js';
export * from './fingerprint.js';
export * from './image-content.js';
