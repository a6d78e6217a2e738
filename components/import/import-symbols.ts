/**
 * Symbol analysis of a set of rump kernel archives (`rumpkg import archives`): which archive
 * defines the rump-namespace symbols each archive needs, and where that contradicts the catalog.
 *
 * `scanArchive` reads one archive (I/O-free: bytes in); `analyzeArchives` is pure. The rules
 * (REAL-ARCHIVES.md is the evidence they are built on):
 *
 * - **Which references count**: strong undefined names starting with `rump` (`rumpns_*`,
 *   `rump_*`, `rumpvfs_*` …) except `rumpuser_*` / `rumpcomp_*`, the hypercalls the platform
 *   package provides, and `rump_component_load`, the registration hook of the base every
 *   closure holds. Host libc references (host-side hypercall code) are not edges.
 * - **Who provides a name**: every other archive defining it, split into strong, weak and
 *   common (`-fcommon` tentative) definitions.
 *   - exactly one strong provider and no weak one → a **hard** edge;
 *   - weak providers (a stub such as `librumpnet`'s `agr_input`) → the weak provider is the
 *     hard edge (the link always succeeds with it) and every strong provider that overrides it
 *     becomes an **optional** edge (`librumpnet_net` → `librumpnet_agr`);
 *   - two or more strong providers (`rumpns_ifunit` in `librumpnet_net` and
 *     `librumpnet_sockin`) → an **any-of** requirement: never two hard edges, because the
 *     providers usually conflict;
 *   - only common definitions: one → hard; several → any-of (shared commons);
 *   - a weakly referenced name that some archive defines → an optional edge.
 * - **Comparison with the catalog** (only where both ends are catalog components):
 *   - a hard symbol edge is `confirmed` (a catalog hard edge), `capability` (the source
 *     requires a capability the target provides, e.g. `bus:pci`), `implied` (the target is
 *     already in the transitive closure of the source's catalog hard edges) or `missing`;
 *   - an any-of requirement none of whose providers is in that closure is `missing-any-of`;
 *   - a catalog hard edge to an imported archive that no symbol proves is `unneeded`;
 *     `expected: true` marks those the catalog documents as sufficient-not-needed (kinds
 *     `link-set`, `ioconf-attach`) and edges to activation shims (archives with no global
 *     definitions, such as `librumpnet_netinet`: nothing can reference them by symbol).
 * - **Edges written into manifests**: the catalog's hard edges ∪ the `missing` symbol edges
 *   (confirmed, capability and implied edges add nothing to the closure). For archives the
 *   catalog does not know: every hard symbol edge, minus those implied by another one's catalog
 *   closure. Optional edges: the catalog's ∪ the symbol-proven ones, minus hard ones. Any-of
 *   requirements between strong providers are written as any-of groups (one of them must be
 *   linked), never as hard edges.
 * - **Conflicts proven by symbols**: two archives that define the same strong global cannot be
 *   linked together (`librumpnet_net` × `librumpnet_sockin`: `ifunit`, `ifreq_setaddr`,
 *   `rtrequest`, `ifpromisc`); both manifests record the conflict.
 */
import { Buffer } from 'node:buffer';
import {
  archiveDefinitions,
  archiveTables,
  linkSetLevels,
  openFileSource,
  readArchiveTables,
  readWholeFileSync,
  registeringObjects,
  symbolDigest,
  tableRegistrations,
  type ArchiveRegistration,
  type ArchiveTables,
  type ReadBuffer,
} from '../binary/index.js';
import type { Catalog, CatalogEntry } from '../catalog/index.js';
import type { SymbolEvidence } from '../model/index.js';

