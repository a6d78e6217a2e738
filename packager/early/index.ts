// packager/early: what the launcher's early starts share — `rumpkg build --force`'s early link
// (packager/build/early-link.ts) and `rumpkg run`'s early boot (packager/run/early-qemu.ts): where
// their memos live, how they are written and read, file identities and when a recorded one proves
// anything, how a program is looked up on PATH (the one lookup of the product: packager/build's
// findProgram is this one), and how a started process group is killed (QEMU:
// packager/run/qemu-process.ts and the launcher's early run) — and the launcher's replay of a
// `build` or `install` with nothing to do (below). node builtins only: the launcher loads these
// before the CLI, bundled on their own (scripts/bundle.mjs).
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';

/**
 * `$RUMPKG_HOME/objects`: registry/home's resolveHome and homePaths(...).objects, restated because
 * the early starts load before the bundle and must not pull the registry module in (a test checks
 * that both name the same directory). The memos sit in its `early/` directory, beside the object
 * cache, and `rumpkg cache clean` removes them with it.
 */
export function earlyObjectsDir(env: NodeJS.ProcessEnv): string {
  const home = env.RUMPKG_HOME !== undefined && env.RUMPKG_HOME !== '' ? resolve(env.RUMPKG_HOME) : join(homedir(), '.rumpkg');
  return join(home, 'objects');
}

/**
 * Writes a memo privately and whole: a temporary file, mode 0600, renamed over it. Best effort:
 * without it the next build links, or the next run boots, when it gets there.
 */
export function writeMemo(file: string, memo: unknown): void {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, JSON.stringify(memo), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/**
 * A memo as parsed JSON, or undefined when it is absent, larger than `maxBytes` or not JSON.
 * rumpkg's own file in the user's object cache, read before the CLI and its validated JSON reader
 * load: the caller type-checks every field before use.
 */
export function readMemo(file: string, maxBytes: number): unknown {
  try {
    const text = readFileSync(file);
    return text.length > maxBytes ? undefined : (JSON.parse(text.toString('utf8')) as unknown);
  } catch {
    return undefined;
  }
}

/** Looks a program up on PATH like `which` does, without spawning anything. */
export function findProgram(command: string, path: string | undefined = process.env.PATH): string | null {
  if (command.includes('/')) return isExecutable(command) ? command : null;
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, command);
    if (isExecutable(p)) return p;
  }
  return null;
}

/** Whether `p` is an executable file (followed through symbolic links). */
export function isExecutable(p: string): boolean {
  try {
    // A PATH entry without the program is the common case: answered without an exception (each
    // costs a stack trace; a lookup meets one per entry before the program's).
    const st = statSync(p, { throwIfNoEntry: false });
    if (st === undefined || !st.isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The signals on which a process that runs a child group kills it first, then re-raises them. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** SIGKILL to the process group `pid` leads (a child spawned `detached`); nothing when it is gone. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * How much older than the moment the identities were taken a recorded time must be: more than the
 * file system's timestamp tick. A time with a sub-second part comes from a file system that keeps
 * nanoseconds, stamped from the kernel's coarse clock (a tick of at most 10 ms): 100 ms. A time in
 * whole seconds may come from one that keeps seconds (ext3, HFS+) or two (FAT): 2 s.
 */
export const RACY_MARGIN_NS = 100_000_000n;
export const RACY_MARGIN_WHOLE_SECONDS_NS = 2_000_000_000n;
const margin = (t: bigint): bigint => (t % 1_000_000_000n === 0n ? RACY_MARGIN_WHOLE_SECONDS_NS : RACY_MARGIN_NS);

/** A path's identity: [path, dev, ino, size, mtime ns, ctime ns] (decimal strings), or [path] when it did not exist. */
export type Fact = [path: string, dev: string, ino: string, size: string, mtimeNs: string, ctimeNs: string] | [path: string];

/** The environment a run's decisions depend on. */
export function decidingEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(env).sort()) if (k === 'PATH' || k.startsWith('RUMPKG_')) out[k] = env[k] as string;
  // Set by the shipped command for every run; not a decision.
  delete out.RUMPKG_DEFERRED_CA_CERTS;
  return out;
}

/** The identity of `path` now (of the file a symbolic link names: a link moved to another file changes it). */
export function factOf(path: string): Fact {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  if (st === undefined) return [path];
  return [path, String(st.dev), String(st.ino), String(st.size), String(st.mtimeNs), String(st.ctimeNs)];
}

/** Whether a recorded identity is old enough to prove anything (see the module head). */
export function factIsSettled(f: Fact, takenAtNs: bigint): boolean {
  if (f.length === 1) return true;
  const [m, c] = [BigInt(f[4]), BigInt(f[5])];
  return m + margin(m) < takenAtNs && c + margin(c) < takenAtNs;
}

/**
 * The paths whose identities decide where `command` is found on PATH (findProgram): the candidate in
 * every PATH directory up to the one it is found in (absent, not executable, or it — a file
 * followed through its symbolic links, so another binary behind the same name changes it); all of
 * them when it is not found. Undefined for a command with a slash (no lookup).
 */
export function programLookup(command: string, path: string | undefined): string[] | undefined {
  if (command.includes('/')) return undefined;
  const out: string[] = [];
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, command);
    out.push(p);
    if (isExecutable(p)) break;
  }
  return out;
}

