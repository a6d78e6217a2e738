/**
 * Known vulnerabilities in the OSV format (https://ossf.github.io/osv-schema/): read from a file
 * or a directory of `*.json` files, checked, and matched against components.
 *
 * Matching: `affected[].package.name` equals the component name (`@rump/tcpip`), its bare name
 * (`tcpip`), its library (`librumpnet_netinet`) or one of its aliases; any ecosystem. A version is
 * affected when it is listed in `versions`, or falls in a `SEMVER`/`ECOSYSTEM` range: OSV events
 * sorted by version, affected from each `introduced` (`0` = from the start) up to but excluding
 * the next `fixed`, or up to and including the next `last_affected`. `GIT` ranges cannot be
 * evaluated against a version and are ignored.
 *
 * Severity: `database_specific.severity` (of the affected entry, else of the advisory) when it
 * names a level (`LOW`, `MODERATE`/`MEDIUM`, `HIGH`, `CRITICAL`); else the highest CVSS base
 * score of `severity[]` (a number, or a CVSS v3.x vector computed with the v3.1 formula) mapped
 * low < 4.0 ≤ moderate < 7.0 ≤ high < 9.0 ≤ critical. An advisory with neither is `unknown`,
 * which every `--audit-level` counts (an advisory that cannot be rated is not silently passed).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import compare from 'semver/functions/compare.js';
import gt from 'semver/functions/gt.js';
import gte from 'semver/functions/gte.js';
import valid from 'semver/functions/valid.js';

import { RumpkgError, fsError, isRumpkgError, parseJsonDocument } from '../../components/index.js';

// Only the parts of semver in use: its index loads every module of the package (~15 ms at start-up).
const semver = { compare, gt, gte, valid };

const SEVERITY_LEVELS = ['low', 'moderate', 'high', 'critical'] as const;
export type SeverityLevel = (typeof SEVERITY_LEVELS)[number];
type Severity = SeverityLevel | 'unknown';

interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

interface OsvAffected {
  package: { name: string; ecosystem?: string; purl?: string };
  ranges: Array<{ type: string; events: OsvEvent[] }>;
  versions: string[];
  severity?: Severity;
}

export interface Advisory {
  id: string;
  summary: string;
  aliases: string[];
  affected: OsvAffected[];
  severity: Severity;
  /** Highest CVSS base score found, if any. */
  cvss?: number;
  references: string[];
  /** The file it was read from. */
  file: string;
}

export interface AdvisoryMatch {
  id: string;
  component: string;
  version: string;
  severity: Severity;
  summary: string;
  aliases: string[];
  /** First fixed version after the matched range, when one is given. */
  fixed?: string;
  references: string[];
}

