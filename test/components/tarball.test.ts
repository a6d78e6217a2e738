/**
 * Reproducible packing (byte-identical output whatever the creation order, mtimes, modes,
 * umask), round trips, what the packer refuses, and interoperability of the written tarball
 * with node-tar and GNU tar.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Parser } from 'tar';
import { afterEach, describe, expect, it } from 'vitest';
import { integrityOf, isRumpkgError, packComponent, readTarballEntries, unpackComponent } from '../../components/index.js';
import { ARCHIVE_BYTES, manifestJson, writeComponentDir } from '../helpers/tar.js';

const bases: string[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) rmSync(b, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'rumpkg-pack-'));
  bases.push(d);
  return d;
}

const LONG = `include/${'very-long-directory-name/'.repeat(5)}header.h`; // > 100 bytes: ustar prefix split
const LONGER = `doc/${'x'.repeat(180)}/${'y'.repeat(120)}.txt`; // does not fit ustar: pax path
const CONTENT: Record<string, string | Buffer> = {
  'README.md': '# tcpip\n',
  'include/netinet/in.h': '#define IPPROTO_TCP 6\n',
  'include/netinet/tcp.h': '#define TCP_NODELAY 1\n',
  'bin/helper.sh': '#!/bin/sh\necho hi\n',
  'empty.txt': '',
  [LONG]: '/* long */\n',
  [LONGER]: 'pax\n',
  'caf\u00e9.txt': 'unicode\n',
};

function writeTree(root: string, order: 'forward' | 'reverse', opts: { mtime: number; modes: 'a' | 'b' }): void {
  const entries = Object.entries({ ...CONTENT, 'lib/posix-x86_64/librumpnet_netinet.a': ARCHIVE_BYTES, 'package.json': `${JSON.stringify(manifestJson(), null, 2)}\n` });
  if (order === 'reverse') entries.reverse();
  for (const [rel, data] of entries) {
    const p = join(root, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, data);
    utimesSync(p, opts.mtime, opts.mtime);
  }
  chmodSync(join(root, 'bin/helper.sh'), opts.modes === 'a' ? 0o755 : 0o700);
  chmodSync(join(root, 'README.md'), opts.modes === 'a' ? 0o644 : 0o600);
  chmodSync(join(root, 'include'), opts.modes === 'a' ? 0o755 : 0o700);
  utimesSync(join(root, 'include'), opts.mtime, opts.mtime);
}

