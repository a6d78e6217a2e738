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
 * `rumpkg cache clean` does not forget them: a registry reset on purpose is cleared by removing
 * `<home>/seen` (the error's hint says so).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
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

function seenFile(home: string, registryUrl: string, name: string): string {
  return join(seenDir(home), `${createHash('sha256').update(`${registryUrl}\n${name}`).digest('hex')}.json`);
}

async function readSeen(path: string, registryUrl: string, name: string): Promise<SeenRecord | undefined> {
  try {
    const o = parseJsonDocument(await readFile(path), { file: path, maxBytes: 16 * 1024 * 1024 }) as Partial<SeenRecord>;
    if (o === null || typeof o !== 'object') return undefined;
    if (o.seenVersion !== 1 || o.name !== name || o.registry !== redactUrl(registryUrl)) return undefined;
    if (o.versions === null || typeof o.versions !== 'object' || Array.isArray(o.versions)) return undefined;
    return o as SeenRecord;
  } catch {
    return undefined;
  }
}

const ms = (iso: unknown): number | undefined => {
  if (typeof iso !== 'string') return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
};

/**
 * Checks `packument` (just read from `registryUrl`) against what this home has seen of `name`
 * there, then records it. Throws E_REGISTRY_ROLLBACK when the metadata went backwards.
 */
export async function checkSeen(home: string, registryUrl: string, packument: Packument, options: { name?: string; onWriteError?: (e: unknown) => void } = {}): Promise<void> {
  const name = options.name ?? packument.name;
  const path = seenFile(home, registryUrl, name);
  const old = await readSeen(path, registryUrl, name);
  const url = redactUrl(registryUrl);
  const versions: Record<string, string> = {};
  for (const [v, doc] of Object.entries(packument.versions ?? {})) {
    const i = doc?.dist?.integrity;
    if (typeof i === 'string') versions[v] = i;
  }
  const modified = typeof packument.time?.modified === 'string' ? packument.time.modified : undefined;
  if (old !== undefined) {
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
  const merged: SeenRecord = {
    seenVersion: 1,
    registry: url,
    name,
    ...(() => {
      const a = ms(old?.modified);
      const b = ms(modified);
      const m = a === undefined ? modified : b === undefined || a >= b ? old?.modified : modified;
      return m === undefined ? {} : { modified: m };
    })(),
    versions: Object.fromEntries(Object.entries({ ...(old?.versions ?? {}), ...versions }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
  if (old !== undefined && JSON.stringify(old) === JSON.stringify(merged)) return;
  try {
    await writeFileAtomic(path, `${JSON.stringify(merged)}\n`);
  } catch (e) {
    options.onWriteError?.(e);
  }
}
