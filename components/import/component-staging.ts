/**
 * Writing the component directories of `rumpkg import archives` (import-archives.ts) so that
 * `out` never holds half of one: every directory is built under a staging directory inside `out`
 * (`.rumpkg-import-<pid>-<random>`) and renamed into place only once all of them are complete.
 *
 * Most of the writing depends on the file list only, not on the analysis: a component's
 * directories, the copy of its archive and its (still empty) manifest file. Creating those ~400
 * inodes is nearly all of the writing's cost, and all of it is the kernel's (on ext4 without a
 * journal, after many deletions, 0.1–1 ms each: the allocator skips recently freed inodes). So
 * the staging starts before the archives are read, on a worker thread running synchronous file
 * operations (no hand-off to the main thread per operation, as libuv's thread pool would need),
 * while the main thread analyses. `finish` then stages what the worker has not claimed yet
 * alongside it, writes the manifests and commits. Components that ship headers or may merge into
 * a directory already in `out` are staged by the main thread only.
 * Files are created, never truncated (copies with COPYFILE_EXCL, manifests written with `wx`, or
 * `r+` into the empty file the worker created), except a merged manifest: ext4 (auto_da_alloc)
 * treats a file truncated to size 0 as one being replaced and starts its writeback, with block
 * allocation, when it is closed; libuv's copyfile truncates its destination unless told it is
 * new. The staging is private to this run, so every file in it is new to it.
 * `abandon` (the analysis failed) stops the worker, waits for it and removes the staging, and
 * `out` itself when this run created it: a failed import leaves `out` as it was. A staging
 * directory left by a killed import (its pid is gone) is removed by the next import into `out`.
 */
import { randomBytes } from 'node:crypto';
import { constants, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
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

/**
 * Fewer plain components than this are staged by the main thread alone: starting a worker costs
 * 30–40 ms of CPU (its own Node environment), more than staging a few directories.
 */
const WORKER_MIN = 16;

/**
 * The worker's program (CommonJS, run with `eval`: it needs nothing but node:fs). It stages the
 * plain components it claims, in order, from a counter shared with the main thread, which claims
 * from it too once the analysis is done; after a failure it sets the counter past the end so
 * that nobody claims more, and reports the failure.
 */
const WORKER_SOURCE = `
const { constants, copyFileSync, mkdirSync, writeFileSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { jobs, counter, doneFlags } = workerData;
const next = new Int32Array(counter);
const done = new Int32Array(doneFlags);
for (let k = Atomics.add(next, 0, 1); k < jobs.length; k = Atomics.add(next, 0, 1)) {
  const job = jobs[k];
  let step = 'write';
  try {
    mkdirSync(job.libDir, { recursive: true });
    step = 'copy';
    copyFileSync(job.file, job.archive, constants.COPYFILE_EXCL);
    step = 'write';
    writeFileSync(job.manifest, '', { flag: 'wx' });
    Atomics.store(done, k, 1);
  } catch (e) {
    Atomics.store(next, 0, jobs.length);
    parentPort.postMessage({ k, step, error: { message: String(e && e.message), code: e && e.code, syscall: e && e.syscall, path: e && e.path } });
    break;
  }
}
`;

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
  // Plain components (no headers, no directory of that name in `out`): claimed in order through
  // a shared counter by the worker and, in `finish`, by the main thread.
  const plain = components.flatMap((c, i) => (c.headers === undefined && !existing.has(c.name) ? [i] : []));
  const mainOnly = components.flatMap((c, i) => (c.headers === undefined && !existing.has(c.name) ? [] : [i]));
  const next = new Int32Array(new SharedArrayBuffer(4));
  /** done[k] = 1: the worker staged plain[k]. */
  const done = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, plain.length)));
  const claim = (): number | undefined => {
    const k = Atomics.add(next, 0, 1);
    return k < plain.length ? (plain[k] as number) : undefined;
  };
  const stopClaims = (): void => {
    Atomics.store(next, 0, plain.length);
  };
  let worker: Promise<void> = Promise.resolve();
  let w: Worker | undefined;
  if (staging !== undefined && plain.length >= WORKER_MIN) {
    const jobs = plain.map((i) => {
      const c = components[i] as StagedComponent;
      return { libDir: join(workOf(c), 'lib', target), file: c.file, archive: archiveOf(c), manifest: join(workOf(c), 'package.json') };
    });
    try {
      w = new Worker(WORKER_SOURCE, { eval: true, workerData: { jobs, counter: next.buffer, doneFlags: done.buffer } });
    } catch {
      // no worker (a resource limit): the main thread stages everything in `finish`
    }
  }
  if (w !== undefined) {
    w.on('message', (m: { k: number; step: 'copy' | 'write'; error: { message: string; code?: string; syscall?: string; path?: string } }) => {
      const i = plain[m.k] as number;
      const e = Object.assign(new Error(m.error.message), { code: m.error.code, syscall: m.error.syscall, path: m.error.path });
      const c = components[i] as StagedComponent;
      fail(i, m.step === 'copy' ? fsError(e, c.file, 'copy') : e);
    });
    // Settles once the worker has exited (Node delivers its messages first); never rejects.
    worker = new Promise<void>((resolve) => {
      w.once('error', (e) => {
        stopClaims();
        fail(plain[0] as number, e);
      });
      w.once('exit', () => {
        plain.forEach((i, k) => {
          if (Atomics.load(done, k) === 1 && outcomes[i] === undefined) outcomes[i] = { ok: true, prev: undefined };
        });
        resolve();
      });
    });
  }

  /**
   * Stages one component on the main thread, its manifest included (merged into `prev` when
   * given).
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
        cpSync(c.headers, join(work, 'include', target, 'rump'), { recursive: true, errorOnExist: true, force: false, mode: constants.COPYFILE_EXCL, dereference: false, filter: (src) => !src.endsWith('~') });
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
      stopClaims(); // the worker stops after its current component
      await worker;
      clean();
    },

    async finish(manifests: readonly ComponentManifest[]): Promise<WrittenComponent[]> {
      let committed = false;
      try {
        if (staging === undefined) throw setupError;
        components.forEach((c, i) => checkImported(manifests[i] as ComponentManifest, c, join(out, c.name)));
        // The main thread's share: the components only it stages (a directory to merge into is
        // read and checked first), then plain ones alongside the worker.
        for (const i of mainOnly) {
          const c = components[i] as StagedComponent;
          try {
            const prev = existing.has(c.name) ? await readPrevious(c) : undefined;
            outcomes[i] = stageHere(c, prev, manifests[i] as ComponentManifest);
          } catch (error) {
            fail(i, error);
            stopClaims();
            break;
          }
        }
        for (let i = claim(); i !== undefined; i = claim()) {
          try {
            outcomes[i] = stageHere(components[i] as StagedComponent, undefined, manifests[i] as ComponentManifest);
          } catch (error) {
            fail(i, error);
            stopClaims();
          }
        }
        await worker;
        for (const o of outcomes) if (o !== undefined && !o.ok) throw o.error;
        const written = components.map((c, i): WrittenComponent & { work: string } => {
          const o = outcomes[i];
          if (o === undefined || !o.ok) throw new Error(`import staged nothing for ${c.lib}`);
          let manifest = o.manifest;
          if (manifest === undefined) {
            // staged by the worker: the file is there, empty (created by it), so written in place
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
        stopClaims();
        await worker;
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
