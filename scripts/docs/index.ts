// The docs/ generator (scripts/docs/generate.ts) and the --json output shapes it documents. Used by
// test/docs (which compares and, with UPDATE_DOCS=1, rewrites docs/); not part of the product.
export * from './json-shapes.js';
export * from './generate.js';
