import type { Command } from 'commander';

/** `rumpkg size` — not implemented yet (placeholder owned by the issue that builds it). */
export function register(_program: Command): void {}
