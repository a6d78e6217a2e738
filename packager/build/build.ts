/**
 * Building an image: plan (link-plan.ts), check the inputs, execute the plan in a private
 * temporary directory, then replace the image atomically (RELIABILITY.md CA-07).
 *
 * The link starts before the inputs are proven (`buildImageSpeculatively`): the staged copies
 * are read back, hashed and checked, the store entries re-hashed against their index (IN-08,
 * the digests of the staged copies standing in for the archives) and object-cache hits checked
 * against the headers they recorded while the linker runs; nothing is written and no step's
 * failure is reported before all of that passed. A failed check discards that build, which
 * wrote nothing, and the verified path runs as it always has: store entries verified (a damaged
 * one evicted and refetched), every input read and checked before any tool runs, each fault
 * reported with its typed error. So the checks and errors below are unchanged; only when they
 * run moved.
 *
 * Guarantees:
 * - The image at `output` is only ever replaced by `rename(2)` of a complete file written next to
 *   it; a failure or SIGINT/SIGKILL at any phase leaves the previous image byte-identical. The
 *   image is a fresh file, never a hard link into the store (IM-02).
 * - The build directory is `mkdtemp(<image's directory>/.rumpkg-build-<pid>-)` (mode 0700), next
 *   to the image rather than in os.tmpdir(): the linked image and its map are renamed from there
 *   into place (one file system) instead of being read back and written again, and the sweep of
 *   leftovers lists only that directory — listing the temporary directory cost every build
 *   ~22 ms of CPU beside the linker on a machine whose /tmp held 19,000 entries. Leftovers of
 *   killed builds (their pid is gone) are removed by the next build into that directory.
 * - Incremental: `<output>.stamp` records a hash of the plan, the toolchain identity and every
 *   input file, plus the image's own hash. When they all match, no tool runs.
 * - Typed errors: a missing archive (E_NOT_FOUND, names the component and path), a corrupted
 *   archive (E_ELF), a missing tool (E_TOOLCHAIN), an object for the wrong architecture (E_ARCH,
 *   reported before any link error), a compile failure (E_BUILD) and a link failure (E_LINK, with the
 *   undefined symbols and the component whose archive references them).
 * - Next to the image the build leaves `<output>.map` (the linker map, for `rumpkg size`).
 * - With `objectCache` (the CLI: `$RUMPKG_HOME/objects`), a compile or `--redefine-sym` step
 *   whose exact inputs ran before writes the outputs it wrote then instead of running
 *   (object-cache.ts: what the key holds, why a damaged entry is only a miss); the link (and an
 *   objcopy embedding of the manifest, where the plan has one) always runs. `--force` ignores
 *   the stamp, not the object cache.
 * - `build --force` of an unchanged project: the launcher may have started the previous link
 *   already (early-link.ts); the link step keeps it only when its program, arguments and build
 *   directory are exactly this build's, and otherwise kills it and links.
 * - Every document is read by its one validated reader (components/documents): rumpkg.json,
 *   rumpkg.lock and each component's package.json — whose archive, objects, linker script,
 *   ldflags and abiFlags reach the file system and the compiler's and linker's command lines, so
 *   a component directory that did not come through the store's checks (`--components-dir`, a
 *   store entry changed by hand) cannot smuggle `-wrapper`, a plugin or a `../` path into a build.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fstatSync, fsync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { copyFile, mkdtemp, open, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import {
  RumpkgError,
  errorFromProblems,
  fsError,
  isElf,
  isRumpkgError,
  parseAr,
  parseComponentManifest,
  parseElfHeader,
  archiveTables,
  freestandingArchiveProblem,
  isAr,
  parseJsonDocument,
  parseLockfileText,
  peekProjectManifest,
  readProjectManifest,
  type ComponentManifest,
  type ImageManifest,
  type LockedComponent,
  type LockedTarget,
  type Lockfile,
  type ProjectManifest,
  type Target,
  type TargetEntry,
  processAlive,
} from '../../components/index.js';
import { renderGlue } from './glue.js';
import { checkPortForwards, planImageManifest, renderImageManifest } from './image-manifest.js';
import { checkRumprunConfig, renderRumprunGlue, rumprunProgramNames } from './rumprun.js';
import { planLink, type LinkPlan, type PlanFile, type PlanStep } from './link-plan.js';
import { renderManifestObject } from './manifest-object.js';
import { elfMachineName, parseTarget } from './targets.js';
import { findToolchain, type ResolvedToolchain, type ToolName } from './toolchain.js';
import { ObjectCache, cacheableOutputs, stepKey, type CacheEntry } from './object-cache.js';
import { LINK_MEMO_VERSION, captureTree, earlyLinkStarted, keepLinkDir, linkIdentity, linkMemoFile, takeEarlyLink, writeLinkMemo, type LinkMemo } from './early-link.js';

/** Progress and notes from a build (the CLI's Reporter fits). */
interface BuildReporter {
  info(message: string): void;
  progress?(label: string, done: number, total: number): void;
}

type ImageConfig = NonNullable<ProjectManifest['image']>;

interface BuildImageOptions {
  projectDir: string;
  target: Target;
  /** The locked closure for `target` (or give `lockfile`). */
  lockedTarget?: LockedTarget;
  lockfile?: Lockfile;
  /** Component name → directory where that component's package is unpacked. */
  componentDirs: Record<string, string>;
  /** Project name (image manifest) and its `image` configuration from rumpkg.json. */
  project: { name: string; image?: ImageConfig };
  /** Image path; default `<projectDir>/build/<target>/<name>`. */
  output?: string;
  dryRun?: boolean;
  /** Rebuild even when the stamp says nothing changed. */
  force?: boolean;
  reporter?: BuildReporter;
  /** PATH used to find the toolchain (default process.env.PATH). */
  path?: string;
  /**
   * The object cache directory (object-cache.ts; the CLI gives `$RUMPKG_HOME/objects`): compile
   * steps whose exact inputs were compiled before take their outputs from it. Absent: no cache.
   */
  objectCache?: string;
}

export interface BuildResult {
  target: Target;
  plan: LinkPlan;
  /** Absolute image path. */
  image: string;
  dryRun: boolean;
  /** True when the stamp matched and nothing ran. */
  upToDate: boolean;
  /** `sha256-<hex>` of the image (absent for a dry run). */
  sha256?: string;
  bytes?: number;
}

const STAMP_VERSION = 1;
const quiet: BuildReporter = { info() {} };

/** Default image location for a project and target. */
export function defaultImagePath(projectDir: string, target: Target, name: string): string {
  const file = name.replace(/^@/, '').replace(/[^A-Za-z0-9._-]/g, '_');
  // Never `.` or `..` (a directory, not an image file): the target is validated by the caller.
  return join(resolve(projectDir), 'build', target, /^\.*$/.test(file) ? 'image' : file);
}

// Small files on the paths that decide whether anything must run are read synchronously: a CLI
// has nothing else to do meanwhile, and an await per file costs more than the read.
function readComponentManifest(name: string, dir: string, locked: LockedComponent | undefined, reads?: Map<string, string>): ComponentManifest {
  const p = join(dir, 'package.json');
  let text: Buffer;
  try {
    text = readFileSync(p);
    reads?.set(p, sha256(text));
  } catch (e) {
    const err = fsError(e, p, `read the manifest of component ${name}:`);
    if (isRumpkgError(err)) err.context.component = name;
    throw err;
  }
  const r = parseComponentManifest(text, { file: p });
  if (r.value === undefined) {
    const err = errorFromProblems(r.errors, { file: p, kind: 'component-manifest' });
    err.context.component = name;
    throw err;
  }
  if (r.value.name !== name || (locked !== undefined && r.value.version !== locked.version)) {
    throw new RumpkgError('E_MANIFEST', `${p} is ${r.value.name}@${r.value.version}, but the lockfile locks ${name}@${locked?.version ?? '?'} there`, {
      context: { component: name, path: p },
      hint: 'the component directory does not hold the locked component; run rumpkg install (or fix --components-dir)',
    });
  }
  return r.value;
}

function lockedTargetOf(options: BuildImageOptions): LockedTarget {
  const lt = options.lockedTarget ?? options.lockfile?.targets[options.target];
  if (lt === undefined) {
    throw new RumpkgError('E_LOCKFILE', `the lockfile has no closure for target ${options.target}`, {
      context: { target: options.target },
      hint: `add the target to rumpkg.json and run rumpkg install`,
    });
  }
  return lt;
}

/**
 * Builds the plan for an image (reads component manifests; runs nothing). `reads`: path → sha256
 * hex of every file it read from a component directory (their package.json).
 */