/** What the analysis needs from one archive. */
export interface ArchiveScan {
  /** Library name (`librumpnet_net`), from the file name. */
  lib: string;
  file: string;
  machine: number | null;
  machineName: string | null;
  class: 32 | 64 | null;
  /** Defined names by strength (a name defined strong anywhere in the archive is strong). */
  strong: string[];
  weak: string[];
  common: string[];
  /** Strong undefined names no member defines. */
  undefined: string[];
  /** Weak-only undefined names no member defines. */
  weakUndefined: string[];
  /** Link-set entries (`struct rump_component`s) the archive carries. */
  linkSetEntries: number;
  /** The components the archive registers, by member (constructors or link-set entries; registrations.ts). */
  registrations: ArchiveRegistration[];
  evidence: SymbolEvidence;
}


/**
 * Archives up to this size are read whole, in one read, with `sync` (then parsed in memory by
 * the same readers): for archives of a few MB in the page cache one read(2) costs less than
 * walking member headers and symbol tables with positioned reads through read-ahead windows.
 * Larger ones keep the positioned reads (their code and data are never read).
 */
const WHOLE_ARCHIVE = 32 * 1024 * 1024;

/**
 * The buffer every whole-archive read goes into. Safe to share: such an archive is read and
 * scanned synchronously (no await between the read and the end of the scan), and the scan
 * keeps no view of the bytes (names are decoded into strings of their own).
 */
const wholeArchive: ReadBuffer = { buf: Buffer.alloc(0) };

/**
 * The symbols of one archive for `analyzeArchives` (E_NOT_FOUND / E_EACCES / E_ELF / E_ARCH):
 * with `sync` and an archive up to WHOLE_ARCHIVE bytes, read whole in one read; otherwise with
 * positioned reads of member headers, symbol tables, string tables and link sets only. Both
 * paths run the same checks and give the same answers (`archiveTables` ≡ `readArchiveTables`).
 */
export async function readArchiveScan(path: string, options: { lib: string; sync?: boolean }): Promise<ArchiveScan> {
  if (options.sync === true) {
    const bytes = readWholeFileSync(path, WHOLE_ARCHIVE, wholeArchive);
    if (bytes !== null) {
      const t = archiveTables(bytes, { file: path });
      return scanTables(t, options.lib, tableRegistrations(t, (o, n) => bytes.subarray(o, o + n)));
    }
  }
  const source = await openFileSource(path, { sync: options.sync ?? false });
  try {
    const t = await readArchiveTables(source);
    const members = new Map<number, Uint8Array>();
    for (const o of registeringObjects(t)) members.set(o.offset, await source.read(o.offset, o.size));
    return scanTables(t, options.lib, tableRegistrations(t, (o) => members.get(o) as Uint8Array));
  } finally {
    await source.close();
  }
}

function scanTables(t: ArchiveTables, lib: string, registrations: ArchiveRegistration[]): ArchiveScan {
  // One walk of the symbol tables: the summary and how each defined name is defined.
  const s = archiveDefinitions(t);
  const weak = s.weakDefined;
  const common = s.commonDefined;
  const strongSomewhere = s.strongToo;
  // Strong: the defined names less those only weakly or commonly defined (the sets are small).
  const notStrong = (n: string): boolean => (weak.has(n) || common.has(n)) && !strongSomewhere.has(n);
  const strong = weak.size === 0 && common.size === 0 ? s.defined : s.defined.filter((n) => !notStrong(n));
  const evidence: SymbolEvidence = { defined: s.defined.length, digest: symbolDigest(s.defined) };
  if (s.linkSet?.types != null && s.linkSet.types.length > 0) evidence.linkSet = linkSetLevels(s.linkSet.types);
  const ctors = registrations.filter((r) => r.via === 'constructor').map((r) => r.level ?? 'unknown');
  if (ctors.length > 0) evidence.constructors = ctors.sort();
  return {
    lib,
    file: t.file,
    machine: s.machine,
    machineName: s.machineName,
    class: s.class,
    strong,
    weak: [...weak].filter((n) => !strongSomewhere.has(n)).sort(),
    common: [...common].filter((n) => !strongSomewhere.has(n) && !weak.has(n)).sort(),
    undefined: s.undefined,
    weakUndefined: s.weakUndefined,
    linkSetEntries: s.linkSet?.entries ?? 0,
    registrations,
    evidence,
  };
}

