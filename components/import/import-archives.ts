/**
 * `rumpkg import archives DIR`: real NetBSD rump kernel archives (`librump*.a` from buildrump.sh
 * or a NetBSD `/usr/lib`) → component directories:
 *
 *   <out>/<name>/package.json            manifest from the catalog + symbol analysis
 *   <out>/<name>/lib/<target>/<lib>.a    the archive, copied unchanged
 *
 * Which files are imported: `librump*.a` only. Skipped with a reason: `*_pic.a` twins (PIC
 * copies of the same code), `librumpclient` and `librumphijack` (host-side libraries, not
 * kernel components), anything else (`libbar.a`, `.so`).
 *
 * Manifests: catalog components get the catalog's name, aliases, faction, init levels,
 * capabilities, conflicts (scoped), licence and upstream path; dependency ranges are
 * `^<major>.0.0` of `version`. Archives the catalog does not know get a manifest named from the
 * library (`librumpfoo` → `foo`, `librumpdev_foo` → `dev-foo`), init levels from their link set,
 * licence `LicenseRef-unknown` (override with `license`) and a warning. Edges come from the
 * symbol analysis (import-symbols.ts, whose head documents the rule). Per target: the archive,
 * its SymbolEvidence, ABI flags the bytes prove (`-fcommon` when the archive holds common
 * symbols) and, on posix targets, the host libraries its references need (`-lpthread`, `-ldl`).
 *
 * Importing a second target into the same `out` merges: a component directory already there
 * with the same name and version keeps its other targets and gains this one (edges are unioned).
 * Failure leaves `out` as it was: each component is built in a staging directory and swapped in by
 * rename once all are complete (component-staging.ts); the staging runs while the archives are
 * analysed and is removed when the analysis fails.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadCatalog, catalogShipsTarget, type Catalog, type CatalogEntry } from '../catalog/index.js';
import { fsError, nameProblem, RumpkgError } from '../model/index.js';
import { startComponentStaging, type WrittenComponent } from './component-staging.js';
import { analyzeArchives, readArchiveScan, type ArchiveScan, type EdgeFinding, type SymbolAnalysis } from './import-symbols.js';
import { freestandingArchiveProblem } from './registration.js';
import { RUMPRUN_PLATFORM_LIBS } from './rumprun-platform.js';
import { openFileSource, readArchiveTables } from '../binary/index.js';
import { normalizeManifest } from '../documents/index.js';
import { parseTarget, parseVersion } from '../model/index.js';
import { DEFAULT_SCOPE, HYPERCALL_ABI_VERSION, INIT_LEVEL_RUN_ORDER, type ComponentManifest, type TargetEntry } from '../model/index.js';

export * from './import-symbols.js';

interface ImportArchivesOptions {
  target: string;
  version: string;
  /** Output directory (created); default `<dir>/../rump-components`. */
  out?: string;
  /** Catalog to use (default the bundled NetBSD catalog); tests pass edited copies. */
  catalog?: Catalog;
  /** `upstream.ref` to record (the branch or tag the archives were built from); none: unknown. */
  upstreamRef?: string;
  /** `upstream.commit` to record (the commit the archives were built from); none: unknown. */
  upstreamCommit?: string;
  /** Licence of archives the catalog does not know (default `LicenseRef-unknown`). */
  license?: string;
  /**
   * A directory holding the rump kernel headers (`rump/rump.h` …) the archives were built with;
   * copied into the base component (librump) as `include/<target>/rump`, which applications
   * then compile against. Default `<dir>/../include` when it has `rump/`; `false`: none.
   */
  include?: string | false;
  /** Analyse and report, write nothing. */
  dryRun?: boolean;
  onProgress?: (done: number, total: number) => void;
}

interface ImportedComponent {
  name: string;
  lib: string;
  /** False when the catalog does not know the library. */
  known: boolean;
  dir: string;
  /** Archive file imported (absolute). */
  source: string;
  /** Merged into an existing component directory (another target). */
  merged: boolean;
  manifest: ComponentManifest;
}

interface SkippedFile {
  file: string;
  reason: string;
}

export interface ImportResult {
  target: string;
  version: string;
  out: string;
  components: ImportedComponent[];
  skipped: SkippedFile[];
  warnings: string[];
  /** The catalog contradictions the archives show (missing, missing-any-of, unneeded). */
  findings: EdgeFinding[];
  analysis: SymbolAnalysis;
}

