/**
 * RELIABILITY.md CA-02/05 (8 concurrent `rumpkg install`s sharing one RUMPKG_HOME give the
 * result of one sequential run) and CA-06 (two writers of one lockfile: the second waits, or
 * fails with E_LOCKED; a stale lock is reclaimed). Spawns the compiled CLI (`npm run build`).
 */
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError } from '../../components/index.js';
import { addComponents, installProject } from '../../packager/index.js';
import { acquireLock, createStore, type TarballSource } from '../../registry/index.js';
import { assertDistFresh, fixtureSet, hashTree, listFiles, registryHome, runCli, wideSet, writeProject } from './helpers.js';

beforeAll(() => assertDistFresh());

const noSource: TarballSource = { tarball: () => Promise.reject(new Error('verification must not fetch')) };

describe('CA-02/05 concurrent installs sharing one home', () => {
  it('8 processes give the lockfile and store of one sequential run, and leave no temp files', async () => {
    const set = [...wideSet(12, 64 * 1024), ...fixtureSet()];
    const want = { ...Object.fromEntries(wideSet(12, 0).map((c) => [c.name, '^1.0.0'])), '@rump/app-x': '^1.0.0', '@rump/solo-w': '^1.0.0' };
    const seq = await registryHome('conc', set);
    const seqDir = writeProject(join(seq.root, 'p'), want);
    const one = await runCli(['install'], { cwd: seqDir, env: seq.env });
    expect(one.code, one.stderr).toBe(0);
    const refLock = readFileSync(join(seqDir, 'rumpkg.lock'), 'utf8');

    const par = await registryHome('conc', set);
    const dirs = Array.from({ length: 8 }, (_, i) => {
      const d = join(par.root, `p${i}`);
      cpSync(join(seqDir, 'rumpkg.json'), join(d, 'rumpkg.json'), { recursive: true });
      return d;
    });
    const runs = await Promise.all(dirs.map((d) => runCli(['install'], { cwd: d, env: par.env })));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    for (const d of dirs) expect(readFileSync(join(d, 'rumpkg.lock'), 'utf8')).toBe(refLock);
    // The store is the same tree, byte for byte, and every entry verifies.
    expect(hashTree(join(par.home, 'store'))).toBe(hashTree(join(seq.home, 'store')));
    const v = await createStore(noSource, { home: par.home }).verify();
    expect(v.problems).toEqual([]);
    expect(v.checked).toBe(16); // 12 wide + app-x, mid-y, leaf-z, solo-w
    expect(readdirSync(join(par.home, 'tmp'))).toEqual([]);
    expect(listFiles(par.home).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // The rollback high-water marks agree too (their file names hash the registry URL, which differs).
    const marks = (home: string): unknown[] =>
      readdirSync(join(home, 'seen'))
        .map((f) => JSON.parse(readFileSync(join(home, 'seen', f), 'utf8')) as { registry?: string; name: string })
        .map(({ registry: _r, ...rest }) => rest)
        .sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(marks(par.home)).toEqual(marks(seq.home));
    expect(marks(par.home)).toHaveLength(16);
  }, 120_000);
});

describe('CA-06 two writers of one lockfile', () => {
  it('two concurrent `rumpkg add` in one project: the second waits; both changes land, the lockfile fits', async () => {
    const { root, env } = await registryHome();
    const dir = writeProject(join(root, 'p'), {});
    const [a, b] = await Promise.all([runCli(['add', 'app-x'], { cwd: dir, env }), runCli(['add', 'solo-w'], { cwd: dir, env })]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as { components: Record<string, string> };
    expect(m.components).toEqual({ '@rump/app-x': '^1.1.0', '@rump/solo-w': '^1.1.0' });
    const frozen = await runCli(['install', '--frozen'], { cwd: dir, env });
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(listFiles(dir)).toEqual(['rumpkg.json', 'rumpkg.lock']);
  }, 60_000);

  it('a lock held by a live process → E_LOCKED after the wait, files untouched', async () => {
    const { root, env } = await registryHome();
    const dir = writeProject(join(root, 'p'), {});
    const lock = await acquireLock(join(dir, '.rumpkg.lock.lck'));
    try {
      const before = hashTree(dir);
      const t0 = Date.now();
      const e = await addComponents(dir, ['solo-w'], { env, lockTimeoutMs: 300 }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isRumpkgError(e, 'E_LOCKED'), String(e)).toBe(true);
      expect((e as Error).message).toContain(join(dir, 'rumpkg.lock'));
      expect((e as Error).message).toContain(`pid ${process.pid}`);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      expect(hashTree(dir)).toBe(before);
    } finally {
      await lock.release();
    }
    // Released: the same call now goes through.
    await addComponents(dir, ['solo-w'], { env, lockTimeoutMs: 300 });
  });

  it('a stale lock (dead pid, or too old) is reclaimed, and the CLI run removes it', async () => {
    const { root, env } = await registryHome();
    const dir = writeProject(join(root, 'p'), { '@rump/solo-w': '^1.0.0' });
    // A pid that is certainly dead: a finished child of ours.
    const dead = (await runCli(['--version'], { cwd: dir, env })).pid;
    writeFileSync(join(dir, '.rumpkg.lock.lck'), JSON.stringify({ pid: dead, host: hostname(), time: Date.now(), token: 'x'.repeat(24) }));
    const r = await runCli(['install'], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(listFiles(dir)).toEqual(['rumpkg.json', 'rumpkg.lock']);
    // Old lock of a live pid (ours) on another host: judged by age.
    writeFileSync(join(dir, '.rumpkg.lock.lck'), JSON.stringify({ pid: process.pid, host: 'elsewhere', time: Date.now() - 3_600_000, token: 'y'.repeat(24) }));
    await installProject(dir, { env, lockTimeoutMs: 2000 });
    expect(listFiles(dir)).toEqual(['rumpkg.json', 'rumpkg.lock']);
  }, 60_000);
});
