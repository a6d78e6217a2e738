/**
 * The miniature corpus, built once per machine and shared by every test file and vitest worker.
 *
 *   const root = await corpusDir();             // <root>/<version>/<name>/package.json, lib/<target>/<lib>.a
 *
 * The directory lives under os.tmpdir(), keyed by a fingerprint of the generator sources, C
 * assets, catalog, compiler versions, versions and targets (components/corpus.ts
 * corpusFingerprint), so an edit to any of them rebuilds it. Concurrent workers take a lock
 * directory (mkdir is atomic); the winner builds into a private temp directory and renames it
 * into place (so the root exists only when complete), the others wait for the rename. A lock whose owner process is gone is taken over.
 * Treat the result as read-only: copy what you need to change.
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../../components/index.js';
import { buildCorpus, corpusFingerprint, CORPUS_DEFAULT_TARGETS, CORPUS_VERSIONS, type CorpusBuildResult } from '../../scripts/corpus/index.js';

export interface CorpusDirOptions {
  versions?: readonly string[];
  targets?: readonly string[];
  /** Give up waiting for another worker's build after this long (default 10 minutes). */
  timeoutMs?: number;
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

const memo = new Map<string, Promise<string>>();

/** The build statistics of the corpus at `root` (written by the worker that built it). */
export async function corpusBuildInfo(root: string): Promise<CorpusBuildResult> {
  return JSON.parse(await readFile(join(root, '..', `${root.split('/').pop()}.build.json`), 'utf8')) as CorpusBuildResult;
}

/** The root of a built corpus (see the module head). */
export function corpusDir(options: CorpusDirOptions = {}): Promise<string> {
  const versions = options.versions ?? CORPUS_VERSIONS;
  const targets = options.targets ?? CORPUS_DEFAULT_TARGETS;
  const key = JSON.stringify([versions, targets]);
  let p = memo.get(key);
  if (p === undefined) {
    p = ensure(versions, targets, options.timeoutMs ?? 600_000);
    memo.set(key, p);
  }
  return p;
}

async function ensure(versions: readonly string[], targets: readonly string[], timeoutMs: number): Promise<string> {
  const base = join(tmpdir(), 'rumpkg-corpus');
  await mkdir(base, { recursive: true });
  const id = await corpusFingerprint({ versions, targets });
  const root = join(base, id);
  const lock = join(base, `${id}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await exists(root)) return root;
    try {
      await mkdir(lock);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number.parseInt(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && !processAlive(owner)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`corpusDir: gave up waiting for ${lock}`);
      await sleep(200);
      continue;
    }
    try {
      await writeFile(join(lock, 'pid'), String(process.pid));
      if (await exists(root)) return root;
      const work = await mkdtemp(join(base, `${id}.tmp-`));
      try {
        const result = await buildCorpus(work, { versions, targets });
        await writeFile(join(base, `${id}.build.json`), JSON.stringify({ ...result, outDir: root }, null, 2) + '\n');
        await rename(work, root);
      } catch (e) {
        await rm(work, { recursive: true, force: true });
        throw e;
      }
      return root;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}
