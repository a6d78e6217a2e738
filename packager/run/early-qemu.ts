/**
 * The early boot of `rumpkg run`: QEMU starts from the launcher, before the CLI is loaded, when
 * nothing the last up-to-date check of the project's image depended on has changed since.
 *
 * `rumpkg run` refuses an image that no longer matches rumpkg.lock, the components, the
 * toolchain or the application sources (packager/build, locateProjectImage), and that check
 * hashes every input, the image and its map — ~30 ms of CPU for the real unikernel, on top of
 * loading the CLI, before the guest may run. Make, Ninja, Cargo and Git answer the same question
 * for unchanged files by their identity instead of their bytes; so does this module, in the way
 * Git's index does (racy-clean):
 *
 * - After a run whose check passed (hashing everything), `writeRunMemo` records, in
 *   `$RUMPKG_HOME/objects/early/run-<sha256 of the project directory>.json` (mode 0600, beside the
 *   object cache and the early link's memo, removed with them by `rumpkg cache clean`): the
 *   command line, the environment that decides anything (PATH and every RUMPKG_* variable), the
 *   identity of every file and directory the check and the boot read or listed — device, inode,
 *   size, modification and status-change times in nanoseconds, or its absence — among them each
 *   program's lookup on PATH (the candidate in every directory up to where it was found), and
 *   the exact QEMU command that ran.
 *   A memo is written only when every recorded modification and status-change time is older
 *   than the run's start by more than the file system's timestamp tick (packager/early RACY_MARGIN_NS): a file
 *   changed after the check started — after it was hashed, before its identity was taken — has
 *   a newer time, and a later change cannot keep an identity whose tick is long past. Else the
 *   memo is removed, and a later run records one.
 * - `startEarlyQemu`, called by the launcher for `rumpkg run`: when the command line, the
 *   directory and that environment are the memo's and every identity is unchanged, it spawns
 *   the memo's QEMU command at once (the guest runs: the identities are the check), in its own
 *   process group, not holding the process open.
 * - The boot (qemu-process.ts, `claimEarlyQemu`) takes that QEMU only when the command it would
 *   start is byte-for-byte the same; then the up-to-date check is not run again. Anything else:
 *   the early QEMU is killed and waited for (its forwarded ports are free again), and the run
 *   goes as always. A process that exits before taking it kills it (exit hook).
 * - The early run (`finishEarly`): a memo of a run whose console went to the terminal also says
 *   how it read that console (console.ts ConsoleSpec); the launcher then takes its QEMU itself,
 *   reads the console through the same session the boots use, and exits with the guest's status
 *   without loading the CLI. A guest that ends in an error is handed to the CLI, which reports it.
 * What the memo does not see, as make does not: a file changed with its size kept and its
 * modification and status-change times set back — the status-change time cannot be set by a
 * program, only by moving the system clock.
 *
 * node builtins only (and packager/early's memo directory and writer, and console.ts): bundled on its own
 * (dist/rumpkg-early-run.cjs) for the launcher. Written by hand: no library replays a process
 * start from file identities.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { STOP_SIGNALS, decidingEnv, earlyObjectsDir, factsHold, isStrings, killGroup, readMemo, removeMemo, settledFacts, writeMemo, type Fact } from '../early/index.js';
import { openConsole, type ConsoleOutcome, type ConsoleSpec } from './console.js';

export const RUN_MEMO_VERSION = 2;
/** A memo larger than this is not read. */
const MAX_MEMO_BYTES = 1024 * 1024;

export interface RunMemo {
  v: typeof RUN_MEMO_VERSION;
  cwd: string;
  argv: string[];
  /** PATH and every RUMPKG_* variable, as the run saw them. */
  env: Record<string, string>;
  /** Every path's identity, the programs' lookups on PATH included (programLookup). */
  facts: Fact[];
  /** The QEMU process as it was spawned: program and arguments. */
  spawn: string[];
  /**
   * How the run read its console (console.ts), recorded for a run that streamed it to the terminal
   * (not `--json`): the launcher then runs the guest to its end itself (finishEarly).
   */
  console?: ConsoleSpec;
}

const sha256 = (b: string): string => createHash('sha256').update(b).digest('hex');

export const runMemoFile = (objectsDir: string, projectDir: string): string => join(objectsDir, 'early', `run-${sha256(resolve(projectDir))}.json`);


