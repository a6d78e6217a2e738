/**
 * Loading the JSON documents rumpkg owns: read → parse (safe JSON) → validate (JSON Schema) →
 * normalise (defaults, sorted lists, fixed key order) → semantic checks, returning
 * `{ value, errors }` (STYLE.md §7). `parse*`/`render*`/`check*`/`normalize*` are pure;
 * `read*`/`write*`/`load*` do I/O. Problems point into the document as the user wrote it
 * (semantic checks run before lists are sorted).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  formatProblems,
  INIT_LEVELS,
  jsonPointer,
  validateDocument,
  type DocumentKind,
  type DocumentProblem,
  type DocumentResult,
} from '../../schemas/index.js';
import { fsError, isRumpkgError, RumpkgError, type ErrorCode } from '../model/index.js';
import { parseJsonDocument } from './json.js';
import { isCapability, nameProblem, packagePathProblem, rangeProblem, splitName, targetProblem, versionProblem } from '../model/index.js';
import type {
  ComponentManifest,
  ImageManifest,
  Lockfile,
  ProjectManifest,
  RumpSection,
  TargetEntry,
} from '../model/index.js';

export type { DocumentProblem, DocumentResult } from '../../schemas/index.js';

type DefaultedRumpKey = 'kind' | 'aliases' | 'initLevels' | 'requires' | 'provides' | 'conflicts' | 'optionalDependencies';

/** A component manifest as written: the defaulted fields may be missing. */
export type ComponentManifestInput = Omit<ComponentManifest, 'description' | 'dependencies' | 'rump'> & {
  description?: string;
  dependencies?: Record<string, string>;
  rump: Omit<RumpSection, DefaultedRumpKey> & Partial<Pick<RumpSection, DefaultedRumpKey>>;
};

/** Largest package.json / rumpkg.json / rumpkg.lock read from disk. */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;
/** Bounds of the file listing done by `loadComponentDir`. */
const PACKAGE_MAX_FILES = 100_000;

const LABELS: Record<DocumentKind, string> = {
  'component-manifest': 'component manifest',
  'project-manifest': 'project manifest',
  lockfile: 'lockfile',
  'image-manifest': 'image manifest',
};

// ---------------------------------------------------------------------------------------------
// shared helpers

function sortedRecord<V>(r: Record<string, V> | undefined): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(r ?? {}).sort()) out[k] = (r as Record<string, V>)[k] as V;
  return out;
}

function sortedList(list: readonly string[] | undefined): string[] {
  return [...(list ?? [])].sort();
}

/** Deeply sorts object keys; array order is kept. */
function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeysDeep((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

// spdx-expression-parse is CommonJS without types; loaded once, on first use.
let spdxParse: ((expression: string) => unknown) | undefined;

/** Why `expression` is not a valid SPDX licence expression, or undefined. */
export function licenseProblem(expression: string): string | undefined {
  if (typeof expression !== 'string' || expression.length === 0) return 'a licence must be a non-empty SPDX expression';
  if (expression.length > 256) return 'a licence expression is at most 256 characters';
  spdxParse ??= createRequire(import.meta.url)('spdx-expression-parse') as (expression: string) => unknown;
  try {
    spdxParse(expression);
    return undefined;
  } catch {
    return 'not a valid SPDX licence expression';
  }
}

function problem(file: string, pointer: string, message: string, expected: string): DocumentProblem {
  return { file, pointer, message, expected, stage: 'semantic' };
}

/** Parses JSON safely, turning parse/limit errors into problems. */
function parseToProblems(text: string | Uint8Array, file: string): { doc?: unknown; errors: DocumentProblem[] } {
  try {
    return { doc: parseJsonDocument(text, { file, maxBytes: MANIFEST_MAX_BYTES }), errors: [] };
  } catch (e) {
    if (isRumpkgError(e, 'E_JSON_PARSE') || isRumpkgError(e, 'E_SCHEMA')) {
      const pointer = typeof e.context.pointer === 'string' ? e.context.pointer : '';
      const prefix = `${file}: ${pointer === '' ? '' : `${pointer}: `}`;
      const message = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
      return {
        errors: [{ file, pointer, message, expected: typeof e.context.expected === 'string' ? e.context.expected : '', stage: e.code === 'E_JSON_PARSE' ? 'parse' : 'schema' }],
      };
    }
    throw e;
  }
}

/**
 * One RumpkgError for a list of problems: E_JSON_PARSE for syntax, E_SCHEMA for schema and
 * limits, E_MANIFEST (E_LOCKFILE for a lockfile) for semantic rules. The message lists the first
 * problems, one per line; `context.problems` holds them all.
 */
export function errorFromProblems(problems: readonly DocumentProblem[], options: { file: string; kind: DocumentKind }): RumpkgError {
  const stages = new Set(problems.map((p) => p.stage));
  const code: ErrorCode = stages.has('parse')
    ? 'E_JSON_PARSE'
    : stages.has('schema')
      ? 'E_SCHEMA'
      : options.kind === 'lockfile'
        ? 'E_LOCKFILE'
        : 'E_MANIFEST';
  const shown = problems.slice(0, 20);
  const more = problems.length > shown.length ? `\n… and ${problems.length - shown.length} more` : '';
  return new RumpkgError(
    code,
    `${options.file} is not a valid ${LABELS[options.kind]} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${formatProblems(shown)}${more}`,
    {
      context: { file: options.file, kind: options.kind, problems },
      hint: `fix the values at the JSON pointers above; \`rumpkg validate ${options.file}\` re-checks the file`,
    },
  );
}

/** Writes `text` to `path` atomically: a temp file in the same directory, fsync, rename. */
async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o644);
    await fh.writeFile(text, 'utf8');
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw fsError(e, path, 'write');
  }
}