/**
 * Whether an undefined name is a rump kernel reference: not a hypercall (`rumpuser_*`,
 * `rumpcomp_*`, which the platform package provides), not host libc, and not
 * `rump_component_load` — the registration hook every constructor-registered component calls,
 * which the base (librump) of every rump kernel defines.
 */
function isRumpReference(name: string): boolean {
  return name.startsWith('rump') && !name.startsWith('rumpuser_') && !name.startsWith('rumpcomp_') && name !== 'rump_component_load';
}

/** Symbol evidence for one edge: how many names, a few examples. */
interface EdgeEvidence {
  count: number;
  examples: string[];
}

interface AnyOfRequirement {
  /** Libraries any one of which satisfies the names (sorted). */
  providers: string[];
  /** `strong` (several strong definitions), `weak` (several weak stubs) or `common` (shared commons). */
  kind: 'strong' | 'weak' | 'common';
  count: number;
  examples: string[];
}

interface ArchiveAnalysis {
  lib: string;
  /** Hard symbol edges: provider library → evidence. */
  hard: Record<string, EdgeEvidence>;
  /** Optional symbol edges (overrides of weak stubs, weak references). */
  optional: Record<string, EdgeEvidence>;
  anyOf: AnyOfRequirement[];
  /** Rump-namespace names no archive of the set defines. */
  unresolved: EdgeEvidence;
  /** True when the archive defines no global symbol (an activation shim, or empty). */
  noGlobals: boolean;
  /** The archive holds common (tentative) definitions: it was built with -fcommon. */
  commonSymbols: boolean;
}

type SymbolEdgeStatus = 'confirmed' | 'capability' | 'implied' | 'missing';

export interface EdgeFinding {
  /** Source and target libraries. */
  from: string;
  to: string;
  status: 'missing' | 'missing-any-of' | 'unneeded' | 'conflict';
  /** For `missing-any-of`: the alternatives. */
  providers?: string[];
  /** Catalog evidence kinds of an `unneeded` edge. */
  kinds?: string[];
  /** True for unneeded edges the catalog documents as sufficient-not-needed, or to shims. */
  expected?: boolean;
  reason: string;
  examples?: string[];
}

export interface SymbolAnalysis {
  archives: Record<string, ArchiveAnalysis>;
  /** Per source library: target library → status of each hard symbol edge. */
  status: Record<string, Record<string, SymbolEdgeStatus>>;
  findings: EdgeFinding[];
  /**
   * Per library: the hard and optional edges to write, the any-of groups (libraries, any one
   * of which must be linked) and the libraries it conflicts with (both define the same strong
   * global: the link fails with multiple definitions).
   */
  write: Record<string, { hard: string[]; optional: string[]; anyOf: string[][]; conflicts: string[] }>;
}

const EXAMPLES = 5;

function add(map: Record<string, EdgeEvidence>, key: string, name: string): void {
  const e = (map[key] ??= { count: 0, examples: [] });
  e.count++;
  if (e.examples.length < EXAMPLES) e.examples.push(name);
}

interface Providers {
  strong: string[];
  weak: string[];
  common: string[];
}

/**
 * Who defines each name some archive references (only those: indexing every definition of a
 * real set would cost more than the scan). Strong providers are one string or several. And the
 * strong conflicts: pairs of archives that define the same strong global (the link of both fails
 * with "multiple definition"): library → other library → the shared names. Weak and common
 * definitions merge and are not conflicts.
 */
