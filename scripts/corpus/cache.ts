/**
 * The miniature corpus, built once per machine and content: `cachedCorpus()` returns
 * `<cacheDir>/<fingerprint>/` (default cacheDir `<os.tmpdir()>/rumpkg-corpus`), building it only
 * when that directory does not exist. The fingerprint (corpusFingerprint) covers the generator
 * sources, the C assets, the catalog, the compiler versions, the versions and the targets, so
 * an edit to any of them builds a new corpus; the tests (test/helpers/corpus.ts) and the demo
 * (scripts/corpus.mjs --cached) share one cache.
 *
 * Concurrent callers (vitest workers, a demo next to a test run) take a lock directory (mkdir is
 * atomic); the winner builds into a private temporary directory and renames it into place, so
 * the root exists only when complete; the others wait for the rename. A lock whose owner process
 * is gone is taken over. Treat the result as read-only: copy what you need to change.
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { processAlive } from '../../components/index.js';
import { buildCorpus, corpusFingerprint, CORPUS_DEFAULT_TARGETS, CORPUS_VERSIONS, type CorpusBuildResult, type CorpusEvent } from './corpus.js';

export interface CachedCorpusOptions {
  versions?: readonly string[];
  targets?: readonly string[];
  /** Where cached corpora live (default `<os.tmpdir()>/rumpkg-corpus`). */
  cacheDir?: string;
  /** Give up waiting for another process's build after this long (default 10 minutes). */
  timeoutMs?: number;
  /** Compiler processes at once (buildCorpus `jobs`). */
  jobs?: number;
  onEvent?: (event: CorpusEvent) => void;
}

export interface CachedCorpus {
  /** `<cacheDir>/<fingerprint>`: `<root>/<version>/<name>/…` */
  root: string;
  /** Whether this call built it (false: it was cached, or another process built it). */
  built: boolean;
  /** The statistics of the build that made it. */
  info: CorpusBuildResult;
}

/** The default cache directory. */
export function defaultCorpusCacheDir(): string {
  return join(tmpdir(), 'rumpkg-corpus');
}

const exists = async (p: string): Promise<boolean> => {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The build statistics of the cached corpus at `root` (written next to it by the builder). */
export async function corpusBuildInfo(root: string): Promise<CorpusBuildResult> {
  return JSON.parse(await readFile(join(dirname(root), `${basename(root)}.build.json`), 'utf8')) as CorpusBuildResult;
}

/** The root of a built corpus for these versions and targets (see the module head). */
export async function cachedCorpus(options: CachedCorpusOptions = {}): Promise<CachedCorpus> {
  const versions = options.versions ?? CORPUS_VERSIONS;
  const targets = options.targets ?? CORPUS_DEFAULT_TARGETS;
  const base = options.cacheDir ?? defaultCorpusCacheDir();
  await mkdir(base, { recursive: true });
  const id = await corpusFingerprint({ versions, targets });
  const root = join(base, id);
  const lock = join(base, `${id}.lock`);
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  for (;;) {
    if (await exists(root)) return { root, built: false, info: await corpusBuildInfo(root) };
    try {
      await mkdir(lock);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number.parseInt(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && !processAlive(owner)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`cachedCorpus: gave up waiting for ${lock}`);
      await sleep(200);
      continue;
    }
    try {
      await writeFile(join(lock, 'pid'), String(process.pid));
      if (await exists(root)) return { root, built: false, info: await corpusBuildInfo(root) };
      const work = await mkdtemp(join(base, `${id}.tmp-`));
      try {
        const result = await buildCorpus(work, {
          versions,
          targets,
          ...(options.jobs === undefined ? {} : { jobs: options.jobs }),
          ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
        });
        const info = { ...result, outDir: root };
        await writeFile(join(base, `${id}.build.json`), `${JSON.stringify(info, null, 2)}\n`);
        await rename(work, root);
        return { root, built: true, info };
      } catch (e) {
        await rm(work, { recursive: true, force: true });
        throw e;
      }
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}
