/**
 * Which platform package serves a target, and by which convention it makes images — what
 * `rumpkg tree` and `rumpkg why` show, so a user sees whether hw-x86_64 runs the miniature
 * platform (rumpkg's glue) or real NetBSD drivers on rumprun's bare metal (the rumprun
 * convention): the same target, whichever platform package the registry served.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseComponentManifest, type LockedTarget, type Target } from '../../components/index.js';

export interface PlatformInfo {
  name: string;
  version: string;
  /** `rumprun`, `glue` (rumpkg's generated main), or null when the package is not at hand. */
  convention: 'rumprun' | 'glue' | null;
  description: string | null;
}

/**
 * The platform of one locked target; `dir` is where the platform package is unpacked (a store
 * lookup, unverified is fine: only its description is read). Null when the closure has none.
 */
export function readPlatformInfo(lt: LockedTarget, target: Target, dir: string | undefined): PlatformInfo | null {
  const name = lt.platform;
  if (name === null) return null;
  const version = lt.components[name]?.version ?? '?';
  if (dir === undefined) return { name, version, convention: null, description: null };
  try {
    const file = join(dir, 'package.json');
    const m = parseComponentManifest(readFileSync(file), { file }).value;
    if (m === undefined) return { name, version, convention: null, description: null };
    return { name, version, convention: m.rump?.targets?.[target]?.platform?.convention ?? 'glue', description: typeof m.description === 'string' ? m.description : null };
  } catch {
    return { name, version, convention: null, description: null };
  }
}

/** One line for people: `@rump/rumprun-hw@7.99.34 (rumprun convention: …)`. Pure. */
export function renderPlatformInfo(p: PlatformInfo): string {
  const how = p.convention === 'rumprun' ? 'rumprun convention: real NetBSD drivers on rumprun\'s bare-metal platform' : p.convention === 'glue' ? 'rumpkg glue' : 'not in the store';
  return `${p.name}@${p.version} (${how})`;
}