const HOST_LIBS = new Set(['librumpclient', 'librumphijack']);

/** Classifies one file name of the input directory. Pure. */
function classifyArchiveFile(file: string): { lib: string } | { skip: string } {
  if (!/^librump[A-Za-z0-9_]*\.a$/.test(file)) {
    return { skip: file.startsWith('librump') ? 'not a static archive name (librump*.a)' : 'not a rump kernel archive (librump*.a)' };
  }
  const lib = file.slice(0, -2);
  if (lib.endsWith('_pic')) return { skip: `PIC twin of ${lib.slice(0, -4)}.a (same code, position-independent)` };
  if (HOST_LIBS.has(lib)) return { skip: `${lib} is a host-side library (remote syscalls / hijacking), not a kernel component` };
  // The file name becomes a library name, a component name and a directory under --out: only
  // names that are valid as all three are imported (a hostile or odd name is skipped, not a crash).
  if (!/^lib[a-z0-9_]+$/.test(lib)) return { skip: 'not a NetBSD library name (lower-case letters, digits and "_")' };
  if (nameProblem(`${DEFAULT_SCOPE}/${nameForLib(lib)}`) !== undefined) return { skip: `${lib} gives no valid component name` };
  if (RUMPRUN_PLATFORM_LIBS.has(lib)) return { skip: `${lib} is part of rumprun's platform, not a kernel component (rumpkg import platform)` };
  return { lib };
}

/** The registry name for a library the catalog does not know. Pure. */
function nameForLib(lib: string): string {
  const rest = lib.replace(/^librump/, '');
  if (rest === '') return 'base';
  return rest.toLowerCase().replace(/_+/g, '-').replace(/^-|-$/g, '');
}

const majorRange = (version: string): string => `^${version.split('.')[0]}.0.0`;
const scoped = (name: string): string => `${DEFAULT_SCOPE}/${name}`;

/** Host libraries a posix archive's undefined references need. Pure. */
function hostLdflags(undefinedNames: readonly string[]): string[] {
  const out: string[] = [];
  if (undefinedNames.some((n) => /^(dlopen|dlsym|dlerror|dlclose|dladdr|dlinfo)$/.test(n))) out.push('-ldl');
  if (undefinedNames.some((n) => n.startsWith('pthread_'))) out.push('-lpthread');
  return out;
}

const MACHINE_OF_ARCH: Record<string, number[]> = {
  x86_64: [62],
  i386: [3],
  aarch64: [183],
  arm: [40],
  riscv64: [243],
  powerpc: [20],
  powerpc64: [21],
  sparc64: [43],
  mips: [8],
};

interface Planned {
  lib: string;
  name: string;
  entry: CatalogEntry | undefined;
  file: string;
  scan: ArchiveScan;
  /** The `rump/` header directory to ship with this component (the base component only). */
  headers?: string;
}

/**
 * Imports every `librump*.a` of `dir` for one target (see the module head). Returns what was
 * written, what was skipped, warnings and the symbol analysis. Nothing is written on failure.
 */
