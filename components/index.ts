// Public API of components/: the domain model, documents, tarballs, binary formats, the NetBSD
// catalog and the archive importer. Each sub-folder's index.ts is its own API (see README.md).
export * from './model/index.js';
export * from './documents/index.js';
export * from './tarball/index.js';
export { parseElf, sectionData, isElf, SHT, SHF_ALLOC, readElfLayout, sectionHasData } from './binary/index.js';
export type { ElfFile, ElfSection, ElfSymbol, ElfNote, ElfFileType, SymbolBind, SymbolType, SymbolSection, ParseElfOptions, ByteSource, ElfLayout } from './binary/index.js';
export * from './binary/ar.js';
export * from './binary/symbols.js';
export * from './binary/byte-source.js';
export * from './binary/symbol-index.js';
export * from './catalog/index.js';
export * from './import/index.js';