describe('packComponent: reproducibility', () => {
  it('gives byte-identical tarballs for copies built in different orders, mtimes, modes and umask', async () => {
    const a = join(temp(), 'a');
    const b = join(temp(), 'b');
    writeTree(a, 'forward', { mtime: 1_000_000_000, modes: 'a' });
    const old = process.umask(0o077);
    try {
      writeTree(b, 'reverse', { mtime: 1_700_000_000, modes: 'b' });
    } finally {
      process.umask(old);
    }
    expect(statSync(join(b, 'README.md')).mode & 0o777).toBe(0o600);
    const pa = await packComponent(a);
    const pb = await packComponent(b);
    expect(pa.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    expect(pb.integrity).toBe(pa.integrity);
    expect(Buffer.compare(pa.data, pb.data)).toBe(0);
    expect(pa.integrity).toBe(integrityOf(pa.data));
    expect(pa.size).toBe(pa.data.length);
    expect(pa.manifest.name).toBe('@rump/tcpip');
  });

  it('the gzip stream is exactly zlib level 6 of the whole tar stream, however it is fed', async () => {
    const a = join(temp(), 'a');
    writeTree(a, 'forward', { mtime: 1_000_000_000, modes: 'a' });
    // Several MiB over many files: the packer feeds gzip file by file, in many output chunks.
    const noise = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0, x = 7; i < noise.length; i++) noise[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    writeFileSync(join(a, 'blob.bin'), noise);
    for (let i = 0; i < 40; i++) writeFileSync(join(a, 'include', `h${i}.h`), `#define H${i} ${i}\n`.repeat(2000));
    const p = await packComponent(a);
    const once = gzipSync(gunzipSync(p.data), { level: 6 });
    once[9] = 3;
    expect(Buffer.compare(p.data, once)).toBe(0);
  });

  it('a single changed byte changes the integrity', async () => {
    const a = join(temp(), 'a');
    writeTree(a, 'forward', { mtime: 1_000_000_000, modes: 'a' });
    const before = await packComponent(a);
    writeFileSync(join(a, 'include/netinet/tcp.h'), '#define TCP_NODELAY 2\n');
    const after = await packComponent(a);
    expect(after.integrity).not.toBe(before.integrity);
  });

  it('writes sorted package/ entries with fixed metadata and a fixed gzip header', async () => {
    const a = join(temp(), 'a');
    writeTree(a, 'reverse', { mtime: 1_234_567_890, modes: 'b' });
    const p = await packComponent(a);
    expect([...p.data.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const seen: Array<{ path: string; mode: number; mtime: number; uid: number; gid: number; uname: string; type: string }> = [];
    const parser = new Parser({
      onReadEntry: (e) => {
        seen.push({ path: e.path, mode: e.mode ?? -1, mtime: e.mtime?.getTime() ?? -1, uid: e.uid ?? -1, gid: e.gid ?? -1, uname: e.uname ?? '', type: e.type });
        e.resume();
      },
    });
    parser.end(gunzipSync(p.data));
    const paths = seen.map((s) => s.path);
    expect(paths.every((x) => x.startsWith('package/'))).toBe(true);
    expect([...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))).toEqual(paths);
    expect(paths).toContain(`package/${LONG}`);
    expect(paths).toContain(`package/${LONGER}`);
    for (const s of seen) {
      expect(s.mtime).toBe(Date.UTC(1985, 9, 26, 8, 15));
      expect([s.uid, s.gid, s.uname]).toEqual([0, 0, '']);
      expect(s.type === 'Directory' || s.type === 'File').toBe(true);
    }
    const mode = (x: string): number | undefined => seen.find((s) => s.path === `package/${x}`)?.mode;
    expect([mode('bin/helper.sh'), mode('README.md'), mode('include/'), mode('empty.txt')]).toEqual([0o755, 0o644, 0o755, 0o644]);
  });

  it('is listed identically by GNU tar', async () => {
    const a = join(temp(), 'a');
    writeTree(a, 'forward', { mtime: 1_000_000_000, modes: 'a' });
    const p = await packComponent(a);
    const file = join(temp(), 'x.tgz');
    writeFileSync(file, p.data);
    const r = spawnSync('tar', ['-tzf', file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const listed = r.stdout.trim().split('\n').map((l) => l.replace(/^package\//, '').replace(/\/$/, ''));
    expect(listed).toEqual(p.files.map((f) => f.path));
  });
});

describe('packComponent → unpackComponent round trip', () => {
  it('restores every file, byte for byte, with normalised modes', async () => {
    const a = join(temp(), 'a');
    writeTree(a, 'forward', { mtime: 1_000_000_000, modes: 'b' });
    const p = await packComponent(a);
    const out = join(temp(), 'out');
    const r = await unpackComponent(p.data, out, { integrity: p.integrity, what: '@rump/tcpip@10.0.0' });
    expect(r.manifest).toEqual(p.manifest);
    for (const [rel, data] of Object.entries(CONTENT)) expect(readFileSync(join(out, rel))).toEqual(Buffer.from(data));
    expect(readFileSync(join(out, 'lib/posix-x86_64/librumpnet_netinet.a'))).toEqual(ARCHIVE_BYTES);
    expect(statSync(join(out, 'bin/helper.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(join(out, 'README.md')).mode & 0o777).toBe(0o644);
    expect(r.files.map((f) => f.path)).toEqual(p.files.map((f) => f.path));
    const listing = await readTarballEntries(p.data, { integrity: p.integrity });
    expect(listing.entries).toEqual(p.files);
    expect((listing.packageJson as { name: string }).name).toBe('@rump/tcpip');
  });

  it('refuses an existing destination (E_EXISTS) and leaves it untouched', async () => {
    const a = join(temp(), 'a');
    writeComponentDir(a);
    const p = await packComponent(a);
    const out = join(temp(), 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'keep'), 'k');
    await expect(unpackComponent(p.data, out, { integrity: p.integrity })).rejects.toMatchObject({ code: 'E_EXISTS' });
    expect(readdirSync(out)).toEqual(['keep']);
  });

  it('skips .git, node_modules and root *.tgz files', async () => {
    const a = join(temp(), 'a');
    writeComponentDir(a, { '.git/HEAD': 'ref: x', 'node_modules/x/index.js': '', 'old-1.0.0.tgz': 'tgz', 'docs/keep.tgz': 'kept' });
    const p = await packComponent(a);
    expect(p.files.map((f) => f.path)).toEqual(['docs', 'docs/keep.tgz', 'lib', 'lib/posix-x86_64', 'lib/posix-x86_64/librumpnet_netinet.a', 'package.json']);
  });
});

describe('packComponent refuses bad sources', () => {
  it('a symlink in the source directory (E_TAR_ENTRY_TYPE naming it)', async () => {
    const a = join(temp(), 'a');
    writeComponentDir(a);
    symlinkSync('/etc/passwd', join(a, 'passwd'));
    const err = await packComponent(a).catch((e: unknown) => e);
    expect(isRumpkgError(err, 'E_TAR_ENTRY_TYPE')).toBe(true);
    expect((err as Error).message).toContain(join(a, 'passwd'));
  });

  it('a FIFO in the source directory', async () => {
    const a = join(temp(), 'a');
    writeComponentDir(a);
    const r = spawnSync('mkfifo', [join(a, 'pipe')]);
    if (r.status !== 0) return;
    await expect(packComponent(a)).rejects.toMatchObject({ code: 'E_TAR_ENTRY_TYPE' });
  });

  it('an invalid manifest: the declared archive is missing', async () => {
    const a = join(temp(), 'a');
    writeComponentDir(a);
    rmSync(join(a, 'lib'), { recursive: true });
    const err = await packComponent(a).catch((e: unknown) => e);
    expect(isRumpkgError(err, 'E_MANIFEST')).toBe(true);
    expect((err as Error).message).toContain('/rump/targets/posix-x86_64/archive');
  });

  it('an archive hidden in node_modules does not satisfy the manifest', async () => {
    const a = join(temp(), 'a');
    writeComponentDir(a, {}, manifestJson({ rump: { ...(manifestJson().rump as object), targets: { 'posix-x86_64': { archive: 'node_modules/x.a' } } } }));
    writeFileSync(join(a, 'node_modules-not'), '');
    mkdirSync(join(a, 'node_modules'));
    writeFileSync(join(a, 'node_modules/x.a'), ARCHIVE_BYTES);
    await expect(packComponent(a)).rejects.toMatchObject({ code: 'E_MANIFEST' });
  });

  it('a directory without package.json (E_NOT_FOUND)', async () => {
    const a = temp();
    await expect(packComponent(a)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('names that collide after normalisation', async () => {
    const a = join(temp(), 'a');
    writeComponentDir(a, { 'caf\u00e9': '1', 'cafe\u0301': '2' });
    if (!existsSync(join(a, 'cafe\u0301')) || readdirSync(a).length < 4) return; // a normalising file system
    await expect(packComponent(a)).rejects.toMatchObject({ code: 'E_TAR_COLLISION' });
  });
});

describe('readTarballEntries', () => {
  it('refuses a tarball whose manifest does not match its files (E_MANIFEST, nothing written)', async () => {
    const { buildTar, componentEntries, gz } = await import('../helpers/tar.js');
    const entries = componentEntries().filter((e) => !e.path.endsWith('.a'));
    const tgz = gz(buildTar(entries));
    const err = await readTarballEntries(tgz, { what: 'x.tgz' }).catch((e: unknown) => e);
    expect(isRumpkgError(err, 'E_MANIFEST')).toBe(true);
    expect((err as Error).message).toContain('x.tgz');
  });
  it('refuses a tarball without package/package.json (E_TAR_CONTENT)', async () => {
    const { buildTar, dir, file, gz } = await import('../helpers/tar.js');
    const tgz = gz(buildTar([dir('package/'), file('package/README', 'x')]));
    await expect(readTarballEntries(tgz)).rejects.toMatchObject({ code: 'E_TAR_CONTENT' });
  });
});
