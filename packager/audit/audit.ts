/**
 * `rumpkg audit` (DESIGN.md §1.4, §4.4; RELIABILITY.md IM-03): which components are in an image,
 * re-derived from its bytes and checked against the embedded claim.
 *
 * For every component it knows (`KnownComponent`s from `--components-dir`, the project's store
 * or the registry) the audit looks for its fingerprint in the image:
 * - its defined global symbols (names shared with another known component do not count as
 *   evidence of presence, e.g. a weak `bus:pci` attach several components define);
 * - its `link_set_rump_components` entries: by `rc_name` when the struct carries one, else by
 *   the init levels left once every component found otherwise has taken its own.
 *
 * Evidence per component:
 * - `confirmed`: claimed in the embedded manifest; symbols and link-set entries found as recorded;
 * - `modified`: claimed and present, but its symbols or link-set entries differ from the
 *   fingerprint (missing symbols, other levels), or the manifest records another fingerprint
 *   than the component rumpkg knows under that name and version;
 * - `claimed-but-absent`: claimed, but nothing of it is in the image;
 * - `present-but-unclaimed`: found by fingerprint, not in the manifest (every component found
 *   in an image without a manifest is this, and the report says `manifest: "missing"`);
 * - `unverified`: claimed, but rumpkg knows no fingerprint to check it against (no archive and
 *   no link-set record): give `--components-dir` or run in the project.
 *
 * Library code: no printing; the CLI renders the report.
 */
import { resolve } from 'node:path';
import {
  RUMP_COMPONENT_TYPES,
  RumpkgError,
  type ImageManifest,
  type Lockfile,
  type Target,
  type Upstream,
} from '../../components/index.js';
import { atOrAbove, matchAdvisories, type Advisory, type AdvisoryMatch, type AdvisoryTarget, type SeverityLevel } from './advisories.js';
import { contentVerdict, distinctiveIndex, type ContentVerdict } from './content.js';
import { readImage, sortStrings, type ImageEvidence, type KnownComponent, type LinkSetEntry } from './evidence.js';
import { checkLicenses, type LicenseReport } from './licenses.js';

const AUDIT_EVIDENCE = ['confirmed', 'modified', 'claimed-but-absent', 'present-but-unclaimed', 'unverified', 'locked'] as const;
type AuditEvidence = (typeof AUDIT_EVIDENCE)[number];

export interface AuditComponent {
  name: string;
  /** The version: claimed, locked, or the one fingerprint that matched; null when several matched equally. */
  version: string | null;
  /** Versions whose fingerprints match equally (more than one only without manifest and lockfile). */
  candidates: string[];
  license: string;
  lib: string;
  kind: string;
  upstream: Upstream | null;
  integrity: string | null;
  evidence: AuditEvidence;
  claimed: boolean;
  symbols: {
    /** Whether the defined names were known (an archive was read). */
    checked: boolean;
    expected: number | null;
    found: number;
    /** Up to 20 fingerprint symbols not found in the image. */
    missing: string[];
  };
  /** Registrations (constructors or link-set entries) by init level: expected from the fingerprint, found in the image. */
  linkSet: { expected: string[]; found: string[] };
  /** Content evidence: how many archive members are in the image byte for byte (when fingerprints were at hand). */
  content?: { members: { present: number; absent: number; modified: number; unverifiable: number }; modifiedMembers: string[] };
  reasons: string[];
}

function contentSummary(v: ContentVerdict): NonNullable<AuditComponent['content']> {
  const members = { present: 0, absent: 0, modified: 0, unverifiable: 0 };
  for (const m of v.members) members[m.state]++;
  return { members, modifiedMembers: v.members.filter((m) => m.state === 'modified').map((m) => m.member) };
}

export interface AuditReport {
  auditVersion: 1;
  kind: 'image' | 'lockfile';
  image: {
    path: string;
    sha256: string;
    bytes: number;
    machine: string;
    class: 32 | 64;
    endian: 'le' | 'be';
    symbolTable: string | null;
    definedSymbols: number;
    linkSetEntries: number | null;
  } | null;
  /** `embedded` / `missing` for images; `lockfile` for a lockfile audit. */
  manifest: 'embedded' | 'missing' | 'lockfile';
  target: Target | null;
  project: string | null;
  tool: string | null;
  components: AuditComponent[];
  /** Link-set entries no known component accounts for. */
  unattributedLinkSet: LinkSetEntry[];
  licenses: LicenseReport;
  advisories: AdvisoryMatch[];
  notes: string[];
}