export const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/** Whether `facts` is a list of identities each of which is its path's identity now. */
export function factsHold(facts: unknown): boolean {
  if (!Array.isArray(facts)) return false;
  for (const f of facts) {
    if (!isStrings(f) || (f.length !== 1 && f.length !== 6)) return false;
    const now = factOf(f[0]!);
    if (now.length !== f.length || !now.every((x, i) => x === f[i])) return false;
  }
  return true;
}

/**
 * The facts of a passed check that started at `startedAtMs` (Date.now()): the identity of every
 * path it read or listed (relative ones from `cwd`), of each program's lookup on PATH (`tools`:
 * found where the check found it; `lookups`: looked up, wherever found). Undefined when a program
 * is no longer found where the check found it, or when an identity is not settled (a memo of them
 * could miss a change made while the check ran).
 */
export function settledFacts(
  checked: { paths: readonly string[]; tools: ReadonlyArray<readonly [command: string, found: string]>; lookups?: readonly string[] },
  env: NodeJS.ProcessEnv,
  cwd: string,
  startedAtMs: number,
): Fact[] | undefined {
  const takenAt = BigInt(startedAtMs) * 1_000_000n;
  const facts = new Map<string, Fact>();
  const add = (p: string): void => {
    if (!facts.has(p)) facts.set(p, factOf(p));
  };
  for (const [command, found] of checked.tools) if (findProgram(command, env.PATH) !== found) return undefined;
  for (const command of [...checked.tools.map((t) => t[0]), ...(checked.lookups ?? [])]) for (const p of programLookup(command, env.PATH) ?? [command]) add(p);
  for (const p of checked.paths) add(resolve(cwd, p));
  const out = [...facts.values()];
  return out.every((f) => factIsSettled(f, takenAt)) ? out : undefined;
}

/** Removes a memo whose facts no longer hold (best effort). */
export function removeMemo(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // its facts no longer hold either
  }
}

/*
 * The replay of a command with nothing to do: `rumpkg build` whose images are all up to date, and
 * `rumpkg install` whose lockfile and store already match, answered by the launcher without
 * loading the CLI when nothing that command's check depended on has changed since it last passed.
 *
 * Such a run is ~90 ms of loading and checking on top of Node's own start-up (the bench's warm
 * no-op rows), to print one line that the previous identical run printed. Make and Ninja answer
 * "nothing to do" from file identities; so does this module, with the rules of the early boot
 * (packager/run/early-qemu.ts, Git's racy-clean index):
 *
 * - After a run whose check passed with nothing to do, and that printed nothing but its answer on
 *   stdout (no warning, no `--verbose`), `recordNoop` writes
 *   `$RUMPKG_HOME/objects/early/noop-<command>-<sha256 of the directory and command line>.json` (mode 0600, removed
 *   with the object cache by `rumpkg cache clean`): the command line, the environment that
 *   decides anything (PATH, every RUMPKG_* variable, NO_COLOR and FORCE_COLOR), whether stdout was
 *   a terminal, the identity of every file and directory the check read or listed (device, inode,
 *   size, modification and status-change times in nanoseconds, or its absence), each program's
 *   lookup on PATH, rumpkg's own files, and the exact text the run wrote to stdout. Only when every
 *   identity is settled (older than the run's start by more than the file system's timestamp
 *   tick: packager/early settledFacts); else the memo is removed.
 * - `replayNoop`, called by the launcher for `build` and `install`: when the command line, the
 *   directory, that environment and the terminal are the memo's and every identity is unchanged,
 *   it returns the text to write, and the launcher exits 0 without loading the CLI. Anything else
 *   (or any error): undefined, and the CLI runs as always — and checks by content.
 * What the memo does not see, as make does not: a file changed with its size kept and its
 * modification and status-change times set back (the latter only by moving the system clock).
 *
 * Bundled on its own (dist/rumpkg-early-noop.cjs, this file alone) for the launcher. Written by
 * hand: no library replays a command's answer from file identities.
 */