/** The memo for this command line when every fact in it still holds (see the module head). */
function heldMemo(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): RunMemo | undefined {
  const memo = readMemo(runMemoFile(earlyObjectsDir(env), cwd), MAX_MEMO_BYTES) as RunMemo | undefined; // every field checked below
  if (memo === undefined || memo === null || typeof memo !== 'object' || memo.v !== RUN_MEMO_VERSION || memo.cwd !== resolve(cwd)) return undefined;
  if (!isStrings(memo.argv) || memo.argv.length !== argv.length || !memo.argv.every((a, i) => a === argv[i])) return undefined;
  if (!isStrings(memo.spawn) || memo.spawn.length === 0 || !Array.isArray(memo.facts)) return undefined;
  if (memo.env === null || typeof memo.env !== 'object' || JSON.stringify(memo.env) !== JSON.stringify(decidingEnv(env))) return undefined;
  if (!factsHold(memo.facts)) return undefined;
  if (memo.console !== undefined && !isConsoleSpec(memo.console)) return undefined;
  // Disk images are not facts (the guest writes them); a missing one is the boot's error to report.
  if (memo.console?.convention === 'rumprun' && !memo.console.drives.every((d) => statSync(d, { throwIfNoEntry: false })?.isFile() === true)) return undefined;
  return memo;
}

function isConsoleSpec(x: unknown): x is ConsoleSpec {
  const c = x as Record<string, unknown>;
  if (c === null || typeof c !== 'object' || typeof c.image !== 'string' || typeof c.target !== 'string' || !isStrings(c.emulator)) return false;
  if (typeof c.timeoutMs !== 'number' || !(c.timeoutMs > 0)) return false;
  if (c.convention === 'glue') return (c.arch === 'x86_64' || c.arch === 'riscv64') && typeof c.verbose === 'boolean';
  return c.convention === 'rumprun' && isStrings(c.drives);
}

/** A QEMU started by the launcher (`startEarlyQemu`), for the boot to take. */
export interface EarlyQemu {
  /** The command it runs (program and arguments). */
  spawn: string[];
  child: ChildProcess;
  /** performance.now() when it was spawned. */
  startedAt: number;
  /** Takes it: it now holds the process open. */
  adopt(): ChildProcess;
  /** Kills its process group unless it was taken; resolves once it is gone. Idempotent. */
  discard(): Promise<void>;
  /**
   * Present when the memo says how the run reads its console (a run to the terminal): the launcher
   * runs the guest to its end without the CLI (see finishEarly).
   */
  finish?: (out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }, handOver: () => void) => void;
  /** Set by `finish` when the guest ended in an error: the outcome the boot reports (rumprun-boot.ts, run.ts). */
  ended?: { outcome: ConsoleOutcome; stderr: string };
}

/**
 * Called by the launcher before the CLI loads, for `rumpkg run`: starts the memo's QEMU when every
 * fact holds (see the module head). Undefined otherwise, or on any error. The caller must
 * `discard()` a QEMU the boot did not take, also when the process exits early.
 */
