/**
 * RELIABILITY.md CA-01: SIGKILL during `rumpkg install` (store writes, lockfile write) and during
 * `rumpkg publish` (file registry writes) leaves the previous state or the new one, never a mix;
 * leftovers stay in temp areas (or are stale locks), and the next run removes them. Spawns the
 * compiled CLI (`npm run build` first) and kills it at delays spread over one uninterrupted run.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, readFileSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

/**
 * The registry as anyone reading its directory sees it, per name: the packument (its timestamps
 * left out: they are the only bytes two runs of one publish write differently), the bytes of
 * each tarball it lists, and any other file under the name's directory. `absent` for no entry.
 */
function visibleState(reg: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const scope of existsSync(reg) ? readdirSync(reg).sort() : []) {
    if (scope.startsWith('.')) continue;
    const names = scope.startsWith('@') ? readdirSync(join(reg, scope)).sort().map((n) => `${scope}/${n}`) : [scope];
    for (const name of names) {
      const h = createHash('sha256');
      const dir = join(reg, ...name.split('/'));
      for (const f of listFiles(dir)) {
        if (f.endsWith('/')) {
          h.update(`d:${f}\n`);
          continue;
        }
        const bytes = readFileSync(join(dir, f));
        if (f === 'packument.json') {
          const doc = JSON.parse(bytes.toString('utf8')) as { time?: unknown };
          delete doc.time;
          h.update(`p:${JSON.stringify(doc)}\n`);
        } else h.update(`f:${f}:${createHash('sha256').update(bytes).digest('hex')}\n`);
      }
      out[name] = h.digest('hex');
    }
  }
  return out;
}

/** Everything under `.registry/` but its directories, the generations and the claims token: temp files, locks. */
function internalLeftovers(reg: string): string[] {
  return listFiles(join(reg, '.registry')).filter((f) => !f.startsWith('gens/') && f !== 'tmp/' && f !== 'locks/' && f !== 'claims');
}

