/**
 * RELIABILITY.md CA-01: SIGKILL during `rumpkg install` (store writes, lockfile write) and during
 * `rumpkg publish` (file registry writes) leaves the previous state or the new one, never a mix;
 * leftovers stay in temp areas (or are stale locks), and the next run removes them. Spawns the
 * compiled CLI (`npm run build` first) and kills it at delays spread over one uninterrupted run.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { integrityOf, parseLockfileText } from '../../components/index.js';
import { createFileStorage, createStore, type TarballSource } from '../../registry/index.js';
import { assertDistFresh, listFiles, readText, registryHome, runCli, tempDir, wideSet, writeComponentDirs, writeProject } from './helpers.js';

beforeAll(() => assertDistFresh());

const noSource: TarballSource = {
  tarball: () => Promise.reject(new Error('verification must not fetch')),
};

/** Leftovers a killed run may leave outside the temp areas: stale locks and atomic-write temp files. */
const tempLike = (f: string): boolean => /(^|\/)\.[^/]+\.\d+\.[0-9a-f]{12}\.tmp$/.test(f) || /\.lck(\.\d+\.[0-9a-f]+\.tmp)?$/.test(f);

function spread(totalMs: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.round(((i + 0.5) / n) * totalMs * 1.1));
}

describe('CA-01 SIGKILL mid-operation', () => {
  it('rumpkg install: the lockfile is absent or complete, the store holds only intact entries, the next run cleans up', async () => {
    const set = wideSet(16, 256 * 1024);
    const { root, home, env } = await registryHome('wide16', set);
    const want = Object.fromEntries(set.map((c) => [c.name, '^1.0.0']));
    // The reference: one uninterrupted run in another home.
    const ref = await registryHome('wide16', set);
    const refDir = writeProject(join(ref.root, 'p'), want);
    const refRun = await runCli(['install'], { cwd: refDir, env: ref.env });
    expect(refRun.code, refRun.stderr).toBe(0);
    const refLock = readFileSync(join(refDir, 'rumpkg.lock'), 'utf8');

    const dir = writeProject(join(root, 'p'), want);
    const manifest = readFileSync(join(dir, 'rumpkg.json'), 'utf8');
    const store = createStore(noSource, { home });
    const outcomes = new Set<string>();
    for (const delay of spread(refRun.ms, 10)) {
      const r = await runCli(['install'], { cwd: dir, env, killAfterMs: delay });
      outcomes.add(r.signal === 'SIGKILL' ? 'killed' : `exit ${r.code}`);
      // rumpkg.json untouched; rumpkg.lock absent or exactly the reference.
      expect(readFileSync(join(dir, 'rumpkg.json'), 'utf8')).toBe(manifest);
      const lock = readText(join(dir, 'rumpkg.lock'));
      if (lock !== undefined) {
        expect(lock).toBe(refLock);
        expect(parseLockfileText(lock, { file: 'rumpkg.lock' }).value).toBeDefined();
      }
      // Every store entry is complete and verifies; no half-entries under store/.
      const v = await store.verify();
      expect(v.problems).toEqual([]);
      // Outside home/tmp: nothing but complete files (or temp-like leftovers of the kill).
      const stray = listFiles(home).filter((f) => !f.startsWith('tmp/') && !f.startsWith('registry/') && !f.startsWith('store/') && !f.startsWith('seen/') && f !== 'config.json' && !tempLike(f));
      expect(stray.filter((f) => !f.endsWith('/'))).toEqual([]);
      expect(listFiles(dir).filter((f) => f !== 'rumpkg.json' && f !== 'rumpkg.lock' && !tempLike(f))).toEqual([]);
    }
    expect(outcomes.has('killed')).toBe(true);

    // The next run completes and removes what the killed ones left.
    const last = await runCli(['install'], { cwd: dir, env });
    expect(last.code, last.stderr).toBe(0);
    expect(readFileSync(join(dir, 'rumpkg.lock'), 'utf8')).toBe(refLock);
    expect(listFiles(dir)).toEqual(['rumpkg.json', 'rumpkg.lock']);
    expect(readdirSync(join(home, 'tmp'))).toEqual([]);
    expect(listFiles(join(home, 'seen')).filter(tempLike)).toEqual([]);
    expect((await store.verify()).checked).toBe(set.length);
    expect(listFiles(join(home, 'store'))).toEqual(listFiles(join(ref.home, 'store')));
  }, 120_000);

  it('rumpkg publish: every packument lists only versions whose tarball is complete; the next publish cleans up', async () => {
    const set = wideSet(24, 256 * 1024);
    const src = tempDir('rel-pub-src');
    const dirs = writeComponentDirs(src, set);
    // Timing reference: an uninterrupted publish into another home.
    const ref = tempDir('rel-pub-ref');
    const refRun = await runCli(['--quiet', 'publish', ...dirs], { cwd: ref, env: { ...process.env, RUMPKG_HOME: join(ref, 'home') } });
    expect(refRun.code, refRun.stderr).toBe(0);

    const root = tempDir('rel-pub');
    const env = { ...process.env, RUMPKG_HOME: join(root, 'home') };
    const reg = join(root, 'home', 'registry');
    const check = (): number => {
      let versions = 0;
      for (const f of listFiles(reg).filter((x) => x.endsWith('/packument.json'))) {
        const doc = JSON.parse(readFileSync(join(reg, f), 'utf8')) as { versions: Record<string, { dist: { integrity: string; tarball: string } }> };
        for (const v of Object.values(doc.versions)) {
          expect(integrityOf(readFileSync(join(reg, v.dist.tarball)))).toBe(v.dist.integrity);
          versions++;
        }
      }
      // Outside .registry/ only packuments and tarballs.
      expect(listFiles(reg).filter((f) => !f.startsWith('.registry/') && !f.endsWith('/') && !f.endsWith('/packument.json') && !f.endsWith('.tgz'))).toEqual([]);
      return versions;
    };
    const counts: number[] = [];
    for (const delay of spread(refRun.ms, 8)) {
      await runCli(['--quiet', 'publish', ...dirs], { cwd: root, env, killAfterMs: delay });
      counts.push(check());
    }
    expect(Math.min(...counts)).toBeLessThan(set.length); // some runs really were cut short
    // The next publish completes the registry (conflicts for what is there) and cleans its temp area.
    const last = await runCli(['--quiet', '--json', 'publish', ...dirs], { cwd: root, env });
    expect(last.signal).toBeNull();
    expect(check()).toBe(set.length);
    expect(readdirSync(join(reg, '.registry', 'tmp'))).toEqual([]);
    expect(listFiles(join(reg, '.registry', 'locks')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const storage = createFileStorage(reg);
    for (const c of set) expect(Object.keys((await storage.readPackument(c.name)).versions)).toEqual(['1.0.0']);
  }, 120_000);
});
