/**
 * The miniature corpus for tests, built once per machine and shared by every test file, vitest
 * worker and the demo (scripts/corpus/cache.ts `cachedCorpus`: keyed by a fingerprint of the
 * generator, C assets, catalog, compilers, versions and targets; built under a lock and renamed
 * into place):
 *
 *   const root = await corpusDir();             // <root>/<version>/<name>/package.json, lib/<target>/<lib>.a
 *
 * Treat the result as read-only: copy what you need to change.
 */
import { cachedCorpus } from '../../scripts/corpus/index.js';

export { corpusBuildInfo } from '../../scripts/corpus/index.js';

export interface CorpusDirOptions {
  versions?: readonly string[];
  targets?: readonly string[];
  /** Give up waiting for another worker's build after this long (default 10 minutes). */
  timeoutMs?: number;
}

const memo = new Map<string, Promise<string>>();

/** The root of a built corpus (see the module head); one build per process and key. */
export function corpusDir(options: CorpusDirOptions = {}): Promise<string> {
  const key = JSON.stringify([options.versions ?? null, options.targets ?? null]);
  let p = memo.get(key);
  if (p === undefined) {
    p = cachedCorpus(options).then((c) => c.root);
    memo.set(key, p);
  }
  return p;
}