export interface AuditOptions {
  /** Components to match fingerprints against (all versions and targets welcome). */
  knownComponents?: readonly KnownComponent[];
  /** Prefers locked versions when several versions' fingerprints match. */
  lockfile?: Lockfile;
  /**
   * Extra known components on demand (e.g. the registry): called once with the component names
   * the manifest claims and the library names the link set carries.
   */
  lookup?: (hint: { names: string[]; libs: string[]; target: Target | null }) => Promise<KnownComponent[]>;
  /** The target, when the image has no manifest to say it. */
  target?: Target;
  advisories?: readonly Advisory[];
  deny?: readonly string[];
}

/** Images up to this size are read whole for their registrations even without fingerprints to match. */
const CONTENT_MAX_BYTES = 256 * 1024 * 1024;

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const bare = (name: string): string => name.replace(/^@[^/]+\//, '');

function semverKey(v: string): number[] {
  return v.split(/[.+-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : 0));
}
function newestFirst(a: string, b: string): number {
  const x = semverKey(a);
  const y = semverKey(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
  return byString(a, b);
}

function sameMultiset(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}

/** Removes `want` from `pool` when all of it is there; returns whether it did. */
function takeLevels(pool: string[], want: readonly string[]): boolean {
  const copy = [...pool];
  for (const w of want) {
    const i = copy.indexOf(w);
    if (i < 0) return false;
    copy.splice(i, 1);
  }
  pool.splice(0, pool.length, ...copy);
  return true;
}

function expectedLevels(k: KnownComponent | undefined, claimed: ImageManifest['components'][number] | undefined): string[] {
  const levels = k?.recorded?.linkSet ?? k?.computed?.linkSet ?? claimed?.symbols?.linkSet ?? (k === undefined ? undefined : k.initLevels);
  return [...(levels ?? [])].sort();
}

interface Group {
  name: string;
  candidates: KnownComponent[];
  claimed?: ImageManifest['components'][number];
}

/** Ids of the image's defined names: the evidence's index when it has one, else a map over `defined`. */
function definedLookup(ev: ImageEvidence): { size: number; ids: (names: readonly string[]) => Int32Array } {
  const many = ev.definedIds;
  const one = ev.definedId;
  if (ev.definedCount !== undefined && many !== undefined) return { size: ev.definedCount, ids: (ns) => many.call(ev, ns) };
  const idOf = (n: string): number => m?.get(n) ?? -1;
  let m: Map<string, number> | undefined;
  if (ev.definedCount === undefined || one === undefined) {
    m = new Map<string, number>();
    for (const n of ev.defined) if (!m.has(n)) m.set(n, m.size);
  }
  const single = m === undefined ? (n: string): number => (one as (n: string) => number).call(ev, n) : idOf;
  return {
    size: m === undefined ? (ev.definedCount as number) : m.size,
    ids: (ns) => {
      const out = new Int32Array(ns.length);
      for (let i = 0; i < ns.length; i++) out[i] = single(ns[i] as string);
      return out;
    },
  };
}

/** The audit of evidence already read (pure: no I/O). */
export function planImageAudit(ev: ImageEvidence, known: readonly KnownComponent[], options: Omit<AuditOptions, 'knownComponents' | 'lookup'> = {}): AuditReport {
  const notes: string[] = [];
  const manifest = ev.manifest;
  let target: Target | null = manifest?.target ?? options.target ?? null;
  // Every known name is looked up once in the image's index (no string per image symbol, no
  // set of every known name): ids ≥ 0 are names the image defines. Arrays shared by several
  // versions (same archive) are looked up once.
  const { size: idSpace, ids: lookupMany } = definedLookup(ev);
  const idCache = new Map<readonly string[], Int32Array>();
  {
    // One batch for every list (the index answers a big batch bucket by bucket, in cache).
    const lists = [...new Set(known.flatMap((k) => (k.defined === undefined ? [] : [k.defined])))];
    const all: string[] = [];
    for (const d of lists) for (const n of d) all.push(n);
    const ids = lookupMany(all);
    let off = 0;
    for (const d of lists) {
      idCache.set(d, ids.subarray(off, off + d.length));
      off += d.length;
    }
  }
  const idsOf = (d: readonly string[]): Int32Array => {
    let a = idCache.get(d);
    if (a === undefined) {
      a = lookupMany(d);
      idCache.set(d, a);
    }
    return a;
  };
  const presentCount = (d: readonly string[]): number => {
    const ids = idsOf(d);
    let n = 0;
    for (let i = 0; i < ids.length; i++) if ((ids[i] as number) >= 0) n++;
    return n;
  };

  // Which target's fingerprints to use when nothing says: the one whose archives explain most symbols.
  let pool = [...known];
  if (target === null) {
    const score = new Map<Target, number>();
    for (const k of pool) if (k.defined !== undefined) score.set(k.target, (score.get(k.target) ?? 0) + presentCount(k.defined));
    const best = [...score.entries()].sort((a, b) => b[1] - a[1] || byString(a[0], b[0]))[0];
    if (best !== undefined && best[1] > 0) {
      target = best[0];
      notes.push(`target ${target} inferred from the fingerprints (the image has no manifest to say it)`);
    }
  }
  if (target !== null) pool = pool.filter((k) => k.target === target);

  const groups = new Map<string, Group>();
  for (const k of pool) {
    if (!groups.has(k.name)) groups.set(k.name, { name: k.name, candidates: [] });
    groups.get(k.name)!.candidates.push(k);
  }
  // The claim: the embedded manifest; without one, the project's lockfile closure for the target.
  const lockClaim = manifest === null && target !== null ? options.lockfile?.targets[target] : undefined;
  const claims: ImageManifest['components'] =
    manifest?.components ??
    Object.entries(lockClaim?.components ?? {}).map(([name, c]) => ({ name, version: c.version, integrity: c.integrity, license: c.license, lib: c.lib, kind: c.kind }));
  for (const c of claims) {
    if (!groups.has(c.name)) groups.set(c.name, { name: c.name, candidates: [] });
    groups.get(c.name)!.claimed = c;
  }

  // A symbol defined by more than one component name is no evidence for either. Only names the
  // image defines matter (see bySymbols below): owner group per image name id, -2 when shared.
  const owner = new Int32Array(idSpace).fill(-1);
  let gi = 0;
  for (const g of groups.values()) {
    for (const k of g.candidates) {
      if (k.defined === undefined) continue;
      const ids = idsOf(k.defined);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as number;
        if (id < 0) continue;
        const o = owner[id] as number;
        if (o === -1) owner[id] = gi;
        else if (o !== gi) owner[id] = -2;
      }
    }
    gi++;
  }

  // Link-set entries carrying an rc_name are attributed by library name or alias.
  const libIndex = new Map<string, string>();
  for (const g of groups.values()) {
    const libs = new Set<string>([bare(g.name)]);
    if (g.claimed?.lib !== undefined) libs.add(g.claimed.lib);
    for (const k of g.candidates) {
      libs.add(k.lib);
      for (const a of k.aliases) libs.add(a);
    }
    for (const l of libs) if (!libIndex.has(l)) libIndex.set(l, g.name);
  }
  // Registrations: the link set, or (images whose components register through constructors)
  // the ones read from the image's content, with the struct's name where it carries one.
  const entries: LinkSetEntry[] =
    ev.linkSet ??
    (ev.content?.registrations.map((r) => ({ level: r.type === null ? null : (RUMP_COMPONENT_TYPES[r.type] ?? `rc_type:${r.type}`), rcName: r.name })) ?? []);
  const named = entries.length > 0 && entries.every((e) => e.rcName !== null);
  const foundLevels = new Map<string, string[]>();
  const residual: string[] = [];
  const unattributed: LinkSetEntry[] = [];
  for (const e of entries) {
    const owner = e.rcName === null ? undefined : libIndex.get(e.rcName);
    if (owner !== undefined) {
      if (!foundLevels.has(owner)) foundLevels.set(owner, []);
      foundLevels.get(owner)!.push(e.level ?? 'unknown');
    } else if (e.rcName === null && e.level !== null) residual.push(e.level);
    else unattributed.push(e);
  }

  const lockedTarget = target === null ? undefined : options.lockfile?.targets[target];
  interface Scored {
    g: Group;
    best: KnownComponent | undefined;
    candidates: string[];
    checked: boolean;
    found: number;
    missing: string[];
    present: boolean;
    bySymbols: boolean;
    /** Content evidence (fingerprints matched against the image's bytes), when both were at hand. */
    content?: ContentVerdict;
  }
  const scored: Scored[] = [];
  const content = ev.content;
  const distinctive = content === undefined ? undefined : distinctiveIndex(pool);
  for (const g of [...groups.values()].sort((a, b) => byString(a.name, b.name))) {
    const rate = (k: KnownComponent): { found: number; distinct: number; missing: string[] } => {
      const d = k.defined ?? [];
      const ids = idsOf(d);
      const missing: string[] = [];
      let distinct = 0;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as number;
        if (id < 0) missing.push(d[i] as string);
        else if (owner[id] !== -2) distinct++;
      }
      if (k.kind === 'platform' && k.members !== undefined && missing.length > 0) {
        // A platform archive is linked normally: members the link did not need are absent as a
        // whole and missing nothing; only a member that is partly there lacks symbols — other
        // than globals the link made hidden, which the image keeps as locals.
        const hidden = ev.hasHidden;
        const gone = new Set(hidden === undefined ? missing : missing.filter((n) => !hidden(n)));
        const byMember = k.members.map((m) => m.symbols.filter((x) => x.bind !== 'local').map((x) => x.name));
        const partial = byMember.filter((m) => m.some((n) => !gone.has(n))).flatMap((m) => m.filter((n) => gone.has(n)));
        return { found: d.length - gone.size, distinct, missing: sortStrings(partial) };
      }
      return { found: d.length - missing.length, distinct, missing };
    };
    let cands = g.candidates;
    const claimedVersion = g.claimed?.version;
    const lockedVersion = lockedTarget?.components[g.name]?.version;
    const prefer = claimedVersion ?? lockedVersion;
    if (prefer !== undefined && cands.some((k) => k.version === prefer)) cands = cands.filter((k) => k.version === prefer);
    else if (claimedVersion !== undefined && cands.length > 0) {
      notes.push(`${g.name}@${claimedVersion}: no fingerprint known for this version; compared with ${sortStrings(cands.map((k) => k.version)).join(', ')}`);
    }
    // Best: most symbols found, fewest missing; ties → every tied version is a candidate.
    const rated = cands.map((k) => ({ k, r: rate(k) })).sort((a, b) => b.r.found - a.r.found || a.r.missing.length - b.r.missing.length || newestFirst(a.k.version, b.k.version));
    const top = rated[0];
    const tied = top === undefined ? [] : rated.filter((x) => x.r.found === top.r.found && x.r.missing.length === top.r.missing.length);
    const best = top?.k;
    const checked = best?.defined !== undefined;
    const d = best?.defined ?? [];
    // Present by symbols: some name only it defines is in the image, or (all its names shared
    // with others) every one of them is.
    const bySymbols = checked && d.length > 0 && ((top?.r.distinct ?? 0) > 0 || (top?.r.found ?? 0) === d.length);
    const byLinkSet = (foundLevels.get(g.name)?.length ?? 0) > 0;
    const verdict =
      content !== undefined && distinctive !== undefined && best?.members !== undefined && best.members.length > 0
        ? contentVerdict({ name: g.name, kind: best.kind, members: best.members }, content, distinctive)
        : undefined;
    scored.push({
      g,
      best,
      candidates: sortStrings(tied.map((x) => x.k.version)).sort(newestFirst),
      checked,
      found: top?.r.found ?? 0,
      missing: top?.r.missing ?? [],
      present: verdict !== undefined ? verdict.present || byLinkSet : bySymbols || byLinkSet,
      bySymbols: verdict !== undefined ? verdict.present : bySymbols,
      ...(verdict === undefined ? {} : { content: verdict }),
    });
  }

  // Without rc_name: components found by symbols take their levels first, then claimed shims, then unclaimed ones.
  if (!named && residual.length > 0) {
    for (const s of scored) if (s.bySymbols) {
      const want = expectedLevels(s.best, s.g.claimed);
      if (takeLevels(residual, want)) foundLevels.set(s.g.name, want);
    }
    const shims = scored.filter((s) => !s.present && (!s.checked || (s.best?.defined?.length ?? 0) === 0));
    for (const pass of [true, false]) {
      for (const s of shims) {
        if ((s.g.claimed !== undefined) !== pass || s.present) continue;
        const want = expectedLevels(s.best, s.g.claimed);
        if (want.length > 0 && takeLevels(residual, want)) {
          foundLevels.set(s.g.name, want);
          s.present = true;
        }
      }
    }
    for (const level of residual) unattributed.push({ level, rcName: null });
  }

  const components: AuditComponent[] = [];
  for (const s of scored) {
    const { g, best } = s;
    const claimed = g.claimed;
    if (claimed === undefined && !s.present) continue;
    const reasons: string[] = [];
    const expected = expectedLevels(best, claimed);
    const found = [...(foundLevels.get(g.name) ?? [])].sort();
    const linkSetKnown = best?.recorded?.linkSet !== undefined || best?.computed?.linkSet !== undefined || claimed?.symbols?.linkSet !== undefined || best !== undefined;
    let evidence: AuditEvidence;
    if (claimed === undefined) {
      evidence = 'present-but-unclaimed';
      if (s.content !== undefined) reasons.push(...s.content.reasons);
      else if (s.checked && s.missing.length > 0) reasons.push(`only ${s.found} of ${s.found + s.missing.length} fingerprint symbols found`);
    } else if (!s.present) {
      if (!s.checked && !linkSetKnown) {
        evidence = 'unverified';
        reasons.push('no fingerprint known: give --components-dir or audit inside the project');
      } else if (!s.checked && expected.length === 0) {
        evidence = 'unverified';
        reasons.push('its archive is not at hand and it has no link-set entries to look for');
      } else evidence = 'claimed-but-absent';
    } else {
      if (s.content !== undefined) {
        reasons.push(...s.content.reasons);
        // Registrations attributed by the struct's name (the miniature corpus) must be the expected ones.
        if (named && found.length > 0 && !sameMultiset(found, s.content.registrations.expected)) {
          reasons.push(`registrations ${JSON.stringify(found)} differ from the fingerprint's ${JSON.stringify(s.content.registrations.expected)}`);
        }
      } else {
        if (s.checked && s.missing.length > 0) reasons.push(`${s.missing.length} of ${s.found + s.missing.length} fingerprint symbols missing from the image`);
        if ((named || found.length > 0) && linkSetKnown && !sameMultiset(found, expected)) {
          reasons.push(`link-set entries ${JSON.stringify(found)} differ from the fingerprint's ${JSON.stringify(expected)}`);
        }
      }
      const knownDigest = best?.computed?.digest ?? best?.recorded?.digest;
      if (claimed.symbols?.digest !== undefined && knownDigest !== undefined && claimed.symbols.digest !== knownDigest) {
        reasons.push(`the manifest records symbol digest ${claimed.symbols.digest}, the known ${g.name}@${best?.version} has ${knownDigest}`);
      }
      if (best !== undefined && best.recorded !== undefined && best.computed !== undefined && best.recorded.digest !== best.computed.digest) {
        reasons.push(`the archive of ${g.name}@${best.version} does not match its published fingerprint`);
      }
      evidence = reasons.length > 0 ? 'modified' : 'confirmed';
      if (!s.checked) reasons.push('symbols not checked (archive not at hand): link set only');
    }
    const version = claimed?.version ?? (s.candidates.length === 1 ? s.candidates[0]! : (lockedTarget?.components[g.name]?.version ?? null));
    if (claimed === undefined && s.candidates.length > 1 && version === null) reasons.push(`fingerprints of versions ${s.candidates.join(', ')} match equally`);
    const upstream = claimed?.upstream ?? best?.upstream ?? null;
    components.push({
      name: g.name,
      version,
      candidates: claimed !== undefined ? [claimed.version] : s.candidates,
      license: claimed?.license ?? best?.license ?? '',
      lib: claimed?.lib ?? best?.lib ?? '',
      kind: claimed?.kind ?? best?.kind ?? 'component',
      upstream,
      integrity: claimed?.integrity ?? best?.integrity ?? lockedTarget?.components[g.name]?.integrity ?? null,
      evidence,
      claimed: claimed !== undefined,
      symbols: {
        checked: s.checked,
        expected: s.checked ? s.found + s.missing.length : (claimed?.symbols?.defined ?? best?.recorded?.defined ?? null),
        found: s.found,
        missing: s.missing.slice(0, 20),
      },
      linkSet: s.content === undefined ? { expected, found } : { expected: s.content.registrations.expected, found: s.content.registrations.found.length > 0 ? s.content.registrations.found : found },
      ...(s.content === undefined ? {} : { content: contentSummary(s.content) }),
      reasons,
    });
  }
  if (manifest === null) {
    notes.unshift(
      lockClaim !== undefined
        ? `manifest missing: the image has no .rumpkg.manifest section; the project's rumpkg.lock (${target}) is the claim it was checked against`
        : 'manifest missing: the image has no .rumpkg.manifest section; components were identified by fingerprint only',
    );
  }
  if (known.length === 0) notes.push('no component fingerprints were available: give --components-dir DIR, or audit inside the project');
  if (ev.symbolTable === null) notes.push('the image has no symbol table (stripped): only the link set could be checked');

  return {
    auditVersion: 1,
    kind: 'image',
    image: {
      path: ev.file,
      sha256: ev.sha256,
      bytes: ev.bytes,
      machine: ev.machine,
      class: ev.class,
      endian: ev.endian,
      symbolTable: ev.symbolTable,
      definedSymbols: idSpace,
      linkSetEntries: ev.linkSet === null ? null : ev.linkSet.length,
    },
    manifest: manifest === null ? 'missing' : 'embedded',
    target,
    project: manifest?.project ?? null,
    tool: manifest === null ? null : `${manifest.tool?.name ?? 'rumpkg'}@${manifest.tool?.version ?? '?'}`,
    components,
    unattributedLinkSet: unattributed,
    licenses: { summary: [], findings: [], deny: [] },
    advisories: [],
    notes,
  };
}