async function readDocumentText(path: string, what: string, options: { followSymlink?: boolean } = {}): Promise<Buffer> {
  // One open (no stat-then-read race); O_NOFOLLOW unless following is wanted; read at most cap + 1.
  const flags = constants.O_RDONLY | (options.followSymlink === true ? 0 : constants.O_NOFOLLOW);
  let fh;
  try {
    fh = await open(path, flags);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new RumpkgError('E_IO', `${path} is a symbolic link`, { context: { path }, hint: `${what} must be a regular file, not a symlink` });
    }
    throw fsError(e, path, 'read');
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new RumpkgError('E_IO', `${path} is not a regular file`, { context: { path }, hint: `${what} must be a regular file` });
    }
    const tooBig = (bytes: number): RumpkgError =>
      new RumpkgError('E_SCHEMA', `${path}: document is ${bytes} bytes, more than the limit of ${MANIFEST_MAX_BYTES}`, {
        context: { file: path, pointer: '', bytes, expected: `at most ${MANIFEST_MAX_BYTES} bytes` },
        hint: 'this is not a rumpkg document, or it was tampered with',
      });
    if (st.size > MANIFEST_MAX_BYTES) throw tooBig(st.size);
    const chunks: Buffer[] = [];
    let n = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.size + 1, 4096), MANIFEST_MAX_BYTES + 1 - n));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, n);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      n += bytesRead;
      if (n > MANIFEST_MAX_BYTES) throw tooBig(n);
    }
    return Buffer.concat(chunks, n);
  } catch (e) {
    if (e instanceof RumpkgError) throw e;
    throw fsError(e, path, 'read');
  } finally {
    await fh.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// component manifests

function fillDefaults(m: ComponentManifestInput): ComponentManifest {
  const r = m.rump;
  const rump: RumpSection = {
    schemaVersion: r.schemaVersion,
    kind: r.kind ?? 'component',
    lib: r.lib,
    aliases: [...(r.aliases ?? [])],
    faction: r.faction,
    initLevels: [...(r.initLevels ?? [])],
    requires: [...(r.requires ?? [])],
    // Additive fields: present only when used, so a manifest without them normalises to what
    // an older rumpkg (or registry server) reads.
    ...(r.providers === undefined || Object.keys(r.providers).length === 0
      ? {}
      : { providers: Object.fromEntries(Object.entries(r.providers).map(([c, names]) => [c, [...names]])) }),
    provides: [...(r.provides ?? [])],
    conflicts: [...(r.conflicts ?? [])],
    ...(r.anyOf === undefined || r.anyOf.length === 0 ? {} : { anyOf: r.anyOf.map((g) => [...g]) }),
    optionalDependencies: { ...(r.optionalDependencies ?? {}) },
    targets: r.targets,
  };
  if (r.upstream !== undefined) rump.upstream = r.upstream;
  const out: ComponentManifest = {
    name: m.name,
    version: m.version,
    description: m.description ?? '',
    license: m.license,
    dependencies: { ...(m.dependencies ?? {}) },
    rump,
  };
  if (m.keywords !== undefined) out.keywords = [...m.keywords];
  return out;
}

function normalizeTargetEntry(t: TargetEntry): TargetEntry {
  const out: TargetEntry = { archive: t.archive };
  if (t.symbols !== undefined) {
    out.symbols = { defined: t.symbols.defined, digest: t.symbols.digest };
    if (t.symbols.linkSet !== undefined) out.symbols.linkSet = [...t.symbols.linkSet];
    if (t.symbols.constructors !== undefined) out.symbols.constructors = [...t.symbols.constructors];
  }
  // Order of objects and linker flags is meaningful: kept as written.
  if (t.objects !== undefined) out.objects = [...t.objects];
  if (t.linkerScript !== undefined) out.linkerScript = t.linkerScript;
  if (t.ldflags !== undefined) out.ldflags = [...t.ldflags];
  if (t.abiFlags !== undefined) out.abiFlags = [...t.abiFlags];
  if (t.include !== undefined) out.include = t.include;
  if (t.platform !== undefined) {
    const p = t.platform;
    out.platform = {
      convention: p.convention,
      compile: { triple: p.compile.triple, cflags: [...p.compile.cflags], include: [...p.compile.include] },
      libraries: [...p.libraries],
      ...(p.maxPageSize === undefined ? {} : { maxPageSize: p.maxPageSize }),
    };
  }
  return out;
}

function sortLists(m: ComponentManifest): ComponentManifest {
  const r = m.rump;
  const rank = (l: string): number => (INIT_LEVELS as readonly string[]).indexOf(l);
  const rump: RumpSection = {
    schemaVersion: r.schemaVersion,
    kind: r.kind,
    lib: r.lib,
    aliases: sortedList(r.aliases),
    faction: r.faction,
    initLevels: [...r.initLevels].sort((a, b) => rank(a) - rank(b)),
    requires: sortedList(r.requires),
    ...(r.providers === undefined ? {} : { providers: Object.fromEntries(Object.keys(r.providers).sort().map((c) => [c, sortedList(r.providers?.[c])])) }),
    provides: sortedList(r.provides),
    conflicts: sortedList(r.conflicts),
    ...(r.anyOf === undefined ? {} : { anyOf: r.anyOf.map((g) => sortedList(g)).sort((a, b) => (a.join('|') < b.join('|') ? -1 : a.join('|') > b.join('|') ? 1 : 0)) }),
    optionalDependencies: sortedRecord(r.optionalDependencies),
    targets: {},
  };
  for (const t of Object.keys(r.targets).sort()) rump.targets[t] = normalizeTargetEntry(r.targets[t] as TargetEntry);
  if (r.upstream !== undefined) {
    const u = r.upstream;
    rump.upstream = {
      project: u.project,
      repository: u.repository,
      ref: u.ref,
      ...(u.commit === undefined ? {} : { commit: u.commit }),
      path: u.path,
      ...(u.files === undefined ? {} : { files: sortedRecord(u.files) }),
    };
  }
  return {
    name: m.name,
    version: m.version,
    description: m.description,
    license: m.license,
    ...(m.keywords === undefined ? {} : { keywords: [...m.keywords] }),
    dependencies: sortedRecord(m.dependencies),
    rump,
  };
}

/**
 * Fills defaults (kind `component`, empty lists and maps), sorts alias/capability/conflict
 * lists and map keys, orders init levels by their run order, and fixes the key order. Fields
 * outside ComponentManifest (npm's homepage, registry `_id`, …) are dropped. Pure.
 */
export function normalizeManifest(m: ComponentManifestInput): ComponentManifest {
  return sortLists(fillDefaults(m));
}

function checkDuplicates(list: readonly string[], file: string, at: string, what: string, out: DocumentProblem[]): void {
  const seen = new Set<string>();
  list.forEach((v, i) => {
    if (seen.has(v)) out.push(problem(file, `${at}/${i}`, `${what} ${JSON.stringify(v)} is listed twice`, `each ${what} once`));
    seen.add(v);
  });
}

function checkPackagePath(p: string, files: ReadonlySet<string> | undefined, file: string, at: string, out: DocumentProblem[]): void {
  const bad = packagePathProblem(p);
  if (bad !== undefined) {
    out.push(problem(file, at, `${JSON.stringify(p)}: ${bad}`, 'a relative path inside the package'));
  } else if (files !== undefined && !files.has(p)) {
    out.push(problem(file, at, `${JSON.stringify(p)} is not in the package`, 'a regular file present in the component directory'));
  }
}

/** A directory inside the package that holds at least one file (when the file list is known). */
function checkPackageDir(p: string, files: ReadonlySet<string> | undefined, file: string, at: string, out: DocumentProblem[]): void {
  const bad = packagePathProblem(p);
  if (bad !== undefined) {
    out.push(problem(file, at, `${JSON.stringify(p)}: ${bad}`, 'a relative path inside the package'));
    return;
  }
  if (files === undefined) return;
  const prefix = `${p}/`;
  for (const f of files) if (f.startsWith(prefix)) return;
  out.push(problem(file, at, `${JSON.stringify(p)} is not a directory of the package`, 'a directory holding files in the component directory'));
}

/**
 * Semantic checks on a (schema-valid, defaulted) manifest: names of the component, its
 * dependencies, conflicts and aliases; canonical version and bounded ranges; no self-dependency
 * or self-conflict; no component both required and conflicting; aliases unique and different
 * from the name; known init levels and capabilities; at least one target, each known, each path
 * safe and — when `files` (the package's regular files, `/`-separated) is given — present.
 */
export function checkManifest(m: ComponentManifest, options: { file?: string; files?: readonly string[] } = {}): DocumentProblem[] {
  const file = options.file ?? 'package.json';
  const files = options.files === undefined ? undefined : new Set(options.files);
  const out: DocumentProblem[] = [];
  const nameBad = nameProblem(m.name);
  if (nameBad !== undefined) out.push(problem(file, '/name', `${JSON.stringify(m.name)}: ${nameBad}`, 'a component name such as @rump/tcpip'));
  const versionBad = versionProblem(m.version);
  if (versionBad !== undefined) out.push(problem(file, '/version', `${JSON.stringify(m.version)}: ${versionBad}`, 'a semver version such as 10.0.0'));
  const self = nameBad === undefined ? splitName(m.name) : undefined;
  const licenseBad = licenseProblem(m.license);
  if (licenseBad !== undefined) {
    out.push(problem(file, '/license', `${JSON.stringify(m.license.slice(0, 80))}: ${licenseBad}`, 'an SPDX expression such as BSD-2-Clause or (BSD-3-Clause OR GPL-2.0-only)'));
  }

  const checkEdges = (edges: Record<string, string>, at: string): void => {
    for (const [dep, range] of Object.entries(edges)) {
      const p = `${at}${jsonPointer(dep)}`;
      const bad = nameProblem(dep);
      if (bad !== undefined) out.push(problem(file, p, `dependency name ${JSON.stringify(dep)}: ${bad}`, 'a component name such as @rump/net'));
      if (dep === m.name) out.push(problem(file, p, `${m.name} depends on itself`, 'no self-dependency'));
      const rBad = rangeProblem(range);
      if (rBad !== undefined) out.push(problem(file, p, `range ${JSON.stringify(range.slice(0, 80))}: ${rBad}`, 'a semver range such as ^10.0.0'));
    }
  };
  checkEdges(m.dependencies, '/dependencies');
  checkEdges(m.rump.optionalDependencies, '/rump/optionalDependencies');
  for (const dep of Object.keys(m.rump.optionalDependencies)) {
    if (Object.hasOwn(m.dependencies, dep)) {
      out.push(problem(file, `/rump/optionalDependencies${jsonPointer(dep)}`, `${dep} is both a hard and an optional dependency`, 'each dependency in one of the two maps'));
    }
  }

  m.rump.conflicts.forEach((c, i) => {
    const p = `/rump/conflicts/${i}`;
    const bad = nameProblem(c);
    if (bad !== undefined) out.push(problem(file, p, `conflict name ${JSON.stringify(c)}: ${bad}`, 'a component name such as @rump/sockin'));
    if (c === m.name) out.push(problem(file, p, `${m.name} conflicts with itself`, 'no self-conflict'));
    if (Object.hasOwn(m.dependencies, c)) out.push(problem(file, p, `${c} is both a dependency and a conflict`, 'a component that is not a dependency'));
  });
  checkDuplicates(m.rump.conflicts, file, '/rump/conflicts', 'conflict', out);

  m.rump.aliases.forEach((a, i) => {
    const p = `/rump/aliases/${i}`;
    const bad = nameProblem(a);
    if (bad !== undefined) out.push(problem(file, p, `alias ${JSON.stringify(a)}: ${bad}`, 'a valid component name'));
    if (a === m.name || (self !== undefined && a === self.bare)) {
      out.push(problem(file, p, `alias ${JSON.stringify(a)} repeats the component name`, 'an alias different from the name'));
    }
  });
  checkDuplicates(m.rump.aliases, file, '/rump/aliases', 'alias', out);

  for (const [list, at] of [[m.rump.requires, '/rump/requires'], [m.rump.provides, '/rump/provides']] as const) {
    list.forEach((c, i) => {
      if (!isCapability(c)) out.push(problem(file, `${at}/${i}`, `capability ${JSON.stringify(c)} is malformed`, 'a capability such as bus:pci'));
    });
    checkDuplicates(list, file, at, 'capability', out);
  }

  // Known providers: only of capabilities it requires; valid names, each once, never itself.
  for (const [cap, names] of Object.entries(m.rump.providers ?? {})) {
    const at = `/rump/providers${jsonPointer(cap)}`;
    if (!m.rump.requires.includes(cap)) out.push(problem(file, at, `providers names ${cap}, which is not in requires`, 'a capability listed in requires'));
    names.forEach((n, i) => {
      const bad = nameProblem(n);
      if (bad !== undefined) out.push(problem(file, `${at}/${i}`, `provider name ${JSON.stringify(n)}: ${bad}`, 'a component name such as @rump/pci'));
      if (n === m.name) out.push(problem(file, `${at}/${i}`, `${m.name} names itself as a provider of ${cap}`, 'another component'));
    });
    checkDuplicates(names, file, at, 'provider', out);
  }

  // Any-of groups: valid names, each once, never itself; a group a hard dependency always
  // satisfies, or that names a conflict, says something the manifest contradicts or repeats.
  const groups = new Set<string>();
  (m.rump.anyOf ?? []).forEach((group, g) => {
    const at = `/rump/anyOf/${g}`;
    group.forEach((n, i) => {
      const bad = nameProblem(n);
      if (bad !== undefined) out.push(problem(file, `${at}/${i}`, `any-of name ${JSON.stringify(n)}: ${bad}`, 'a component name such as @rump/net-net'));
      if (n === m.name) out.push(problem(file, `${at}/${i}`, `${m.name} lists itself in an any-of group`, 'other components'));
      if (Object.hasOwn(m.dependencies, n)) {
        out.push(problem(file, `${at}/${i}`, `${n} is a hard dependency, so the any-of group is always satisfied`, 'a group of components none of which is a hard dependency'));
      }
      if (m.rump.conflicts.includes(n)) out.push(problem(file, `${at}/${i}`, `${n} is both an any-of alternative and a conflict`, 'an alternative that is not a conflict'));
    });
    checkDuplicates(group, file, at, 'any-of name', out);
    const key = [...new Set(group)].sort().join('|');
    if (groups.has(key)) out.push(problem(file, at, `the any-of group ${group.join(' | ')} is listed twice`, 'each group once'));
    groups.add(key);
  });

  m.rump.initLevels.forEach((l, i) => {
    if (!(INIT_LEVELS as readonly string[]).includes(l)) out.push(problem(file, `/rump/initLevels/${i}`, `unknown init level ${JSON.stringify(l)}`, `one of ${INIT_LEVELS.join(', ')}`));
  });
  checkDuplicates(m.rump.initLevels, file, '/rump/initLevels', 'init level', out);

  const targets = Object.entries(m.rump.targets);
  if (targets.length === 0) out.push(problem(file, '/rump/targets', 'the component ships no target', 'at least one target such as posix-x86_64'));
  for (const [t, entry] of targets) {
    const at = `/rump/targets${jsonPointer(t)}`;
    const tBad = targetProblem(t);
    if (tBad !== undefined) out.push(problem(file, at, `${JSON.stringify(t)}: ${tBad}`, 'a target such as posix-x86_64'));
    checkPackagePath(entry.archive, files, file, `${at}/archive`, out);
    entry.objects?.forEach((o, i) => checkPackagePath(o, files, file, `${at}/objects/${i}`, out));
    if (entry.linkerScript !== undefined) checkPackagePath(entry.linkerScript, files, file, `${at}/linkerScript`, out);
    if (entry.include !== undefined) checkPackageDir(entry.include, files, file, `${at}/include`, out);
    if (entry.platform !== undefined) {
      if (m.rump.kind !== 'platform') out.push(problem(file, `${at}/platform`, 'only a platform package can set how images are made', 'kind "platform", or no platform object'));
      entry.platform.libraries.forEach((l, i) => checkPackagePath(l, files, file, `${at}/platform/libraries/${i}`, out));
      entry.platform.compile.include.forEach((d, i) => checkPackageDir(d, files, file, `${at}/platform/compile/include/${i}`, out));
    }
    for (const [key, levels] of [['linkSet', entry.symbols?.linkSet], ['constructors', entry.symbols?.constructors]] as const) levels?.forEach((l, i) => {
      if (!(INIT_LEVELS as readonly string[]).includes(l)) out.push(problem(file, `${at}/symbols/${key}/${i}`, `unknown init level ${JSON.stringify(l)}`, 'a rump init level'));
    });
  }
  return out;
}

/**
 * Parses a component's package.json: safe JSON → schema → defaults → semantic checks (with
 * the package's file list when given) → sorted, fixed-order value.
 */
export function parseComponentManifest(
  text: string | Uint8Array,
  options: { file: string; files?: readonly string[] },
): DocumentResult<ComponentManifest> {
  const { file } = options;
  const parsed = parseToProblems(text, file);
  if (parsed.errors.length > 0) return { errors: parsed.errors };
  return validateComponentManifest(parsed.doc, options);
}

/** Like `parseComponentManifest` for an already parsed value (e.g. registry metadata). */
export function validateComponentManifest(
  doc: unknown,
  options: { file: string; files?: readonly string[] },
): DocumentResult<ComponentManifest> {
  const schema = validateDocument<ComponentManifestInput>('component-manifest', doc, { file: options.file });
  if (schema.value === undefined) return { errors: schema.errors };
  const filled = fillDefaults(schema.value);
  const errors = checkManifest(filled, options);
  return errors.length > 0 ? { errors } : { value: sortLists(filled), errors: [] };
}

/** Lists the regular files under `dir` as sorted `/`-separated relative paths (symlinks are not followed or listed). */
export async function listPackageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > 64) throw new RumpkgError('E_TAR_LIMIT', `${join(dir, rel)}: directories nested deeper than 64 levels`, { context: { path: join(dir, rel) } });
    let entries;
    try {
      entries = await readdir(join(dir, rel), { withFileTypes: true });
    } catch (e) {
      throw fsError(e, join(dir, rel), 'list');
    }
    for (const e of entries) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile()) out.push(p);
      if (out.length > PACKAGE_MAX_FILES) {
        throw new RumpkgError('E_TAR_LIMIT', `${dir}: more than ${PACKAGE_MAX_FILES} files`, { context: { path: dir }, hint: 'a component holds a few archives and headers' });
      }
    }
  };
  await walk('', 0);
  return out.sort();
}