async function planBuild(options: BuildImageOptions): Promise<{ plan: LinkPlan; toolchain: ResolvedToolchain; manifests: Record<string, ComponentManifest>; reads: Map<string, string> }> {
  const { target } = options;
  parseTarget(target);
  const lt = lockedTargetOf(options);
  const toolchain = findToolchain(target, options.path === undefined ? {} : { path: options.path });
  const manifests: Record<string, ComponentManifest> = {};
  const componentTargets: Record<string, TargetEntry> = {};
  const reads = new Map<string, string>();
  for (const name of lt.linkOrder) {
    const dir = options.componentDirs[name];
    if (dir === undefined) {
      throw new RumpkgError('E_NOT_FOUND', `component ${name} is locked for ${target} but its directory is not available`, {
        context: { component: name, target },
        hint: 'run rumpkg install to fetch the locked components',
      });
    }
    const m = readComponentManifest(name, dir, lt.components[name], reads);
    const entry = m.rump?.targets?.[target];
    if (entry === undefined || typeof entry.archive !== 'string') {
      throw new RumpkgError('E_TARGET', `component ${name} does not ship target ${target}`, {
        context: { component: name, target, path: join(dir, 'package.json') },
        hint: 'the lockfile does not match the fetched component; run rumpkg install',
      });
    }
    const paths = [entry.archive, ...(entry.objects ?? []), ...(entry.linkerScript === undefined ? [] : [entry.linkerScript]), ...(entry.platform?.libraries ?? []), ...(entry.platform?.compile.include ?? [])];
    for (const p of paths) {
      if (typeof p !== 'string' || p.split('/').includes('..') || isAbsolute(p)) {
        throw new RumpkgError('E_MANIFEST', `component ${name} names a file outside its package: ${String(p)}`, { context: { component: name, path: p } });
      }
    }
    manifests[name] = m;
    componentTargets[name] = entry;
  }
  const projectDir = resolve(options.projectDir);
  const image = options.project.image ?? {};
  const abs = (p: string): string => resolve(projectDir, p);
  const listed = (image.sources ?? []).map(abs);
  const sources = listed.filter((s) => !s.endsWith('.h'));
  const objects: string[] = [];
  const entries = (image.entry ?? []).map(abs);
  for (const e of entries) {
    if (e.endsWith('.c')) {
      if (!sources.includes(e)) sources.push(e);
    } else if (!objects.includes(e)) objects.push(e);
  }
  // The application's own headers: every *.h next to one of its sources (staged with them).
  const headers: string[] = listed.filter((s) => s.endsWith('.h'));
  for (const d of [...new Set(sources.map((s) => dirname(s)))].sort()) {
    let names: string[];
    try {
      names = readdirSync(d).filter((n) => n.endsWith('.h')).sort();
    } catch {
      continue; // a missing source directory fails the compile step, which names the source
    }
    for (const n of names) headers.push(join(d, n));
  }
  const programs = entries.length > 0 ? entries.length : sources.length + objects.length > 0 ? 1 : 0;
  const forward = checkPortForwards(image.forward ?? []);
  // The platform package decides how the image is made (link-plan.ts, rumprun.ts).
  const convention = lt.platform === null ? undefined : componentTargets[lt.platform]?.platform;
  let glue: string;
  let boot: ImageManifest['boot'];
  if (convention === undefined) {
    glue = renderGlue({ net: image.net ?? [], block: image.block ?? [], entries: programs });
  } else {
    const libs = new Set(Object.values(lt.components).map((c) => c.lib));
    checkRumprunConfig({ net: image.net ?? [], block: image.block ?? [], programs, forward }, libs, target);
    glue = renderRumprunGlue(programs);
    const names = rumprunProgramNames(image.entry ?? [], options.project.name, programs);
    if (names.length === 0) {
      throw new RumpkgError('E_MANIFEST', `the ${target} image has no application: rumpkg.json image.sources and image.entry are empty`, {
        context: { target, component: lt.platform },
        hint: 'list the C sources in image.sources',
      });
    }
    boot = { convention: convention.convention, platform: lt.platform as string, programs: names };
  }
  const manifest = renderImageManifest(
    planImageManifest({
      target,
      project: options.project.name,
      lockedTarget: lt,
      componentManifests: manifests,
      config: { net: image.net ?? [], block: image.block ?? [], entry: image.entry ?? image.sources ?? [], ...(forward.length === 0 ? {} : { forward }) },
      ...(boot === undefined ? {} : { boot }),
    }),
  );
  const plan = planLink({
    target,
    lockedTarget: lt,
    componentDirs: options.componentDirs,
    componentTargets,
    app: { sources, objects, entries, headers },
    glue,
    manifest,
    output: options.output === undefined ? defaultImagePath(projectDir, target, options.project.name) : resolve(options.output),
    toolchain,
    cflags: image.cflags ?? [],
  });
  return { plan, toolchain, manifests, reads };
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

function readInput(f: PlanFile): Buffer {
  const from = f.from as string;
  try {
    if (f.role === 'include-dir') {
      // A header directory is staged as a link; its identity is its path (the headers a compile
      // reads are hashed into the stamp from the compiler's dependency files, see buildImage).
      if (!statSync(from).isDirectory()) throw Object.assign(new Error(`${from} is not a directory`), { code: 'ENOTDIR' });
      return Buffer.from(`dir:${from}`);
    }
    return readFileSync(from);
  } catch (e) {
    const what = f.component === undefined ? `application file ${from}` : `${f.role === 'include-dir' ? 'the header directory' : f.role === 'archive' ? 'the archive' : 'a file'} of component ${f.component} (${from})`;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new RumpkgError('E_NOT_FOUND', `missing ${what}`, {
        context: { path: from, ...(f.component === undefined ? {} : { component: f.component }) },
        hint: f.component === undefined ? 'check image.sources / image.entry in rumpkg.json' : 'the store entry is incomplete; run rumpkg cache verify or rumpkg install',
      });
    }
    throw fsError(e, from, 'read');
  }
}

/** The roles of the plan files `checkInput` looks into (the others it leaves alone). */
const CHECKED_ROLES: ReadonlySet<PlanFile['role']> = new Set(['archive', 'platform-archive', 'platform-library', 'app-object', 'platform-object']);

/**
 * E_ARCH / E_ELF checks of every staged object and archive, before anything is linked. A function
 * of the bytes, the role and the target only: the object cache remembers passes by digest
 * (object-cache.ts INPUT_CHECKS — change it with these checks).
 */
function checkInput(f: PlanFile, bytes: Buffer, target: Target): void {
  const t = parseTarget(target);
  const from = f.from as string;
  const who = f.component === undefined ? from : `component ${f.component} (${from})`;
  const checkMachine = (machine: number, elfClass: number, label: string): void => {
    if (machine !== t.elfMachine || elfClass !== t.elfClass) {
      throw new RumpkgError('E_ARCH', `${label} is built for ${elfMachineName(machine)} (ELF${elfClass}), not for ${target}`, {
        context: { path: from, ...(f.component === undefined ? {} : { component: f.component }), machine, expected: t.elfMachine },
        hint: f.component === undefined ? `rebuild it for ${t.arch}, or list its source in image.sources so rumpkg compiles it` : `the component's ${target} archive is wrong; republish it`,
      });
    }
  };
  const checkObject = (buf: Uint8Array, label: string): void => {
    const h = parseElfHeader(buf, { file: label });
    checkMachine(h.machine, h.class, label);
  };
  if (f.role === 'archive' && !t.hosted && isAr(bytes)) {
    // One pass over the members' section tables: the machine of each, and whether the archive
    // was built for posix (constructors, no link set), which a freestanding target cannot use.
    const tables = archiveTables(bytes, { file: who });
    const bad = tables.nonElfMembers[0];
    if (bad !== undefined) {
      throw new RumpkgError('E_ELF', `member ${bad} of ${who} is not an ELF object`, {
        context: { path: from, member: bad, component: f.component },
        hint: 'the archive is corrupted; run rumpkg cache verify or rumpkg install',
      });
    }
    // archiveTables has checked that every member is for the first one's machine.
    const first = tables.objects[0];
    if (first !== undefined) checkMachine(first.layout.machine, first.layout.class, `${who}: member ${first.member}`);
    const problem = freestandingArchiveProblem(tables, { target, what: who, ...(f.component === undefined ? {} : { component: f.component }) });
    if (problem !== null) throw problem;
  } else if (f.role === 'archive' || f.role === 'platform-archive' || f.role === 'platform-library') {
    const members = parseAr(bytes, { file: who }).members;
    for (const m of members) {
      const data = m.data;
      if (!isElf(data)) {
        throw new RumpkgError('E_ELF', `member ${m.name} of ${who} is not an ELF object`, {
          context: { path: from, member: m.name, component: f.component },
          hint: 'the archive is corrupted; run rumpkg cache verify or rumpkg install',
        });
      }
      checkObject(data, `${who}: member ${m.name}`);
    }
  } else if (f.role === 'app-object' || f.role === 'platform-object') {
    checkObject(bytes, who);
  }
}