function providerIndex(scans: readonly ArchiveScan[]): { idx: Map<string, Providers>; clashes: Map<string, Map<string, string[]>> } {
  // Indexed loops throughout: these run once per process, mostly before the engine optimises
  // them, where `for … of` costs an iterator result per element.
  const wanted = new Set<string>();
  for (let k = 0; k < scans.length; k++) {
    const s = scans[k] as ArchiveScan;
    for (let i = 0; i < s.undefined.length; i++) if (isRumpReference(s.undefined[i] as string)) wanted.add(s.undefined[i] as string);
    for (let i = 0; i < s.weakUndefined.length; i++) if (isRumpReference(s.weakUndefined[i] as string)) wanted.add(s.weakUndefined[i] as string);
  }
  const idx = new Map<string, Providers>();
  const put = (name: string, lib: string, kind: keyof Providers): void => {
    let p = idx.get(name);
    if (p === undefined) idx.set(name, (p = { strong: [], weak: [], common: [] }));
    p[kind].push(lib);
  };
  // One walk of every strong definition serves both indexes (the set's largest lists).
  const first = new Map<string, string>();
  const clashes = new Map<string, Map<string, string[]>>();
  const note = (a: string, b: string, name: string): void => {
    let m = clashes.get(a);
    if (m === undefined) clashes.set(a, (m = new Map()));
    m.set(b, [...(m.get(b) ?? []), name]);
  };
  for (let k = 0; k < scans.length; k++) {
    const s = scans[k] as ArchiveScan;
    const lib = s.lib;
    for (let i = 0; i < s.strong.length; i++) {
      const n = s.strong[i] as string;
      if (wanted.has(n)) put(n, lib, 'strong');
      const other = first.get(n);
      if (other === undefined) first.set(n, lib);
      else if (other !== lib) {
        note(lib, other, n);
        note(other, lib, n);
      }
    }
    for (let i = 0; i < s.weak.length; i++) if (wanted.has(s.weak[i] as string)) put(s.weak[i] as string, lib, 'weak');
    for (let i = 0; i < s.common.length; i++) if (wanted.has(s.common[i] as string)) put(s.common[i] as string, lib, 'common');
  }
  return { idx, clashes };
}

/** Per archive: hard, optional and any-of edges proven by its references. Pure. */
function symbolEdges(scan: ArchiveScan, idx: Map<string, Providers>): ArchiveAnalysis {
  const hard: Record<string, EdgeEvidence> = {};
  const optional: Record<string, EdgeEvidence> = {};
  const anyOf = new Map<string, AnyOfRequirement>();
  const unresolved: EdgeEvidence = { count: 0, examples: [] };
  const addAnyOf = (providers: string[], kind: AnyOfRequirement['kind'], name: string): void => {
    const sorted = [...providers].sort();
    const key = `${kind}:${sorted.join('|')}`;
    const a = anyOf.get(key) ?? { providers: sorted, kind, count: 0, examples: [] };
    a.count++;
    if (a.examples.length < EXAMPLES) a.examples.push(name);
    anyOf.set(key, a);
  };
  const none: string[] = [];
  /** `libs` less this archive (the list itself when it is not in it: most names). */
  const other = (libs: string[]): string[] => (libs.includes(scan.lib) ? libs.filter((l) => l !== scan.lib) : libs);
  for (let i = 0; i < scan.undefined.length; i++) {
    const name = scan.undefined[i] as string;
    if (!isRumpReference(name)) continue;
    const p = idx.get(name);
    const strong = p === undefined ? none : other(p.strong);
    const weak = p === undefined ? none : other(p.weak);
    const common = p === undefined ? none : other(p.common);
    if (weak.length > 0) {
      if (weak.length === 1) add(hard, weak[0] as string, name);
      else addAnyOf(weak, 'weak', name);
      for (const s of strong) add(optional, s, name);
    } else if (strong.length === 1) add(hard, strong[0] as string, name);
    else if (strong.length > 1) addAnyOf(strong, 'strong', name);
    else if (common.length === 1) add(hard, common[0] as string, name);
    else if (common.length > 1) addAnyOf(common, 'common', name);
    else add({ u: unresolved }, 'u', name);
  }
  for (const name of scan.weakUndefined) {
    if (!isRumpReference(name)) continue;
    const p = idx.get(name);
    if (p === undefined) continue;
    for (const l of new Set(other([...p.strong, ...p.weak, ...p.common]))) add(optional, l, name);
  }
  for (const l of Object.keys(hard)) delete optional[l];
  return {
    lib: scan.lib,
    hard: sortRecord(hard),
    optional: sortRecord(optional),
    anyOf: [...anyOf.values()].sort((a, b) => (a.providers.join() < b.providers.join() ? -1 : 1)),
    unresolved,
    noGlobals: scan.evidence.defined === 0,
    commonSymbols: scan.common.length > 0,
  };
}

