/**
 * The real NetBSD rump kernel archives of ../shared/netbsd/real (read its README.md): built
 * unmodified from upstream, never committed to this project. Each `.tar.xz` is unpacked once
 * into a temporary directory keyed by its sha256 (`<tmpdir>/rumpkg-real-<sha256[:16]>/`), shared
 * by every test file of a run (and by later runs while the temporary directory lasts); a lock
 * directory keeps concurrent test workers from unpacking it twice.
 *
 * Where ../shared is absent (a clone on its own), `available` is false and `skipReason` names the
 * missing file: tests use `describe.skipIf(!set.available)(title(set, '…'), …)` so the skip and
 * its reason show in the report, benches report a skipped row.
 *
 * Used by the tests (test/helpers/real.ts, from this source) and the benches
 * (bench/lib/real.mjs, from dist/scripts/real), so both share one unpacked copy; never bundled
 * into the product.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { processAlive } from '../../components/index.js';

const run = promisify(execFile);

/** The checkout: the nearest directory above this file (source or dist/) with a package.json. */
function checkoutRoot(): string {
  for (let d = import.meta.dirname; dirname(d) !== d; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
  }
  return resolve(import.meta.dirname, '../..');
}

/** Where the real data lives next to the checkout (RUMPKG_REAL_DATA overrides). */
export const REAL_DIR = process.env.RUMPKG_REAL_DATA ?? resolve(checkoutRoot(), '../shared/netbsd/real');

export const REAL_SETS = {
  /** NetBSD 7.99.34 built for posix-x86_64 (buildrump.sh): lib/ with 82 archives, include/rump. */
  posix: 'netbsd-7.99.34-posix-x86_64.tar.xz',
  /** rumprun b04d422 for bare-metal x86_64: lib/rumprun-hw (components + platform), lib/ (userland), include/, reference/. */
  hw: 'rumprun-b04d422-hw-x86_64.tar.xz',
} as const;

export interface RealSet {
  name: keyof typeof REAL_SETS;
  file: string;
  available: boolean;
  /** Why the tests that need it are skipped (when not available). */
  skipReason: string;
  /** The unpacked top directory (`<tmp>/netbsd-7.99.34-posix-x86_64/`); unpacks on first call. */
  dir(): Promise<string>;
}

/** A describe title that carries the skip reason when the data is absent. */
export function title(set: RealSet, what: string): string {
  return set.available ? what : `${what} — skipped: ${set.skipReason}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function unpackOnce(file: string): Promise<string> {
  const bytes = readFileSync(file);
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const root = join(tmpdir(), `rumpkg-real-${sha}`);
  const done = join(root, '.done');
  const top = join(root, file.split('/').pop()!.replace(/\.tar\.xz$/, ''));
  const lock = `${root}.lock`;
  for (let waited = 0; ; waited += 200) {
    if (existsSync(done)) return top;
    try {
      await mkdir(lock);
    } catch {
      // Someone else unpacks; take over a lock whose owner died.
      try {
        const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
        if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) await rm(lock, { recursive: true, force: true });
      } catch {
        // the owner has not written its pid yet
      }
      if (waited > 300_000) throw new Error(`timed out waiting for ${lock}`);
      await sleep(200);
      continue;
    }
    try {
      await writeFile(join(lock, 'pid'), String(process.pid));
      if (existsSync(done)) return top;
      const work = await mkdtemp(`${root}.tmp-`);
      await run('tar', ['xJf', file, '-C', work], { maxBuffer: 1 << 24 });
      await writeFile(join(work, '.done'), '');
      await rm(root, { recursive: true, force: true });
      await rename(work, root);
      return top;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

export function realSet(name: keyof typeof REAL_SETS): RealSet {
  const file = join(REAL_DIR, REAL_SETS[name]);
  const available = existsSync(file);
  let unpacked: Promise<string> | undefined;
  return {
    name,
    file,
    available,
    skipReason: `${file} is absent (the real NetBSD archives live in ../shared/netbsd/real next to the checkout)`,
    dir: () => {
      if (!available) throw new Error(`bug: ${file} is absent; guard the test with describe.skipIf(!set.available)`);
      unpacked ??= unpackOnce(file).then(async (d) => {
        await stat(d);
        return d;
      });
      return unpacked;
    },
  };
}