export async function importArchives(dir: string, options: ImportArchivesOptions): Promise<ImportResult> {
  const { arch } = parseTarget(options.target);
  const version = parseVersion(options.version, { what: 'import version' });
  const catalog = options.catalog ?? loadCatalog();
  const root = resolve(dir);
  const out = resolve(options.out ?? join(root, '..', 'rump-components'));
  // Options are checked before anything is read or written.
  if (options.upstreamCommit !== undefined && !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(options.upstreamCommit)) {
    throw new RumpkgError('E_USAGE', `--upstream-commit ${JSON.stringify(options.upstreamCommit)} is not a full git commit id`, { hint: 'give the 40-digit hex id of the commit the archives were built from' });
  }
  if (options.upstreamRef !== undefined && !/^[A-Za-z0-9._/-]{1,200}$/.test(options.upstreamRef)) {
    throw new RumpkgError('E_USAGE', `--upstream-ref ${JSON.stringify(options.upstreamRef)} is not a branch or tag name`, { hint: 'e.g. netbsd-10-0-RELEASE' });
  }
  let names: string[];
  try {
    // Synchronous, as the reads below: one directory listing costs less than starting libuv's
    // thread pool for it (the first asynchronous call starts its threads: ~1–3 ms, more under load).
    names = readdirSync(root, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
  } catch (e) {
    throw fsError(e, root, 'read directory');
  }
  const warnings: string[] = [];
  const skipped: SkippedFile[] = [];
  const libs: Array<{ lib: string; file: string }> = [];
  for (const f of names) {
    const c = classifyArchiveFile(f);
    if ('skip' in c) skipped.push({ file: join(root, f), reason: c.skip });
    else libs.push({ lib: c.lib, file: join(root, f) });
  }
  if (libs.length === 0) {
    throw new RumpkgError('E_NOT_FOUND', `no rump kernel archives (librump*.a) in ${root}`, {
      context: { path: root, skipped },
      hint: 'point it at the lib directory of a buildrump.sh build (rump/lib) or a NetBSD /usr/lib',
    });
  }

  // Names and the headers come from the file list and the catalog, before the archives are read:
  // the staging of the component directories starts from them.
  const byLib = new Map(catalog.components.map((c) => [c.lib, c]));
  const takenNames = new Set(catalog.components.flatMap((c) => [c.name, ...c.aliases]));
  const named = libs.map(({ lib, file }) => {
    const entry = byLib.get(lib);
    let name = entry?.name ?? nameForLib(lib);
    if (entry === undefined && takenNames.has(name)) name = `x-${name}`;
    return { lib, file, entry, name, headers: undefined as string | undefined };
  });
  // Two archives that would make one component directory: refused before anything is written.
  const byName = new Map<string, string>();
  for (const n of named) {
    const other = byName.get(n.name);
    if (other !== undefined) {
      throw new RumpkgError('E_NAME', `${other} and ${n.file} would both be component ${scoped(n.name)}`, {
        context: { component: scoped(n.name), path: n.file, paths: [other, n.file] },
        hint: 'import them from separate directories, or remove one of them',
      });
    }
    byName.set(n.name, n.file);
  }
  // The rump kernel headers travel with the base component (librump: its public API).
  const includeRoot = options.include === false ? undefined : resolve(options.include ?? join(root, '..', 'include'));
  if (includeRoot !== undefined) {
    const rumpDir = join(includeRoot, 'rump');
    let has = false;
    try {
      has = statSync(join(rumpDir, 'rump.h')).isFile();
    } catch {
      // absent or unreadable: no headers
    }
    if (has) {
      const base = named.find((p) => p.lib === 'librump');
      if (base !== undefined) base.headers = rumpDir;
    } else if (options.include !== undefined) {
      throw new RumpkgError('E_NOT_FOUND', `${includeRoot} holds no rump/rump.h`, { context: { path: includeRoot }, hint: 'give the include directory of the build (the one that has rump/rump.h)' });
    }
  }

  // Writing starts now, into a staging directory (component-staging.ts), and overlaps the reading
  // and analysis below; a failure of those abandons it.
  const staging =
    options.dryRun === true
      ? undefined
      : startComponentStaging(
          out,
          named.map((n) => ({ name: n.name, manifestName: scoped(n.name), lib: n.lib, file: n.file, ...(n.headers === undefined ? {} : { headers: n.headers }) })),
          { target: options.target, version },
        );
  let manifests: Array<{ p: Planned; manifest: ComponentManifest }>;
  let analysis: SymbolAnalysis;
  try {
    ({ manifests, analysis } = await describeArchives(named, options, { arch, version, catalog, byLib, takenNames, warnings, stagingRuns: staging !== undefined }));
  } catch (e) {
    await staging?.abandon();
    throw e;
  }

  const result: ImportResult = {
    target: options.target,
    version,
    out,
    components: [],
    skipped,
    warnings,
    findings: analysis.findings,
    analysis,
  };
  if (staging === undefined) {
    result.components = manifests
      .map(({ p, manifest }) => ({ name: manifest.name, lib: p.lib, known: p.entry !== undefined, dir: join(out, p.name), source: p.file, merged: false, manifest }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    return result;
  }
  const written = await staging.finish(manifests.map((m) => m.manifest));
  result.components = manifests
    .map(({ p }, i) => {
      const w = written[i] as WrittenComponent;
      return { name: w.manifest.name, lib: p.lib, known: p.entry !== undefined, dir: w.dir, source: p.file, merged: w.merged, manifest: w.manifest };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return result;
}

/**
 * Reads and scans the archives (checking each fits the target), analyses their symbols and
 * builds each component's manifest; adds warnings to `ctx.warnings`. Writes nothing.
 */
async function describeArchives(
  libs: ReadonlyArray<{ lib: string; file: string; entry: CatalogEntry | undefined; name: string; headers: string | undefined }>,
  options: ImportArchivesOptions,
  ctx: { arch: string; version: string; catalog: Catalog; byLib: ReadonlyMap<string, CatalogEntry>; takenNames: ReadonlySet<string>; warnings: string[]; stagingRuns: boolean },
): Promise<{ manifests: Array<{ p: Planned; manifest: ComponentManifest }>; analysis: SymbolAnalysis }> {
  const { arch, version, catalog, byLib, takenNames, warnings } = ctx;
  // Read and scan (bounded concurrency: archives can be large).
  const planned: Planned[] = new Array<Planned>(libs.length);
  let done = 0;
  let next = 0;
  const wantMachines = MACHINE_OF_ARCH[arch];
  const worker = async (): Promise<void> => {
    while (next < libs.length) {
      const i = next++;
      const { lib, file, entry, name, headers } = libs[i] as (typeof libs)[number];
      // Positioned reads (synchronous: many small reads of files just listed, likely cached):
      // member headers and symbol tables, not the archives' code and data.
      const scan = await readArchiveScan(file, { lib, sync: true });
      if (wantMachines !== undefined && scan.machine !== null && !wantMachines.includes(scan.machine)) {
        throw new RumpkgError('E_ARCH', `${file} holds ${scan.machineName} objects, but the target is ${options.target}`, {
          context: { file, machine: scan.machineName, target: options.target },
          hint: 'import each target from the archives built for it',
        });
      }
      if (options.target.startsWith('posix-')) {
        // A posix (Linux-hosted) image finds components through constructors only.
        const wrong = scan.registrations.find((r) => r.via === 'link-set');
        if (wrong !== undefined) {
          throw new RumpkgError('E_TARGET', `${file}(${wrong.member}) registers its components through link_set_rump_components (a NetBSD-native or rumprun build), but ${options.target} images find components through constructors`, {
            context: { file, member: wrong.member, via: wrong.via, target: options.target },
            hint: 'these archives are for a bare-metal target (e.g. --target hw-x86_64); import the buildrump.sh posix build for posix targets',
          });
        }
      } else await checkFreestanding(file, options.target);
      planned[i] = { lib, name, entry, file, scan, ...(headers === undefined ? {} : { headers }) };
      options.onProgress?.(++done, libs.length);
      // The reads are synchronous: while a staging runs, the event loop turns here, so that its
      // file operations that completed on the thread pool start their next ones.
      if (ctx.stagingRuns) await new Promise<void>((r) => setImmediate(r));
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, libs.length) }, worker));

  const analysis = analyzeArchives(
    planned.map((p) => p.scan),
    { catalog },
  );
  const nameOf = new Map(planned.map((p) => [p.lib, p.name]));
  const libName = (lib: string): string => nameOf.get(lib) ?? byLib.get(lib)?.name ?? nameForLib(lib);
  const range = majorRange(version);
  const provenance = {
    ...(options.upstreamRef === undefined ? {} : { ref: options.upstreamRef }),
    ...(options.upstreamCommit === undefined ? {} : { commit: options.upstreamCommit }),
  };
  if (options.upstreamRef === undefined && options.upstreamCommit === undefined) {
    warnings.push('no --upstream-ref or --upstream-commit: the manifests record no upstream ref (unknown); rumpkg verify --upstream needs one');
  }

  const manifests: Array<{ p: Planned; manifest: ComponentManifest }> = [];
  for (const p of planned) {
    const { entry, scan } = p;
    const a = analysis.archives[p.lib];
    if (entry === undefined) {
      warnings.push(`${p.lib} is not in the catalog: imported as ${scoped(p.name)} with dependencies from its symbols only (licence ${options.license ?? 'LicenseRef-unknown'}); review its manifest`);
    } else if (!catalogShipsTarget(entry, options.target)) {
      warnings.push(`the catalog does not expect ${p.lib} on ${options.target} (${entry.platforms.join('/')}${entry.arches === null ? '' : ` ${entry.arches.join('/')}`}); imported anyway`);
    }
    if (scan.evidence.defined === 0 && scan.registrations.length === 0) warnings.push(`${p.lib} defines no global symbol and registers no rump component: is it empty?`);
    const w = analysis.write[p.lib] ?? { hard: [], optional: [], anyOf: [], conflicts: [] };
    // Init levels: what the binary registers (constructors or link-set entries) wins over the catalog.
    const binaryLevels = sortLevels(scan.registrations.flatMap((r) => (r.level === null ? [] : [r.level])));
    const catalogLevels = entry?.initLevels ?? [];
    if (entry !== undefined && binaryLevels.join() !== sortLevels(catalogLevels).join()) {
      warnings.push(`${p.lib}: the archive registers ${binaryLevels.length === 0 ? 'no component' : binaryLevels.join(', ')}; the catalog says ${catalogLevels.length === 0 ? 'none' : catalogLevels.join(', ')} (the archive is used)`);
    }
    const target: TargetEntry = { archive: `lib/${options.target}/${p.lib}.a`, symbols: scan.evidence };
    if (p.headers !== undefined) target.include = `include/${options.target}`;
    const abiFlags = a?.commonSymbols === true ? ['-fcommon'] : [];
    if (abiFlags.length > 0) target.abiFlags = abiFlags;
    const ld = options.target.startsWith('posix-') ? hostLdflags(scan.undefined) : [];
    if (ld.length > 0) target.ldflags = ld;
    const deps = Object.fromEntries(w.hard.map((l) => [scoped(libName(l)), range]));
    const opt = Object.fromEntries(w.optional.map((l) => [scoped(libName(l)), range]));
    const isPlatform = entry?.kind === 'platform' || (entry === undefined && p.lib === 'librumpuser');
    const manifest = normalizeManifest({
      name: scoped(p.name),
      version,
      license: entry?.license ?? options.license ?? 'LicenseRef-unknown',
      description: entry?.description ?? `${p.lib} (imported; not in the rumpkg catalog)`,
      keywords: ['rump-component', `rump-lib:${p.lib}`, ...(entry?.provides ?? []).map((c) => `rump-provides:${c}`)],
      dependencies: deps,
      rump: {
        schemaVersion: 1,
        kind: isPlatform ? 'platform' : 'component',
        lib: p.lib,
        aliases: entry?.aliases ?? aliasesFor(p.lib, p.name, takenNames),
        faction: entry?.faction ?? factionFor(p.lib),
        initLevels: [...new Set(binaryLevels)],
        requires: entry?.requires ?? [],
        provides: entry?.provides ?? (isPlatform ? [`hypercall:${HYPERCALL_ABI_VERSION}`] : []),
        conflicts: [...new Set([...(entry?.conflicts ?? []), ...w.conflicts.map(libName)])].map(scoped),
        // Any one of each group must be linked (symbols several archives define, such as ifunit).
        ...(w.anyOf.length === 0 ? {} : { anyOf: w.anyOf.map((g) => g.map((l) => scoped(libName(l))).sort()) }),
        optionalDependencies: opt,
        targets: { [options.target]: target },
        ...(entry === undefined
          ? {}
          : {
              upstream: {
                project: entry.upstream.project,
                repository: entry.upstream.repository,
                ...provenance,
                path: entry.upstream.path,
              },
            }),
      },
    });
    manifests.push({ p, manifest });
  }

  return { manifests, analysis };
}

/** Init levels in the real run order (INIT_LEVEL_RUN_ORDER), unknown ones last, duplicates kept. */
function sortLevels(levels: readonly string[]): string[] {
  const order = (l: string): number => {
    const i = (INIT_LEVEL_RUN_ORDER as readonly string[]).indexOf(l);
    return i < 0 ? 1e6 : i;
  };
  return [...levels].sort((a, b) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** A freestanding target takes link-set archives only (registration.ts): E_TARGET for a posix build. */
async function checkFreestanding(file: string, target: string): Promise<void> {
  const source = await openFileSource(file, { sync: true });
  try {
    const problem = freestandingArchiveProblem(await readArchiveTables(source), { target, what: file });
    if (problem !== null) throw problem;
  } finally {
    await source.close();
  }
}

function factionFor(lib: string): string {
  const m = /^librump(kern|vfs|fs|net|dev)?/.exec(lib);
  const f = m?.[1];
  return f === undefined ? 'none' : f === 'fs' ? 'vfs' : f;
}

function aliasesFor(lib: string, name: string, taken: ReadonlySet<string>): string[] {
  const cands = [lib, lib.replace(/^lib/, '')];
  return [...new Set(cands)].filter((a) => a !== name && !taken.has(a));
}
