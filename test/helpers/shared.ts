/**
 * Data files of ../shared next to the checkout (the NetBSD catalog source, rumprun's bake sets,
 * the Elm registry snapshot): reference data some tests compare the product against. The product
 * never reads them (what it needs lives in the project). Where ../shared is absent (a clone on
 * its own) `available` is false and `skipReason` names the missing file; tests use
 * `describe.skipIf(!f.available)(sharedTitle(f, '…'), …)` so the skip and its reason show in the
 * report, and read the file only inside.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Where the shared data lives (`RUMPKG_SHARED_DATA` overrides; tests of a clone without it skip). */
export const SHARED_DIR = process.env.RUMPKG_SHARED_DATA ?? resolve(import.meta.dirname, '../../../shared');

export interface SharedFile {
  path: string;
  available: boolean;
  /** Why the tests that need it are skipped (when not available). */
  skipReason: string;
  /** The parsed JSON (only call it where `available`). */
  json<T>(): T;
}

export function sharedFile(rel: string): SharedFile {
  const path = join(SHARED_DIR, rel);
  const available = existsSync(path);
  return {
    path,
    available,
    skipReason: `${path} is absent (reference data from ../shared next to the checkout)`,
    json: <T>() => {
      if (!available) throw new Error(`bug: ${path} is absent; guard the test with describe.skipIf(!file.available)`);
      return JSON.parse(readFileSync(path, 'utf8')) as T;
    },
  };
}

/** A describe title that carries the skip reason when the file is absent. */
export function sharedTitle(f: SharedFile, what: string): string {
  return f.available ? what : `${what} — skipped: ${f.skipReason}`;
}
