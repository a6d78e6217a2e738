// The miniature corpus: a test and demo fixture generator (README.md here is its contract). Not
// part of the product: nothing under schemas/ components/ resolver/ registry/ packager/ cli/
// imports it (test/architecture.test.ts checks).
export * from './corpus.js';
export * from './cache.js';
