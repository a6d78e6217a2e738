/**
 * The object cache: outputs of the plan's compile steps (and of the `objcopy --redefine-sym`
 * steps that rename `main`), keyed by exactly what they are made from, so that `rumpkg build
 * --force` (or a rebuild after a component changed) re-links without recompiling unchanged
 * application sources and glue. The steps, their arguments and the bytes they produce are the
 * plan's (link-plan.ts); a hit writes the very bytes the step wrote when the entry was made.
 *
 * Written by hand: ccache does this for a compiler on PATH, but it is a separate program that
 * would have to wrap `cc` in the plan (and so in `--dry-run`), and it is not always installed.
 * This is its "direct mode" for the few steps rumpkg runs itself.
 *
 * Which steps: a `cc -c` step with a dependency file (`-MF`, present whenever the plan compiles
 * against component or platform headers) — the dependency file names every header the compile
 * read, system headers included, so the entry can be checked against them; and an objcopy step
 * whose arguments are `--redefine-sym` (its only input is the object it names). A compile without
 * a dependency file is never cached: which system headers it read is unknown.
 *
 * The key (sha256 of a JSON document) holds: the tool, its resolved program and the toolchain's
 * identity (resolved path, size and mtime of each tool: a reinstalled compiler changes it, as
 * ccache's default `compiler_check=mtime`), the identity of `as` on PATH and PATH itself (gcc
 * runs the assembler it finds there), the environment variables the compiler reads
 * (CPATH, C_INCLUDE_PATH, GCC_EXEC_PREFIX, COMPILER_PATH, SOURCE_DATE_EPOCH, ...), the full
 * argument list, and for every argument that names something in the build directory: a file's
 * sha256, a symbolic link's target (the staged component header directories: their store path is
 * content-addressed), a directory's sorted listing (the application's header directory).
 *
 * An entry also records each header the compile read (from its dependency file) with its sha256;
 * a lookup re-hashes them and misses when one changed or is gone. The outputs' sha256 and sizes
 * are stored with them: an entry that is truncated, corrupted or does not name its own key is a
 * miss, the step runs and the entry is rewritten. Entries are single files written to a
 * temporary name and renamed into place (a crash leaves the old entry or none); the cache is
 * never needed for correctness, so any error reading or writing it means "run the step".
 *
 * Known limit (ccache's too): a header added later earlier in the compiler's system search path,
 * shadowing one the entry recorded, is not noticed; remove the cache directory
 * (`$RUMPKG_HOME/objects`) after such a change.
 *
 * The cache also remembers which inputs passed the build's checks (build.ts `checkInput`: every
 * archive member an ELF object for the target's machine, the registration convention the target
 * needs): an empty file `checked/<sha256>-<target>.<role>.v<INPUT_CHECKS>` per input that passed.
 * The checks are a function of those bytes, that role and that target, so a build whose staged
 * copy has a digest that passed before does not parse it again — for the real rumprun unikernel,
 * ~50 ms of CPU on 10 MB of archives beside the linker. Failures are never remembered. A planted
 * marker lets an input skip only these diagnostics (the linker still refuses a foreign object),
 * and whoever can write markers here can already write the cached objects themselves.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parseJsonDocument } from '../../components/index.js';
import type { PlanStep } from './link-plan.js';
import { findProgram, type ResolvedToolchain } from './toolchain.js';

const ENTRY_VERSION = 1;
/** The version of the build's input checks (build.ts `checkInput`): change it with them. */
export const INPUT_CHECKS = 1;
/** Environment variables that change what gcc or clang produce or read. */
const COMPILER_ENV = ['CPATH', 'C_INCLUDE_PATH', 'CPLUS_INCLUDE_PATH', 'OBJC_INCLUDE_PATH', 'GCC_EXEC_PREFIX', 'COMPILER_PATH', 'LIBRARY_PATH', 'SOURCE_DATE_EPOCH', 'DEPENDENCIES_OUTPUT', 'SUNPRO_DEPENDENCIES', 'GCC_COMPARE_DEBUG', 'CCC_OVERRIDE_OPTIONS'];

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** The build-dir files a cacheable step writes; undefined when the step is not cacheable. */
export function cacheableOutputs(step: PlanStep): string[] | undefined {
  const a = step.args;
  if (step.tool === 'cc' && a.includes('-c')) {
    const o = a.indexOf('-o');
    const mf = a.indexOf('-MF');
    if (o < 0 || mf < 0 || a[o + 1] === undefined || a[mf + 1] === undefined) return undefined;
    return [a[o + 1]!, a[mf + 1]!];
  }
  if (step.tool === 'objcopy' && a.length === 4 && a[0] === '--redefine-sym') return [a[3]!];
  return undefined;
}

