/**
 * The early link of `rumpkg build --force`: the previous link of the project starts while the
 * build is still loading and planning, and the build keeps what it produced only when its own
 * link turns out to be exactly that one.
 *
 * A link is a function of its build directory (the staged inputs: symbolic links into the store,
 * the application's copied sources, the objects the compiles or the object cache wrote, the
 * manifest object), its program and arguments, and the environment the build gives every step.
 * After a build, `writeLinkMemo` records that directory (each entry: a directory, a symbolic link
 * and its target, or a file and its bytes), the link's program and arguments, and the digests of
 * the project files it came from (rumpkg.json, rumpkg.lock, the application's sources), in
 * `$RUMPKG_HOME/objects/early/<sha256 of the project directory>.json` — beside the object cache,
 * whose objects a build links without recompiling them, so the memo is trusted as they are (and
 * `rumpkg cache clean` removes it with them).
 *
 * The next `rumpkg build --force` in that directory (and only with options that cannot change the
 * plan: `--json`, `--quiet`, `--verbose`) starts from the launcher, before the CLI is even loaded:
 * `startEarlyLink` takes a build directory of its own (`.rumpkg-build-<pid>-*` next to the image,
 * swept like any build directory left by a killed run) — the last link's directory, kept as
 * `.rumpkg-early`, or one made from the memo — and spawns the link; right after, while the linker
 * starts, it re-hashes those project files (one changed: the link is killed) and checks the kept
 * directory entry by entry against the memo (another tree: killed, and started again in a
 * directory made from the memo), and only then hands the link over. The
 * build then plans and stages as always; at its link step it compares its own directory, program
 * and arguments with the memo's (`linkIdentity`). Identical: the early link's exit is the link
 * step's, and its image and map are renamed into the build's directory; the checks, the stamp
 * and the commit are the build's as always, over the build's own staged inputs — which are
 * byte-for-byte the ones the early link read. Anything else (a changed plan, an object the cache
 * no longer serves, a memo that was tampered with): the early link is killed, its directory
 * removed, and the build runs its own link. So the early link changes when the link starts, never
 * what is linked or what is checked.
 *
 * Written by hand: no library replays a build action ahead of planning it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { earlyObjectsDir, readMemo, writeMemo } from '../early/index.js';

export { earlyObjectsDir };
/** Writes the memo (packager/early writeMemo: 0600, whole; best effort). */
export const writeLinkMemo: (file: string, memo: LinkMemo) => void = writeMemo;

export const LINK_MEMO_VERSION = 1;
/** A memo's build directory holds at most this many bytes of files (beyond: no memo). */
const MAX_TREE_BYTES = 4 * 1024 * 1024;
const MAX_TREE_ENTRIES = 4096;
/** A memo file larger than its tree can make is not read. */
const MAX_MEMO_BYTES = 2 * MAX_TREE_BYTES;

/** One entry of a build directory: a directory, a symbolic link (target), a file (base64 bytes). */
export type TreeEntry = [path: string, kind: 'd'] | [path: string, kind: 'l', target: string] | [path: string, kind: 'f', base64: string];

export interface LinkMemo {
  v: typeof LINK_MEMO_VERSION;
  /** The directory the image is written to (the build directory is made in it). */
  outDir: string;
  /** Project files (absolute path, sha256 hex) the plan came from. */
  inputs: Array<[string, string]>;
  tree: TreeEntry[];
  program: string;
  args: string[];
}

export interface EarlyResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** The program could not be started. */
  failed?: boolean;
}

/** A link started by the launcher (`startEarlyLink`), handed to the build. */
export interface EarlyLink {
  identity: string;
  outDir: string;
  dir: string;
  /** Takes the link: the process now waits for it (until then it does not keep the process alive). */
  adopt(): Promise<EarlyResult>;
  /** Kills the link (if still running) and removes its directory; idempotent. */
  discard(): void;
  /** After its outputs were moved out: its directory becomes the kept one (keepLinkDir). */
  keep(): void;
}