function sortRecord<V>(r: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.keys(r).sort().map((k) => [k, r[k] as V]));
}

/** Library-keyed view of a catalog (the importer works in library names). */
interface CatalogByLib {
  entry(lib: string): CatalogEntry | undefined;
  /** Hard dependencies of `lib` as libraries. */
  hard(lib: string): string[];
  /** Every library reachable from `lib` over catalog hard edges (excluding `lib`). */
  closure(lib: string): Set<string>;
}

function catalogByLib(catalog: Catalog): CatalogByLib {
  const byLib = new Map(catalog.components.map((c) => [c.lib, c]));
  const byName = new Map(catalog.components.map((c) => [c.name, c]));
  const hard = (lib: string): string[] =>
    (byLib.get(lib)?.dependencies ?? []).map((n) => byName.get(n)?.lib).filter((l): l is string => l !== undefined);
  const memo = new Map<string, Set<string>>();
  const closure = (lib: string): Set<string> => {
    let c = memo.get(lib);
    if (c !== undefined) return c;
    c = new Set<string>();
    const stack = [...hard(lib)];
    while (stack.length > 0) {
      const l = stack.pop() as string;
      if (c.has(l) || l === lib) continue;
      c.add(l);
      stack.push(...hard(l));
    }
    memo.set(lib, c);
    return c;
  };
  return { entry: (lib) => byLib.get(lib), hard, closure };
}

const EXPECTED_KINDS = /^(link-set|ioconf-attach)/;

/** Whether the catalog says `from` reaches `to` through a capability (requires ∩ provides, or a capability edge). */
function capabilityCovers(cat: CatalogByLib, from: string, to: string): boolean {
  const a = cat.entry(from);
  const b = cat.entry(to);
  if (a === undefined || b === undefined) return false;
  if (a.requires.some((c) => b.provides.includes(c))) return true;
  return a.edges.some((e) => e.to === to && e.as !== 'dependency' && e.as !== 'dropped');
}

/**
 * The symbol analysis of a set of archives against a catalog (see the module head). Pure.
 */