function fileIdentity(p: string | null): string {
  if (p === null) return 'none';
  try {
    const st = statSync(p);
    return `${p}:${st.size}:${Math.trunc(st.mtimeMs)}`;
  } catch {
    return p;
  }
}

/** What an argument names in the build directory: a file's hash, a link's target, a listing. */
function argIdentity(dir: string, arg: string, outputs: string[]): string | undefined {
  if (arg.startsWith('-') || outputs.includes(arg) || isAbsolute(arg) || arg.split('/').includes('..')) return undefined;
  const p = join(dir, arg);
  let st;
  try {
    st = lstatSync(p);
  } catch {
    return undefined; // not a path (a flag's value such as main=rumpkg_main_0)
  }
  if (st.isSymbolicLink()) return `link:${readlinkSync(p)}`;
  if (st.isDirectory()) return `dir:${readdirSync(p).sort().join('\n')}`;
  return `sha256:${sha256(readFileSync(p))}`;
}

/** The cache key of a step, computed in the staged build directory just before it would run. */
export function stepKey(step: PlanStep, dir: string, toolchain: ResolvedToolchain, env: NodeJS.ProcessEnv = process.env): string {
  const outputs = cacheableOutputs(step) ?? [];
  const inputs: Record<string, string> = {};
  for (const a of step.args) {
    const id = argIdentity(dir, a, outputs);
    if (id !== undefined) inputs[a] = id;
  }
  const path = env.PATH ?? '';
  return sha256(
    JSON.stringify({
      v: ENTRY_VERSION,
      tool: step.tool,
      program: toolchain.paths[step.tool] ?? step.command[0],
      identity: toolchain.identity,
      as: fileIdentity(findProgram('as', path)),
      path,
      env: COMPILER_ENV.map((k) => [k, env[k] ?? null]),
      command: step.command,
      args: step.args,
      inputs,
    }),
  );
}

/** The files a make-syntax dependency file lists (the target excluded). */
export function parseDepFile(text: string): string[] {
  const words = text.replace(/\\\n/g, ' ').split(/(?<!\\)\s+/).map((w) => w.replace(/\\ /g, ' ')).filter((w) => w !== '');
  const colon = words.findIndex((w) => w.endsWith(':'));
  return [...new Set(words.slice(colon + 1))];
}

/** An entry's outputs (build-dir path → bytes) and the headers it recorded (path → sha256 hex). */
export interface CacheEntry {
  outputs: Map<string, Buffer>;
  deps: Record<string, string>;
}

interface EntryHeader {
  v: number;
  key: string;
  outputs: Array<{ path: string; size: number; sha256: string }>;
  deps: Record<string, string>;
}

const depSha = (dir: string, p: string): string | undefined => {
  try {
    return sha256(readFileSync(isAbsolute(p) ? p : join(dir, p)));
  } catch {
    return undefined;
  }
};

export class ObjectCache {
  constructor(readonly root: string) {}

  private file(key: string): string {
    return join(this.root, key.slice(0, 2), key);
  }

  /**
   * The outputs of the entry for `key` (build-dir path → bytes), or undefined: no entry, an entry
   * that fails its checks, or a header it recorded that changed. Never throws.
   */
  lookup(key: string, dir: string): Map<string, Buffer> | undefined {
    const entry = this.lookupOutputs(key);
    return entry !== undefined && this.depsCurrent(entry.deps, dir) ? entry.outputs : undefined;
  }

