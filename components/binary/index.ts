// components/binary: one reader per binary format — ELF, ar, byte sources, symbol evidence.
export * from './elf.js';
export * from './ar.js';
export * from './byte-source.js';
export * from './symbols.js';
export * from './symbol-index.js';
