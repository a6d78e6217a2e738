/**
 * RELIABILITY.md CA-08: ENOSPC, EROFS and EACCES give clear errors (typed code, the path named,
 * exit 1, no stack) and lose nothing. Real faults, not mocks: the tests run as root, where chmod
 * does not stop writes, so ENOSPC comes from a small tmpfs, EROFS from a tmpfs remounted
 * read-only, and EACCES from running the CLI as the unprivileged uid 65534 in root-owned
 * directories. Without mount(2) or setuid (an unprivileged runner) those cases are skipped.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type TarballSource } from '../../registry/index.js';
import { assertDistFresh, errorCode, hashTree, registryHome, runCli, tempDir, wideSet, writeProject } from './helpers.js';

const noSource: TarballSource = { tarball: () => Promise.reject(new Error('verification must not fetch')) };
const mounts: string[] = [];

function tryMount(dir: string, opts: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { stdio: 'ignore' });
    mounts.push(dir);
    return true;
  } catch {
    return false;
  }
}

const canMount = ((): boolean => {
  if (process.getuid?.() !== 0) return false;
  const d = mkdtempSync(join(tmpdir(), 'rumpkg-rel-mnt-probe-'));
  const ok = tryMount(d, 'size=64k');
  if (ok) {
    execFileSync('umount', [d]);
    mounts.pop();
  }
  rmdirSync(d);
  return ok;
})();
const isRoot = process.getuid?.() === 0;

function tmpfs(size: string): string {
  const d = mkdtempSync(join(tmpdir(), 'rumpkg-rel-mnt-'));
  if (!tryMount(d, `size=${size},mode=0755`)) throw new Error(`mount tmpfs on ${d} failed`);
  return d;
}
const remountRo = (d: string): void => void execFileSync('mount', ['-o', 'remount,ro', d]);

beforeAll(() => assertDistFresh());
afterAll(() => {
  for (const d of mounts.reverse()) {
    try {
      execFileSync('umount', ['-l', d]);
      rmdirSync(d);
    } catch {
      // best effort
    }
  }
});

/** A registry directory outside the home, with `n` components of 256 KiB. */
async function externalRegistry(n: number): Promise<{ registry: string; set: ReturnType<typeof wideSet> }> {
  const set = wideSet(n, 256 * 1024);
  const { home } = await registryHome(`fs${n}`, set);
  return { registry: join(home, 'registry'), set };
}

function projectUsing(dir: string, registry: string, components: Record<string, string>): string {
  writeProject(dir, components);
  const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'rumpkg.json'), `${JSON.stringify({ ...m, registries: { '@rump': `file:${registry}` } }, null, 2)}\n`);
  return dir;
}

const clean = (r: { code: number | null; stderr: string }): void => {
  expect(r.code, r.stderr).toBe(1); // a typed error, not a bug (70)
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
};

