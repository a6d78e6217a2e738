/**
 * Rollback protection (RELIABILITY.md RG-01): a per-home high-water mark of registry metadata.
 *
 * TUF's "never accept metadata older than what you have seen" applied to npm packuments. For
 * every packument the client reads, it remembers — per registry URL and name — the versions it
 * has seen (with their integrity) and the newest `time.modified`:
 *
 *   <home>/seen/<sha256 hex of "<registry url>\n<name>">.json
 *     { seenVersion: 1, registry, name, modified?, versions: { "<version>": "<integrity>" } }
 *
 * (hashed file names: a component name never becomes a raw path, CA-04). A later packument that
 * no longer lists a version seen before, lists it with another integrity, or carries an older
 * `time.modified`, is refused with E_REGISTRY_ROLLBACK naming the component, the registry and
 * what went backwards — published versions are immutable (SV-02), so none of that happens on an
 * honest registry. Records only grow (union of versions, newest `modified`), are written
 * atomically and only when they change; a record that cannot be read is ignored and rewritten,
 * and failing to write one never fails the read (a read-only home still installs).
 *
 * A caller may take the write off its critical path (`defer`: the check is done when checkSeen
 * returns, the record is written when the caller runs the task it was handed). Until then this
 * process keeps the record in memory, and every check in this process — whichever client makes
 * it — is made against the record on disk and the one held here, so deferring never lets older
 * metadata through; writes of one record are chained, so the last one written is the union.
 * `rumpkg cache clean` does not forget them: a registry reset on purpose is cleared by removing
 * `<home>/seen` (the error's hint says so).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { RumpkgError, parseJsonDocument } from '../../components/index.js';
import { redactUrl } from '../transport/index.js';
import { homePaths, writeFileAtomic } from './home.js';
import type { Packument } from '../storage/index.js';

interface SeenRecord {
  seenVersion: 1;
  registry: string;
  name: string;
  modified?: string;
  versions: Record<string, string>;
}

/** The directory of the high-water marks of a home. */
export function seenDir(home: string): string {
  return join(homePaths(home).root, 'seen');
}

/** `seenDir` of each absolute home this process checked against (it does not depend on the cwd then). */
const dirs = new Map<string, string>();

function seenFile(home: string, registryUrl: string, name: string): string {
  let dir = dirs.get(home);
  if (dir === undefined) {
    dir = seenDir(home);
    if (isAbsolute(home)) dirs.set(home, dir);
  }
  return join(dir, `${createHash('sha256').update(`${registryUrl}\n${name}`).digest('hex')}.json`);
}

/**
 * The record at `path` of `name` on `registry` (as records name it: redacted); undefined when
 * absent or unusable. Read synchronously: a record is one small file (none at all in a fresh
 * home), and each packument of a cold `rumpkg add` is checked here before it can be used — a
 * read through the thread pool (open, stat, read, close, each waiting for a turn of the event
 * loop busy with the other answers) delayed every check by milliseconds.
 */
function readSeen(path: string, registry: string, name: string): SeenRecord | undefined {
  try {
    const o = parseJsonDocument(readFileSync(path), { file: path, maxBytes: 16 * 1024 * 1024 }) as Partial<SeenRecord>;
    if (o === null || typeof o !== 'object') return undefined;
    if (o.seenVersion !== 1 || o.name !== name || o.registry !== registry) return undefined;
    if (o.versions === null || typeof o.versions !== 'object' || Array.isArray(o.versions)) return undefined;
    return o as SeenRecord;
  } catch {
    return undefined;
  }
}

/**
 * Records checked in this process and not yet written (path → the newest merged record), and
 * the chain of writes of each path (so that renames land in the order the records grew).
 */
const unwritten = new Map<string, SeenRecord>();
const writes = new Map<string, Promise<void>>();

/**
 * Writes the newest record held for `path` (if any) after the writes already started for it,
 * merged with what is on disk by then (another process may have raised the mark meanwhile).
 */