/** Adds the licence report and advisory matches to a report (E_LICENSE for an unparsable expression). */
function addPolicies(report: AuditReport, options: { advisories?: readonly Advisory[]; deny?: readonly string[]; aliases?: (name: string) => { lib?: string; aliases?: string[] } }): AuditReport {
  const present = report.components.filter((c) => c.evidence !== 'claimed-but-absent');
  report.licenses = checkLicenses(
    present.filter((c) => c.license !== '').map((c) => ({ name: c.name, version: c.version, license: c.license })),
    options.deny === undefined ? {} : { deny: options.deny },
  );
  for (const c of present) if (c.license === '') report.notes.push(`${c.name}: no licence known`);
  if (options.advisories !== undefined && options.advisories.length > 0) {
    const targets: AdvisoryTarget[] = present.flatMap((c) => {
      const versions = c.version !== null ? [c.version] : c.candidates;
      const extra = options.aliases?.(c.name) ?? {};
      return versions.map((v) => ({ name: c.name, version: v, lib: c.lib, ...(extra.aliases === undefined ? {} : { aliases: extra.aliases }) }));
    });
    report.advisories = matchAdvisories(targets, options.advisories);
  }
  return report;
}

/** Audits an image file: reads it, gathers fingerprints (options), matches, adds licences and advisories. */
export async function auditImage(imagePath: string, options: AuditOptions = {}): Promise<AuditReport> {
  const image = await readImage(resolve(imagePath));
  const ev = image.evidence;
  let known = [...(options.knownComponents ?? [])];
  if (options.lookup !== undefined) {
    const names = (ev.manifest?.components ?? []).map((c) => c.name);
    const libs = sortStrings((ev.linkSet ?? []).flatMap((e) => (e.rcName === null ? [] : [e.rcName])));
    known = [...known, ...(await options.lookup({ names, libs, target: ev.manifest?.target ?? options.target ?? null }))];
  }
  // Content matching (the strongest evidence) when the known components carry fingerprints, and
  // registrations through constructors (read from the content) for images with no link set.
  if (known.some((k) => k.members !== undefined && k.members.length > 0) || (ev.linkSet === null && ev.bytes <= CONTENT_MAX_BYTES)) {
    ev.content = await image.content();
  }
  const report = planImageAudit(ev, known, {
    ...(options.lockfile === undefined ? {} : { lockfile: options.lockfile }),
    ...(options.target === undefined ? {} : { target: options.target }),
  });
  const aliasOf = new Map(known.map((k) => [k.name, k.aliases] as const));
  return addPolicies(report, {
    ...(options.advisories === undefined ? {} : { advisories: options.advisories }),
    ...(options.deny === undefined ? {} : { deny: options.deny }),
    aliases: (name) => ({ aliases: aliasOf.get(name) ?? [] }),
  });
}