export const NOOP_MEMO_VERSION = 1;
/** A memo larger than this is not read. */
const MAX_MEMO_BYTES = 1024 * 1024;

/** The commands whose answer with nothing to do may be replayed. */
export type NoopCommand = 'build' | 'install';

export interface NoopMemo {
  v: typeof NOOP_MEMO_VERSION;
  command: NoopCommand;
  cwd: string;
  argv: string[];
  /** noopEnv of the run. */
  env: Record<string, string>;
  /** Whether stdout was a terminal (colour, progress). */
  tty: boolean;
  facts: Fact[];
  /** What the run wrote to stdout. */
  stdout: string;
}

const sha256 = (b: string): string => createHash('sha256').update(b).digest('hex');

/** One memo per directory and command line (`install` and `install --frozen` answer apart). */
export const noopMemoFile = (objectsDir: string, projectDir: string, command: NoopCommand, argv: readonly string[]): string =>
  join(objectsDir, 'early', `noop-${command}-${sha256(JSON.stringify([resolve(projectDir), ...argv]))}.json`);

/** The environment a no-op run's answer depends on: PATH, every RUMPKG_* variable, NO_COLOR, FORCE_COLOR. */
export function noopEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(env).sort()) if (k === 'PATH' || k === 'NO_COLOR' || k === 'FORCE_COLOR' || k.startsWith('RUMPKG_')) out[k] = env[k] as string;
  // Set by the shipped command for every run; not a decision.
  delete out.RUMPKG_DEFERRED_CA_CERTS;
  return out;
}

/** What a run whose check passed with nothing to do knows, for `recordNoop`. */
export interface NoopRun {
  command: NoopCommand;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  tty: boolean;
  /** Date.now() before anything was read. */
  startedAt: number;
  /** Every path the check read or listed, and the programs it found on PATH (packager/build CheckedFiles). */
  checked: { paths: string[]; tools: Array<[command: string, found: string]> };
  /** rumpkg's own files (the launcher and what it loads): another rumpkg may answer otherwise. */
  self: string[];
  stdout: string;
}

/** Records the memo the next identical run is answered from (see the module head). */
export function recordNoop(run: NoopRun): void {
  const file = noopMemoFile(earlyObjectsDir(run.env), run.cwd, run.command, run.argv);
  const facts = settledFacts({ paths: [...run.checked.paths, ...run.self], tools: run.checked.tools }, run.env, run.cwd, run.startedAt);
  if (facts === undefined) {
    removeMemo(file);
    return;
  }
  const memo: NoopMemo = { v: NOOP_MEMO_VERSION, command: run.command, cwd: resolve(run.cwd), argv: run.argv, env: noopEnv(run.env), tty: run.tty, facts, stdout: run.stdout };
  writeMemo(file, memo);
}

/**
 * Called by the launcher before the CLI loads: the text the previous identical run of `command`
 * wrote to stdout, when every fact of its memo holds (see the module head); undefined otherwise,
 * or on any error.
 */
export function replayNoop(command: NoopCommand, argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string, tty: boolean): string | undefined {
  try {
    const memo = readMemo(noopMemoFile(earlyObjectsDir(env), cwd, command, argv), MAX_MEMO_BYTES) as NoopMemo | undefined; // every field checked below
    if (memo === undefined || memo === null || typeof memo !== 'object' || memo.v !== NOOP_MEMO_VERSION || memo.command !== command) return undefined;
    if (memo.cwd !== resolve(cwd) || memo.tty !== tty || typeof memo.stdout !== 'string') return undefined;
    if (!isStrings(memo.argv) || memo.argv.length !== argv.length || !memo.argv.every((a, i) => a === argv[i])) return undefined;
    if (memo.env === null || typeof memo.env !== 'object' || JSON.stringify(memo.env) !== JSON.stringify(noopEnv(env))) return undefined;
    return factsHold(memo.facts) ? memo.stdout : undefined;
  } catch {
    return undefined;
  }
}
