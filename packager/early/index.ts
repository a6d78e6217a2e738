// packager/early: what the launcher's early starts share — `rumpkg build --force`'s early link
// (packager/build/early-link.ts) and `rumpkg run`'s early boot (packager/run/early-qemu.ts): where
// their memos live, how they are written and read, how a program is looked up on PATH (the one
// lookup of the product: packager/build's findProgram is this one), and how a started process
// group is killed (QEMU: packager/run/qemu-process.ts and the launcher's early run). node builtins
// only: the launcher loads these before the CLI, bundled on their own (scripts/bundle.mjs).
import { randomBytes } from 'node:crypto';
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
