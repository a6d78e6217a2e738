/**
 * The file registry (registry/storage.ts), locks and tokens: layout, immutability (SV-02),
 * concurrent publishes from async callers and from separate processes (exactly one winner),
 * path safety (CA-04/SV-06), failed operations leave the tree byte-identical, stale locks are
 * reclaimed (CA-06), tokens stored as sha256 only with mode 0600.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname, extname } from 'node:path';
import { gzipSync } from 'node:zlib';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { integrityOf, isRumpkgError } from '../../components/index.js';
import { acquireLock, createFileStorage, createTokenStore, isYanked, withLock } from '../../registry/index.js';
import { buildTar, componentEntries, file, gz, manifestJson } from '../helpers/tar.js';
import { hashTree, listTree, packFixture, tempDir } from './server-fixtures.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isRumpkgError(e)) return e.code;
    throw e;
  }
}

describe('file registry storage', () => {
  it('publishes into the documented layout with a registry-relative tarball location', async () => {
    const dir = tempDir('storage');
    const s = createFileStorage(dir);
    const pack = await packFixture({ version: '10.0.0' });
    const r = await s.publish(pack.data);
    expect(r).toMatchObject({ name: '@rump/tcpip', version: '10.0.0', integrity: pack.integrity, tarball: '@rump/tcpip/-/tcpip-10.0.0.tgz' });
    expect(listTree(dir).filter((f) => !f.startsWith('.registry/'))).toEqual(['@rump/tcpip/-/tcpip-10.0.0.tgz', '@rump/tcpip/packument.json']);
    const p = await s.readPackument('@rump/tcpip');
    expect(p['dist-tags']).toEqual({ latest: '10.0.0' });
    const v = p.versions['10.0.0'];
    expect(v?.dist.tarball).toBe('@rump/tcpip/-/tcpip-10.0.0.tgz');
    expect(v?.dist.integrity).toBe(pack.integrity);
    expect(v?.rump).toEqual(pack.manifest.rump);
    expect(Object.keys(v ?? {}).some((k) => k.startsWith('_'))).toBe(false);
    const bytes = await s.readTarball('@rump/tcpip', '10.0.0');
    expect(integrityOf(bytes)).toBe(pack.integrity);
    expect(await s.listNames()).toEqual(['@rump/tcpip']);
    // nothing left in the temp area, no lock left behind
    expect(readdirSync(join(dir, '.registry', 'tmp'))).toEqual([]);
    expect(readdirSync(join(dir, '.registry', 'locks'))).toEqual([]);
  });

  it('never replaces a published version: identical bytes, different bytes, after yank (SV-02)', async () => {
    const dir = tempDir('immutable');
    const s = createFileStorage(dir);
    const pack = await packFixture();
    await s.publish(pack.data, { owner: 'alice' });
    const other = await packFixture({ salt: 'different bytes' });
    expect(other.integrity).not.toBe(pack.integrity);
    const before = hashTree(dir);
    expect(await codeOf(s.publish(pack.data, { owner: 'alice' }))).toBe('E_REGISTRY_CONFLICT');
    expect(await codeOf(s.publish(other.data, { owner: 'alice' }))).toBe('E_REGISTRY_CONFLICT');
    expect(await codeOf(s.publish(pack.data))).toBe('E_REGISTRY_CONFLICT');
    expect(hashTree(dir)).toBe(before);

    const yanked = await s.yank('@rump/tcpip', '10.0.0', { owner: 'alice', reason: 'CVE' });
    expect(isYanked(yanked)).toBe(true);
    const afterYank = hashTree(dir);
    expect(await codeOf(s.publish(pack.data, { owner: 'alice' }))).toBe('E_REGISTRY_CONFLICT');
    expect(await codeOf(s.publish(other.data, { owner: 'bob' }))).toBe('E_REGISTRY_AUTH');
    expect(hashTree(dir)).toBe(afterYank);
    expect(integrityOf(readFileSync(join(dir, '@rump/tcpip/-/tcpip-10.0.0.tgz')))).toBe(pack.integrity);

    const undone = await s.yank('@rump/tcpip', '10.0.0', { owner: 'alice', undo: true });
    expect(isYanked(undone)).toBe(false);
    expect(undone.deprecated).toBeUndefined();
  });

  it('10 concurrent async publishes of one version give exactly one success', async () => {
    const dir = tempDir('race');
    const packs = await Promise.all(Array.from({ length: 10 }, (_, i) => packFixture({ salt: `racer ${i}` })));
    // separate storage objects, as separate callers would have
    const results = await Promise.all(packs.map((p) => codeOf(createFileStorage(dir).publish(p.data))));
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r === 'E_REGISTRY_CONFLICT')).toHaveLength(9);
    const winner = packs[results.indexOf('ok')];
    const stored = readFileSync(join(dir, '@rump/tcpip/-/tcpip-10.0.0.tgz'));
    expect(integrityOf(stored)).toBe(winner?.integrity);
    expect((await createFileStorage(dir).readPackument('@rump/tcpip')).versions['10.0.0']?.dist.integrity).toBe(winner?.integrity);
  });

  it('concurrent publishes from 10 separate processes give exactly one success', async () => {
    const dir = tempDir('procs');
    const build = transpileSources();
    const packs = await Promise.all(Array.from({ length: 10 }, (_, i) => packFixture({ salt: `process ${i}` })));
    const tgzDir = tempDir('tgz');
    const files = packs.map((p, i) => {
      const f = join(tgzDir, `${i}.tgz`);
      writeFileSync(f, p.data);
      return f;
    });
    const script = join(build, 'publish-child.mjs');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { createFileStorage } from './registry/index.js';
const [dir, tgz] = process.argv.slice(2);
try { await createFileStorage(dir).publish(readFileSync(tgz)); process.stdout.write('ok'); }
catch (e) { process.stdout.write(String(e.code ?? e.message)); }
`,
    );
    const run = (tgz: string): Promise<string> =>
      new Promise((res, rej) => {
        const c = spawn(process.execPath, [script, dir, tgz], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.on('error', rej);
        c.on('close', () => res(out));
      });
    const results = await Promise.all(files.map(run));
    expect(results.filter((r) => r === 'ok'), JSON.stringify(results)).toHaveLength(1);
    expect(results.filter((r) => r === 'E_REGISTRY_CONFLICT')).toHaveLength(9);
    const winner = packs[results.indexOf('ok')];
    expect(integrityOf(readFileSync(join(dir, '@rump/tcpip/-/tcpip-10.0.0.tgz')))).toBe(winner?.integrity);
    expect(readdirSync(join(dir, '.registry', 'tmp'))).toEqual([]);
  }, 120_000);

  it('refuses hostile names and versions without touching the tree (CA-04/SV-06)', async () => {
    const dir = tempDir('names');
    const s = createFileStorage(dir);
    await s.publish((await packFixture()).data);
    writeFileSync(join(dir, '..', 'canary-outside'), 'canary');
    const before = hashTree(dir);
    for (const name of ['../x', '@rump/../../x', '@rump/..', '..', '/etc/passwd', '@rump/a/b', '@RUMP/tcpip', '@rump/TCPIP', 'a\\b', '.registry', '@rump%2ftcpip', '']) {
      expect(await codeOf(s.readPackument(name)), name).toBe('E_NAME');
      expect(await codeOf(s.yank(name, '10.0.0')), name).toBe('E_NAME');
      expect(await codeOf(s.setDistTag(name, 'beta', '10.0.0')), name).toBe('E_NAME');
    }
    for (const v of ['../../x', '10.0.0/../../x', '1', 'latest', '10.0.0+build']) {
      expect(await codeOf(s.readTarball('@rump/tcpip', v)), v).toBe('E_SEMVER');
    }
    // a version whose tarball would escape the directory cannot even be packed into a publish
    const evil = gz(buildTar(componentEntries(manifestJson({ version: '1.0.0/../../../../x' }))));
    expect(['E_SEMVER', 'E_MANIFEST', 'E_SCHEMA']).toContain(await codeOf(s.publish(evil)));
    expect(hashTree(dir)).toBe(before);
    expect(readFileSync(join(dir, '..', 'canary-outside'), 'utf8')).toBe('canary');
  });

  it('a failed publish leaves the tree byte-identical (bad tarballs, bad manifests)', async () => {
    const dir = tempDir('failed');
    const s = createFileStorage(dir);
    await s.publish((await packFixture()).data);
    const before = hashTree(dir);
    const cases: Array<[string, Buffer]> = [
      ['not gzip', Buffer.from('hello')],
      ['truncated', (await packFixture({ version: '10.1.0' })).data.subarray(0, 60)],
      ['symlink entry', gz(buildTar([...componentEntries(manifestJson({ version: '10.2.0' })), { path: 'package/evil', type: 'SymbolicLink', linkpath: '/etc/passwd' }]))],
      ['traversal', gz(buildTar([...componentEntries(manifestJson({ version: '10.3.0' })), file('package/../../evil', 'x')]))],
      ['no manifest', gz(buildTar([file('package/readme', 'x')]))],
      ['missing archive', gz(buildTar([file('package/package.json', JSON.stringify(manifestJson({ version: '10.4.0' })))]))],
      ['gzip of garbage', gzipSync(Buffer.alloc(4096, 7))],
    ];
    for (const [label, tgz] of cases) {
      const code = await codeOf(s.publish(tgz));
      expect(code, label).toMatch(/^E_(TAR_|MANIFEST|JSON|SCHEMA)/);
    }
    expect(hashTree(dir)).toBe(before);
    expect(Object.keys((await s.readPackument('@rump/tcpip')).versions)).toEqual(['10.0.0']);
  });

  it('moves latest only forward by default; explicit tags are set; dist-tag rules', async () => {
    const dir = tempDir('tags');
    const s = createFileStorage(dir);
    await s.publish((await packFixture({ version: '10.0.0' })).data);
    await s.publish((await packFixture({ version: '9.0.0' })).data);
    await s.publish((await packFixture({ version: '11.0.0-rc.1' })).data);
    await s.publish((await packFixture({ version: '9.1.0' })).data, { tag: 'latest' });
    expect((await s.readPackument('@rump/tcpip'))['dist-tags']).toEqual({ latest: '10.0.0' });
    await s.publish((await packFixture({ version: '11.0.0-rc.2' })).data, { tag: 'next' });
    expect(await s.setDistTag('@rump/tcpip', 'lts', '9.0.0')).toEqual({ latest: '10.0.0', next: '11.0.0-rc.2', lts: '9.0.0' });
    expect(await s.removeDistTag('@rump/tcpip', 'lts')).toEqual({ latest: '10.0.0', next: '11.0.0-rc.2' });
    expect(await codeOf(s.setDistTag('@rump/tcpip', 'exp', '12.0.0'))).toBe('E_NOT_FOUND');
    expect(await codeOf(s.setDistTag('@rump/tcpip', '^1.0.0', '10.0.0'))).toBe('E_USAGE');
    expect(await codeOf(s.removeDistTag('@rump/tcpip', 'latest'))).toBe('E_USAGE');
    const p = await s.readPackument('@rump/tcpip');
    expect(Object.keys(p.versions)).toEqual(['9.0.0', '9.1.0', '10.0.0', '11.0.0-rc.1', '11.0.0-rc.2']);
  });

  it('enforces ownership when an owner is named', async () => {
    const dir = tempDir('owners');
    const s = createFileStorage(dir);
    await s.publish((await packFixture({ version: '1.0.0' })).data, { owner: 'alice' });
    expect((await s.readPackument('@rump/tcpip')).maintainers).toEqual([{ name: 'alice' }]);
    const before = hashTree(dir);
    expect(await codeOf(s.publish((await packFixture({ version: '1.1.0' })).data, { owner: 'bob' }))).toBe('E_REGISTRY_AUTH');
    expect(await codeOf(s.yank('@rump/tcpip', '1.0.0', { owner: 'bob' }))).toBe('E_REGISTRY_AUTH');
    expect(await codeOf(s.setDistTag('@rump/tcpip', 'beta', '1.0.0', { owner: 'bob' }))).toBe('E_REGISTRY_AUTH');
    expect(hashTree(dir)).toBe(before);
    expect(await codeOf(s.publish((await packFixture({ version: '1.1.0' })).data, { owner: 'alice' }))).toBe('ok');
  });

  it('searches names, aliases, lib, descriptions and keywords', async () => {
    const dir = tempDir('search');
    const s = createFileStorage(dir);
    await s.publish((await packFixture({ name: '@rump/tcpip', description: 'IPv4 and TCP/UDP', aliases: ['netinet'], lib: 'librumpnet_netinet' })).data);
    await s.publish((await packFixture({ name: '@rump/virtio-net', description: 'virtio network driver', aliases: ['vioif'], lib: 'librumpdev_virtio_if_vioif', keywords: ['ethernet'] })).data);
    await s.publish((await packFixture({ name: '@rump/ffs', description: 'Berkeley fast file system', aliases: ['rumpfs_ffs'], lib: 'librumpfs_ffs' })).data);
    const names = async (w: string[]): Promise<string[]> => (await s.search(w)).hits.map((h) => h.name);
    expect(await names(['tcpip'])).toEqual(['@rump/tcpip']);
    expect(await names(['netinet'])).toEqual(['@rump/tcpip']);
    expect(await names(['librumpfs_ffs'])).toEqual(['@rump/ffs']);
    expect(await names(['ethernet'])).toEqual(['@rump/virtio-net']);
    expect(await names(['file', 'system'])).toEqual(['@rump/ffs']);
    expect(await names(['net'])).toEqual(['@rump/tcpip', '@rump/virtio-net'].sort());
    expect(await names(['nothing-like-this'])).toEqual([]);
    expect((await s.search([], { size: 2 })).hits).toHaveLength(2);
    expect((await s.search([])).total).toBe(3);
  });

  it('checks declared metadata against the tarball: raw or normalised form pass, anything else is confusion', async () => {
    const dir = tempDir('declared');
    const s = createFileStorage(dir);
    const pack = await packFixture({ aliases: ['zz-alias', 'aa-alias'] });
    const raw = JSON.parse(JSON.stringify(pack.manifest)) as Record<string, unknown>;
    (raw.rump as Record<string, unknown>).aliases = ['zz-alias', 'aa-alias'];
    const evil = JSON.parse(JSON.stringify(pack.manifest)) as Record<string, unknown>;
    (evil.rump as Record<string, unknown>).requires = [];
    const before = hashTree(dir);
    expect(await codeOf(s.publish(pack.data, { declared: evil }))).toBe('E_MANIFEST_CONFUSION');
    expect(await codeOf(s.publish(pack.data, { declared: { ...raw, dependencies: { '@rump/x': '*' } } }))).toBe('E_MANIFEST_CONFUSION');
    expect(await codeOf(s.publish(pack.data, { integrity: integrityOf(Buffer.from('x')) }))).toBe('E_INTEGRITY');
    expect(hashTree(dir)).toBe(before);
    expect(await codeOf(s.publish(pack.data, { declared: raw, integrity: pack.integrity }))).toBe('ok');
    expect(await codeOf(createFileStorage(tempDir('declared2')).publish(pack.data, { declared: pack.manifest as unknown as Record<string, unknown> }))).toBe('ok');
  });

  it('detects a damaged stored tarball on read', async () => {
    const dir = tempDir('damaged');
    const s = createFileStorage(dir);
    await s.publish((await packFixture()).data);
    const f = join(dir, '@rump/tcpip/-/tcpip-10.0.0.tgz');
    const b = readFileSync(f);
    b[b.length - 5] = (b[b.length - 5] as number) ^ 0xff;
    writeFileSync(f, b);
    expect(await codeOf(s.readTarball('@rump/tcpip', '10.0.0'))).toBe('E_INTEGRITY');
  });
});

describe('generations and registries of the earlier layout', () => {
  /** Turns `name`'s link back into the plain directory registries had before generations. */
  function toPlainLayout(dir: string, name: string): void {
    const entry = join(dir, ...name.split('/'));
    const gen = realpathSync(entry);
    rmSync(entry);
    cpSync(gen, entry, { recursive: true });
    rmSync(join(dir, '.registry', 'gens'), { recursive: true, force: true });
  }

  it('every name is a relative link to one generation; a publish makes a new one and drops the old', async () => {
    const dir = tempDir('storage-gens');
    const s = createFileStorage(dir);
    await s.publish((await packFixture({ version: '10.0.0' })).data);
    const entry = join(dir, '@rump', 'tcpip');
    const first = readlinkSync(entry);
    expect(first).toMatch(/^\.\.\/\.registry\/gens\/@rump\+tcpip\/\d+-[0-9a-f]{16}$/);
    await s.publish((await packFixture({ version: '10.1.0' })).data);
    const second = readlinkSync(entry);
    expect(second).not.toBe(first);
    expect(readdirSync(join(dir, '.registry', 'gens', '@rump+tcpip'))).toEqual([second.split('/').at(-1)]);
    expect(readdirSync(join(entry, '-')).sort()).toEqual(['tcpip-10.0.0.tgz', 'tcpip-10.1.0.tgz']);
    expect(integrityOf(await s.readTarball('@rump/tcpip', '10.0.0'))).toBe(integrityOf(readFileSync(join(entry, '-', 'tcpip-10.0.0.tgz'))));
  });

  it('a link that is not one of its own generations is refused, never followed', async () => {
    const dir = tempDir('storage-gens');
    const s = createFileStorage(dir);
    await s.publish((await packFixture({ version: '10.0.0' })).data);
    const elsewhere = tempDir('storage-elsewhere');
    cpSync(realpathSync(join(dir, '@rump', 'tcpip')), elsewhere, { recursive: true });
    rmSync(join(dir, '@rump', 'tcpip'));
    symlinkSync(elsewhere, join(dir, '@rump', 'tcpip'));
    expect(await codeOf(s.readPackument('@rump/tcpip'))).toBe('E_REGISTRY');
    expect(await codeOf(s.publish((await packFixture({ version: '10.1.0' })).data))).toBe('E_REGISTRY');
    expect(readdirSync(join(elsewhere, '-'))).toEqual(['tcpip-10.0.0.tgz']);
  });

  it('a plain directory of the earlier layout is read as is and becomes a generation on its first write', async () => {
    const dir = tempDir('storage-legacy');
    const s = createFileStorage(dir);
    await s.publish((await packFixture({ version: '10.0.0' })).data);
    toPlainLayout(dir, '@rump/tcpip');
    const fresh = createFileStorage(dir);
    expect(await fresh.listNames()).toEqual(['@rump/tcpip']);
    expect(Object.keys((await fresh.readPackument('@rump/tcpip')).versions)).toEqual(['10.0.0']);
    await fresh.readTarball('@rump/tcpip', '10.0.0');
    await fresh.yank('@rump/tcpip', '10.0.0');
    expect(lstatSync(join(dir, '@rump', 'tcpip')).isSymbolicLink()).toBe(true);
    await fresh.publish((await packFixture({ version: '10.1.0' })).data);
    expect(Object.keys((await fresh.readPackument('@rump/tcpip')).versions)).toEqual(['10.0.0', '10.1.0']);
    expect(isYanked((await fresh.readPackument('@rump/tcpip')).versions['10.0.0'])).toBe(true);
    expect(readdirSync(join(dir, '.registry', 'gens', '@rump+tcpip'))).toHaveLength(1);
  });

  it('a conversion interrupted between its two renames: readers see the name, the next writer restores the link', async () => {
    const dir = tempDir('storage-legacy');
    const s = createFileStorage(dir);
    await s.publish((await packFixture({ version: '10.0.0' })).data);
    toPlainLayout(dir, '@rump/tcpip');
    // What a kill after the first rename of the conversion leaves: the directory moved, no link.
    mkdirSync(join(dir, '.registry', 'gens', '@rump+tcpip'), { recursive: true });
    renameSync(join(dir, '@rump', 'tcpip'), join(dir, '.registry', 'gens', '@rump+tcpip', '999999-0123456789abcdef-legacy'));
    const fresh = createFileStorage(dir);
    expect(await fresh.listNames()).toEqual(['@rump/tcpip']);
    await fresh.readTarball('@rump/tcpip', '10.0.0');
    await fresh.publish((await packFixture({ version: '10.1.0' })).data);
    expect(lstatSync(join(dir, '@rump', 'tcpip')).isSymbolicLink()).toBe(true);
    expect(Object.keys((await fresh.readPackument('@rump/tcpip')).versions)).toEqual(['10.0.0', '10.1.0']);
    expect(readdirSync(join(dir, '.registry', 'gens', '@rump+tcpip'))).toHaveLength(1);
  });

  it('generations that dead writers left behind are removed by the next writer, the current one never', async () => {
    const dir = tempDir('storage-gens');
    const s = createFileStorage(dir);
    await s.publish((await packFixture({ version: '10.0.0' })).data);
    const gens = join(dir, '.registry', 'gens', '@rump+tcpip');
    const current = readdirSync(gens)[0] as string;
    mkdirSync(join(gens, '999999-00000000000000aa', '-'), { recursive: true });
    mkdirSync(join(dir, '.registry', 'gens', '@rump+never', '999999-00000000000000bb'), { recursive: true });
    await createFileStorage(dir).publish((await packFixture({ name: '@rump/other', version: '1.0.0', lib: 'librumpother', aliases: [] })).data);
    expect(readdirSync(gens)).toEqual([current]);
    expect(readdirSync(join(dir, '.registry', 'gens', '@rump+never'))).toEqual([]);
  });
});

