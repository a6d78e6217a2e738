// Public API of resolver/: the pure PubGrub solver, its provider interface, the lockfile model.
export {};
export * from './provider.js';
export * from './solver.js';
export * from './report.js';
export { PROJECT, CAP_PREFIX, ANY_OF_PREFIX, capabilityPackage, capabilityOf, anyOfKey, anyOfPackage, anyOfGroup, externalIncompatibilities } from './incompatibility.js';
export type { Incompatibility, Cause } from './incompatibility.js';
export { parseRange, renderSet, MAX_RANGE_LENGTH } from './version-set.js';
export type { VersionSet } from './version-set.js';
export * from './lockfile.js';