export function analyzeArchives(scans: readonly ArchiveScan[], options: { catalog: Catalog }): SymbolAnalysis {
  const { idx, clashes } = providerIndex(scans);
  const cat = catalogByLib(options.catalog);
  const present = new Map(scans.map((s) => [s.lib, s]));
  const archives: Record<string, ArchiveAnalysis> = {};
  for (const s of scans) archives[s.lib] = symbolEdges(s, idx);
  const status: SymbolAnalysis['status'] = {};
  const findings: EdgeFinding[] = [];
  const write: SymbolAnalysis['write'] = {};

  for (const s of [...scans].sort((a, b) => (a.lib < b.lib ? -1 : 1))) {
    const a = archives[s.lib] as ArchiveAnalysis;
    const entry = cat.entry(s.lib);
    const st: Record<string, SymbolEdgeStatus> = {};
    const hardOut = new Set<string>();
    if (entry !== undefined) {
      const catHard = new Set(cat.hard(s.lib));
      const closure = cat.closure(s.lib);
      for (const h of catHard) hardOut.add(h);
      for (const [to, ev] of Object.entries(a.hard)) {
        let v: SymbolEdgeStatus;
        if (catHard.has(to)) v = 'confirmed';
        else if (capabilityCovers(cat, s.lib, to)) v = 'capability';
        else if (cat.entry(to) === undefined) v = 'missing';
        else if (closure.has(to)) v = 'implied';
        else v = 'missing';
        st[to] = v;
        if (v !== 'missing') continue;
        const conflict = cat.entry(to) !== undefined && entry.conflicts.includes((cat.entry(to) as CatalogEntry).name);
        findings.push({
          from: s.lib,
          to,
          status: 'missing',
          reason: conflict
            ? `${s.lib} needs ${ev.count} symbol(s) only ${to} defines, but the catalog says they conflict (edge not written)`
            : cat.entry(to) === undefined
              ? `${s.lib} needs ${ev.count} symbol(s) only ${to} defines (not a catalog component)`
              : `${s.lib} needs ${ev.count} symbol(s) only ${to} defines; the catalog has no edge`,
          examples: ev.examples,
        });
        if (!conflict) hardOut.add(to);
      }
      for (const any of a.anyOf) {
        const ok = any.providers.some((p) => closure.has(p) || catHard.has(p) || capabilityCovers(cat, s.lib, p));
        if (ok) continue;
        findings.push({
          from: s.lib,
          to: any.providers.join(' | '),
          status: 'missing-any-of',
          providers: any.providers,
          reason: `${s.lib} needs ${any.count} symbol(s) that any one of ${any.providers.join(', ')} defines (${any.kind}); the catalog reaches none of them`,
          examples: any.examples,
        });
      }
      const proven = new Set([...Object.keys(a.hard), ...Object.keys(a.optional), ...a.anyOf.flatMap((x) => x.providers)]);
      for (const to of catHard) {
        if (proven.has(to)) continue;
        const target = present.get(to);
        if (target === undefined) continue; // not imported: nothing to judge
        const kinds = entry.edges.filter((e) => e.to === to).flatMap((e) => e.kinds);
        const shim = target.evidence.defined === 0;
        const expected = shim || kinds.some((k) => EXPECTED_KINDS.test(k));
        findings.push({
          from: s.lib,
          to,
          status: 'unneeded',
          kinds,
          expected,
          reason: shim
            ? `${to} defines no global symbol (an activation shim): nothing can reference it; the catalog edge is kept`
            : `no symbol of ${s.lib} is defined by ${to}${expected ? ' (catalog kind: sufficient, not needed; kept)' : ''}`,
        });
      }
    } else {
      // Not in the catalog: the symbol edges are all there is; drop those another edge implies.
      const targets = Object.keys(a.hard);
      for (const to of targets) {
        const implied = targets.some((o) => o !== to && cat.closure(o).has(to));
        st[to] = implied ? 'implied' : 'missing';
        if (!implied) hardOut.add(to);
      }
    }
    status[s.lib] = st;
    const optional = new Set<string>(entry === undefined ? [] : entry.optionalDependencies.map((n) => options.catalog.components.find((c) => c.name === n)?.lib).filter((l): l is string => l !== undefined));
    for (const o of Object.keys(a.optional)) optional.add(o);
    for (const h of hardOut) optional.delete(h);
    if (entry !== undefined) for (const c of entry.conflicts) {
      const l = options.catalog.components.find((x) => x.name === c)?.lib;
      if (l !== undefined) optional.delete(l);
    }
    optional.delete(s.lib);
    hardOut.delete(s.lib);
    const conflicts = new Set<string>();
    for (const [other, shared] of [...(clashes.get(s.lib) ?? new Map<string, string[]>())].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
      conflicts.add(other);
      hardOut.delete(other);
      optional.delete(other);
      if (s.lib < other) {
        findings.push({
          from: s.lib,
          to: other,
          status: 'conflict',
          reason: `${s.lib} and ${other} both define ${shared.length} strong symbol(s): linking both fails with multiple definitions`,
          examples: shared.slice(0, EXAMPLES).sort(),
        });
      }
    }
    // Any-of groups the catalog does not already satisfy through a hard edge.
    const anyOf = a.anyOf
      .filter((g) => g.kind === 'strong' && !g.providers.some((p) => hardOut.has(p)))
      .map((g) => g.providers)
      .filter((g, i, all) => all.findIndex((x) => x.join('|') === g.join('|')) === i);
    write[s.lib] = { hard: [...hardOut].sort(), optional: [...optional].sort(), anyOf, conflicts: [...conflicts].sort() };
  }
  return { archives, status, findings, write };
}
