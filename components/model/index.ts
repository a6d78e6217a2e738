// components/model: the domain vocabulary — errors, types, names and ranges, integrity, version.
export * from './errors.js';
export * from './types.js';
export * from './names.js';
export * from './integrity.js';
export * from './version.js';
export * from './process.js';