function advisoryError(file: string, pointer: string, what: string): never {
  throw new RumpkgError('E_ADVISORY', `${file}: ${pointer === '' ? '/' : pointer}: ${what}`, {
    context: { path: file, pointer },
    hint: 'fix the advisory (OSV format: https://ossf.github.io/osv-schema/) or remove it from --advisories',
  });
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const esc = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** Severity word → level (`MEDIUM` is OSV/GHSA's name for moderate). */
function severityFromWord(word: unknown): Severity | undefined {
  if (typeof word !== 'string') return undefined;
  const w = word.trim().toLowerCase();
  if (w === 'low' || w === 'none') return 'low';
  if (w === 'moderate' || w === 'medium') return 'moderate';
  if (w === 'high' || w === 'important') return 'high';
  if (w === 'critical') return 'critical';
  return undefined;
}

/** Base score → level (CVSS v3 qualitative rating; 0.0 "none" counts as low). */
function severityFromScore(score: number): SeverityLevel {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'moderate';
  return 'low';
}

const roundUp1 = (x: number): number => {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
};

/** The base score of a CVSS v3.0/v3.1 vector (`CVSS:3.1/AV:N/AC:L/…`), or undefined when it is not one. */
export function cvss3BaseScore(vector: string): number | undefined {
  const m = /^CVSS:3\.[01]\/(.*)$/.exec(vector.trim());
  if (m === null) return undefined;
  const v: Record<string, string> = {};
  for (const part of (m[1] as string).split('/')) {
    const [k, val] = part.split(':');
    if (k !== undefined && val !== undefined) v[k] = val;
  }
  const AV = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 }[v.AV ?? ''];
  const AC = { L: 0.77, H: 0.44 }[v.AC ?? ''];
  const UI = { N: 0.85, R: 0.62 }[v.UI ?? ''];
  const S = v.S;
  const PR = S === 'C' ? { N: 0.85, L: 0.68, H: 0.5 }[v.PR ?? ''] : { N: 0.85, L: 0.62, H: 0.27 }[v.PR ?? ''];
  const cia = { H: 0.56, L: 0.22, N: 0 } as Record<string, number>;
  const C = cia[v.C ?? ''];
  const I = cia[v.I ?? ''];
  const A = cia[v.A ?? ''];
  if (AV === undefined || AC === undefined || UI === undefined || PR === undefined || C === undefined || I === undefined || A === undefined || (S !== 'U' && S !== 'C')) {
    return undefined;
  }
  const iss = 1 - (1 - C) * (1 - I) * (1 - A);
  const impact = S === 'U' ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  const exploitability = 8.22 * AV * AC * PR * UI;
  if (impact <= 0) return 0;
  return S === 'U' ? roundUp1(Math.min(impact + exploitability, 10)) : roundUp1(Math.min(1.08 * (impact + exploitability), 10));
}

function scoreOf(entry: unknown): number | undefined {
  if (!isObj(entry) || typeof entry.score !== 'string') return undefined;
  const s = entry.score.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return n >= 0 && n <= 10 ? n : undefined;
  }
  return cvss3BaseScore(s);
}

function strings(v: unknown, file: string, pointer: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) advisoryError(file, pointer, 'must be an array of strings');
  return v as string[];
}