function stampKey(plan: LinkPlan, toolchain: ResolvedToolchain, inputHashes: string[]): string {
  return sha256(JSON.stringify({ v: STAMP_VERSION, plan, tools: toolchain.identity, inputs: inputHashes }));
}

interface Stamp {
  stampVersion: number;
  key: string;
  image: string;
  map: string;
  /** Platform headers the compiles read (absolute path → sha256), from their dependency files. */
  headers?: Record<string, string>;
}

/**
 * The platform headers the plan's compiles read: the `-MD` dependency files in the build
 * directory, each path inside a staged header directory mapped back to the package's file.
 */
async function readHeaderDeps(plan: LinkPlan, dir: string): Promise<Record<string, string>> {
  const roots = plan.files.filter((f) => f.role === 'include-dir').map((f) => ({ staged: `${f.path}/`, from: f.from as string }));
  const found = new Set<string>();
  for (const step of plan.steps) {
    const i = step.args.indexOf('-MF');
    if (step.tool !== 'cc' || i < 0) continue;
    const text = await readFile(join(dir, step.args[i + 1] as string), 'utf8');
    // make syntax: "target: dep dep \\\n dep"; a blank inside a path is escaped.
    const words = text.replace(/\\\n/g, ' ').split(/(?<!\\)\s+/).map((w) => w.replace(/\\ /g, ' '));
    for (const w of words) {
      const r = roots.find((x) => w.startsWith(x.staged));
      if (r !== undefined) found.add(`${r.from}/${w.slice(r.staged.length)}`);
    }
  }
  const out: Record<string, string> = {};
  for (const p of [...found].sort()) out[p] = hashFile(p);
  return out;
}

/** Whether every header a stamp recorded still has the recorded bytes. */
function headersCurrent(plan: LinkPlan, stamp: Stamp): boolean {
  if (!plan.files.some((f) => f.role === 'include-dir')) return true;
  if (stamp.headers === undefined) return false;
  for (const [p, h] of Object.entries(stamp.headers)) if (fileSha(p) !== h) return false;
  return true;
}

function readStamp(path: string): Stamp | undefined {
  try {
    const s = parseJsonDocument(readFileSync(path), { file: path, maxBytes: 16 * 1024 * 1024, maxDepth: 3 }) as Partial<Stamp> | null;
    return s !== null && typeof s === 'object' && s.stampVersion === STAMP_VERSION && typeof s.key === 'string' ? (s as Stamp) : undefined;
  } catch {
    return undefined; // unreadable or hand-edited: the build runs
  }
}

function fileSha(path: string): string | undefined {
  try {
    return hashFile(path);
  } catch {
    return undefined;
  }
}

/** One buffer for every hashFile of the process (they are synchronous, so never in use twice). */
let hashBuffer: Buffer | undefined;

/**
 * The sha256 hex of a file, read in 1 MiB pieces into one reused buffer: a build hashes
 * megabytes of archives it does not otherwise need in memory, and reading each into a fresh
 * buffer cost more than the hashing (10 MB: 11–19 ms against 7.5 ms, measured). Synchronous.
 */