export function startEarlyQemu(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): EarlyQemu | undefined {
  try {
    const memo = heldMemo(argv, env, cwd);
    if (memo === undefined) return undefined;
    const startedAt = performance.now();
    const child = spawn(memo.spawn[0]!, memo.spawn.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
    child.on('error', () => undefined); // the boot that takes it reports it; else nobody waits
    child.unref();
    (child.stdout as unknown as { unref(): void }).unref();
    (child.stderr as unknown as { unref(): void }).unref();
    const gone = new Promise<void>((res) => {
      if (child.pid === undefined) res();
      child.once('close', () => res());
      child.once('error', () => res());
    });
    let killed = false;
    let adopted = false;
    // Held open from now on: by its new owner, or (discarded) until it is gone.
    const hold = (): void => {
      child.ref();
      (child.stdout as unknown as { ref(): void }).ref();
      (child.stderr as unknown as { ref(): void }).ref();
    };
    const early: EarlyQemu = {
      spawn: memo.spawn,
      child,
      startedAt,
      adopt: () => {
        adopted = true;
        hold();
        return child;
      },
      discard: () => {
        if (adopted) return Promise.resolve();
        if (!killed) {
          killed = true;
          if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
            try {
              process.kill(-child.pid, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }
          child.stdout?.resume();
          child.stderr?.resume();
          hold();
        }
        return gone;
      },
    };
    const spec = memo.console;
    if (spec !== undefined) early.finish = (out, handOver) => finishEarly(early, spec, out, handOver);
    return early;
  } catch {
    return undefined;
  }
}

/**
 * The early run: the launcher takes the QEMU it started and does what the boot would do once its
 * QEMU runs (qemu-process.ts bootQemu, through the same console session): passes the console on
 * to `out.stdout` and QEMU's stderr to `out.stderr` (the launcher's own streams), stops QEMU on
 * the guest's last line or at the deadline, and kills it when this process is signalled or exits
 * (as qemu-process.ts does; that module is not for the launcher: it loads the CLI's modules). A
 * guest that ends with a status ends the run with it — the CLI is never loaded. Any other end (an error to report), or QEMU failing to start,
 * is handed over: `handOver` loads the CLI, whose boot takes `ended` (or, after a start error,
 * boots as always).
 */
function finishEarly(early: EarlyQemu, spec: ConsoleSpec, out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }, handOver: () => void): void {
  const child = early.adopt();
  const pid = child.pid;
  const session = openConsole(spec);
  let stderr = '';
  let timedOut = false;
  const kill = (): void => {
    if (pid !== undefined) killGroup(pid);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    kill();
    unhook();
    process.kill(process.pid, signal);
  };
  const unhook = (): void => {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    process.off('exit', kill);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  process.on('exit', kill);
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, spec.timeoutMs);
  const ms = (): number => performance.now() - early.startedAt;
  let over = false;
  child.stdout!.on('data', (d: Buffer) => {
    if (session.terminal) return;
    const text = session.data(d.toString('latin1'), ms());
    if (text !== '') out.stdout.write(text);
    if (session.terminal) kill();
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += d.toString('utf8');
    out.stderr.write(d);
  });
  child.once('error', () => {
    // Not started: the CLI boots as always (and reports it).
    if (over) return;
    over = true;
    clearTimeout(timer);
    unhook();
    (globalThis as { __rumpkgEarlyQemu?: EarlyQemu }).__rumpkgEarlyQemu = undefined;
    handOver();
  });
  child.once('close', (code, signal) => {
    if (over) return; // never started: the error above
    over = true;
    clearTimeout(timer);
    kill(); // its process group: anything the guest's QEMU left behind
    unhook();
    const { rest, outcome } = session.end({ code, signal, timedOut, stderr }, ms());
    if (rest !== '') out.stdout.write(rest);
    if (outcome.ok) process.exitCode = outcome.status;
    else {
      early.ended = { outcome, stderr };
      handOver();
    }
  });
}

/** What a run that booted QEMU after a passed up-to-date check knows, for `recordEarlyBoot`. */
export interface BootedRun {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Date.now() before anything was read. */
  startedAt: number;
  /** What the check depended on (packager/build CheckedFiles). */
  checked: { paths: string[]; tools: Array<[command: string, found: string]> };
  /** How QEMU was started (qemu-process.ts BootRecord). */
  boot: { command: string[]; early: boolean; paths: string[]; tools: string[]; console: ConsoleSpec };
  /** The console went to the terminal (not `--json`): the next identical run may be finished by the launcher. */
  toTerminal: boolean;
  /** rumpkg's own files (the launcher and what it loads): another rumpkg may plan another run. */
  self: string[];
}

/**
 * After a run whose up-to-date check passed and whose QEMU this process started: records the
 * memo the next identical `rumpkg run` starts QEMU from (see the module head). Nothing is written
 * when the run itself was early (its memo still holds), when a program is no longer found where
 * the check found it, or when an identity is not settled; a stale memo is removed then.
 */
export function recordEarlyBoot(run: BootedRun): void {
  const file = runMemoFile(earlyObjectsDir(run.env), run.cwd);
  if (run.boot.early) return;
  const facts = settledFacts({ paths: [...run.checked.paths, ...run.boot.paths, ...run.self], tools: run.checked.tools, lookups: run.boot.tools }, run.env, run.cwd, run.startedAt);
  if (facts === undefined) {
    removeMemo(file);
    return;
  }
  writeMemo(file, { v: RUN_MEMO_VERSION, cwd: resolve(run.cwd), argv: run.argv, env: decidingEnv(run.env), facts, spawn: run.boot.command, ...(run.toTerminal ? { console: run.boot.console } : {}) });
}