/** Audits a lockfile's closures (every target, or one): licences and advisories before building. */
export function auditLockfile(lockfile: Lockfile, options: { target?: Target; project?: string; advisories?: readonly Advisory[]; deny?: readonly string[] } = {}): AuditReport {
  const targets = options.target !== undefined ? [options.target] : Object.keys(lockfile.targets).sort();
  const seen = new Map<string, AuditComponent>();
  for (const t of targets) {
    const lt = lockfile.targets[t];
    if (lt === undefined) {
      throw new RumpkgError('E_LOCKFILE', `rumpkg.lock has no closure for ${t}`, { context: { target: t }, hint: 'run rumpkg install' });
    }
    for (const [name, c] of Object.entries(lt.components)) {
      const key = `${name}@${c.version}`;
      if (seen.has(key)) continue;
      seen.set(key, {
        name,
        version: c.version,
        candidates: [c.version],
        license: c.license,
        lib: c.lib,
        kind: c.kind,
        upstream: null,
        integrity: c.integrity,
        evidence: 'locked',
        claimed: true,
        symbols: { checked: false, expected: null, found: 0, missing: [] },
        linkSet: { expected: [...c.initLevels].sort(), found: [] },
        reasons: [],
      });
    }
  }
  const report: AuditReport = {
    auditVersion: 1,
    kind: 'lockfile',
    image: null,
    manifest: 'lockfile',
    target: targets.length === 1 ? targets[0]! : null,
    project: options.project ?? null,
    tool: null,
    components: [...seen.values()].sort((a, b) => byString(a.name, b.name) || byString(a.version ?? '', b.version ?? '')),
    unattributedLinkSet: [],
    licenses: { summary: [], findings: [], deny: [] },
    advisories: [],
    notes: ['lockfile audit: licences and advisories of the locked closure (nothing built yet; audit the image after rumpkg build)'],
  };
  return addPolicies(report, {
    ...(options.advisories === undefined ? {} : { advisories: options.advisories }),
    ...(options.deny === undefined ? {} : { deny: options.deny }),
  });
}

