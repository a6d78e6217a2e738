// Public API of packager/: the project flow, building and running images, auditing them. Each
// sub-folder's index.ts is its own API (see README.md).
export * from './project/index.js';
export * from './build/index.js';
export * from './run/index.js';
export * from './audit/index.js';
export * from './report/index.js';
export * from './doctor/index.js';
export * from './scaffold/index.js';
// The launcher's replay of a command with nothing to do: its memo is written by the CLI.
export { noopMemoFile, recordNoop, type NoopRun } from './early/index.js';