function hashFile(path: string): string {
  hashBuffer ??= Buffer.allocUnsafe(1 << 20);
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, hashBuffer, 0, hashBuffer.length, null)) > 0; ) h.update(hashBuffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Build directories and temporary files of builds into an image directory, by the builder's pid. */
const LEFTOVER = /^\.rumpkg-build-(\d+)-|^\..*\.rumpkg-tmp-(\d+)-[0-9a-f]+$/;

/** Removes build directories and temporary images left by killed builds (their pid is gone). */
async function cleanLeftovers(outDir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(outDir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = LEFTOVER.exec(n);
    if (m === null) continue;
    const pid = Number(m[1] ?? m[2]);
    if (pid !== process.pid && !processAlive(pid)) await rm(join(outDir, n), { recursive: true, force: true }).catch(() => undefined);
  }
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** The outputs came from the object cache; nothing ran. */
  cached?: boolean;
  /** The link the launcher started early (early-link.ts) was this step. */
  early?: boolean;
}

function runStep(step: PlanStep, cwd: string, toolchain: ResolvedToolchain): Promise<RunResult> {
  const program = toolchain.paths[step.tool] ?? step.command[0]!;
  return new Promise((res, rej) => {
    const child = spawn(program, [...step.command.slice(1), ...step.args], {
      cwd,
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const take = (d: Buffer): void => {
      if (output.length < 256 * 1024) output += d.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => {
      rej(
        new RumpkgError('E_TOOLCHAIN', `cannot run ${program} (${step.tool}): ${(e as NodeJS.ErrnoException).code ?? e.message}`, {
          context: { tool: step.tool, command: program },
          hint: toolchain.tools[step.tool] === undefined ? undefined : `install it: apt-get install ${toolchain.tools[step.tool]!.debianPackage}`,
          cause: e,
        }),
      );
    });
    child.on('close', (code, signal) => res({ code, signal, output }));
  });
}

/** The build-dir file a step writes (`-o X` for cc, the last argument for objcopy). */
function stepOutput(step: PlanStep): string | undefined {
  const o = step.args.indexOf('-o');
  if (step.tool === 'cc' || step.tool === 'ld') return o >= 0 ? step.args[o + 1] : undefined;
  return step.args.at(-1);
}

/**
 * Runs the plan's steps, each as soon as the steps producing its inputs are done (independent
 * compiles run side by side, up to the number of CPUs). The steps and their arguments are exactly
 * the plan's; only independent steps overlap. `check` throws for a failed step; the error of the
 * first failing step in plan order wins, after the steps in flight have finished.
 */
async function runSteps(plan: LinkPlan, run: (step: PlanStep) => Promise<RunResult>, check: (step: PlanStep, r: RunResult) => void): Promise<void> {
  const steps = plan.steps;
  const deps = steps.map((s, i) =>
    steps.slice(0, i).flatMap((p, j) => {
      const out = stepOutput(p);
      return out !== undefined && s.args.includes(out) ? [j] : [];
    }),
  );
  const state: Array<'wait' | 'run' | 'ok' | 'fail'> = steps.map(() => 'wait');
  const errors = new Map<number, unknown>();
  const limit = Math.max(1, Math.min(4, availableParallelism()));
  await new Promise<void>((resolveAll) => {
    let running = 0;
    const pump = (): void => {
      const failed = state.includes('fail');
      for (let i = 0; i < steps.length && !failed && running < limit; i++) {
        if (state[i] !== 'wait' || !deps[i]!.every((d) => state[d] === 'ok')) continue;
        state[i] = 'run';
        running++;
        run(steps[i]!)
          .then((r) => check(steps[i]!, r))
          .then(
            () => (state[i] = 'ok'),
            (e: unknown) => {
              state[i] = 'fail';
              errors.set(i, e);
            },
          )
          .finally(() => {
            running--;
            pump();
          });
      }
      if (running === 0) resolveAll();
    };
    pump();
  });
  if (errors.size > 0) throw errors.get(Math.min(...errors.keys()));
  if (state.some((x) => x !== 'ok')) throw new Error('runSteps: a step never became runnable (bad plan dependencies)');
}

/** Which component (or glue/application) a build-dir path belongs to. */
function ownerOf(plan: LinkPlan, path: string): string {
  const p = path.replace(/\(.*\)$/, '');
  const f = plan.files.find((x) => x.path === p);
  if (f?.component !== undefined) return `component ${f.component}`;
  if (p.startsWith('obj/rumpkg_main') || p.startsWith('glue/')) return 'the rumpkg glue';
  const app = /^obj\/app(\d+)\./.exec(p);
  if (app !== null) {
    const src = plan.files.filter((x) => x.role === 'app-source')[Number(app[1])];
    return src?.from === undefined ? 'the application' : `the application (${src.from})`;
  }
  const user = /^(obj\/user\d+-.*?)(?:\.entry)?\.o$/.exec(p);
  if (user !== null) {
    const obj = plan.files.find((x) => x.role === 'app-object' && (x.path === p || x.path === `${user[1]}.o`));
    return obj?.from === undefined ? 'the application' : `the application (${obj.from})`;
  }
  return p;
}

interface UndefinedSymbol {
  symbol: string;
  /** The build-dir file that references it, e.g. `lib/tcpip/librumpnet_netinet.a(netinet.o)`. */
  file: string;
  /** Human name of its owner: `component tcpip`, `the rumpkg glue`, `the application (…)`. */
  referencedBy: string;
  component?: string;
}

/** Parses GNU ld / lld diagnostics for undefined references. */
function parseUndefined(output: string, plan: LinkPlan): UndefinedSymbol[] {
  const found: UndefinedSymbol[] = [];
  let file = '';
  const lines = output.split('\n');
  for (const [i, line] of lines.entries()) {
    const ctx = /(?:^|: )((?:lib|obj)\/[^\s:()]+(?:\([^)]*\))?): in function/.exec(line);
    if (ctx !== null) file = ctx[1]!;
    const m = /undefined (?:reference to|symbol:?) [`']?([^`'\s]+)'?/.exec(line);
    if (m === null) continue;
    const direct = /^(?:\S*ld\S*: )?((?:lib|obj)\/[^\s:()]+(?:\([^)]*\))?):/.exec(line);
    // ld.lld: `>>> referenced by …` lines follow, naming `obj/x.o:(fn)` or `m.o:(fn) in archive lib/…`.
    let lld: string | undefined;
    for (let j = i + 1; direct === null && lld === undefined && j < lines.length && lines[j]!.startsWith('>>>'); j++) {
      const ref = / in archive ((?:lib|obj)\/\S+)/.exec(lines[j]!) ?? /^>>>\s+((?:lib|obj)\/[^\s:()]+)/.exec(lines[j]!);
      if (ref !== null) lld = ref[1];
    }
    const where = direct?.[1] ?? lld ?? file;
    const owner = ownerOf(plan, where);
    const component = plan.files.find((x) => x.path === where.replace(/\(.*\)$/, ''))?.component;
    if (!found.some((u) => u.symbol === m[1] && u.file === where)) found.push({ symbol: m[1]!, file: where, referencedBy: owner, ...(component === undefined ? {} : { component }) });
  }
  return found;
}

function linkError(plan: LinkPlan, r: RunResult): RumpkgError {
  const undef = parseUndefined(r.output, plan);
  const corrupt = /((?:lib|obj)\/[^\s:()]+)(?:\([^)]*\))?: (?:file format not recognized|malformed archive|file truncated|error adding symbols|bad value)/.exec(r.output);
  if (corrupt !== null && undef.length === 0) {
    const f = plan.files.find((x) => x.path === corrupt[1]);
    return new RumpkgError('E_ELF', `the linker cannot read ${f?.component === undefined ? (f?.from ?? corrupt[1]) : `the archive of component ${f.component} (${f.from ?? ''})`}`, {
      context: { path: f?.from ?? corrupt[1], ...(f?.component === undefined ? {} : { component: f.component }), output: r.output.slice(0, 4000) },
      hint: 'the file is corrupted; run rumpkg cache verify or rumpkg install',
    });
  }
  if (undef.length > 0) {
    const first = undef[0]!;
    const syms = [...new Set(undef.map((u) => u.symbol))];
    let hint = 'a dependency is missing from the closure or an archive is incomplete; check the component\'s dependencies (rumpkg why, rumpkg tree)';
    if (first.referencedBy === 'the rumpkg glue') {
      if (first.symbol.startsWith('rump_pub_netconfig_')) hint = 'image.net needs the network configuration component (net-config, librumpnet_config): rumpkg add net-config';
      else if (first.symbol === 'rump_pub_etfs_register') hint = 'image.block needs the vfs component (librumpvfs): rumpkg add vfs';
      else if (first.symbol.startsWith('rumpkg_main_')) hint = `entry point ${first.symbol.slice('rumpkg_main_'.length)} in image.entry has no main()`;
      else if (first.symbol === 'rump_init') hint = 'the closure has no rump kernel base (librump); rumpkg add base';
    }
    return new RumpkgError('E_LINK', `linking the ${plan.target} image failed: undefined symbol ${syms.slice(0, 5).join(', ')}${syms.length > 5 ? ` (+${syms.length - 5} more)` : ''} referenced by ${first.referencedBy}`, {
      context: { target: plan.target, undefined: undef, ...(first.component === undefined ? {} : { component: first.component }), output: r.output.slice(0, 4000) },
      hint,
    });
  }
  const multi = /multiple definition of [`']([^`']+)'/.exec(r.output);
  return new RumpkgError('E_LINK', `linking the ${plan.target} image failed${multi === null ? '' : `: multiple definition of ${multi[1]}`}`, {
    context: { target: plan.target, output: r.output.slice(0, 4000) },
    hint: multi === null ? 'see the linker output in the error context (--json)' : 'two components define the same symbol; they probably conflict',
  });
}

async function writeAtomically(dest: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await commitTemp(await writeTemp(dest, write), dest);
}

/** Writes and syncs a temporary file next to `dest` (removed again on failure); its path. */
async function writeTemp(dest: string, write: (tmp: string) => Promise<void>): Promise<string> {
  const tmp = join(dirname(dest), `.${basename(dest)}.rumpkg-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await write(tmp);
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fsError(e, dest, 'write');
  }
}

/**
 * Syncs a file the build wrote (`dest`: where it goes, for the error). `executable`: its mode is
 * also narrowed to 0755 (what the linker gave it, 0777 less the umask, without group or other
 * write) — the mode images had when they were written as fresh copies. Opened and narrowed
 * synchronously (microseconds), so that the fsync is queued before the caller goes on to hash the
 * files on the main thread: a chain of asynchronous steps would wait for the hashing between each.
 */
function syncFile(path: string, dest: string, options: { executable?: boolean } = {}): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return Promise.reject(fsError(e, dest, 'write'));
  }
  return syncAndClose(fd, dest, () => {
    if (options.executable === true) fchmodSync(fd, fstatSync(fd).mode & 0o755);
  });
}

/** Runs `first` on `fd`, then fsync (queued at once), then closes it (errors: `dest`'s). */
function syncAndClose(fd: number, dest: string, first: () => void): Promise<void> {
  return new Promise((res, rej) => {
    const done = (e: unknown): void => {
      try {
        closeSync(fd);
      } catch {
        // the sync's outcome is the answer
      }
      if (e === null) res();
      else rej(fsError(e, dest, 'write'));
    };
    try {
      first();
    } catch (e) {
      done(e);
      return;
    }
    fsync(fd, done);
  });
}

/**
 * Writes `text` to a temporary file next to `dest` and syncs it (the write synchronous, the fsync
 * queued at once); its path. Removed again on failure.
 */
async function writeSyncedTemp(dest: string, text: string): Promise<string> {
  const tmp = join(dirname(dest), `.${basename(dest)}.rumpkg-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fd = openSync(tmp, 'w');
    await syncAndClose(fd, dest, () => writeFileSync(fd, text));
    return tmp;
  } catch (e) {
    removeQuietly(tmp);
    throw isRumpkgError(e) ? e : fsError(e, dest, 'write');
  }
}

/** Removes a temporary file, if it can (a failure is not the error to report). */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // left over: swept by a later build once this process is gone
  }
}

/**
 * The project's link memo (early-link.ts), with the digests of the project files the plan came
 * from: rumpkg.json, rumpkg.lock and the application's staged sources (best effort).
 */
function writeProjectMemo(options: BuildImageOptions, plan: LinkPlan, memo: LinkMemo): void {
  const projectDir = resolve(options.projectDir);
  const files = [join(projectDir, 'rumpkg.json'), join(projectDir, 'rumpkg.lock'), ...plan.files.filter((f) => f.from !== undefined && f.component === undefined && f.role !== 'include-dir').map((f) => f.from as string)];
  try {
    memo.inputs = [...new Set(files)].map((f) => [f, sha256(readFileSync(f))]);
  } catch {
    return;
  }
  writeLinkMemo(linkMemoFile(options.objectCache!, projectDir), memo);
}

/** Removes every entry of `dir` but the names in `keep` (best effort: the directory goes later). */
async function clearExcept(dir: string, keep: ReadonlySet<string>): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => !keep.has(n)).map((n) => rm(join(dir, n), { recursive: true, force: true }).catch(() => undefined)));
}

/** Renames a file of the build directory, or a temporary file, into place. */
function commitFileSync(path: string, dest: string): void {
  try {
    renameSync(path, dest);
  } catch (e) {
    throw fsError(e, dest, 'write');
  }
}

/** Renames a temporary file from writeTemp into place (removing it on failure). */
async function commitTemp(tmp: string, dest: string): Promise<void> {
  try {
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fsError(e, dest, 'write');
  }
}

interface PreparedBuild {
  plan: LinkPlan;
  toolchain: ResolvedToolchain;
  /** The component manifests the plan read (path → sha256 hex). */
  reads: ReadonlyMap<string, string>;
  /** Plan files copied from disk, and their bytes (read once, hashed into the stamp key; empty when prepared without `keep`). */
  staged: PlanFile[];
  contents: Map<string, Buffer>;
  key: string;
}

/**
 * Plans the image and reads every input (the stamp key covers the plan, the tools and the bytes);
 * without `keep` (the up-to-date check) the inputs are only hashed, their bytes not kept.
 */