/** Evidence values that are findings (something in the image is not as claimed). */
const EVIDENCE_FINDINGS: readonly AuditEvidence[] = ['modified', 'claimed-but-absent', 'present-but-unclaimed'];

interface AuditVerdict {
  evidence: AuditComponent[];
  licenses: number;
  advisories: AdvisoryMatch[];
  /** The E_AUDIT_FINDINGS error (exit code 3) when anything fails the policy; undefined when clean. */
  error?: RumpkgError;
}

/**
 * The policy: advisories at or above `auditLevel` (when given), licence deny findings, and
 * evidence findings (claimed-but-absent, present-but-unclaimed, modified; for an image with a
 * manifest) fail the audit with E_AUDIT_FINDINGS, exit code 3.
 */
export function auditVerdict(report: AuditReport, options: { auditLevel?: SeverityLevel } = {}): AuditVerdict {
  const evidence = report.manifest === 'embedded' ? report.components.filter((c) => EVIDENCE_FINDINGS.includes(c.evidence)) : [];
  const advisories = options.auditLevel === undefined ? [] : report.advisories.filter((a) => atOrAbove(a.severity, options.auditLevel!));
  const licenses = report.licenses.findings.length;
  const parts: string[] = [];
  if (evidence.length > 0) parts.push(`${evidence.length} component(s) not as claimed (${evidence.map((c) => `${c.name}: ${c.evidence}`).join(', ')})`);
  if (advisories.length > 0) parts.push(`${advisories.length} advisory match(es) at or above ${options.auditLevel} (${advisories.map((a) => `${a.id} ${a.component}@${a.version} ${a.severity}`).join(', ')})`);
  if (licenses > 0) parts.push(`${licenses} licence policy finding(s) (${report.licenses.findings.map((f) => f.component).join(', ')})`);
  const verdict: AuditVerdict = { evidence, licenses, advisories };
  if (parts.length > 0) {
    const what = report.image?.path ?? 'the lockfile';
    verdict.error = new RumpkgError('E_AUDIT_FINDINGS', `audit of ${what}: ${parts.join('; ')}`, {
      context: { path: what, evidence: evidence.map((c) => ({ name: c.name, evidence: c.evidence })), advisories: advisories.map((a) => a.id), licenses },
      hint: [
        ...(evidence.length > 0 ? ['the image is not what its manifest claims: rebuild it (rumpkg build) or find out who changed it'] : []),
        ...(advisories.length > 0 ? [`update the affected components (rumpkg update NAME); --audit-level sets which advisory severities fail`] : []),
        ...(licenses > 0 ? ['a component is usable only under a licence --deny refuses: remove it (rumpkg remove NAME) or drop that id from --deny'] : []),
      ].join('; '),
      exitCode: 3,
    });
  }
  return verdict;
}