/**
 * Reads `dir/package.json` and checks it against the directory's files (every target archive,
 * object and linker script must be there). I/O failures throw; document problems are returned.
 */
export async function loadComponentDir(dir: string): Promise<DocumentResult<ComponentManifest>> {
  const file = join(dir, 'package.json');
  const text = await readDocumentText(file, 'a component package.json');
  const files = await listPackageFiles(dir);
  return parseComponentManifest(text, { file, files });
}

// ---------------------------------------------------------------------------------------------
// project manifest (rumpkg.json)

type ProjectManifestInput = Omit<ProjectManifest, 'components' | 'registries'> & Partial<Pick<ProjectManifest, 'components' | 'registries'>>;

/**
 * Fixed key order, sorted maps; targets, entries and interfaces keep their order; empty
 * per-target maps (and `targetComponents` when nothing is left) are dropped. Pure.
 */
function normalizeProjectManifest(m: ProjectManifestInput): ProjectManifest {
  const perTarget: Record<string, Record<string, string>> = {};
  for (const t of Object.keys(m.targetComponents ?? {}).sort()) {
    const list = (m.targetComponents as Record<string, Record<string, string>>)[t] as Record<string, string>;
    if (Object.keys(list).length > 0) perTarget[t] = sortedRecord(list);
  }
  const out: ProjectManifest = {
    schemaVersion: m.schemaVersion,
    name: m.name,
    targets: [...m.targets],
    components: sortedRecord(m.components),
    ...(Object.keys(perTarget).length > 0 ? { targetComponents: perTarget } : {}),
    registries: sortedRecord(m.registries),
  };
  if (m.image !== undefined) {
    const i = m.image;
    const image: NonNullable<ProjectManifest['image']> = {};
    if (i.entry !== undefined) image.entry = [...i.entry];
    if (i.sources !== undefined) image.sources = [...i.sources];
    if (i.net !== undefined) {
      image.net = i.net.map((n) => {
        const o: (typeof i.net & object)[number] = { if: n.if, type: n.type, method: n.method };
        if (n.addr !== undefined) o.addr = n.addr;
        if (n.mask !== undefined) o.mask = n.mask;
        if (n.gw !== undefined) o.gw = n.gw;
        if (n.linkstr !== undefined) o.linkstr = n.linkstr;
        return o;
      });
    }
    if (i.block !== undefined) {
      image.block = i.block.map((b) => {
        const o: (typeof i.block & object)[number] = { source: b.source, path: b.path };
        if (b.fstype !== undefined) o.fstype = b.fstype;
        if (b.mountpoint !== undefined) o.mountpoint = b.mountpoint;
        return o;
      });
    }
    if (i.cflags !== undefined) image.cflags = [...i.cflags];
    if (i.forward !== undefined) image.forward = i.forward.map((f) => ({ proto: f.proto, host: f.host, guest: f.guest }));
    out.image = image;
  }
  return out;
}