async function prepareBuild(options: BuildImageOptions, keep = true): Promise<PreparedBuild> {
  const { plan, toolchain, reads } = await planBuild(options);
  const staged = plan.files.filter((f) => f.from !== undefined);
  const contents = new Map<string, Buffer>();
  const hashes: string[] = [];
  for (const f of staged) {
    if (!keep && f.role !== 'include-dir') {
      hashes.push(`${f.path}:${inputDigest(f)}`);
      continue;
    }
    const b = readInput(f);
    contents.set(f.path, b);
    hashes.push(`${f.path}:${sha256(b)}`);
  }
  return { plan, toolchain, reads, staged, contents, key: stampKey(plan, toolchain, hashes) };
}

/** sha256 hex of a staged input's file, without keeping its bytes; readInput's typed errors. */
function inputDigest(f: PlanFile): string {
  try {
    return hashFile(f.from as string);
  } catch {
    return sha256(readInput(f)); // throws the error that names the component and the file
  }
}

/** The result of a build that has nothing to do: the stamp matches, and so do the image and map. */
function upToDateResult(options: BuildImageOptions, prepared: PreparedBuild): BuildResult | undefined {
  const image = prepared.plan.destination;
  const stamp = readStamp(`${image}.stamp`);
  if (stamp === undefined || stamp.key !== prepared.key) return undefined;
  const imgSha = fileSha(image);
  if (imgSha !== stamp.image || fileSha(`${image}.map`) !== stamp.map) return undefined;
  if (!headersCurrent(prepared.plan, stamp)) return undefined;
  (options.reporter ?? quiet).info(`${image} is up to date`);
  return { target: options.target, plan: prepared.plan, image, dryRun: false, upToDate: true, sha256: `sha256-${imgSha}`, bytes: statSync(image).size };
}

/**
 * What an up-to-date check read, listed or looked up (for `rumpkg run`'s early boot,
 * packager/run/early-qemu.ts): every path whose identity decides its answer, and every program
 * it looked up on PATH with where it was found.
 */
export interface CheckedFiles {
  paths: string[];
  tools: Array<[command: string, found: string]>;
}

/** The files and programs a passed up-to-date check of `prepared` depended on. */
function checkedFiles(prepared: PreparedBuild): CheckedFiles {
  const { plan, toolchain } = prepared;
  const image = plan.destination;
  const stamp = readStamp(`${image}.stamp`);
  const paths = new Set<string>([image, `${image}.map`, `${image}.stamp`, ...prepared.reads.keys(), ...Object.keys(stamp?.headers ?? {})]);
  for (const f of plan.files) {
    if (f.from === undefined) continue;
    paths.add(f.from);
    // The application's headers are found by listing its sources' directories (planBuild).
    if (f.role === 'app-source') paths.add(dirname(f.from));
  }
  const tools: CheckedFiles['tools'] = [];
  for (const [name, found] of Object.entries(toolchain.paths) as Array<[ToolName, string]>) tools.push([toolchain.tools[name]!.command, found]);
  return { paths: [...paths], tools };
}

/**
 * The up-to-date check alone: the result when the image is current, else undefined (nothing is
 * built or written). buildProject runs it over unverified store lookups: a matching stamp proves
 * every input byte, as the stamp was written from verified ones. `depended` receives what a
 * passed check depended on.
 */
async function checkImageUpToDate(options: BuildImageOptions, depended?: (files: CheckedFiles) => void): Promise<BuildResult | undefined> {
  const prepared = await prepareBuild(options, false);
  const result = upToDateResult(options, prepared);
  if (result !== undefined) depended?.(checkedFiles(prepared));
  return result;
}

/** Plans and (unless dryRun) builds one image. */
export async function buildImage(options: BuildImageOptions): Promise<BuildResult> {
  if (options.dryRun === true) {
    const { plan } = await planBuild(options);
    return { target: options.target, plan, image: plan.destination, dryRun: true, upToDate: false };
  }
  // Read and check every input before anything runs.
  const prepared = await prepareBuild(options);
  const { plan, toolchain, staged, contents, key } = prepared;
  if (options.force !== true) {
    const current = upToDateResult(options, prepared);
    if (current !== undefined) return current;
  }
  for (const f of staged) checkInput(f, contents.get(f.path)!, options.target);
  return (await executePlan(options, plan, toolchain, { kind: 'checked', contents, key }))!;
}

/**
 * What the plan's staged inputs are before the steps run:
 * - `checked`: read, hashed and checked (`checkInput`) by prepareBuild; staged from those bytes.
 * - `speculative`: copied into the build directory by the kernel — or, when `fromStore`, the
 *   components' files staged as symbolic links to them: a store entry is never changed in place
 *   (it is replaced whole, by a rename), so the link is the snapshot a copy would be, without
 *   copying megabytes in and freeing them again — then, while the link runs, read back from
 *   there, hashed and checked, and `verify` is asked whether the digests of every
 *   component file the build read (absolute path → sha256 hex: the staged copies, `reads` — the
 *   manifests planning read — and the headers the compiles read) are what the store recorded.
 *   `scope: 'read'` checks those files alone; `'all'` every file of every entry, which runs
 *   before a failed step is reported (a missing header fails a compile without being read).
 */
type Verify = (known: ReadonlyMap<string, string>, scope: 'all' | 'read') => boolean;
type StagedInputs = { kind: 'checked'; contents: Map<string, Buffer>; key: string } | { kind: 'speculative'; verify: Verify; reads: ReadonlyMap<string, string>; fromStore: boolean };

/**
 * Plans and builds one image over component directories that are not verified yet, verifying
 * them while the plan's steps run: the staged copies are hashed and checked (checkInput), `verify`
 * compares the digests with the store's record, and object-cache hits are checked against the
 * headers they recorded. Undefined — nothing written but the build directory, removed again —
 * when any of it fails, or planning or staging does: the caller then takes the verified path
 * (`buildImage` over verified directories), which repairs what it can and reports the rest
 * with its typed errors. When every check passes, the result is exactly that path's: the same
 * plan, the same staged bytes, the same stamp key, the same image. A step's failure is reported
 * only after the checks passed (a damaged archive must not pass for a link error).
 */
async function buildImageSpeculatively(options: BuildImageOptions, verify: Verify, fromStore: boolean): Promise<BuildResult | undefined> {
  let planned: Awaited<ReturnType<typeof planBuild>>;
  try {
    planned = await planBuild(options);
  } catch (e) {
    if (isRumpkgError(e)) return undefined;
    throw e;
  }
  return executePlan(options, planned.plan, planned.toolchain, { kind: 'speculative', verify, reads: planned.reads, fromStore });
}

const isLinkStep = (step: PlanStep): boolean => step.args.includes('image.linked') && step.args.includes('-o');

