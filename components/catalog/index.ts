// components/catalog: the NetBSD component catalog as data the product owns.
export * from './catalog.js';