/** Semantic checks of rumpkg.json: component names and ranges, static interfaces have an address. */
function checkProjectManifest(m: ProjectManifest, options: { file?: string } = {}): DocumentProblem[] {
  const file = options.file ?? 'rumpkg.json';
  const out: DocumentProblem[] = [];
  const checkRequests = (requests: Record<string, string>, base: string): void => {
    for (const [name, range] of Object.entries(requests)) {
      const at = `${base}${jsonPointer(name)}`;
      const bad = nameProblem(name);
      if (bad !== undefined) out.push(problem(file, at, `component name ${JSON.stringify(name)}: ${bad}`, 'a component name such as tcpip or @rump/tcpip'));
      const rBad = rangeProblem(range);
      if (rBad !== undefined) out.push(problem(file, at, `range ${JSON.stringify(range.slice(0, 80))}: ${rBad}`, 'a semver range such as ^10.0.0'));
    }
  };
  checkRequests(m.components, '/components');
  for (const [target, requests] of Object.entries(m.targetComponents ?? {})) {
    const base = `/targetComponents${jsonPointer(target)}`;
    if (!m.targets.includes(target)) out.push(problem(file, base, `${target} is not one of the project's targets (${m.targets.join(', ')})`, 'a target listed in targets'));
    checkRequests(requests, base);
    for (const name of Object.keys(requests)) {
      if (Object.hasOwn(m.components, name)) {
        out.push(problem(file, `${base}${jsonPointer(name)}`, `${name} is requested for every target (components) and for ${target}`, 'each component either in components or in targetComponents'));
      }
    }
  }
  m.targets.forEach((t, i) => {
    const bad = targetProblem(t);
    if (bad !== undefined) out.push(problem(file, `/targets/${i}`, `${JSON.stringify(t)}: ${bad}`, 'a target such as posix-x86_64'));
  });
  const hostPorts = new Set<string>();
  m.image?.forward?.forEach((f, i) => {
    const key = `${f.proto}:${f.host}`;
    if (hostPorts.has(key)) out.push(problem(file, `/image/forward/${i}/host`, `host ${f.proto} port ${f.host} is forwarded twice`, 'each host port once'));
    hostPorts.add(key);
  });
  m.image?.net?.forEach((n, i) => {
    if (n.method === 'static' && n.addr === undefined) out.push(problem(file, `/image/net/${i}/addr`, `interface ${n.if} is static but has no address`, 'an address for a static interface'));
    if (n.method === 'dhcp' && (n.addr !== undefined || n.gw !== undefined)) out.push(problem(file, `/image/net/${i}`, `interface ${n.if} uses dhcp but also sets addr/gw`, 'either dhcp or a static address'));
  });
  return out;
}