/** Stages the inputs, runs the plan's steps and replaces the image, the map and the stamp. */
async function executePlan(options: BuildImageOptions, plan: LinkPlan, toolchain: ResolvedToolchain, inputs: StagedInputs): Promise<BuildResult | undefined> {
  const reporter = options.reporter ?? quiet;
  const image = plan.destination;
  const stampPath = `${image}.stamp`;
  const mapPath = `${image}.map`;
  const staged = plan.files.filter((f) => f.from !== undefined);
  const outDir = dirname(image);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    if (inputs.kind === 'speculative') return undefined;
    throw fsError(e, outDir, 'create directory');
  }
  const stores: Array<Promise<void>> = [];
  let sweeping: Promise<void> | undefined;
  let removing: Promise<void> | undefined;
  let dir: string;
  try {
    dir = await mkdtemp(join(outDir, `.rumpkg-build-${process.pid}-`));
  } catch (e) {
    if (inputs.kind === 'speculative') return undefined;
    throw fsError(e, outDir, 'create a build directory in');
  }
  const cache = options.objectCache === undefined ? undefined : new ObjectCache(options.objectCache);
  // Object-cache hits whose recorded headers are still to be re-hashed (speculative only).
  const hits: CacheEntry[] = [];
  let readingHeaders: Promise<Record<string, string>> | undefined;
  /** Digests of the component files the build read (speculative only: see StagedInputs). */
  const known = new Map<string, string>(inputs.kind === 'speculative' ? inputs.reads : []);
  /** The stamp key once every check passed; undefined when one failed (speculative only). */
  const checkStaged = async (): Promise<string | undefined> => {
    if (inputs.kind === 'checked') return inputs.key;
    try {
      const hashes: string[] = [];
      for (const f of staged) {
        const from = f.from as string;
        if (f.role === 'include-dir') {
          if (!statSync(from).isDirectory()) return undefined;
          hashes.push(`${f.path}:${sha256(`dir:${from}`)}`);
          continue;
        }
        const path = join(dir, f.path);
        const digest = hashFile(path);
        known.set(from, digest);
        hashes.push(`${f.path}:${digest}`);
        if (!CHECKED_ROLES.has(f.role) || cache?.inputPassed(digest, options.target, f.role) === true) continue;
        // Not checked before: read whole, and these must be the bytes just hashed.
        const bytes = await readFile(path);
        if (sha256(bytes) !== digest) return undefined;
        checkInput(f, bytes, options.target);
        cache?.recordInputPassed(digest, options.target, f.role);
      }
      if (!hits.every((h) => cache!.depsCurrent(h.deps, dir))) return undefined;
      for (const [p, hex] of Object.entries((await readingHeaders) ?? {})) known.set(p, hex);
      if (!verify(known, 'read')) return undefined;
      return stampKey(plan, toolchain, hashes);
    } catch (e) {
      if (isRumpkgError(e) || (e as NodeJS.ErrnoException).code !== undefined) return undefined;
      throw e;
    }
  };
  const { verify } = inputs.kind === 'speculative' ? inputs : { verify: (() => true) as Verify };
  // The link step (early-link.ts): the early link the launcher started when it is exactly this
  // one (program, arguments, build directory) and the inputs are checked the speculative way
  // (the verified path may have repaired a store file the early link read); else this build's own.
  // What the link was made of becomes the project's memo once the image is committed.
  let memo: LinkMemo | undefined;
  let kept = false;
  /** The link step took the early link; `earlyFailed`: which then failed (→ the verified path). */
  let adopted = false;
  let earlyFailed = false;
  const startLink = (step: PlanStep): Promise<RunResult> => {
    const program = toolchain.paths[step.tool] ?? step.command[0]!;
    const args = [...step.command.slice(1), ...step.args];
    const outputs = new Set([plan.output, plan.map]);
    const early = takeEarlyLink(outDir);
    const own = (): Promise<RunResult> => {
      const running = runStep(step, dir, toolchain);
      // After the spawn: the link does not change its inputs. Only a process whose launcher
      // started no early link writes the memo (with several targets, the last one's stays).
      const tree = options.objectCache === undefined || (earlyLinkStarted && early === undefined) ? undefined : captureTree(dir, outputs);
      if (tree !== undefined) memo = { v: LINK_MEMO_VERSION, outDir, inputs: [], tree, program, args };
      return running;
    };
    if (early === undefined) return own();
    const tree = inputs.kind === 'speculative' ? captureTree(dir, outputs) : undefined;
    if (tree === undefined || linkIdentity({ program, args, tree }) !== early.identity) {
      early.discard();
      return own();
    }
    // This directory holds what the early link's does: its staged inputs are removed while the
    // linker works, once the checks have read them (run, below) — removed after the link, they
    // held the commit's file operations back in the thread pool. So a failed early link is not
    // reported: the verified path builds and links again, and its failure is the one reported
    // (the early link may have run before a concurrent install restored an input).
    adopted = true;
    return early.adopt().then((r) => {
      try {
        if (r.failed === true || r.code !== 0) throw new Error('the early link failed');
        for (const o of outputs) renameSync(join(early.dir, o), join(dir, o));
      } catch {
        early.discard();
        earlyFailed = true;
        // Not a result any check takes for a link's (executePlan returns undefined on it).
        return { code: null, signal: null, output: '' };
      }
      early.keep();
      return { code: r.code, signal: r.signal, output: r.output, early: true };
    });
  };
  // Started when the link starts (the compiles are done then): the checks, the header digests
  // for the stamp and the sweep of leftovers run while the linker works.
  let checking: Promise<string | undefined> | undefined;
  const startChecks = (): Promise<string | undefined> => {
    if (checking !== undefined) return checking;
    sweeping = cleanLeftovers(outDir);
    checking = checkStaged();
    return checking;
  };
  // Progress is held back until the checks passed: a build that falls back reports once.
  const held: Array<() => void> = [];
  const say = (fn: () => void): void => {
    if (inputs.kind === 'checked') fn();
    else held.push(fn);
  };
  try {
    // The directories first, then every file written side by side.
    for (const d of [...new Set(['obj', ...plan.files.map((f) => dirname(f.path))])].sort()) mkdirSync(join(dir, d), { recursive: true, mode: 0o700 });
    const staging = await Promise.allSettled(
      plan.files.map((f) => {
        const p = join(dir, f.path);
        if (f.role === 'include-dir') return symlink(f.from as string, p, 'dir');
        if (f.role === 'manifest-object') return writeFile(p, renderManifestObject(f.content ?? '', plan.target), { mode: 0o600 });
        if (f.from === undefined) return writeFile(p, f.content ?? '', { mode: 0o600 });
        if (inputs.kind === 'checked') return writeFile(p, inputs.contents.get(f.path)!, { mode: 0o600 });
        return inputs.fromStore && f.component !== undefined ? symlink(f.from, p) : copyFile(f.from, p);
      }),
    );
    const unstaged = staging.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (unstaged !== undefined) {
      // A speculative build that cannot copy an input (gone, unreadable) leaves it to the verified path.
      if (inputs.kind === 'speculative') return undefined;
      throw unstaged.reason;
    }
    const run = async (step: PlanStep): Promise<RunResult> => {
      if (cache === undefined || cacheableOutputs(step) === undefined) {
        const running = isLinkStep(step) ? startLink(step) : runStep(step, dir, toolchain);
        if (isLinkStep(step)) {
          // The compiles are done: their dependency files name the headers the stamp records.
          if (plan.files.some((f) => f.role === 'include-dir')) (readingHeaders = readHeaderDeps(plan, dir)).catch(() => undefined);
          void startChecks();
          // The early link reads its own directory: this one's inputs go once read (startLink).
          if (adopted) removing = Promise.allSettled([checking, readingHeaders, ...stores]).then(() => clearExcept(dir, new Set([plan.output, plan.map])));
        }
        return running;
      }
      const key = stepKey(step, dir, toolchain);
      let hit: Map<string, Buffer> | undefined;
      if (inputs.kind === 'checked') hit = cache.lookup(key, dir);
      else {
        const entry = cache.lookupOutputs(key);
        if (entry !== undefined) hits.push(entry);
        hit = entry?.outputs;
      }
      if (hit !== undefined) {
        await Promise.all([...hit].map(([p, b]) => writeFile(join(dir, p), b, { mode: 0o600 })));
        return { code: 0, signal: null, output: '', cached: true };
      }
      const r = await runStep(step, dir, toolchain);
      if (r.code === 0) stores.push(cache.store(key, step, dir));
      return r;
    };
    let done = 0;
    try {
      await runSteps(plan, run, (step, r) => {
        if (r.code === 0) {
          done++;
          const n = done;
          say(() => {
            reporter.progress?.('build', n, plan.steps.length);
            reporter.info(`${step.description}${r.cached === true ? ' (object cache)' : r.early === true ? ' (started early)' : ''}: ${[...step.command, ...step.args].join(' ')}`);
          });
          return;
        }
        if (r.signal !== null) throw new RumpkgError('E_BUILD', `${step.command[0]} was killed by ${r.signal} (${step.description})`, {
            context: { step: step.description, signal: r.signal },
            hint: 'something outside the build stopped the tool (the kernel out of memory, a signal sent to it); run the build again',
          });
        if (isLinkStep(step)) throw linkError(plan, r);
        const last = step.args[step.args.length - 1];
        const src = plan.files.find((f) => f.path === last && f.from !== undefined) ?? plan.files.find((f) => f.role !== 'include-dir' && step.args.includes(f.path) && f.from !== undefined);
        throw new RumpkgError('E_BUILD', `${step.description} failed${src?.from === undefined ? '' : ` (${src.from})`}`, {
          context: { step: step.description, ...(src?.from === undefined ? {} : { path: src.from }), output: r.output.slice(0, 4000) },
          hint: r.output.split('\n').find((l) => /error/.test(l))?.trim() ?? 'see the tool output in the error context (--json)',
        });
      });
    } catch (e) {
      // A failed step is reported only over checked inputs — every file of every entry.
      if (earlyFailed || (await startChecks()) === undefined || !verify(known, 'all')) return undefined;
      for (const fn of held.splice(0)) fn();
      throw e;
    }
    const linked = join(dir, plan.output);
    const linkedMap = join(dir, plan.map);
    // The linker is done: the image and the map it wrote are synced while the checks finish (a
    // failed check leaves them unused, in the directory that goes).
    const syncing = Promise.allSettled([syncFile(linkedMap, mapPath), syncFile(linked, image, { executable: true })]);
    const key = await startChecks();
    if (key === undefined) {
      await syncing;
      return undefined;
    }
    for (const fn of held.splice(0)) fn();
    reporter.progress?.('build', done, plan.steps.length);
    const headers = await readingHeaders;
    // The staged inputs and objects are not read again (the cache entries were read when
    // stored): their removal runs beside the hashing and the syncs; the directory itself goes at the end.
    // (Unless this directory becomes the next early link's: kept below, once committed.)
    if (memo === undefined) removing ??= clearExcept(dir, new Set([plan.output, plan.map]));
    let imageSha: string;
    let mapSha: string;
    let size: number;
    try {
      [imageSha, mapSha, size] = [hashFile(linked), hashFile(linkedMap), statSync(linked).size];
    } catch (e) {
      throw fsError(e, image, 'read the linked image');
    }
    // The map and the image the linker wrote are synced where they are (the build directory is
    // next to the image: one file system; started when the linker finished) and the stamp is
    // written and synced beside them; then
    // the map is renamed into place, then the image (the commit point), then the stamp: an
    // interruption before the stamp only costs a rebuild (a stamp names the image's and the map's
    // digests, so it never vouches for other bytes).
    const stamp: Stamp = { stampVersion: STAMP_VERSION, key, image: imageSha, map: mapSha, ...(headers === undefined ? {} : { headers }) };
    const [stampWritten] = await Promise.allSettled([writeSyncedTemp(stampPath, `${JSON.stringify(stamp)}\n`)]);
    const failed = [...(await syncing), stampWritten].find((w): w is PromiseRejectedResult => w.status === 'rejected');
    const stampTemp = stampWritten.status === 'fulfilled' ? stampWritten.value : undefined;
    // Three renames in a row, synchronously: each a queued job and a turn of the event loop
    // otherwise, behind whatever else the thread pool holds.
    try {
      if (failed !== undefined) throw failed.reason;
      commitFileSync(linkedMap, mapPath);
      commitFileSync(linked, image);
      commitFileSync(stampTemp!, stampPath);
    } catch (e) {
      if (stampTemp !== undefined) removeQuietly(stampTemp);
      throw e;
    }
    if (memo !== undefined) {
      writeProjectMemo(options, plan, memo);
      keepLinkDir(dir, outDir);
      kept = true;
    }
    return { target: options.target, plan, image, dryRun: false, upToDate: false, sha256: `sha256-${imageSha}`, bytes: size };
  } finally {
    await Promise.all([sweeping, checking?.catch(() => undefined), readingHeaders?.catch(() => undefined), removing, ...stores]);
    // Synchronously: by now the directory is empty but on failure (its entries were renamed out
    // or removed above), and an asynchronous removal is a chain of queued steps.
    if (!kept) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // a leftover: swept by the next build into this directory once this process is gone
      }
    }
  }
}

