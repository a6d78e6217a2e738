/**
 * Writing the component directories of `rumpkg import archives` (import-archives.ts) so that
 * `out` never holds half of one: every directory is built under a staging directory inside `out`
 * (`.rumpkg-import-<pid>-<random>`) and renamed into place only once all of them are complete.
 *
 * Most of the writing depends on the file list only, not on the analysis: a component's
 * directories, the copy of its archive (and headers) and its (still empty) manifest file.
 * Creating those ~430 inodes is nearly all of the writing's cost, and all of it is the kernel's
 * (on ext4 without a journal, within a minute of many deletions, 0.1–1 ms each: the allocator
 * skips recently freed inodes, one by one, on every allocation). So the staging starts before
 * the archives are read, as asynchronous file operations on libuv's thread pool (4 threads
 * unless UV_THREADPOOL_SIZE says otherwise), while the main thread analyses: each component's
 * steps are chained, every step started from the main thread's event loop, which the analysis
 * lets turn after each archive. Not a worker thread: starting one costs 30–50 ms of CPU (its own
 * Node environment) and as long again before its first file operation, more than the callbacks
 * cost the main thread. `finish` stages the merges (a component directory already in `out`: its
 * manifest is read first), waits for the pool, writes the manifests and commits.
 *
 * Files are created, never truncated (copies with COPYFILE_EXCL, manifests written with `wx`, or
 * `r+` into the empty file staged earlier), except a merged manifest: ext4 (auto_da_alloc)
 * treats a file truncated to size 0 as one being replaced and starts its writeback, with block
 * allocation, when it is closed; libuv's copyfile truncates its destination unless told it is
 * new. The staging is private to this run, so every file in it is new to it.
 * `abandon` (the analysis failed) stops the chains, waits for their running steps and removes the
 * staging, and `out` itself when this run created it: a failed import leaves `out` as it was. A
 * staging directory left by a killed import (its pid is gone) is removed by the next import into
 * `out`.
 */