/** Parses rumpkg.json text: safe JSON → schema → normalise → semantic checks. Pure. */
export function parseProjectManifest(text: string | Uint8Array, options: { file: string }): DocumentResult<ProjectManifest> {
  const parsed = parseToProblems(text, options.file);
  if (parsed.errors.length > 0) return { errors: parsed.errors };
  const schema = validateDocument<ProjectManifestInput>('project-manifest', parsed.doc, options);
  if (schema.value === undefined) return { errors: schema.errors };
  const value = normalizeProjectManifest(schema.value);
  const errors = checkProjectManifest(value, options);
  return errors.length > 0 ? { errors } : { value, errors: [] };
}

/** Renders rumpkg.json: fixed key order, 2-space JSON, trailing newline (`targetComponents` only when used). Pure. */
export function renderProjectManifest(m: ProjectManifest): string {
  return `${JSON.stringify(normalizeProjectManifest(m), null, 2)}\n`;
}

/** Reads and validates rumpkg.json; throws E_NOT_FOUND, E_JSON_PARSE, E_SCHEMA or E_MANIFEST. */
export async function readProjectManifest(path: string): Promise<ProjectManifest> {
  let text: Buffer;
  try {
    text = await readDocumentText(path, 'rumpkg.json', { followSymlink: true });
  } catch (e) {
    if (isRumpkgError(e, 'E_NOT_FOUND')) {
      throw new RumpkgError('E_NOT_FOUND', `no project manifest at ${path}`, { context: { path }, hint: 'run `rumpkg init` to create rumpkg.json', cause: e });
    }
    throw e;
  }
  const r = parseProjectManifest(text, { file: path });
  if (r.value === undefined) throw errorFromProblems(r.errors, { file: path, kind: 'project-manifest' });
  return r.value;
}

