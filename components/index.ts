// Public API of components/: domain types, errors, manifests, tarballs, the NetBSD catalog.
export * from './errors.js';
export * from './types.js';
export * from './version.js';
export * from './integrity.js';
export * from './tarball.js';
export * from './names.js';
export * from './json.js';
export * from './manifest.js';
export { parseElf, sectionData, isElf, SHT, SHF_ALLOC, readElfLayout, sectionHasData } from './elf.js';
export type { ElfFile, ElfSection, ElfSymbol, ElfNote, ElfFileType, SymbolBind, SymbolType, SymbolSection, ParseElfOptions, ByteSource, ElfLayout } from './elf.js';
export * from './ar.js';
export * from './symbols.js';
export * from './byte-source.js';
export * from './symbol-index.js';
export * from './catalog.js';
export * from './corpus.js';
export * from './import.js';