import { randomBytes } from 'node:crypto';
import { constants, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile, cp, mkdir, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { checkManifest, loadComponentDir, normalizeManifest } from '../documents/index.js';
import { fsError, isRumpkgError, processAlive, RumpkgError, type ComponentManifest, type TargetEntry } from '../model/index.js';
import { formatProblems } from '../../schemas/index.js';

/** One component directory to write. */
export interface StagedComponent {
  /** Directory name under `out`. */
  name: string;
  /** The component's scoped name (`@rump/<name>`): an existing directory must hold the same. */
  manifestName: string;
  lib: string;
  /** The archive to copy (unchanged) to `lib/<target>/<lib>.a`. */
  file: string;
  /** A `rump/` header directory to copy to `include/<target>/rump` (the base component only). */
  headers?: string;
}

export interface WrittenComponent {
  dir: string;
  /** Merged into a component directory that was already there (another target). */
  merged: boolean;
  /** The manifest written (the merge of the old and the new one when merged). */
  manifest: ComponentManifest;
}

export interface ComponentStaging {
  /**
   * Stages what is left, writes `manifests[i]` (the manifest of `components[i]`, whose version
   * is the staging's) and swaps every staged directory into `out` (renames, the last step).
   * Throws the first failure in component order; a failure before the renames leaves nothing of
   * this run in `out`.
   */
  finish(manifests: readonly ComponentManifest[]): Promise<WrittenComponent[]>;
  /** Waits for the staging still running and removes everything it wrote. Never throws. */
  abandon(): Promise<void>;
}

/** A staged component; `manifest` once its package.json holds it, `prev` when it merges. */
type Outcome = { ok: true; prev: ComponentManifest | undefined; manifest?: ComponentManifest } | { ok: false; error: unknown };

/** How the `rump/` headers are copied (backup files `*~` left out); the destination is new. */
const HEADER_COPY = { recursive: true, errorOnExist: true, force: false, mode: constants.COPYFILE_EXCL, dereference: false, filter: (src: string) => !src.endsWith('~') };

/** The staging directory of an import, by its pid. */
const LEFTOVER = /^\.rumpkg-import-(\d+)-[0-9a-f]+$/;

/** Starts staging `components` for `target` under `out` (created); see the module head. */
export function startComponentStaging(out: string, components: readonly StagedComponent[], options: { target: string; version: string }): ComponentStaging {
  const { target, version } = options;
  // Synchronous: the staging directory must exist before the first component is staged.
  let setupError: unknown;
  let created: string | undefined;
  let staging: string | undefined;
  let existing = new Set<string>();
  try {
    created = mkdirSync(out, { recursive: true });
    // What is already there (one listing): those directories may need merging, and the staging
    // directories of killed imports (their pid is gone) are removed (CA-01).
    if (created === undefined) {
      existing = new Set(readdirSync(out));
      for (const n of existing) {
        const pid = Number(LEFTOVER.exec(n)?.[1]);
        if (pid > 0 && pid !== process.pid && !processAlive(pid)) rmSync(join(out, n), { recursive: true, force: true });
      }
    }
  } catch (e) {
    setupError = fsError(e, out, 'create');
  }
  if (setupError === undefined) {
    const dir = join(out, `.rumpkg-import-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(dir);
      staging = dir;
    } catch (e) {
      setupError = fsError(e, out, 'write');
    }
  }
  const workOf = (c: StagedComponent): string => join(staging as string, c.name);
  const archiveOf = (c: StagedComponent): string => join(workOf(c), 'lib', target, `${c.lib}.a`);

  const outcomes: Array<Outcome | undefined> = new Array<Outcome | undefined>(components.length).fill(undefined);
  const fail = (i: number, error: unknown): void => {
    outcomes[i] = { ok: false, error };
  };
  // New components (no directory of that name in `out`) are staged on libuv's thread pool, each
  // one's steps chained; a merge needs the previous manifest and is staged by `finish`.
  const fresh = components.flatMap((c, i) => (existing.has(c.name) ? [] : [i]));
  const merging = components.flatMap((c, i) => (existing.has(c.name) ? [i] : []));
  /** Set by a failure or by `abandon`: no chain starts another step. */
  let stopped = false;
  const stageOnPool = async (i: number): Promise<void> => {
    const c = components[i] as StagedComponent;
    const work = workOf(c);
    try {
      for (const d of [work, join(work, 'lib'), join(work, 'lib', target)]) {
        if (stopped) return;
        await mkdir(d);
      }
      if (stopped) return;
      const headers = c.headers;
      const steps = [
        copyFile(c.file, archiveOf(c), constants.COPYFILE_EXCL).catch((e: unknown) => {
          throw fsError(e, c.file, 'copy');
        }),
        // the manifest's file, empty: `finish` fills it
        open(join(work, 'package.json'), 'wx').then((h) => h.close()),
        ...(headers === undefined
          ? []
          : [
              cp(headers, join(work, 'include', target, 'rump'), HEADER_COPY).catch((e: unknown) => {
                throw fsError(e, headers, 'copy headers');
              }),
            ]),
      ];
      // all settled before the outcome: `abandon` must not remove the staging under a running step
      for (const r of await Promise.allSettled(steps)) if (r.status === 'rejected') throw r.reason;
      outcomes[i] = { ok: true, prev: undefined };
    } catch (e) {
      stopped = true;
      fail(i, e);
    }
  };
  const pool: Promise<unknown> = staging === undefined ? Promise.resolve() : Promise.all(fresh.map(stageOnPool));

  /**
   * Stages one component on the main thread, its manifest included (merged into `prev` when
   * given): the components whose directory is already in `out`.
   */
  const stageHere = (c: StagedComponent, prev: ComponentManifest | undefined, manifest: ComponentManifest): Outcome => {
    const dest = join(out, c.name);
    const work = workOf(c);
    if (prev !== undefined) {
      manifest = mergeManifests(prev, manifest, target);
      checkImported(manifest, c, dest);
      try {
        cpSync(dest, work, { recursive: true, errorOnExist: true, force: false, mode: constants.COPYFILE_EXCL });
      } catch (e) {
        throw fsError(e, dest, 'copy');
      }
      rmSync(join(work, 'lib', target), { recursive: true, force: true });
    }
    mkdirSync(join(work, 'lib', target), { recursive: true });
    try {
      copyFileSync(c.file, archiveOf(c), constants.COPYFILE_EXCL);
    } catch (e) {
      throw fsError(e, c.file, 'copy');
    }
    if (c.headers !== undefined) {
      rmSync(join(work, 'include', target), { recursive: true, force: true });
      try {
        cpSync(c.headers, join(work, 'include', target, 'rump'), HEADER_COPY);
      } catch (e) {
        throw fsError(e, c.headers, 'copy headers');
      }
    }
    // a merge copied the old package.json: replaced (truncated); otherwise a new file
    writeManifest(work, manifest, prev === undefined ? 'wx' : 'w');
    return { ok: true, prev, manifest };
  };

  /** The manifest an existing component directory holds, checked for merging `c` into it. */
  const readPrevious = async (c: StagedComponent): Promise<ComponentManifest | undefined> => {
    const dest = join(out, c.name);
    if (!existsSync(join(dest, 'package.json'))) return undefined;
    const loaded = await loadComponentDir(dest);
    if (loaded.value === undefined) {
      throw new RumpkgError('E_EXISTS', `${dest} already holds a component directory that is not valid; not merging ${c.lib} into it`, {
        context: { path: dest, problems: loaded.errors },
        hint: 'remove it or import into another --out directory',
      });
    }
    if (loaded.value.name !== c.manifestName || loaded.value.version !== version) {
      throw new RumpkgError('E_EXISTS', `${dest} already holds ${loaded.value.name}@${loaded.value.version}; refusing to merge ${c.manifestName}@${version} into it`, {
        context: { path: dest },
        hint: 'import each version into its own --out directory',
      });
    }
    return loaded.value;
  };

  /** Removes the staging directory, then `out` and the parents this run created if empty. */
  const clean = (): void => {
    if (staging !== undefined) rmSync(staging, { recursive: true, force: true });
    if (created === undefined) return;
    for (let d = out; ; d = dirname(d)) {
      try {
        rmdirSync(d);
      } catch {
        return; // not empty (someone else wrote there) or already gone: keep it and its parents
      }
      if (d === created) return;
    }
  };

  return {
    async abandon(): Promise<void> {
      stopped = true; // each chain stops after its running step
      await pool;
      clean();
    },

    async finish(manifests: readonly ComponentManifest[]): Promise<WrittenComponent[]> {
      let committed = false;
      try {
        if (staging === undefined) throw setupError;
        components.forEach((c, i) => checkImported(manifests[i] as ComponentManifest, c, join(out, c.name)));
        // The merges (the directory to merge into is read and checked first), while the thread
        // pool finishes the rest.
        for (const i of merging) {
          if (stopped) break;
          const c = components[i] as StagedComponent;
          try {
            outcomes[i] = stageHere(c, await readPrevious(c), manifests[i] as ComponentManifest);
          } catch (error) {
            fail(i, error);
            stopped = true;
          }
        }
        await pool;
        for (const o of outcomes) if (o !== undefined && !o.ok) throw o.error;
        const written = components.map((c, i): WrittenComponent & { work: string } => {
          const o = outcomes[i];
          if (o === undefined || !o.ok) throw new Error(`import staged nothing for ${c.lib}`);
          let manifest = o.manifest;
          if (manifest === undefined) {
            // staged on the pool: the file is there, empty (created by this run), so written in place
            manifest = manifests[i] as ComponentManifest;
            writeManifest(workOf(c), manifest, 'r+');
          }
          return { dir: join(out, c.name), merged: o.prev !== undefined, manifest, work: workOf(c) };
        });
        // Commit: swap each staged directory in (the old one, if any, moves into staging first).
        committed = true;
        for (const s of written) {
          if (existsSync(s.dir)) renameSync(s.dir, join(staging, `${basename(s.dir)}.old`));
          renameSync(s.work, s.dir);
        }
        return written.map(({ dir, merged, manifest }) => ({ dir, merged, manifest }));
      } catch (e) {
        if (isRumpkgError(e)) throw e;
        throw fsError(e, out, 'write');
      } finally {
        stopped = true;
        await pool;
        if (committed) rmSync(staging as string, { recursive: true, force: true });
        else clean();
      }
    },
  };
}

/**
 * Writes `work/package.json`: `flag` 'wx' creates it, 'r+' fills the empty file the worker
 * created, 'w' replaces a merged one (the only case that truncates; see the module head).
 */
function writeManifest(work: string, manifest: ComponentManifest, flag: 'wx' | 'r+' | 'w'): void {
  writeFileSync(join(work, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`, { flag });
}

/** A manifest the import produced must be valid: otherwise the import has a bug. */
function checkImported(m: ComponentManifest, c: StagedComponent, dir: string): void {
  const problems = checkManifest(m, { file: join(dir, 'package.json') });
  if (problems.length > 0) throw new Error(`import produced an invalid manifest for ${c.lib}:\n${formatProblems(problems)}`);
}

/** Adds `next`'s target to `prev`; edges are unioned (a hard edge wins over an optional one). */
function mergeManifests(prev: ComponentManifest, next: ComponentManifest, target: string): ComponentManifest {
  const deps = { ...prev.dependencies, ...next.dependencies };
  const opt = { ...prev.rump.optionalDependencies, ...next.rump.optionalDependencies };
  for (const d of Object.keys(deps)) delete opt[d];
  return normalizeManifest({
    ...prev,
    dependencies: deps,
    rump: {
      ...prev.rump,
      initLevels: [...new Set([...prev.rump.initLevels, ...next.rump.initLevels])],
      optionalDependencies: opt,
      targets: { ...prev.rump.targets, [target]: next.rump.targets[target] as TargetEntry },
    },
  });
}