/**
 * rumpkg.json's `name` and `targets` as its JSON states them, before readProjectManifest's schema
 * and semantic checks, which `read()` then runs over the same bytes (throwing as
 * readProjectManifest does). Synchronous: one open, one read. Undefined when the file is not a
 * readable regular file within the size limit, not JSON, or those two are not a string and a list
 * of strings: readProjectManifest reports why. A manifest `read()` accepts has exactly this name
 * and these targets (normalising copies them). For a caller that must act before the checks and
 * runs them before it trusts anything else: `rumpkg run` locates the image with the name and
 * targets while QEMU starts paused, and its up-to-date check starts with `read()`.
 */
export function peekProjectManifest(path: string): { name: string; targets: string[]; read(): ProjectManifest } | undefined {
  let bytes: Buffer;
  let doc: unknown;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK); // a FIFO does not block
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > MANIFEST_MAX_BYTES) return undefined;
      bytes = Buffer.allocUnsafe(st.size);
      if (readSync(fd, bytes, 0, st.size, 0) !== st.size) return undefined;
    } finally {
      closeSync(fd);
    }
    doc = parseJsonDocument(bytes, { file: path, maxBytes: MANIFEST_MAX_BYTES });
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object') return undefined;
  const { name, targets } = doc as { name?: unknown; targets?: unknown };
  if (typeof name !== 'string' || !Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) return undefined;
  return {
    name,
    targets: [...(targets as string[])],
    read(): ProjectManifest {
      const r = parseProjectManifest(bytes, { file: path });
      if (r.value === undefined) throw errorFromProblems(r.errors, { file: path, kind: 'project-manifest' });
      return r.value;
    },
  };
}

/** Validates `m` and writes it atomically (temp file + rename); an invalid manifest is never written. */
export async function writeProjectManifest(path: string, m: ProjectManifest): Promise<void> {
  const text = renderProjectManifest(m);
  const r = parseProjectManifest(text, { file: path });
  if (r.value === undefined) throw errorFromProblems(r.errors, { file: path, kind: 'project-manifest' });
  await writeFileAtomic(path, text);
}

// ---------------------------------------------------------------------------------------------
// lockfile (rumpkg.lock)