/** Where a locked component is, without verifying it; undefined when not at hand. */
type ComponentDirLookup = (name: string, locked: LockedComponent) => string | undefined;
/**
 * The verified path's check of a looked-up directory, without repair: undefined when intact, else
 * the problem. `known`: absolute path → sha256 hex of bytes the build read from it and uses;
 * `scope: 'read'`: only those files are checked (default: every file of the entry).
 */
type ComponentDirCheck = (name: string, locked: LockedComponent, known?: ReadonlyMap<string, string>, scope?: 'all' | 'read') => string | undefined;

export interface BuildProjectOptions {
  /** Target to build; default: every target of rumpkg.json that the lockfile has. */
  target?: Target;
  dryRun?: boolean;
  /** Image path (only with a single target). */
  output?: string;
  force?: boolean;
  reporter?: BuildReporter;
  /** Where a locked component is unpacked (the store lookup), verified. */
  resolveComponentDir: ((name: string, locked: LockedComponent) => string | Promise<string>) & { lookup?: ComponentDirLookup; checkLookup?: ComponentDirCheck };
  /**
   * A cheap, unverified lookup (default: `resolveComponentDir.lookup`, which the project flow's
   * store resolver carries). When it finds every component, the up-to-date check runs on its
   * directories first; only a stale image takes `resolveComponentDir` (verification, fetching).
   */
  lookupComponentDir?: ComponentDirLookup;
  path?: string;
  /** The object cache directory (see BuildImageOptions.objectCache). */
  objectCache?: string;
  /**
   * Receives, for each target whose image was up to date, what its check depended on (for the
   * launcher's replay of a build with nothing to do, packager/early, replayNoop), with the project's
   * own files (rumpkg.json, rumpkg.lock, the record of built images).
   */
  depended?: (files: CheckedFiles) => void;
}

/** rumpkg.lock through its one validated reader (E_NOT_FOUND with a hint when there is none). */
function readLockfile(path: string): Lockfile {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    const err = fsError(e, path, 'read rumpkg.lock');
    if (isRumpkgError(err, 'E_NOT_FOUND')) {
      throw new RumpkgError('E_NOT_FOUND', `rumpkg.lock not found: ${path}`, {
        context: { path },
        hint: 'run rumpkg install (or rumpkg add) to resolve and lock the components',
        cause: e,
      });
    }
    throw err;
  }
  const r = parseLockfileText(text, { file: path });
  if (r.value === undefined) throw errorFromProblems(r.errors, { file: path, kind: 'lockfile' });
  return r.value;
}

/** Builds the project in `projectDir` from its rumpkg.json and rumpkg.lock. */
export async function buildProject(projectDir: string, options: BuildProjectOptions): Promise<BuildResult[]> {
  const dir = resolve(projectDir);
  const project = await readProjectManifest(join(dir, 'rumpkg.json'));
  const lockfile = readLockfile(join(dir, 'rumpkg.lock'));
  const targets = options.target !== undefined ? [options.target] : (project.targets ?? []).filter((t) => lockfile.targets[t] !== undefined);
  if (targets.length === 0) {
    throw new RumpkgError('E_TARGET', 'nothing to build: no target of rumpkg.json is locked', { hint: 'give --target, or run rumpkg install' });
  }
  if (options.output !== undefined && targets.length > 1) {
    throw new RumpkgError('E_USAGE', '-o needs a single --target', { context: { targets } });
  }
  const lookup = options.lookupComponentDir ?? options.resolveComponentDir.lookup;
  // The store's check of a looked-up directory: only for the resolver's own lookup.
  const check = options.lookupComponentDir === undefined ? options.resolveComponentDir.checkLookup : undefined;
  const results: BuildResult[] = [];
  for (const target of targets) {
    const lt = lockfile.targets[target];
    if (lt === undefined) {
      throw new RumpkgError('E_LOCKFILE', `rumpkg.lock has no closure for ${target}`, { context: { target }, hint: 'run rumpkg install' });
    }
    const imageOptions = (componentDirs: Record<string, string>): BuildImageOptions => ({
      projectDir: dir,
      target,
      lockedTarget: lt,
      componentDirs,
      project: { name: project.name, ...(project.image === undefined ? {} : { image: project.image }) },
      ...(options.output === undefined ? {} : { output: options.output }),
      ...(options.dryRun === undefined ? {} : { dryRun: options.dryRun }),
      ...(options.force === undefined ? {} : { force: options.force }),
      ...(options.reporter === undefined ? {} : { reporter: options.reporter }),
      ...(options.path === undefined ? {} : { path: options.path }),
      ...(options.objectCache === undefined ? {} : { objectCache: options.objectCache }),
    });
    const depended =
      options.depended === undefined
        ? undefined
        : (f: CheckedFiles): void => options.depended!({ paths: [...f.paths, join(dir, 'rumpkg.json'), join(dir, 'rumpkg.lock'), join(dir, IMAGES_FILE)], tools: f.tools });
    if (lookup !== undefined && options.dryRun !== true && options.force !== true) {
      const current = await upToDateFromLookup(lt, lookup, imageOptions, depended);
      if (current !== undefined) {
        results.push(current);
        continue;
      }
    }
    let built: BuildResult | undefined;
    if (options.dryRun !== true) {
      // The link starts over the looked-up directories and the store's check of them runs while
      // it works (buildImageSpeculatively); any problem → the verified path below.
      const looked = check === undefined || lookup === undefined ? undefined : lookupAll(lt, lookup);
      if (looked !== undefined) {
        built = await buildImageSpeculatively(imageOptions(looked), (known, scope) => Object.entries(lt.components).every(([name, locked]) => check!(name, locked, known, scope) === undefined), true);
      }
    }
    if (built === undefined) {
      const componentDirs: Record<string, string> = {};
      for (const [name, locked] of Object.entries(lt.components)) componentDirs[name] = await options.resolveComponentDir(name, locked);
      // Verified directories: after the up-to-date check (unless --force), the same speculative
      // build — the checks of the staged copies run while the link does; a failed check takes
      // the read-first path, which reports it.
      if (options.dryRun !== true) {
        if (options.force !== true) built = await checkImageUpToDate(imageOptions(componentDirs), depended);
        built ??= await buildImageSpeculatively(imageOptions(componentDirs), () => true, check !== undefined);
      }
      built ??= await buildImage(imageOptions(componentDirs));
    }
    if (!built.dryRun) await recordImage(dir, target, built.image);
    results.push(built);
  }
  return results;
}