const KILL_HOOK = resolve(import.meta.dirname, 'kill-at-write.cjs');

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
      // Outside home/tmp: nothing but complete files (or temp-like leftovers of the kill); the
      // memo of a no-op install (objects/early, packager/early replayNoop) is written whole or not at all.
      // (A kill inside that write may leave its temporary file, `<memo>.<pid>-<hex>`, never read.)
      const memos = listFiles(home).filter((f) => /^objects\/early\/noop-install-[0-9a-f]{64}\.json(\.\d+-[0-9a-f]{8})?$/.test(f));
      for (const m of memos.filter((f) => f.endsWith('.json'))) expect(() => JSON.parse(readFileSync(join(home, m), 'utf8')), m).not.toThrow();
      const stray = listFiles(home).filter((f) => !f.startsWith('tmp/') && !f.startsWith('registry/') && !f.startsWith('store/') && !f.startsWith('seen/') && f !== 'config.json' && !memos.includes(f) && !tempLike(f));
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
      const listed: string[] = [];
      for (const f of listFiles(reg).filter((x) => x.endsWith('/packument.json') && !x.startsWith('.registry/'))) {
        const doc = JSON.parse(readFileSync(join(reg, f), 'utf8')) as { versions: Record<string, { dist: { integrity: string; tarball: string } }> };
        for (const v of Object.values(doc.versions)) {
          expect(integrityOf(readFileSync(join(reg, v.dist.tarball)))).toBe(v.dist.integrity);
          listed.push(v.dist.tarball);
          versions++;
        }
      }
      listed.sort();
      // Outside .registry/ only packuments and the tarballs they list (no tarball without its packument).
      expect(listFiles(reg).filter((f) => !f.startsWith('.registry/') && !f.endsWith('/') && !f.endsWith('/packument.json') && !f.endsWith('.tgz'))).toEqual([]);
      expect(listFiles(reg).filter((f) => !f.startsWith('.registry/') && f.endsWith('.tgz'))).toEqual(listed);
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

  it('rumpkg publish to a file registry: killed before any one of its writes, the registry is as it was or as it will be; the next run removes the rest', async () => {
    // The registry before: @rump/c00@1.0.0 and @rump/c01@1.0.0, published by the CLI.
    const set = wideSet(3, 4096);
    const src = tempDir('rel-kill-src');
    const [c00, c01, c02] = writeComponentDirs(src, set) as [string, string, string];
    const bump = writeComponentDirs(join(src, 'next'), [{ name: '@rump/c00', version: '1.1.0', payload: 4096 }])[0] as string;
    const base = tempDir('rel-kill-base');
    const baseEnv = { ...process.env, RUMPKG_HOME: join(base, 'home') };
    expect((await runCli(['--quiet', 'publish', c00, c01], { cwd: base, env: baseEnv })).code).toBe(0);
    // The publishes under test, each one CLI run (a run publishing several directories does so
    // concurrently, so its writes have no fixed order): a new version of an existing name, a new name.
    const copy = (label: string): { reg: string; env: NodeJS.ProcessEnv; root: string } => {
      const root = tempDir(label);
      cpSync(join(base, 'home'), join(root, 'home'), { recursive: true, verbatimSymlinks: true });
      return { root, reg: join(root, 'home', 'registry'), env: { ...process.env, RUMPKG_HOME: join(root, 'home') } };
    };
    const before = visibleState(join(base, 'home', 'registry'));
    expect(Object.keys(before)).toEqual(['@rump/c00', '@rump/c01']);
    const outcomes: Record<string, number> = {};
    for (const [subject, dir] of [['@rump/c00', bump], ['@rump/c02', c02]] as const) {
      const args = ['--quiet', 'publish', dir];
      // One uninterrupted run, counting its writes.
      const ref = copy('rel-kill-ref');
      const logFile = join(ref.root, 'writes.log');
      const r0 = await runCli(args, { cwd: ref.root, env: { ...ref.env, NODE_OPTIONS: `--require ${KILL_HOOK}`, RUMPKG_KILL_LOG: logFile } });
      expect(r0.code, r0.stderr).toBe(0);
      const writes = readFileSync(logFile, 'utf8').trim().split('\n');
      expect(writes.length).toBeGreaterThan(10);
      const after = visibleState(ref.reg);
      for (const name of Object.keys(after)) if (name !== subject) expect(after[name]).toBe(before[name]);
      expect(after[subject]).not.toBe(before[subject]);
      expect(internalLeftovers(ref.reg)).toEqual([]);

      for (let k = 1; k <= writes.length; k++) {
        const run = copy('rel-kill');
        const r = await runCli(args, { cwd: run.root, env: { ...run.env, NODE_OPTIONS: `--require ${KILL_HOOK}`, RUMPKG_KILL_AT: String(k) } });
        expect(r.signal, `kill point ${k}: ${writes[k - 1]}`).toBe('SIGKILL');
        // At the kill: every name is exactly as it was, or exactly as the uninterrupted run left it.
        const seen = visibleState(run.reg);
        for (const name of ['@rump/c00', '@rump/c01', '@rump/c02']) {
          const state = seen[name] === before[name] ? 'before' : seen[name] === after[name] ? 'after' : 'torn';
          expect(state, `kill point ${k} (${writes[k - 1]}): ${name}`).not.toBe('torn');
          if (name === subject) outcomes[`${name} ${state}`] = (outcomes[`${name} ${state}`] ?? 0) + 1;
        }
        // …and what a reader gets agrees: every listed version's tarball verifies.
        const storage = createFileStorage(run.reg);
        for (const name of await storage.listNames()) {
          for (const v of Object.keys((await storage.readPackument(name)).versions)) await storage.readTarball(name, v);
        }
        // The next run (the user publishing again) completes the registry and removes the leftovers.
        const again = await runCli(args, { cwd: run.root, env: run.env });
        expect(again.signal).toBeNull();
        expect(visibleState(run.reg), `after the run following kill point ${k}`).toEqual(after);
        expect(internalLeftovers(run.reg), `after the run following kill point ${k}`).toEqual([]);
        for (const name of Object.keys(after)) {
          expect(readdirSync(join(run.reg, '.registry', 'gens', name.replace('/', '+'))), `${name} keeps one generation`).toHaveLength(1);
          expect(lstatSync(join(run.reg, ...name.split('/'))).isSymbolicLink()).toBe(true);
          expect(statSync(join(run.reg, ...name.split('/'))).isDirectory()).toBe(true);
        }
      }
    }
    // The kills really landed on both sides of each commit.
    for (const o of ['@rump/c00 before', '@rump/c00 after', '@rump/c02 before', '@rump/c02 after']) expect(outcomes[o], o).toBeGreaterThan(0);
  }, 600_000);

  it('rumpkg publish into a registry of the earlier layout (plain directories): at every kill point readers see it as it was or as it will be', async () => {
    const set = wideSet(1, 4096);
    const src = tempDir('rel-legacy-src');
    const [c00] = writeComponentDirs(src, set) as [string];
    const bump = writeComponentDirs(join(src, 'next'), [{ name: '@rump/c00', version: '1.1.0', payload: 4096 }])[0] as string;
    const base = tempDir('rel-legacy-base');
    expect((await runCli(['--quiet', 'publish', c00], { cwd: base, env: { ...process.env, RUMPKG_HOME: join(base, 'home') } })).code).toBe(0);
    // Turn the name's link back into the plain directory earlier rumpkgs wrote.
    const reg0 = join(base, 'home', 'registry');
    const entry = join(reg0, '@rump', 'c00');
    const gen = realpathSync(entry);
    rmSync(entry);
    cpSync(gen, entry, { recursive: true });
    rmSync(join(reg0, '.registry', 'gens'), { recursive: true });
    const args = ['--quiet', 'publish', bump];
    const copy = (label: string): { reg: string; env: NodeJS.ProcessEnv; root: string } => {
      const root = tempDir(label);
      cpSync(join(base, 'home'), join(root, 'home'), { recursive: true, verbatimSymlinks: true });
      return { root, reg: join(root, 'home', 'registry'), env: { ...process.env, RUMPKG_HOME: join(root, 'home') } };
    };
    /** What a reader gets: each listed version with the hash of its verified tarball. */
    const readerView = async (reg: string): Promise<string> => {
      const storage = createFileStorage(reg);
      const out: string[] = [];
      for (const name of await storage.listNames()) {
        for (const v of Object.keys((await storage.readPackument(name)).versions)) out.push(`${name}@${v}:${integrityOf(await storage.readTarball(name, v))}`);
      }
      return out.join('\n');
    };
    const before = await readerView(reg0);
    const ref = copy('rel-legacy-ref');
    const logFile = join(ref.root, 'writes.log');
    expect((await runCli(args, { cwd: ref.root, env: { ...ref.env, NODE_OPTIONS: `--require ${KILL_HOOK}`, RUMPKG_KILL_LOG: logFile } })).code).toBe(0);
    const writes = readFileSync(logFile, 'utf8').trim().split('\n');
    const after = await readerView(ref.reg);
    const afterVisible = visibleState(ref.reg);
    expect(after).not.toBe(before);
    const seen = new Set<string>();
    for (let k = 1; k <= writes.length; k++) {
      const run = copy('rel-legacy');
      const r = await runCli(args, { cwd: run.root, env: { ...run.env, NODE_OPTIONS: `--require ${KILL_HOOK}`, RUMPKG_KILL_AT: String(k) } });
      expect(r.signal, `kill point ${k}: ${writes[k - 1]}`).toBe('SIGKILL');
      const view = await readerView(run.reg);
      expect([before, after], `kill point ${k} (${writes[k - 1]})`).toContain(view);
      seen.add(view === before ? 'before' : 'after');
      const again = await runCli(args, { cwd: run.root, env: run.env });
      expect(again.signal).toBeNull();
      expect(visibleState(run.reg), `after the run following kill point ${k}`).toEqual(afterVisible);
      expect(internalLeftovers(run.reg)).toEqual([]);
      expect(lstatSync(join(run.reg, '@rump', 'c00')).isSymbolicLink()).toBe(true);
      expect(readdirSync(join(run.reg, '.registry', 'gens', '@rump+c00'))).toHaveLength(1);
    }
    expect([...seen].sort()).toEqual(['after', 'before']);
  }, 600_000);
});