/**
 * Semantic checks of a lockfile: names and versions valid; every hard dependency, capability
 * provider, `requiredBy` entry, link-order and init-order entry and the platform are components
 * of the same closure; link order lists each component exactly once.
 */
function checkLockfile(lock: Lockfile, options: { file?: string } = {}): DocumentProblem[] {
  const file = options.file ?? 'rumpkg.lock';
  const out: DocumentProblem[] = [];
  const checkRequests = (requests: Record<string, string>, base: string): void => {
    for (const [name, range] of Object.entries(requests)) {
      const at = `${base}${jsonPointer(name)}`;
      const bad = nameProblem(name);
      if (bad !== undefined) out.push(problem(file, at, `component name ${JSON.stringify(name)}: ${bad}`, 'a component name'));
      const rBad = rangeProblem(range);
      if (rBad !== undefined) out.push(problem(file, at, `range ${JSON.stringify(range.slice(0, 80))}: ${rBad}`, 'a semver range'));
    }
  };
  checkRequests(lock.requested, '/requested');
  for (const [target, requests] of Object.entries(lock.targetRequested ?? {})) {
    const base = `/targetRequested${jsonPointer(target)}`;
    if (!Object.hasOwn(lock.targets, target)) out.push(problem(file, base, `requests for ${target}, which has no locked closure`, 'a target under targets'));
    checkRequests(requests, base);
  }
  for (const [target, closure] of Object.entries(lock.targets)) {
    const tAt = `/targets${jsonPointer(target)}`;
    const names = new Set(Object.keys(closure.components));
    const member = (n: string, at: string, what: string): void => {
      if (!names.has(n)) out.push(problem(file, at, `${what} ${JSON.stringify(n)} is not a component of the ${target} closure`, 'a name listed under components'));
    };
    if (closure.platform !== null) member(closure.platform, `${tAt}/platform`, 'platform');
    for (const [name, c] of Object.entries(closure.components)) {
      const at = `${tAt}/components${jsonPointer(name)}`;
      const bad = nameProblem(name);
      if (bad !== undefined) out.push(problem(file, at, `component name ${JSON.stringify(name)}: ${bad}`, 'a component name'));
      const vBad = versionProblem(c.version);
      if (vBad !== undefined) out.push(problem(file, `${at}/version`, `${JSON.stringify(c.version)}: ${vBad}`, 'an exact version'));
      for (const dep of Object.keys(c.dependencies)) member(dep, `${at}/dependencies${jsonPointer(dep)}`, 'dependency');
      for (const [cap, provider] of Object.entries(c.requires)) member(provider, `${at}/requires${jsonPointer(cap)}`, 'capability provider');
      for (const [key, choice] of Object.entries(c.anyOf ?? {})) {
        const gAt = `${at}/anyOf${jsonPointer(key)}`;
        const group = key.split('|');
        member(choice.chosen, `${gAt}/chosen`, 'any-of choice');
        if (!group.includes(choice.chosen)) out.push(problem(file, `${gAt}/chosen`, `${choice.chosen} is not a member of the group ${group.join(' | ')}`, 'a member of the group'));
        for (const [other, why] of Object.entries(choice.others)) {
          if (!group.includes(other) || other === choice.chosen) out.push(problem(file, `${gAt}/others${jsonPointer(other)}`, `${other} is not another member of the group ${group.join(' | ')}`, 'another member of the group'));
          if (why.reason === 'conflict') member(why.with, `${gAt}/others${jsonPointer(other)}/with`, 'conflicting component');
        }
      }
      c.requiredBy.forEach((by, i) => {
        if (by !== '<project>') member(by, `${at}/requiredBy/${i}`, 'requiredBy entry');
      });
    }
    const seen = new Set<string>();
    closure.linkOrder.forEach((n, i) => {
      member(n, `${tAt}/linkOrder/${i}`, 'link-order entry');
      if (seen.has(n)) out.push(problem(file, `${tAt}/linkOrder/${i}`, `${n} appears twice in the link order`, 'each component once'));
      seen.add(n);
    });
    for (const n of names) {
      if (!seen.has(n)) out.push(problem(file, `${tAt}/linkOrder`, `${n} is missing from the link order`, 'every component of the closure'));
    }
    closure.initOrder.forEach((s, i) => member(s.component, `${tAt}/initOrder/${i}/component`, 'init-order entry'));
  }
  return out;
}

/** The lockfile format version this rumpkg reads and writes. */
const LOCKFILE_VERSION = 1;

/** Parses rumpkg.lock text: safe JSON → schema → semantic checks. Pure. */
export function parseLockfileText(text: string | Uint8Array, options: { file: string }): DocumentResult<Lockfile> {
  const parsed = parseToProblems(text, options.file);
  if (parsed.errors.length > 0) return { errors: parsed.errors };
  // Another format version is reported as such, not as the keys this version would miss.
  const version = parsed.doc !== null && typeof parsed.doc === 'object' && !Array.isArray(parsed.doc) ? (parsed.doc as Record<string, unknown>).lockfileVersion : undefined;
  if (version !== undefined && version !== LOCKFILE_VERSION) {
    return {
      errors: [{ file: options.file, pointer: '/lockfileVersion', message: `unsupported lockfileVersion ${JSON.stringify(version)}: this rumpkg reads lockfileVersion ${LOCKFILE_VERSION}`, expected: String(LOCKFILE_VERSION), stage: 'schema' }],
    };
  }
  const schema = validateDocument<Lockfile>('lockfile', parsed.doc, options);
  if (schema.value === undefined) return { errors: schema.errors };
  const errors = checkLockfile(schema.value, options);
  return errors.length > 0 ? { errors } : { value: schema.value, errors: [] };
}