  /**
   * `lookup` without the header check: the entry's outputs (verified against their recorded
   * sizes and digests) and the headers it recorded. Usable only once `depsCurrent` says so — the
   * build checks them while the link runs and discards the image otherwise. Never throws.
   */
  lookupOutputs(key: string): CacheEntry | undefined {
    try {
      const buf = readFileSync(this.file(key));
      const nl = buf.indexOf(10);
      if (nl < 0) return undefined;
      const h = parseJsonDocument(buf.subarray(0, nl), { file: this.file(key), maxBytes: 16 * 1024 * 1024, maxDepth: 4 }) as EntryHeader | null;
      if (h === null || typeof h !== 'object' || h.v !== ENTRY_VERSION || h.key !== key || !Array.isArray(h.outputs) || h.deps === null || typeof h.deps !== 'object') return undefined;
      let at = nl + 1;
      const out = new Map<string, Buffer>();
      for (const o of h.outputs) {
        if (typeof o.path !== 'string' || !Number.isSafeInteger(o.size) || o.size < 0 || at + o.size > buf.length) return undefined;
        const bytes = buf.subarray(at, at + o.size);
        if (sha256(bytes) !== o.sha256) return undefined;
        out.set(o.path, bytes);
        at += o.size;
      }
      if (at !== buf.length) return undefined;
      return { outputs: out, deps: h.deps };
    } catch {
      return undefined;
    }
  }

  /** Whether the input checks passed before for bytes with sha256 (hex) `digest` as `role` for `target`. */
  inputPassed(digest: string, target: string, role: string): boolean {
    return existsSync(this.passFile(digest, target, role));
  }

  /** Remembers that they passed (best effort: without the marker the checks just run again). */
  recordInputPassed(digest: string, target: string, role: string): void {
    try {
      mkdirSync(join(this.root, 'checked'), { recursive: true });
      writeFileSync(this.passFile(digest, target, role), '');
    } catch {
      // not remembered
    }
  }

  private passFile(digest: string, target: string, role: string): string {
    return join(this.root, 'checked', `${digest}-${target}.${role}.v${INPUT_CHECKS}`);
  }

  /** Whether every header an entry recorded (path → sha256 hex) still has those bytes. */
  depsCurrent(deps: Readonly<Record<string, string>>, dir: string): boolean {
    for (const [p, s] of Object.entries(deps)) if (depSha(dir, p) !== s) return false;
    return true;
  }

  /**
   * Records the outputs a step just wrote in `dir` (and, for a compile, the headers its
   * dependency file names). Best effort: a failure leaves no entry and is not reported.
   */
  async store(key: string, step: PlanStep, dir: string): Promise<void> {
    const outputs = cacheableOutputs(step);
    if (outputs === undefined) return;
    const tmp = join(this.root, 'tmp', `${key}.${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      const bytes = outputs.map((p) => readFileSync(join(dir, p)));
      const deps: Record<string, string> = {};
      if (step.tool === 'cc') {
        const depFile = outputs[1]!;
        for (const p of parseDepFile(bytes[1]!.toString('utf8'))) {
          const s = depSha(dir, p);
          if (s === undefined) return; // a header that cannot be read again: no entry
          deps[p] = s;
        }
        if (Object.keys(deps).length === 0 || depFile === undefined) return;
      }
      const header: EntryHeader = { v: ENTRY_VERSION, key, outputs: outputs.map((p, i) => ({ path: p, size: bytes[i]!.length, sha256: sha256(bytes[i]!) })), deps };
      await mkdir(join(this.root, 'tmp'), { recursive: true });
      await mkdir(join(this.root, key.slice(0, 2)), { recursive: true });
      await writeFile(tmp, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...bytes]), { mode: 0o600 });
      await rename(tmp, this.file(key));
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}