describe('lock files (CA-06)', () => {
  it('the second writer waits, then fails with E_LOCKED after the timeout', async () => {
    const dir = tempDir('lock');
    const path = join(dir, 'x.lock');
    const held = await acquireLock(path);
    const t0 = Date.now();
    expect(await codeOf(acquireLock(path, { timeoutMs: 200, what: '@rump/tcpip' }))).toBe('E_LOCKED');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    await held.release();
    const again = await acquireLock(path, { timeoutMs: 200 });
    await again.release();
    expect(existsSync(path)).toBe(false);
  });

  it('reclaims a lock left by a dead process and an old lock', async () => {
    const dir = tempDir('stale');
    const path = join(dir, 'x.lock');
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((r) => dead.on('close', () => r(dead.pid as number)));
    writeFileSync(path, JSON.stringify({ pid: deadPid, host: (await import('node:os')).hostname(), time: Date.now(), token: 'dead' }));
    const l = await acquireLock(path, { timeoutMs: 500 });
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    await l.release();
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: 'elsewhere', time: Date.now() - 3_600_000, token: 'old' }));
    const l2 = await acquireLock(path, { timeoutMs: 500, staleMs: 60_000 });
    await l2.release();
    // a live holder is not reclaimed
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: 'elsewhere', time: Date.now(), token: 'live' }));
    expect(await codeOf(acquireLock(path, { timeoutMs: 100 }))).toBe('E_LOCKED');
  });

  it('never moves a lock taken again after the stale one was read (a holder that released, then exited)', async () => {
    const path = join(tempDir('stale-race'), 'x.lock');
    const host = (await import('node:os')).hostname();
    writeFileSync(path, JSON.stringify({ pid: 2147483646, host, time: Date.now(), token: 'released' }));
    let fresh: { ino: number; ctimeNs: bigint } | undefined;
    // Asked whether the holder read first is alive, the lock has meanwhile been released and
    // taken by a live process (this one's parent), and the first holder has exited.
    const isAlive = (pid: number): boolean => {
      if (fresh === undefined) {
        rmSync(path);
        writeFileSync(path, JSON.stringify({ pid: process.ppid, host, time: Date.now(), token: 'fresh' }));
        const st = statSync(path, { bigint: true });
        fresh = { ino: Number(st.ino), ctimeNs: st.ctimeNs };
        const until = Date.now() + 20; // a later clock tick for any rename or link of it
        while (Date.now() < until);
        return false;
      }
      return pid === process.ppid;
    };
    expect(await codeOf(acquireLock(path, { timeoutMs: 200, isAlive }))).toBe('E_LOCKED');
    const st = statSync(path, { bigint: true });
    expect(JSON.parse(readFileSync(path, 'utf8')).token).toBe('fresh');
    // never renamed away and back: the same inode, its change time untouched
    expect({ ino: Number(st.ino), ctimeNs: st.ctimeNs }).toEqual(fresh);
    expect(readdirSync(dirname(path))).toEqual(['x.lock']);
  });

  it('serialises critical sections of concurrent callers', async () => {
    const path = join(tempDir('serial'), 'x.lock');
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withLock(path, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
  });
});