/** Where a project records the image each target was last built to (`rumpkg build -o` included). */
const IMAGES_FILE = join('build', '.rumpkg-images.json');

function readRecordedImages(projectDir: string): Record<string, string> {
  try {
    const file = join(projectDir, IMAGES_FILE);
    const o = parseJsonDocument(readFileSync(file), { file, maxBytes: 64 * 1024 });
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return {};
    return Object.fromEntries(Object.entries(o as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string' && KNOWN_TARGET.test(e[0])));
  } catch {
    return {}; // none recorded (or unreadable): the default image path applies
  }
}
const KNOWN_TARGET = /^[a-z][a-z0-9]*-[a-z0-9_]+$/;

async function recordImage(projectDir: string, target: Target, image: string): Promise<void> {
  const images = readRecordedImages(projectDir);
  if (images[target] === image) return; // already recorded: nothing to write
  images[target] = image;
  const file = join(projectDir, IMAGES_FILE);
  try {
    mkdirSync(dirname(file), { recursive: true });
    await writeAtomically(file, (tmp) => writeFile(tmp, `${JSON.stringify(images, null, 2)}\n`));
  } catch {
    // Recording is a convenience for rumpkg run; the image itself is built.
  }
}

export interface ProjectImage {
  target: Target;
  image: string;
  /**
   * With `deferCheck`: the up-to-date check, started by the first call (E_LOCKFILE, E_STALE when
   * it fails); it resolves with what it depended on, from the project's files to the image.
   */
  check?: () => Promise<CheckedFiles>;
}

/**
 * The image `rumpkg run` should run for `target` (default: the project's first posix target,
 * else its first): the one `rumpkg build` last wrote for it (`-o FILE` included), else the
 * default path. E_NOT_FOUND when it was never built, E_STALE when it no longer matches
 * rumpkg.lock, the components or the application sources — each saying what to run. With
 * `deferCheck`, the image is located (E_NOT_FOUND at once) and the up-to-date check is returned
 * as `check`, started by its first call — for a caller that runs nothing before it resolved and
 * starts it when that pays (`runImage`'s `gate`: once QEMU is starting). The check runs its
 * hashing synchronously, so a promise started here would finish before the caller's next I/O.
 */
export async function locateProjectImage(projectDir: string, options: { target?: Target; resolveComponentDir: BuildProjectOptions['resolveComponentDir']; deferCheck?: boolean }): Promise<ProjectImage> {
  const dir = resolve(projectDir);
  const file = join(dir, 'rumpkg.json');
  // With deferCheck, locating needs only the name and targets, taken from the JSON: the schema
  // and semantic checks (~5 ms) are then the check's first step, and run before any error found
  // here is thrown, as they do without deferCheck. A manifest they cannot be taken from is read
  // fully at once (which reports what is wrong with it).
  const peeked = options.deferCheck === true ? peekProjectManifest(file) : undefined;
  const full = peeked === undefined ? await readProjectManifest(file) : undefined;
  const readFully = (): ProjectManifest => full ?? (peeked as NonNullable<typeof peeked>).read();
  const { name, targets } = peeked ?? (full as ProjectManifest);
  const target = options.target ?? targets.find((t) => t.startsWith('posix-')) ?? targets[0];
  if (target === undefined) {
    readFully();
    throw new RumpkgError('E_TARGET', 'rumpkg.json lists no target', { hint: 'add one with rumpkg init --target T, or give --target' });
  }
  const recorded = readRecordedImages(dir)[target];
  const image = recorded ?? defaultImagePath(dir, target, name);
  const build = `rumpkg build --target ${target}${recorded !== undefined && recorded !== defaultImagePath(dir, target, name) ? ` -o ${recorded}` : ''}`;
  if (!statSync(image, { throwIfNoEntry: false })?.isFile()) {
    readFully();
    throw new RumpkgError('E_NOT_FOUND', `no image for ${target}: ${image} does not exist`, { context: { path: image, target }, hint: `build it first: ${build}` });
  }
  const check = async (): Promise<CheckedFiles> => {
    const files = await checkProjectImage(dir, target, image, build, options.resolveComponentDir, readFully());
    // Also what locating read: the manifest, the record of built images (or its absence).
    files.paths.push(file, join(dir, 'rumpkg.lock'), join(dir, IMAGES_FILE));
    return files;
  };
  if (options.deferCheck !== true) {
    await check();
    return { target, image };
  }
  let started: Promise<CheckedFiles> | undefined;
  return { target, image, check: () => (started ??= check()) };
}

/** locateProjectImage's up-to-date check of `image` (E_LOCKFILE, E_STALE saying what to run). */
async function checkProjectImage(
  dir: string,
  target: Target,
  image: string,
  build: string,
  resolveComponentDir: BuildProjectOptions['resolveComponentDir'],
  project: ProjectManifest,
): Promise<CheckedFiles> {
  const lockfile = readLockfile(join(dir, 'rumpkg.lock'));
  const lt = lockfile.targets[target];
  if (lt === undefined) throw new RumpkgError('E_LOCKFILE', `rumpkg.lock has no closure for ${target}`, { context: { target }, hint: 'run rumpkg install' });
  const lookup = resolveComponentDir.lookup;
  const opts = (componentDirs: Record<string, string>): BuildImageOptions => ({
    projectDir: dir,
    target,
    lockedTarget: lt,
    componentDirs,
    project: { name: project.name, ...(project.image === undefined ? {} : { image: project.image }) },
    output: image,
  });
  let current: BuildResult | undefined;
  let files: CheckedFiles | undefined;
  const depended = (f: CheckedFiles): void => {
    files = f;
  };
  if (lookup !== undefined) current = await upToDateFromLookup(lt, lookup, opts, depended);
  if (current === undefined) {
    const dirs: Record<string, string> = {};
    for (const [name, locked] of Object.entries(lt.components)) dirs[name] = await resolveComponentDir(name, locked);
    current = await checkImageUpToDate(opts(dirs), depended);
  }
  if (current === undefined || files === undefined) {
    throw new RumpkgError('E_STALE', `${image} is out of date: rumpkg.lock, a component or the application changed since it was built`, {
      context: { path: image, target },
      hint: `rebuild it: ${build}`,
    });
  }
  return files;
}

/**
 * The up-to-date check over unverified lookups. Undefined when a component is not at hand, the
 * stamp does not match, or planning over the unverified directories fails (a damaged entry):
 * then the caller takes the verified path, which repairs or reports it.
 */
async function upToDateFromLookup(
  lt: LockedTarget,
  lookup: ComponentDirLookup,
  imageOptions: (dirs: Record<string, string>) => BuildImageOptions,
  depended?: (files: CheckedFiles) => void,
): Promise<BuildResult | undefined> {
  const dirs = lookupAll(lt, lookup);
  if (dirs === undefined) return undefined;
  try {
    return await checkImageUpToDate(imageOptions(dirs), depended);
  } catch (e) {
    if (isRumpkgError(e)) return undefined;
    throw e;
  }
}

/** Every locked component's directory by `lookup`; undefined when one is not at hand. */
function lookupAll(lt: LockedTarget, lookup: ComponentDirLookup): Record<string, string> | undefined {
  const dirs: Record<string, string> = {};
  for (const [name, locked] of Object.entries(lt.components)) {
    const d = lookup(name, locked);
    if (d === undefined) return undefined;
    dirs[name] = d;
  }
  return dirs;
}

/**
 * A `resolveComponentDir` over a plain directory of unpacked components: tries
 * `<root>/<version>/<name>`, `<root>/<version>/<name without scope>` (the corpus layout),
 * `<root>/<name>@<version>`, `<root>/<name>` and `<root>/<name without scope>` (the layout `rumpkg import archives -o` writes).
 */
export function componentDirsFromRoot(root: string): (name: string, locked: LockedComponent) => Promise<string> {
  return async (name, locked) => {
    const bare = name.replace(/^@[^/]+\//, '');
    const candidates = [join(root, locked.version, name), join(root, locked.version, bare), join(root, `${name}@${locked.version}`), join(root, name), join(root, bare)];
    for (const c of candidates) {
      try {
        if (statSync(join(c, 'package.json')).isFile()) return c;
      } catch {
        // next candidate
      }
    }
    throw new RumpkgError('E_NOT_FOUND', `component ${name}@${locked.version} is not in ${root}`, {
      context: { component: name, version: locked.version, path: root },
      hint: 'run rumpkg install to fetch the locked components',
    });
  };
}