/** Renders rumpkg.lock: keys sorted at every level (array order kept), 2-space JSON, trailing newline. Pure. */
export function renderLockfile(lock: Lockfile): string {
  return `${JSON.stringify(sortKeysDeep(lock), null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// image manifest

/** Parses an image manifest (`.rumpkg.manifest` contents): safe JSON → schema. Pure. */
export function parseImageManifest(text: string | Uint8Array, options: { file: string }): DocumentResult<ImageManifest> {
  const parsed = parseToProblems(text, options.file);
  if (parsed.errors.length > 0) return { errors: parsed.errors };
  return validateDocument<ImageManifest>('image-manifest', parsed.doc, options);
}

// ---------------------------------------------------------------------------------------------
// any document, by file

interface LoadedDocument {
  /** The file label used in problems (a component directory becomes `DIR/package.json`). */
  file: string;
  kind: DocumentKind;
  /** One-line description of a valid document (`@rump/tcpip@10.0.0`), `` when invalid. */
  summary: string;
  value?: ComponentManifest | ProjectManifest | Lockfile | ImageManifest;
  errors: DocumentProblem[];
}

function detectKind(base: string, doc: unknown): DocumentKind | undefined {
  const o = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : {};
  if (base === 'rumpkg.json') return 'project-manifest';
  if (base === 'rumpkg.lock') return 'lockfile';
  if (base === 'package.json' || 'rump' in o) return 'component-manifest';
  if ('lockfileVersion' in o) return 'lockfile';
  if ('imageManifestVersion' in o) return 'image-manifest';
  if ('schemaVersion' in o && 'targets' in o) return 'project-manifest';
  return undefined;
}

/**
 * Reads and fully validates one document: a component directory or its package.json (archives
 * checked against the directory's files), rumpkg.json, rumpkg.lock or an image manifest. The kind
 * is `options.kind`, else detected from the name and content (E_USAGE when it cannot be told).
 * `options.label` is how the file is named in problems (default: the path).
 */
export async function loadDocumentFile(path: string, options: { kind?: DocumentKind; label?: string } = {}): Promise<LoadedDocument> {
  let label = options.label ?? path;
  let filePath = path;
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    throw fsError(e, path, 'read');
  }
  if (st.isDirectory()) {
    filePath = join(path, 'package.json');
    label = join(label, 'package.json');
    if (options.kind !== undefined && options.kind !== 'component-manifest') {
      throw new RumpkgError('E_USAGE', `${path} is a directory; only a component directory can be validated as a directory`, { hint: 'name the file itself' });
    }
  }
  let bytes: Buffer;
  try {
    bytes = await readDocumentText(filePath, label);
  } catch (e) {
    if (!isRumpkgError(e, 'E_SCHEMA')) throw e;
    // Too large to read: a document problem, reported like any other.
    return {
      file: label,
      kind: options.kind ?? (st.isDirectory() ? 'component-manifest' : detectKind(basename(filePath), undefined) ?? 'component-manifest'),
      summary: '',
      errors: [{ file: label, pointer: '', message: e.message.replace(`${filePath}: `, ''), expected: String(e.context.expected ?? ''), stage: 'schema' }],
    };
  }
  const parsed = parseToProblems(bytes, label);
  const kind = options.kind ?? (st.isDirectory() ? 'component-manifest' : detectKind(basename(filePath), parsed.doc));
  if (kind === undefined) {
    if (parsed.errors.length > 0) return { file: label, kind: 'component-manifest', summary: '', errors: parsed.errors };
    throw new RumpkgError('E_USAGE', `cannot tell what kind of document ${label} is`, {
      context: { file: label },
      hint: 'pass --kind component-manifest|project-manifest|lockfile|image-manifest',
    });
  }
  if (parsed.errors.length > 0) return { file: label, kind, summary: '', errors: parsed.errors };
  const doc = parsed.doc;
  switch (kind) {
    case 'component-manifest': {
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || !('rump' in doc)) {
        return {
          file: label,
          kind,
          summary: '',
          errors: [{ file: label, pointer: '/rump', message: 'this package.json has no "rump" object, so it is not a rump component manifest', expected: 'a "rump" object (DESIGN.md §4.1)', stage: 'schema' }],
        };
      }
      const files = await listPackageFiles(dirname(filePath));
      const r = validateComponentManifest(doc, { file: label, files });
      return { file: label, kind, summary: r.value === undefined ? '' : `${r.value.name}@${r.value.version}`, errors: r.errors, ...(r.value === undefined ? {} : { value: r.value }) };
    }
    case 'project-manifest': {
      const r = parseProjectManifest(bytes, { file: label });
      return { file: label, kind, summary: r.value === undefined ? '' : `${r.value.name}, ${r.value.targets.join(', ')}`, errors: r.errors, ...(r.value === undefined ? {} : { value: r.value }) };
    }
    case 'lockfile': {
      const r = parseLockfileText(bytes, { file: label });
      const n = r.value === undefined ? 0 : Object.values(r.value.targets).reduce((s, t) => s + Object.keys(t.components).length, 0);
      return {
        file: label,
        kind,
        summary: r.value === undefined ? '' : `${Object.keys(r.value.targets).length} target(s), ${n} locked component(s)`,
        errors: r.errors,
        ...(r.value === undefined ? {} : { value: r.value }),
      };
    }
    case 'image-manifest': {
      const r = parseImageManifest(bytes, { file: label });
      return { file: label, kind, summary: r.value === undefined ? '' : `${r.value.target}, ${r.value.components.length} component(s)`, errors: r.errors, ...(r.value === undefined ? {} : { value: r.value }) };
    }
    default: {
      const never: never = kind;
      throw new Error(`unhandled document kind ${String(never)}`);
    }
  }
}