/** Checks one OSV document and returns it normalised (E_ADVISORY naming file and JSON pointer). */
export function parseAdvisory(doc: unknown, file: string, pointer = ''): Advisory {
  if (!isObj(doc)) advisoryError(file, pointer, 'an OSV advisory must be a JSON object');
  if (typeof doc.id !== 'string' || doc.id === '') advisoryError(file, `${pointer}/id`, 'must be a non-empty string');
  const aliases = strings(doc.aliases, file, `${pointer}/aliases`);
  if (doc.summary !== undefined && typeof doc.summary !== 'string') advisoryError(file, `${pointer}/summary`, 'must be a string');
  if (doc.affected !== undefined && !Array.isArray(doc.affected)) advisoryError(file, `${pointer}/affected`, 'must be an array');
  let cvss: number | undefined;
  const severityOf = (list: unknown, at: string): void => {
    if (list === undefined) return;
    if (!Array.isArray(list)) advisoryError(file, at, 'must be an array');
    list.forEach((e, i) => {
      if (!isObj(e) || typeof e.type !== 'string' || typeof e.score !== 'string') advisoryError(file, `${at}/${i}`, 'must be an object with string "type" and "score"');
      const s = scoreOf(e);
      if (s !== undefined && (cvss === undefined || s > cvss)) cvss = s;
    });
  };
  severityOf(doc.severity, `${pointer}/severity`);
  const dbSeverity = (o: unknown): Severity | undefined => (isObj(o) ? severityFromWord(o.severity) : undefined);
  const affected: OsvAffected[] = ((doc.affected as unknown[] | undefined) ?? []).map((a, i) => {
    const at = `${pointer}/affected/${i}`;
    if (!isObj(a)) advisoryError(file, at, 'must be an object');
    if (!isObj(a.package) || typeof a.package.name !== 'string' || a.package.name === '') advisoryError(file, `${at}/package/name`, 'must be a non-empty string');
    if (a.package.ecosystem !== undefined && typeof a.package.ecosystem !== 'string') advisoryError(file, `${at}/package/ecosystem`, 'must be a string');
    if (a.ranges !== undefined && !Array.isArray(a.ranges)) advisoryError(file, `${at}/ranges`, 'must be an array');
    const ranges = ((a.ranges as unknown[] | undefined) ?? []).map((r, j) => {
      const rp = `${at}/ranges/${j}`;
      if (!isObj(r) || typeof r.type !== 'string') advisoryError(file, `${rp}/type`, 'must be a string (SEMVER, ECOSYSTEM or GIT)');
      if (!Array.isArray(r.events) || r.events.length === 0) advisoryError(file, `${rp}/events`, 'must be a non-empty array');
      const events = (r.events as unknown[]).map((e, k) => {
        const ep = `${rp}/events/${k}`;
        if (!isObj(e)) advisoryError(file, ep, 'must be an object');
        const keys = Object.keys(e);
        if (keys.length !== 1 || !['introduced', 'fixed', 'last_affected', 'limit'].includes(keys[0] as string)) {
          advisoryError(file, ep, 'must have exactly one of "introduced", "fixed", "last_affected", "limit"');
        }
        const key = keys[0] as keyof OsvEvent;
        const val = e[key];
        if (typeof val !== 'string' || val === '') advisoryError(file, `${ep}/${esc(key)}`, 'must be a non-empty string');
        if (r.type !== 'GIT' && !(key === 'introduced' && val === '0') && semver.valid(val) === null && !(key === 'limit' && val === '*')) {
          advisoryError(file, `${ep}/${esc(key)}`, `"${val}" is not a semantic version`);
        }
        return { [key]: val } as OsvEvent;
      });
      return { type: r.type, events };
    });
    const versions = strings(a.versions, file, `${at}/versions`);
    severityOf((a as { severity?: unknown }).severity, `${at}/severity`);
    const sev = dbSeverity(a.database_specific) ?? dbSeverity(a.ecosystem_specific);
    const pkg = a.package as { name: string; ecosystem?: string; purl?: string };
    return {
      package: { name: pkg.name, ...(pkg.ecosystem === undefined ? {} : { ecosystem: pkg.ecosystem }), ...(typeof pkg.purl === 'string' ? { purl: pkg.purl } : {}) },
      ranges,
      versions,
      ...(sev === undefined ? {} : { severity: sev }),
    };
  });
  const references = Array.isArray(doc.references)
    ? doc.references.flatMap((r) => (isObj(r) && typeof r.url === 'string' ? [r.url] : []))
    : [];
  const severity = dbSeverity(doc.database_specific) ?? (cvss === undefined ? 'unknown' : severityFromScore(cvss));
  return {
    id: doc.id,
    summary: typeof doc.summary === 'string' ? doc.summary : typeof doc.details === 'string' ? doc.details.split('\n')[0]! : '',
    aliases,
    affected,
    severity,
    ...(cvss === undefined ? {} : { cvss }),
    references,
    file,
  };
}

async function readJsonFile(path: string): Promise<unknown> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw fsError(e, path, 'read advisory');
  }
  try {
    // The safe reader: size and depth caps, no prototype or duplicate keys.
    return parseJsonDocument(bytes, { file: path });
  } catch (e) {
    if (!isRumpkgError(e, 'E_JSON_PARSE') && !isRumpkgError(e, 'E_SCHEMA')) throw e;
    throw new RumpkgError('E_ADVISORY', e.message.startsWith(path) ? e.message : `${path}: ${e.message}`, {
      context: { path, pointer: typeof e.context.pointer === 'string' ? e.context.pointer : '' },
      hint: 'an OSV advisory is a JSON document',
      cause: e,
    });
  }
}

/** Reads advisories from a `.json` file (one advisory or an array) or a directory of them (recursive, sorted). */
export async function readAdvisories(path: string): Promise<Advisory[]> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw fsError(e, path, 'read advisories');
  }
  const files: string[] = [];
  if (st.isDirectory()) {
    const walk = async (dir: string, depth: number): Promise<void> => {
      for (const d of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = join(dir, d.name);
        if (d.isDirectory() && depth < 8 && !d.name.startsWith('.')) await walk(p, depth + 1);
        else if (d.isFile() && d.name.endsWith('.json')) files.push(p);
      }
    };
    await walk(path, 0);
  } else files.push(path);
  const out: Advisory[] = [];
  for (const f of files) {
    const doc = await readJsonFile(f);
    if (Array.isArray(doc)) doc.forEach((d, i) => out.push(parseAdvisory(d, f, `/${i}`)));
    else out.push(parseAdvisory(doc, f));
  }
  return out;
}