const sha256 = (b: string | Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The memo of the project in `projectDir` (absolute) under the object cache `objectsDir`. */
export const linkMemoFile = (objectsDir: string, projectDir: string): string => join(objectsDir, 'early', `${sha256(resolve(projectDir))}.json`);

/** What a link is made of: program, arguments and build directory, as one comparable string. */
export const linkIdentity = (m: Pick<LinkMemo, 'tree' | 'program' | 'args'>): string => JSON.stringify([m.program, m.args, m.tree]);

/**
 * The entries of a build directory (sorted, `/`-separated), leaving out the names in `exclude`
 * (the link's outputs); undefined when it is larger than a memo holds or cannot be read.
 */
export function captureTree(dir: string, exclude: ReadonlySet<string>): TreeEntry[] | undefined {
  const out: TreeEntry[] = [];
  let bytes = 0;
  const walk = (rel: string): boolean => {
    const names = readdirSync(rel === '' ? dir : join(dir, rel)).sort();
    for (const n of names) {
      const r = rel === '' ? n : `${rel}/${n}`;
      if (exclude.has(r)) continue;
      if (out.length >= MAX_TREE_ENTRIES) return false;
      const p = join(dir, r);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push([r, 'l', readlinkSync(p)]);
      else if (st.isDirectory()) {
        out.push([r, 'd']);
        if (!walk(r)) return false;
      } else if (st.isFile()) {
        bytes += st.size;
        if (bytes > MAX_TREE_BYTES) return false;
        out.push([r, 'f', readFileSync(p).toString('base64')]);
      } else return false;
    }
    return true;
  };
  try {
    return walk('') ? out : undefined;
  } catch {
    return undefined;
  }
}

const PLAN_NEUTRAL = new Set(['--force', '--json', '-q', '--quiet', '-v', '--verbose']);

/**
 * The memo to replay for this command line, or undefined (`build --force` and plan-neutral
 * options only). Its project files are not hashed yet (`inputsUnchanged`, once the link started).
 */
function memoFor(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): LinkMemo | undefined {
  if (!argv.includes('--force') || argv.filter((a) => a === 'build').length !== 1) return undefined;
  if (!argv.every((a) => a === 'build' || PLAN_NEUTRAL.has(a))) return undefined;
  const memo = readMemo(linkMemoFile(earlyObjectsDir(env), cwd), MAX_MEMO_BYTES) as LinkMemo | undefined; // every field checked below
  if (memo === undefined || memo === null || typeof memo !== 'object' || memo.v !== LINK_MEMO_VERSION || typeof memo.outDir !== 'string' || typeof memo.program !== 'string') return undefined;
  if (!Array.isArray(memo.inputs) || !Array.isArray(memo.tree) || !Array.isArray(memo.args) || !memo.args.every((a) => typeof a === 'string')) return undefined;
  if (!memo.inputs.every((input) => Array.isArray(input) && typeof input[0] === 'string' && typeof input[1] === 'string')) return undefined;
  return memo;
}

/** Whether every project file the memo came from still has its recorded digest. */
function inputsUnchanged(memo: LinkMemo): boolean {
  try {
    return memo.inputs.every(([path, digest]) => sha256(readFileSync(path)) === digest);
  } catch {
    return false;
  }
}

/** The last link's build directory, kept next to the image for the next early link. */
export const KEPT_DIR = '.rumpkg-early';

/** Whether `dir` holds exactly the memo's entries (nothing more, nothing else). */
function holdsTree(dir: string, tree: readonly TreeEntry[]): boolean {
  const children = new Map<string, string[]>([['', []]]);
  for (const e of tree) {
    const slash = e[0].lastIndexOf('/');
    const parent = slash < 0 ? '' : e[0].slice(0, slash);
    const list = children.get(parent);
    if (list === undefined) return false;
    list.push(e[0].slice(slash + 1));
    if (e[1] === 'd') children.set(e[0], []);
  }
  for (const [d, names] of children) {
    const found = readdirSync(d === '' ? dir : join(dir, d)).sort();
    if (found.length !== names.length || !names.sort().every((n, i) => n === found[i])) return false;
  }
  for (const e of tree) {
    const p = join(dir, e[0]);
    const st = lstatSync(p);
    if (e[1] === 'd' ? !st.isDirectory() : e[1] === 'l' ? !st.isSymbolicLink() || readlinkSync(p) !== e[2] : !st.isFile() || !readFileSync(p).equals(Buffer.from(e[2] as string, 'base64'))) return false;
  }
  return true;
}

/** A fresh build directory name in `outDir`, named as this process's build directories are. */
const buildDirName = (outDir: string): string => join(outDir, `.rumpkg-build-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);

/**
 * The kept directory of the last link, taken (renamed, so no other process takes it too: one
 * rename, where creating ~50 entries costs this disk ~12 ms) but not compared with the memo yet
 * (`holdsTree`, once the link started); undefined when none is kept or another process took it.
 */
function takeKeptDir(memo: LinkMemo): string | undefined {
  const dir = buildDirName(memo.outDir);
  try {
    renameSync(join(memo.outDir, KEPT_DIR), dir);
    return dir;
  } catch {
    return undefined;
  }
}

/** A build directory made from the memo. */
function makeDir(memo: LinkMemo): string {
  const dir = buildDirName(memo.outDir);
  try {
    mkdirSync(dir, { mode: 0o700 });
    recreate(dir, memo.tree);
    return dir;
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Keeps a build directory whose link is done (its outputs moved out) as the next early link's,
 * when none is kept yet; else removes it. Best effort.
 */
export function keepLinkDir(dir: string, outDir: string): void {
  try {
    renameSync(dir, join(outDir, KEPT_DIR));
  } catch {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 5 });
  }
}

/** Recreates the memo's build directory in `dir` (entries in order: a directory before its contents). */
function recreate(dir: string, tree: readonly TreeEntry[]): void {
  for (const e of tree) {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || e[0].split('/').some((s) => s === '' || s === '.' || s === '..')) throw new Error('bad memo entry');
    const p = join(dir, e[0]);
    if (e[1] === 'd') mkdirSync(p, { mode: 0o700 });
    else if (e[1] === 'l' && typeof e[2] === 'string') symlinkSync(e[2], p);
    else if (e[1] === 'f' && typeof e[2] === 'string') writeFileSync(p, Buffer.from(e[2], 'base64'), { mode: 0o600 });
    else throw new Error('bad memo entry');
  }
}

/**
 * Called by the launcher before the CLI loads: starts the project's previous link when the command
 * line is `build --force` (with plan-neutral options), its memo exists and every project file it
 * came from is unchanged. Undefined otherwise, or on any error (the build then links as always).
 * The caller must `discard()` a link the build did not take, also when the process exits early.
 *
 * What is compared before the link may be taken — the project files' digests and the kept
 * directory's entries, ~5–10 ms here — is compared right after it started, on this core while the
 * linker starts on the other: a project file changed kills it (undefined); a kept directory that
 * no longer holds the memo's tree kills it and starts the link again in a directory made from the
 * memo. Either way nothing is returned before both held.
 */
export function startEarlyLink(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): EarlyLink | undefined {
  let link: EarlyLink | undefined;
  try {
    const memo = memoFor(argv, env, cwd);
    if (memo === undefined) return undefined;
    const taken = takeKeptDir(memo);
    link = spawnLink(memo, taken ?? makeDir(memo), env);
    if (!inputsUnchanged(memo)) {
      link.discard();
      return undefined;
    }
    if (taken !== undefined && !holdsTreeSafely(taken, memo.tree)) {
      link.discard();
      link = undefined;
      link = spawnLink(memo, makeDir(memo), env);
    }
    return link;
  } catch {
    link?.discard();
    return undefined;
  }
}

function holdsTreeSafely(dir: string, tree: readonly TreeEntry[]): boolean {
  try {
    return holdsTree(dir, tree);
  } catch {
    return false;
  }
}

/** Spawns the memo's link in `dir` (the link's directory from then on: `discard` removes it). */
function spawnLink(memo: LinkMemo, dir: string, env: NodeJS.ProcessEnv): EarlyLink {
  let child: ChildProcess;
  try {
    // A process group of its own, so that a discarded link is killed with the programs it started
    // (cc runs collect2, which runs ld).
    child = spawn(memo.program, memo.args, { cwd: dir, env: { ...env, LC_ALL: 'C', LANG: 'C' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let output = '';
  const take = (d: Buffer): void => {
    if (output.length < 256 * 1024) output += d.toString('utf8');
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  // Until the build takes it, the link does not hold the process open (a build that fails
  // before its link step exits at once; the launcher's exit hook discards the link).
  child.unref();
  (child.stdout as unknown as { unref(): void }).unref();
  (child.stderr as unknown as { unref(): void }).unref();
  const done = new Promise<EarlyResult>((res) => {
    child.on('error', () => res({ code: null, signal: null, output, failed: true }));
    child.on('close', (code, signal) => res({ code, signal, output }));
  });
  let discarded = false;
  return {
    identity: linkIdentity(memo),
    outDir: memo.outDir,
    dir,
    adopt: () => {
      child.ref();
      (child.stdout as unknown as { ref(): void }).ref();
      (child.stderr as unknown as { ref(): void }).ref();
      return done;
    },
    keep: () => {
      if (discarded) return;
      discarded = true;
      keepLinkDir(dir, memo.outDir);
    },
    discard: () => {
      if (discarded) return;
      discarded = true;
      // A killed linker may still write for a moment: removed again once it is gone (a process
      // that exits first leaves the directory to the next build's sweep of dead pids' directories).
      const remove = (): void => {
        try {
          rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 5 });
        } catch {
          // swept later
        }
      };
      if (child.exitCode === null && child.signalCode === null) {
        child.once('exit', remove);
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
      remove();
    },
  };
}

const launcher = globalThis as { __rumpkgEarlyLink?: EarlyLink };
/** Whether the launcher started an early link in this process (taken or not). */
export const earlyLinkStarted = launcher.__rumpkgEarlyLink !== undefined;

/**
 * The early link the launcher started for this process if it links into `outDir`, once (later
 * calls, or another directory: undefined — a link for another target stays for that target).
 */
export function takeEarlyLink(outDir: string): EarlyLink | undefined {
  const early = launcher.__rumpkgEarlyLink;
  if (early === undefined || early.outDir !== outDir) return undefined;
  launcher.__rumpkgEarlyLink = undefined;
  return early;
}
