// The miniature corpus (scripts/corpus/, built with the real compilers) for benches: built once
// per set of versions × targets and cached in the temp directory, keyed by the corpus's own
// fingerprint (generator, catalog, C assets, compilers), so a changed corpus is rebuilt.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildCorpus, corpusFingerprint } from '../../dist/scripts/corpus/index.js';

/** The corpus root (`<root>/<version>/<name>/`), built on first use. */
export async function cachedCorpus(options = {}) {
  const opts = { ...(options.versions === undefined ? {} : { versions: options.versions }), ...(options.targets === undefined ? {} : { targets: options.targets }) };
  const h = createHash('sha256').update(await corpusFingerprint(opts)).update(JSON.stringify(opts));
  const root = join(tmpdir(), `rumpkg-bench-corpus-${h.digest('hex').slice(0, 16)}`);
  if (existsSync(join(root, '.done'))) return root;
  const t0 = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'rumpkg-bench-corpus-tmp-'));
  await buildCorpus(tmp, opts);
  writeFileSync(join(tmp, '.done'), '');
  try {
    renameSync(tmp, root);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`built the miniature corpus (${JSON.stringify(opts)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return root;
}

/** Every component directory of a corpus root, versions in order. */
export function corpusDirs(root) {
  return readdirSync(root).filter((v) => /^\d+\.\d+\.\d+$/.test(v)).sort()
    .flatMap((v) => readdirSync(join(root, v)).sort().map((n) => join(root, v, n)));
}