/** Whether `version` is affected by one OSV range (SEMVER / ECOSYSTEM; GIT → false). Returns the fix, if any. */
export function rangeAffects(range: { type: string; events: OsvEvent[] }, version: string): { affected: boolean; fixed?: string } {
  if (range.type !== 'SEMVER' && range.type !== 'ECOSYSTEM') return { affected: false };
  if (semver.valid(version) === null) return { affected: false };
  const key = (e: OsvEvent): string => e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '0';
  const cmp = (a: string, b: string): number => (a === '0' ? (b === '0' ? 0 : -1) : b === '0' ? 1 : a === '*' ? 1 : b === '*' ? -1 : semver.compare(a, b));
  const events = [...range.events].sort((a, b) => cmp(key(a), key(b)) || (a.introduced !== undefined ? -1 : 1));
  const limits = events.filter((e) => e.limit !== undefined).map((e) => e.limit as string);
  if (limits.length > 0 && limits.every((l) => l !== '*' && semver.gte(version, l))) return { affected: false };
  let inRange = false;
  let fixedAfter: string | undefined;
  for (const e of events) {
    if (e.introduced !== undefined) {
      if (e.introduced === '0' || semver.gte(version, e.introduced)) {
        inRange = true;
        fixedAfter = undefined;
      }
    } else if (e.fixed !== undefined) {
      if (semver.gte(version, e.fixed)) inRange = false;
      else if (inRange && fixedAfter === undefined) fixedAfter = e.fixed;
    } else if (e.last_affected !== undefined) {
      if (semver.gt(version, e.last_affected)) inRange = false;
    }
  }
  return inRange ? { affected: true, ...(fixedAfter === undefined ? {} : { fixed: fixedAfter }) } : { affected: false };
}

export interface AdvisoryTarget {
  name: string;
  version: string | null;
  lib?: string;
  aliases?: string[];
}

function namesOf(c: AdvisoryTarget): Set<string> {
  const bare = c.name.replace(/^@[^/]+\//, '');
  return new Set([c.name, bare, ...(c.lib === undefined ? [] : [c.lib]), ...(c.aliases ?? [])].map((n) => n.toLowerCase()));
}

/** Every (advisory, component) pair where the component's version is affected; sorted by severity, then id. */
export function matchAdvisories(components: readonly AdvisoryTarget[], advisories: readonly Advisory[]): AdvisoryMatch[] {
  const out: AdvisoryMatch[] = [];
  for (const c of components) {
    if (c.version === null) continue;
    const names = namesOf(c);
    for (const a of advisories) {
      for (const aff of a.affected) {
        if (!names.has(aff.package.name.toLowerCase())) continue;
        let hit = aff.versions.includes(c.version);
        let fixed: string | undefined;
        for (const r of aff.ranges) {
          const res = rangeAffects(r, c.version);
          if (res.affected) {
            hit = true;
            fixed ??= res.fixed;
          }
        }
        if (!hit) continue;
        out.push({
          id: a.id,
          component: c.name,
          version: c.version,
          severity: aff.severity ?? a.severity,
          summary: a.summary,
          aliases: a.aliases,
          ...(fixed === undefined ? {} : { fixed }),
          references: a.references,
        });
        break;
      }
    }
  }
  const rank = (s: Severity): number => (s === 'unknown' ? 4 : SEVERITY_LEVELS.indexOf(s));
  return out.sort((x, y) => rank(y.severity) - rank(x.severity) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0) || (x.component < y.component ? -1 : 1));
}

/** Whether a finding of `severity` is at or above `level` (`unknown` always is). */
export function atOrAbove(severity: Severity, level: SeverityLevel): boolean {
  if (severity === 'unknown') return true;
  return SEVERITY_LEVELS.indexOf(severity) >= SEVERITY_LEVELS.indexOf(level);
}

/** Parses an `--audit-level` word (E_USAGE otherwise). */
export function parseAuditLevel(word: string): SeverityLevel {
  const s = severityFromWord(word);
  if (s === undefined || s === 'unknown') {
    throw new RumpkgError('E_USAGE', `--audit-level ${word}: expected one of ${SEVERITY_LEVELS.join(', ')}`, { context: { level: word } });
  }
  return s;
}
