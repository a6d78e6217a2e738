/**
 * A file registry holding the real rumprun hw-x86_64 set (../shared/netbsd/real, see its
 * README.md), imported the way a user would: `rumpkg import archives lib/rumprun-hw --target
 * hw-x86_64` for the kernel components, `rumpkg import platform` for rumprun's bare-metal layer
 * (provenance rumpkernel/rumprun at the README's commit), every package packed and published.
 * Built once per test file (the imports and packs take a few seconds) in a temporary home that
 * the caller removes with `dispose()`.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { importArchives, importRumprunPlatform, packComponent, type ImportPlatformResult, type ImportResult } from '../../components/index.js';
import { createFileStorage } from '../../registry/index.js';
import type { RealSet } from './real.js';

/** rumprun's commit the hw set was built from (../shared/netbsd/real/README.md). */
export const RUMPRUN_COMMIT = 'b04d42225a12a6fae57a78a9c1cf23642e46cd00';
/** The NetBSD version of its kernel components. */
export const HW_VERSION = '7.99.34';
export const HW_TARGET = 'hw-x86_64';

export interface RealHwRegistry {
  /** The unpacked set (lib/, include/, reference/). */
  set: string;
  /** Component directories (`<name>/package.json`). */
  components: string;
  /** A RUMPKG_HOME whose default file registry holds every package. */
  home: string;
  env: NodeJS.ProcessEnv;
  archives: ImportResult;
  platform: ImportPlatformResult;
  /** A scratch directory for the test's own files. */
  work: string;
  dispose(): Promise<void>;
}

/** Imports, packs and publishes the real hw set (see the module head). */
export async function realHwRegistry(set: RealSet): Promise<RealHwRegistry> {
  const dir = await set.dir();
  const work = mkdtempSync(join(tmpdir(), 'rumpkg-real-hw-'));
  const components = join(work, 'components');
  const archives = await importArchives(join(dir, 'lib', 'rumprun-hw'), { target: HW_TARGET, version: HW_VERSION, out: components });
  const platform = await importRumprunPlatform(dir, { target: HW_TARGET, version: HW_VERSION, out: components, upstreamCommit: RUMPRUN_COMMIT });
  const home = join(work, 'home');
  const storage = createFileStorage(join(home, 'registry'));
  for (const name of readdirSync(components).sort()) {
    if (name.startsWith('.')) continue;
    await storage.publish((await packComponent(join(components, name))).data);
  }
  return {
    set: dir,
    components,
    home,
    env: { ...process.env, RUMPKG_HOME: home },
    archives,
    platform,
    work: join(work, 'projects'),
    dispose: () => rm(work, { recursive: true, force: true }),
  };
}

/**
 * A project directory: a copy of `example` (a directory under examples/) or an empty one, its
 * rumpkg.json patched by `patch`, with extra files.
 */
export function hwProject(reg: RealHwRegistry, name: string, options: { example?: string; manifest?: Record<string, unknown>; patch?: (m: Record<string, unknown>) => void; files?: Record<string, string> } = {}): string {
  const d = join(reg.work, name);
  if (options.example !== undefined) cpSync(resolve(import.meta.dirname, '../../examples', options.example), d, { recursive: true });
  else execFileSync('mkdir', ['-p', d]);
  for (const [f, text] of Object.entries(options.files ?? {})) writeFileSync(join(d, f), text);
  const m = options.manifest ?? (JSON.parse(readFileSync(join(d, 'rumpkg.json'), 'utf8')) as Record<string, unknown>);
  options.patch?.(m);
  writeFileSync(join(d, 'rumpkg.json'), `${JSON.stringify(m, null, 2)}\n`);
  return d;
}