describe.skipIf(!canMount)('CA-08 with real file-system faults', () => {
  it('ENOSPC: a home on a full tmpfs → E_ENOSPC naming the path; store entries intact, no lockfile, tmp cleaned', async () => {
    const { registry, set } = await externalRegistry(16);
    const home = tmpfs('1m');
    const env = { ...process.env, RUMPKG_HOME: home };
    const work = tempDir('rel-enospc');
    // One small install fits and fills the store with one entry.
    const small = projectUsing(join(work, 'small'), registry, { '@rump/c00': '^1.0.0' });
    expect((await runCli(['install'], { cwd: small, env })).code).toBe(0);
    const storeBefore = hashTree(join(home, 'store'));
    const big = projectUsing(join(work, 'big'), registry, Object.fromEntries(set.map((c) => [c.name, '^1.0.0'])));
    const manifest = readFileSync(join(big, 'rumpkg.json'), 'utf8');
    const r = await runCli(['install'], { cwd: big, env });
    clean(r);
    expect(errorCode(r)).toBe('E_ENOSPC');
    expect(r.stderr).toContain(home);
    expect(r.stderr).toMatch(/hint: free some disk space/);
    // Nothing lost: the old entry is intact, every entry verifies, no lockfile was written.
    const v = await createStore(noSource, { home }).verify();
    expect(v.problems).toEqual([]);
    const c00 = readdirSync(join(home, 'store'));
    expect(c00.length).toBeGreaterThanOrEqual(1);
    if (v.checked === 1) expect(hashTree(join(home, 'store'))).toBe(storeBefore);
    expect(readdirSync(big).sort()).toEqual(['rumpkg.json']);
    expect(readFileSync(join(big, 'rumpkg.json'), 'utf8')).toBe(manifest);
    expect(readdirSync(join(home, 'tmp'))).toEqual([]);
  }, 60_000);

  it('ENOSPC in the project: no lock leftovers; a failed lockfile write keeps rumpkg.lock and rumpkg.json byte-identical', async () => {
    const { registry } = await externalRegistry(16);
    const { env } = await registryHome();
    const dir = tmpfs('64k');
    projectUsing(dir, registry, { '@rump/c00': '^1.0.0' });
    expect((await runCli(['install'], { cwd: dir, env })).code).toBe(0);
    const lockBefore = readFileSync(join(dir, 'rumpkg.lock'), 'utf8');
    // rumpkg.json asks for more, so install must rewrite rumpkg.lock (which is bigger than a page).
    const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as { components: Record<string, string> };
    for (let i = 1; i < 16; i++) m.components[`@rump/c${String(i).padStart(2, '0')}`] = '^1.0.0';
    writeFileSync(join(dir, 'rumpkg.json'), `${JSON.stringify(m, null, 2)}\n`);
    const manifest = readFileSync(join(dir, 'rumpkg.json'), 'utf8');
    // Fill the file system, then free exactly one page: room for the lock file, not for the lockfile.
    writeFileSync(join(dir, 'reserve'), Buffer.alloc(4096));
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(dir, 'fill')}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {
      // dd stops at ENOSPC
    }
    rmSync(join(dir, 'reserve'));
    const r = await runCli(['install'], { cwd: dir, env });
    clean(r);
    expect(errorCode(r)).toBe('E_ENOSPC');
    expect(r.stderr).toContain(join(dir, 'rumpkg.lock'));
    expect(readFileSync(join(dir, 'rumpkg.lock'), 'utf8')).toBe(lockBefore);
    expect(readFileSync(join(dir, 'rumpkg.json'), 'utf8')).toBe(manifest);
    expect(readdirSync(dir).sort()).toEqual(['fill', 'rumpkg.json', 'rumpkg.lock']);
    // No space at all: the lock file itself cannot be written; nothing is left behind.
    writeFileSync(join(dir, 'fill2'), '');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(dir, 'fill2')}`, 'bs=1k'], { stdio: 'ignore' });
    } catch {
      // full
    }
    const full = hashTree(dir);
    const r2 = await runCli(['add', 'c01'], { cwd: dir, env });
    clean(r2);
    expect(errorCode(r2)).toBe('E_ENOSPC');
    expect(hashTree(dir)).toBe(full);
  }, 60_000);

  it('EROFS: a read-only project → E_EROFS, files unchanged; a read-only home still installs what its store has', async () => {
    const { registry } = await externalRegistry(16);
    const home = tmpfs('8m');
    const env = { ...process.env, RUMPKG_HOME: home };
    const dir = tmpfs('1m');
    projectUsing(dir, registry, { '@rump/c00': '^1.0.0', '@rump/c01': '^1.0.0' });
    expect((await runCli(['install'], { cwd: dir, env })).code).toBe(0);
    remountRo(dir);
    const before = hashTree(dir);
    const r = await runCli(['add', 'c02'], { cwd: dir, env });
    clean(r);
    expect(errorCode(r)).toBe('E_EROFS');
    expect(r.stderr).toContain(dir);
    expect(hashTree(dir)).toBe(before);
    // The home read-only: a satisfied lockfile whose components are all in the store installs.
    remountRo(home);
    const ok = await runCli(['install', '--frozen'], { cwd: dir, env });
    expect(ok.code, ok.stderr).toBe(0);
    // A store miss on the read-only home: E_EROFS naming the home, nothing changed.
    const other = tempDir('rel-erofs');
    projectUsing(other, registry, { '@rump/c03': '^1.0.0' });
    const homeBefore = hashTree(home);
    const miss = await runCli(['install'], { cwd: other, env });
    clean(miss);
    expect(errorCode(miss)).toBe('E_EROFS');
    expect(miss.stderr).toContain(home);
    expect(hashTree(home)).toBe(homeBefore);
    expect(readdirSync(other)).toEqual(['rumpkg.json']);
  }, 60_000);
});

describe.skipIf(!isRoot)('CA-08 EACCES (the CLI as uid 65534 in root-owned directories)', () => {
  it('an unwritable project → E_EACCES naming it, files unchanged; an unwritable home → E_EACCES naming it', async () => {
    const { registry } = await externalRegistry(16);
    const base = tempDir('rel-eacces');
    chmodSync(base, 0o755);
    const home = join(base, 'home');
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, 65534, 65534);
    const reg = join(base, 'registry');
    cpSync(registry, reg, { recursive: true, verbatimSymlinks: true });
    execFileSync('chmod', ['-R', 'a+rX', reg]);
    const env = { ...process.env, RUMPKG_HOME: home };
    const dir = projectUsing(join(base, 'p'), reg, { '@rump/c00': '^1.0.0' });
    chmodSync(dir, 0o755); // root-owned, not writable by 65534
    const before = hashTree(dir);
    const r = await runCli(['install'], { cwd: dir, env, uid: 65534, gid: 65534 });
    clean(r);
    expect(errorCode(r)).toBe('E_EACCES');
    expect(r.stderr).toContain(dir);
    expect(hashTree(dir)).toBe(before);
    // The project writable, the home not.
    chownSync(dir, 65534, 65534);
    const roHome = join(base, 'home-root');
    mkdirSync(roHome, { mode: 0o755 });
    const r2 = await runCli(['install'], { cwd: dir, env: { ...env, RUMPKG_HOME: roHome }, uid: 65534, gid: 65534 });
    clean(r2);
    expect(errorCode(r2)).toBe('E_EACCES');
    expect(r2.stderr).toContain(roHome);
    expect(readdirSync(dir)).toEqual(['rumpkg.json']);
    expect(readdirSync(roHome)).toEqual([]);
  }, 60_000);
});