function writeRecord(path: string, onWriteError: ((e: unknown) => void) | undefined): Promise<void> {
  const run = async (): Promise<void> => {
    const rec = unwritten.get(path);
    if (rec === undefined) return;
    try {
      const merged = mergeRecords(rec, readSeen(path, rec.registry, rec.name)) as SeenRecord;
      await writeFileAtomic(path, `${JSON.stringify(merged)}\n`);
      if (unwritten.get(path) === rec) unwritten.delete(path);
    } catch (e) {
      onWriteError?.(e);
    }
  };
  const next = (writes.get(path) ?? Promise.resolve()).then(run);
  writes.set(path, next);
  void next.then(() => {
    if (writes.get(path) === next) writes.delete(path);
  });
  return next;
}

const ms = (iso: unknown): number | undefined => {
  if (typeof iso !== 'string') return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
};

/** The union of two records of one name (versions, newest `modified`); either may be absent. */
function mergeRecords(a: SeenRecord | undefined, b: SeenRecord | undefined): SeenRecord | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const ma = ms(a.modified);
  const mb = ms(b.modified);
  const modified = ma === undefined ? b.modified : mb === undefined || ma >= mb ? a.modified : b.modified;
  const { modified: _a, versions: _v, ...rest } = a;
  return { ...rest, ...(modified === undefined ? {} : { modified }), versions: sortedVersions({ ...a.versions, ...b.versions }) };
}

function sortedVersions(v: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Checks `packument` (just read from `registryUrl`) against what this home has seen of `name`
 * there, then records it. Throws E_REGISTRY_ROLLBACK when the metadata went backwards.
 * With `defer`, the check is complete when this returns and the write of the record is handed
 * to `defer` as a task (which never rejects: a failed write goes to `onWriteError`); the record
 * counts for every later check in this process from the start.
 */
export async function checkSeen(
  home: string,
  registryUrl: string,
  packument: Packument,
  options: { name?: string; onWriteError?: (e: unknown) => void; defer?: (write: () => Promise<void>) => void } = {},
): Promise<void> {
  const name = options.name ?? packument.name;
  const path = seenFile(home, registryUrl, name);
  const url = redactUrl(registryUrl);
  const onDisk = readSeen(path, url, name);
  const held = unwritten.get(path);
  const versions: Record<string, string> = {};
  for (const [v, doc] of Object.entries(packument.versions ?? {})) {
    const i = doc?.dist?.integrity;
    if (typeof i === 'string') versions[v] = i;
  }
  const modified = typeof packument.time?.modified === 'string' ? packument.time.modified : undefined;
  // Checked against the record on disk and the one this process holds: each only grows.
  for (const old of [onDisk, held]) {
    if (old === undefined) continue;
    const hint = `the registry serves older metadata than this machine has already seen (a rollback or a stale mirror); if the registry was reset on purpose, remove ${seenDir(home)}`;
    const missing = Object.keys(old.versions).filter((v) => versions[v] === undefined);
    if (missing.length > 0) {
      throw new RumpkgError('E_REGISTRY_ROLLBACK', `${name}: ${url} no longer lists ${missing.slice(0, 5).map((v) => `${name}@${v}`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}, seen there before`, {
        context: { component: name, url, missing },
        hint,
      });
    }
    const changed = Object.keys(old.versions).filter((v) => versions[v] !== old.versions[v]);
    if (changed.length > 0) {
      const v = changed[0] as string;
      throw new RumpkgError('E_REGISTRY_ROLLBACK', `${name}@${v}: ${url} now gives integrity ${versions[v]} where it gave ${old.versions[v]} before (a published version never changes)`, {
        context: { component: `${name}@${v}`, url, expected: old.versions[v], registry: versions[v] },
        hint,
      });
    }
    const was = ms(old.modified);
    const now = ms(modified);
    if (was !== undefined && now !== undefined && now < was) {
      throw new RumpkgError('E_REGISTRY_ROLLBACK', `${name}: ${url} serves metadata modified ${modified}, older than ${old.modified} seen before`, {
        context: { component: name, url, modified, seen: old.modified },
        hint,
      });
    }
  }
  const seen: SeenRecord = { seenVersion: 1, registry: url, name, ...(modified === undefined ? {} : { modified }), versions: sortedVersions(versions) };
  const merged = mergeRecords(mergeRecords(seen, held), onDisk) as SeenRecord;
  if (onDisk !== undefined && JSON.stringify(onDisk) === JSON.stringify(merged)) return;
  unwritten.set(path, merged);
  if (options.defer !== undefined) options.defer(() => writeRecord(path, options.onWriteError));
  else await writeRecord(path, options.onWriteError);
}