describe('tokens', () => {
  it('stores only sha256 hashes in a 0600 file; revoked tokens stop working', async () => {
    const dir = tempDir('tokens');
    const t = createTokenStore(dir);
    const a = await t.add('alice');
    const b = await t.add('bob');
    expect(a).toMatch(/^rumpkg_[A-Za-z0-9_-]{43}$/);
    expect(await t.authenticate(a)).toBe('alice');
    expect(await t.authenticate(b)).toBe('bob');
    expect(await t.authenticate(`${a}x`)).toBeUndefined();
    const f = join(dir, '.registry', 'tokens.json');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    for (const rel of listTree(dir)) {
      const text = readFileSync(join(dir, rel), 'utf8');
      expect(text.includes(a) || text.includes(b), rel).toBe(false);
    }
    expect(await t.revoke('alice')).toBe(1);
    expect(await t.authenticate(a)).toBeUndefined();
    expect(await t.authenticate(b)).toBe('bob');
    expect(await t.list()).toEqual([{ user: 'bob', tokens: 1 }]);
    expect(await codeOf(t.add('../evil'))).toBe('E_USAGE');
  });
});

// ---------------------------------------------------------------------------------------------

let transpiled: string | undefined;

/**
 * Child processes run plain Node, so the modules they need are transpiled (type-stripped, one
 * file at a time) into a temp tree next to a node_modules link.
 */
function transpileSources(): string {
  if (transpiled !== undefined) return transpiled;
  const root = resolve(import.meta.dirname, '..', '..');
  const out = tempDir('build');
  for (const mod of ['schemas', 'components', 'resolver', 'registry']) {
    const walk = (rel: string): void => {
      for (const e of readdirSync(join(root, rel))) {
        const r = join(rel, e);
        if (statSync(join(root, r)).isDirectory()) {
          walk(r);
          continue;
        }
        const target = join(out, r);
        mkdirSync(dirname(target), { recursive: true });
        if (extname(e) === '.ts') {
          const js = ts.transpileModule(readFileSync(join(root, r), 'utf8'), {
            compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
          }).outputText;
          writeFileSync(target.replace(/\.ts$/, '.js'), js);
        } else copyFileSync(join(root, r), target);
      }
    };
    walk(mod);
  }
  copyFileSync(join(root, 'package.json'), join(out, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'));
  transpiled = out;
  return out;
}
