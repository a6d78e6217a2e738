/**
 * RELIABILITY.md "Tarballs": one test per EX-* case, each built from raw tar headers
 * (test/helpers/tar.ts, node-tar's Header). Every test checks the error code, that the message
 * names the offending entry, that a canary outside the destination is unchanged, and that
 * neither the destination nor a staging directory was left behind.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { integrityOf, isRumpkgError, readTarballEntries, unpackComponent, type ErrorCode, type TarLimits } from '../../components/index.js';
import { buildTar, componentEntries, dir, file, gz, pax, type RawEntry } from '../helpers/tar.js';

const bases: string[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) rmSync(b, { recursive: true, force: true });
});

interface Sandbox {
  base: string;
  out: string;
  canary: string;
}

function sandbox(): Sandbox {
  const base = mkdtempSync(join(tmpdir(), 'rumpkg-ex-'));
  bases.push(base);
  const canary = join(base, 'canary.txt');
  writeFileSync(canary, 'original\n');
  return { base, out: join(base, 'out'), canary };
}

/** Unpacks `tgz` into a fresh sandbox and checks the whole failure contract. */
async function expectRejected(
  tgz: Buffer,
  code: ErrorCode,
  names: string | undefined,
  opts: { limits?: Partial<TarLimits>; sb?: Sandbox } = {},
): Promise<Error> {
  const sb = opts.sb ?? sandbox();
  const before = readdirSync(sb.base).sort();
  const err = await unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz), limits: opts.limits, what: '@rump/evil@1.0.0' }).then(
    () => new Error('unpack succeeded'),
    (e: unknown) => e as Error,
  );
  expect(isRumpkgError(err) ? err.code : err.message).toBe(code);
  expect(err.message).toContain('@rump/evil@1.0.0');
  if (names !== undefined) expect(err.message).toContain(names);
  expect(readFileSync(sb.canary, 'utf8')).toBe('original\n');
  expect(readdirSync(sb.base).sort()).toEqual(before); // no dest, no staging leftovers
  // The same bytes are refused by the validation pass alone (inspect, registry server).
  const again = await readTarballEntries(tgz, { limits: opts.limits, what: '@rump/evil@1.0.0' }).then(() => undefined, (e: unknown) => e);
  expect(isRumpkgError(again, code)).toBe(true);
  return err;
}

const evil = (...extra: RawEntry[]): Buffer => gz(buildTar([...componentEntries(), ...extra]));

describe('EX-01/02 path traversal', () => {
  it('rejects package/../../canary.txt', async () => {
    await expectRejected(evil(file('package/../../canary.txt', 'pwned')), 'E_TAR_PATH', 'package/../../canary.txt');
  });
  it('rejects package/../x (escaping by one level)', async () => {
    await expectRejected(evil(file('package/../x', 'pwned')), 'E_TAR_PATH', 'package/../x');
  });
  it('rejects an absolute path to the canary', async () => {
    const sb = sandbox();
    await expectRejected(evil(file(sb.canary, 'pwned')), 'E_TAR_PATH', sb.canary, { sb });
  });
  it('rejects the /t/out-evil prefix trick (absolute and relative)', async () => {
    const sb = sandbox();
    await expectRejected(evil(file(`${sb.out}-evil/pwned`, 'x')), 'E_TAR_PATH', `${sb.out}-evil/pwned`, { sb });
    await expectRejected(evil(file('package/../out-evil/pwned', 'x')), 'E_TAR_PATH', 'package/../out-evil/pwned', { sb });
    expect(existsSync(`${sb.out}-evil`)).toBe(false);
  });
  it('rejects repeated roots (////tmp/x)', async () => {
    await expectRejected(evil(file('////tmp/rumpkg-ex-pwned', 'x')), 'E_TAR_PATH', '////tmp/rumpkg-ex-pwned');
    expect(existsSync('/tmp/rumpkg-ex-pwned')).toBe(false);
  });
  it('rejects drive-relative paths (C:x, package/c:x)', async () => {
    await expectRejected(evil(file('C:x', 'x')), 'E_TAR_PATH', 'C:x');
    await expectRejected(evil(file('package/c:..', 'x')), 'E_TAR_PATH', 'package/c:..');
  });
  it('rejects backslashes, empty segments, "." and entries outside package/', async () => {
    await expectRejected(evil(file('package\\..\\..\\x', 'x')), 'E_TAR_PATH', 'package\\\\..');
    await expectRejected(evil(file('package//x', 'x')), 'E_TAR_PATH', 'package//x');
    await expectRejected(evil(file('package/./x', 'x')), 'E_TAR_PATH', 'package/./x');
    await expectRejected(evil(file('other/x', 'x')), 'E_TAR_PATH', 'other/x');
  });
  it('rejects a NUL byte smuggled through a pax path', async () => {
    await expectRejected(evil(pax({ path: 'package/a\u0000/../../x' }), file('package/a', 'x')), 'E_TAR_PATH', 'package/a\\u0000/../../x');
  });
});

describe('EX-04/05 entry types', () => {
  const cases: Array<[string, RawEntry]> = [
    ['symlink', { path: 'package/link', type: 'SymbolicLink', linkpath: '../../canary.txt' }],
    ['hardlink', { path: 'package/hard', type: 'Link', linkpath: 'package/package.json' }],
    ['character device', { path: 'package/null', type: 'CharacterDevice' }],
    ['block device', { path: 'package/sda', type: 'BlockDevice' }],
    ['FIFO', { path: 'package/fifo', type: 'FIFO' }],
    ['unknown type Z', { path: 'package/odd', type: 'Z' }],
    ['GNU long name', { path: 'package/././@LongLink', type: 'L', data: 'package/../../x\0' }],
  ];
  for (const [label, entry] of cases) {
    it(`rejects a ${label}`, async () => {
      await expectRejected(evil(entry), 'E_TAR_ENTRY_TYPE', entry.path);
    });
  }
  it('rejects directory → symlink → file sequences at the link', async () => {
    await expectRejected(
      evil(dir('package/d/'), { path: 'package/d', type: 'SymbolicLink', linkpath: '/tmp' }, file('package/d/x', 'pwned')),
      'E_TAR_ENTRY_TYPE',
      'package/d',
    );
  });
});

describe('EX-06/07 collisions after normalisation', () => {
  const pairs: Array<[string, string, string]> = [
    ['duplicate', 'package/a.txt', 'package/a.txt'],
    ['NFC/NFD', 'package/caf\u00e9', 'package/cafe\u0301'],
    ['case', 'package/README', 'package/readme'],
    ['ß/ss', 'package/stra\u00dfe', 'package/strasse'],
    ['ligature ﬁ/fi', 'package/\ufb01le', 'package/file'],
  ];
  for (const [label, a, b] of pairs) {
    it(`rejects a ${label} pair`, async () => {
      await expectRejected(evil(file(a, '1'), file(b, '2')), 'E_TAR_COLLISION', b);
    });
  }
  it('rejects a directory then a file with the same path', async () => {
    await expectRejected(evil(dir('package/x/'), file('package/x', '1')), 'E_TAR_COLLISION', 'package/x');
  });
  it('rejects a file used as a directory', async () => {
    await expectRejected(evil(file('package/x', '1'), file('package/x/y', '2')), 'E_TAR_COLLISION', 'package/x/y');
  });
  it('rejects directories that differ only by case', async () => {
    await expectRejected(evil(file('package/Dir/a', '1'), file('package/dir/b', '2')), 'E_TAR_COLLISION', 'package/dir/b');
  });
});

describe('EX-08 the destination is never followed', () => {
  it('refuses a symlink pre-planted at the destination and leaves its target untouched', async () => {
    const sb = sandbox();
    const victim = join(sb.base, 'victim');
    mkdirSync(victim);
    symlinkSync(victim, sb.out);
    const tgz = evil();
    const err = await unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz) }).catch((e: unknown) => e);
    expect(isRumpkgError(err, 'E_EXISTS')).toBe(true);
    expect((err as Error).message).toContain(sb.out);
    expect(readdirSync(victim)).toEqual([]);
    expect(lstatSync(sb.out).isSymbolicLink()).toBe(true);
    expect(readdirSync(sb.base).sort()).toEqual(['canary.txt', 'out', 'victim']);
  });
  it('refuses a dangling symlink at the destination without creating its target', async () => {
    const sb = sandbox();
    symlinkSync(join(sb.base, 'nowhere'), sb.out);
    const tgz = evil();
    await expect(unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz) })).rejects.toMatchObject({ code: 'E_EXISTS' });
    expect(existsSync(join(sb.base, 'nowhere'))).toBe(false);
  });
  it('extracts through a fresh private staging directory and leaves none behind', async () => {
    const sb = sandbox();
    const tgz = evil();
    await unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz) });
    expect(readdirSync(sb.base).sort()).toEqual(['canary.txt', 'out']);
    expect(statSync(sb.out).mode & 0o777).toBe(0o755);
  });
});

describe('EX-09/10 limits', () => {
  it('rejects nesting deeper than the limit (default 32)', async () => {
    const deep = `package/${Array.from({ length: 40 }, () => 'd').join('/')}/x`;
    await expectRejected(evil(pax({ path: deep }), file('package/short', 'x')), 'E_TAR_LIMIT', 'package/d/d/d');
  });
  it('rejects more entries than the limit', async () => {
    const many = Array.from({ length: 20 }, (_, i) => file(`package/f${i}`, ''));
    await expectRejected(evil(...many), 'E_TAR_LIMIT', 'package/f', { limits: { maxEntries: 15 } });
  });
  it('rejects files whose total size exceeds the limit', async () => {
    await expectRejected(evil(file('package/big', Buffer.alloc(4096, 1))), 'E_TAR_LIMIT', 'package/big', { limits: { maxTotalSize: 2048 } });
  });
  it('rejects a gzip bomb by ratio with the default limits, streaming', async () => {
    const tar = buildTar([...componentEntries(), file('package/zeros', Buffer.alloc(40 * 1024 * 1024))]);
    const tgz = gzipSync(tar, { level: 9 });
    expect(tar.length / tgz.length).toBeGreaterThan(200);
    const err = await expectRejected(tgz, 'E_TAR_LIMIT', 'gzip bomb');
    expect(err.message).toMatch(/ratio limit 200/);
  });
  it('rejects a decompressed size above the hard cap', async () => {
    const tgz = evil(file('package/data', Buffer.alloc(64 * 1024, 7)));
    await expectRejected(tgz, 'E_TAR_LIMIT', 'decompresses to more than', { limits: { maxDecompressedSize: 32 * 1024 } });
  });
  it('rejects a path longer than the limit', async () => {
    const long = `package/${'n'.repeat(2000)}`;
    await expectRejected(evil(pax({ path: long }), file('package/short', 'x')), 'E_TAR_LIMIT', 'package/nnnn');
  });
  it('rejects an oversized pax header', async () => {
    await expectRejected(evil(pax({ path: `package/${'p'.repeat(70_000)}` }), file('package/s', 'x')), 'E_TAR_LIMIT', 'PaxHeader');
  });
});

describe('EX-11/12 malformed data', () => {
  it('rejects a bad header checksum', async () => {
    await expectRejected(evil(file('package/bad-sum', 'x', { badChecksum: true })), 'E_TAR_CORRUPT', 'package/bad-sum');
  });
  it('rejects data truncated inside an entry', async () => {
    const tar = buildTar([...componentEntries(), file('package/cut', Buffer.alloc(3000, 2))], { end: false });
    await expectRejected(gz(tar.subarray(0, tar.length - 1500)), 'E_TAR_CORRUPT', 'package/cut');
  });
  it('rejects a tar without an end-of-archive marker', async () => {
    await expectRejected(gz(buildTar(componentEntries(), { end: false })), 'E_TAR_CORRUPT', 'no end-of-archive marker');
  });
  it('rejects non-gzip data and truncated gzip', async () => {
    await expectRejected(buildTar(componentEntries()), 'E_TAR_CORRUPT', 'not gzip data');
    const tgz = evil();
    await expectRejected(tgz.subarray(0, tgz.length - 20), 'E_TAR_CORRUPT', 'invalid gzip data');
  });
  it('rejects a header without the ustar magic', async () => {
    const tar = buildTar([...componentEntries(), file('package/v7', 'x')]);
    const off = tar.length - 1024 - 1024; // the last header (1 data block + 2 end blocks after it)
    tar.write('xxxxx', off + 257, 'latin1');
    await expectRejected(gz(tar), 'E_TAR_CORRUPT', 'package/v7');
  });
  it('rejects PAX smuggling of linkpath and uid', async () => {
    await expectRejected(evil(pax({ path: 'package/innocent', linkpath: '/etc/passwd' }), file('package/innocent', 'x')), 'E_TAR_CORRUPT', 'linkpath');
    await expectRejected(evil(pax({ uid: '0', path: 'package/owned' }), file('package/owned', 'x')), 'E_TAR_CORRUPT', 'PAX smuggling');
  });
  it('rejects a global pax header', async () => {
    await expectRejected(evil(pax({ path: 'package/x' }, { global: true })), 'E_TAR_CORRUPT', 'global pax');
  });
  it('rejects data hidden after the end-of-archive marker', async () => {
    const tar = Buffer.concat([buildTar(componentEntries()), buildTar([file('package/hidden', 'x')])]);
    await expectRejected(gz(tar), 'E_TAR_CORRUPT', 'after the end-of-archive marker');
  });
  it('rejects a directory entry that carries data', async () => {
    await expectRejected(evil(dir('package/d/', { size: 512, data: Buffer.alloc(512, 1) })), 'E_TAR_CORRUPT', 'package/d/');
  });
});

describe('EX-13 modes', () => {
  it('rejects setuid, setgid and sticky bits', async () => {
    await expectRejected(evil(file('package/suid', 'x', { mode: 0o4755 })), 'E_TAR_MODE', 'package/suid');
    await expectRejected(evil(file('package/sgid', 'x', { mode: 0o2755 })), 'E_TAR_MODE', 'package/sgid');
    await expectRejected(evil(dir('package/tmp/', { mode: 0o1777 })), 'E_TAR_MODE', 'package/tmp/');
  });
  it('normalises modes and never preserves ownership', async () => {
    const sb = sandbox();
    const tgz = evil(
      file('package/exec', '#!/bin/sh\n', { mode: 0o700, uid: 4242, gid: 4242 }),
      file('package/secret', 'x', { mode: 0o600 }),
      file('package/open', 'x', { mode: 0o777 }),
      dir('package/private/', { mode: 0o700 }),
    );
    const r = await unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz) });
    const mode = (p: string): number => statSync(join(sb.out, p)).mode & 0o7777;
    expect([mode('exec'), mode('secret'), mode('open'), mode('private')]).toEqual([0o755, 0o644, 0o755, 0o755]);
    expect(statSync(join(sb.out, 'exec')).uid).toBe(process.getuid?.());
    expect(r.files.find((f) => f.path === 'open')?.mode).toBe(0o755);
  });
});

describe('integrity first', () => {
  it('verifies the SRI before parsing a single header (IN-01/02)', async () => {
    const sb = sandbox();
    const tgz = evil(file('package/../../canary.txt', 'pwned'));
    const other = integrityOf(Buffer.from('something else'));
    await expect(unpackComponent(tgz, sb.out, { integrity: other, what: '@rump/evil@1.0.0' })).rejects.toMatchObject({ code: 'E_INTEGRITY' });
    await expect(unpackComponent(tgz, sb.out, { integrity: 'sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=' })).rejects.toMatchObject({ code: 'E_INTEGRITY_WEAK' });
    await expect(unpackComponent(tgz, sb.out, { integrity: '' })).rejects.toMatchObject({ code: 'E_INTEGRITY_WEAK' });
    expect(readdirSync(sb.base)).toEqual(['canary.txt']);
  });

  it('reports a wrong integrity, not what the bytes say, while gzip decompresses during the check', async () => {
    const sb = sandbox();
    const other = integrityOf(Buffer.from('something else'));
    const corrupt = Buffer.concat([evil(file('package/x', 'y'.repeat(100_000))).subarray(0, 200), Buffer.alloc(300, 7)]);
    const bomb = gzipSync(Buffer.alloc(40 * 1024 * 1024));
    for (const tgz of [corrupt, bomb, evil(file('package/../../canary.txt', 'pwned'))]) {
      // replayBytes 1024: decompression outruns the held-bytes budget and waits for the digest.
      for (const limits of [{}, { replayBytes: 1024 }]) {
        await expect(unpackComponent(tgz, sb.out, { integrity: other, limits, what: '@rump/evil@1.0.0' })).rejects.toMatchObject({ code: 'E_INTEGRITY' });
        await expect(readTarballEntries(tgz, { integrity: other, limits })).rejects.toMatchObject({ code: 'E_INTEGRITY' });
      }
    }
    // An existing destination with a wrong integrity: still the integrity first.
    mkdirSync(sb.out);
    await expect(unpackComponent(corrupt, sb.out, { integrity: other })).rejects.toMatchObject({ code: 'E_INTEGRITY' });
    expect(readdirSync(sb.base).sort()).toEqual(['canary.txt', 'out']);
    expect(readdirSync(sb.out)).toEqual([]);
    expect(readFileSync(sb.canary, 'utf8')).toBe('original\n');
  });

  it('a local file without an expected integrity (inspect --extract): unpacked, its integrity returned', async () => {
    const sb = sandbox();
    const tgz = evil(file('package/data.bin', 'z'.repeat(70_000)));
    const r = await unpackComponent(tgz, sb.out, { localFile: true });
    expect(r.integrity).toBe(integrityOf(tgz));
    expect(readFileSync(join(sb.out, 'data.bin'), 'utf8')).toBe('z'.repeat(70_000));
    await expectRejected(evil(file('package/../../canary.txt', 'pwned')), 'E_TAR_PATH', '../../canary.txt');
    const bad = evil(file('package/../../canary.txt', 'pwned'));
    await expect(unpackComponent(bad, join(sb.base, 'other'), { localFile: true })).rejects.toMatchObject({ code: 'E_TAR_PATH' });
    expect(existsSync(join(sb.base, 'other'))).toBe(false);
  });
});

describe('memory budget (limits.replayBytes)', () => {
  it('gives the same files and the same refusals when the decompressed stream does not fit it', async () => {
    const tgz = evil(file('package/a.bin', Buffer.alloc(300_000, 1)), file('package/b.bin', Buffer.alloc(200_000, 2)));
    for (const replayBytes of [1024, 256 * 1024, 64 * 1024 * 1024]) {
      const sb = sandbox();
      const r = await unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz), limits: { replayBytes } });
      expect(r.integrity).toBe(integrityOf(tgz));
      expect(readFileSync(join(sb.out, 'a.bin')).equals(Buffer.alloc(300_000, 1))).toBe(true);
      expect(readFileSync(join(sb.out, 'b.bin')).equals(Buffer.alloc(200_000, 2))).toBe(true);
    }
    await expectRejected(evil(file('package/big', Buffer.alloc(300_000)), file('package/../../canary.txt', 'pwned')), 'E_TAR_PATH', '../../canary.txt', { limits: { replayBytes: 1024 } });
    await expectRejected(evil(file('package/a', 'x'), file('package/A', 'y')), 'E_TAR_COLLISION', 'package/A', { limits: { replayBytes: 600 } });
  });
});

describe('one call or streaming (limits.oneCallBytes)', () => {
  // Every tarball here is a few KiB: `oneCallBytes: 0` sends it down the streaming path (gunzip
  // stream, integrity hashed off the main thread) that larger tarballs take by default.
  const paths: Array<[string, Partial<TarLimits>]> = [
    ['one call', {}],
    ['streaming', { oneCallBytes: 0 }],
  ];
  it.each(paths)('%s: the same files, integrity and refusals', async (_, limits) => {
    const tgz = evil(file('package/data.bin', Buffer.alloc(70_000, 3)));
    const sb = sandbox();
    const r = await unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz), limits });
    expect(r.integrity).toBe(integrityOf(tgz));
    expect(readFileSync(join(sb.out, 'data.bin')).equals(Buffer.alloc(70_000, 3))).toBe(true);
    const bomb = gzipSync(buildTar([...componentEntries(), file('package/zeros', Buffer.alloc(40 * 1024 * 1024))]), { level: 9 });
    expect((await expectRejected(bomb, 'E_TAR_LIMIT', 'gzip bomb', { limits })).message).toMatch(/ratio limit 200/);
    await expectRejected(evil(file('package/data', Buffer.alloc(64 * 1024, 7))), 'E_TAR_LIMIT', 'decompresses to more than', { limits: { ...limits, maxDecompressedSize: 32 * 1024 } });
    await expectRejected(tgz.subarray(0, tgz.length - 20), 'E_TAR_CORRUPT', 'invalid gzip data', { limits });
    const other = integrityOf(Buffer.from('something else'));
    for (const bad of [tgz, bomb, tgz.subarray(0, tgz.length - 20)]) {
      await expect(unpackComponent(bad, join(sb.base, 'x'), { integrity: other, limits })).rejects.toMatchObject({ code: 'E_INTEGRITY' });
    }
    await expect(unpackComponent(tgz, join(sb.base, 'x'), { integrity: 'sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=', limits })).rejects.toMatchObject({ code: 'E_INTEGRITY_WEAK' });
    expect(existsSync(join(sb.base, 'x'))).toBe(false);
  });
  it('the threshold is the compressed size: one byte over it streams, with the same result', async () => {
    const tgz = evil(file('package/data.bin', 'q'.repeat(5000)));
    const results = [];
    for (const oneCallBytes of [tgz.length, tgz.length - 1]) {
      const sb = sandbox();
      const r = await unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz), limits: { oneCallBytes }, digests: true });
      results.push({ ...r, tree: readdirSync(sb.out, { recursive: true }).sort() });
    }
    expect(results[1]).toEqual(results[0]);
  });
});

describe('digests of what was written', () => {
  it('gives the sha256 and size of every file written, keyed in path order — what reading the tree back gives', async () => {
    const tgz = evil(file('package/z.bin', Buffer.alloc(3000, 9)), file('package/sub/a.txt', 'alpha'), file('package/empty', ''));
    const sb = sandbox();
    const r = await unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz), digests: true });
    const files = (readdirSync(sb.out, { recursive: true, withFileTypes: true }) as Array<{ isFile(): boolean; parentPath: string; name: string }>)
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(sb.out.length + 1))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(files).toContain('sub/a.txt');
    expect(files).toContain('empty');
    expect(Object.keys(r.written?.files ?? {})).toEqual(files);
    expect(Object.keys(r.written?.sizes ?? {})).toEqual(files);
    for (const f of files) {
      const bytes = readFileSync(join(sb.out, f));
      expect(r.written?.files[f]).toBe(`sha256-${createHash('sha256').update(bytes).digest('base64')}`);
      expect(r.written?.sizes[f]).toBe(bytes.length);
    }
    // Without `digests` nothing is computed.
    const sb2 = sandbox();
    expect((await unpackComponent(tgz, sb2.out, { integrity: integrityOf(tgz) })).written).toBeUndefined();
  });
});

describe('one pass: each entry written as soon as the parser accepted it', () => {
  // Random bytes do not compress: with `oneCallBytes: 0` these tarballs stream, so files are in
  // the staging directory by the time a later entry, the gzip trailer or the manifest fails.
  const big = (): RawEntry => file('package/big.bin', randomBytes(300_000));
  const paths: Array<[string, Partial<TarLimits>]> = [
    ['one call', { oneCallBytes: 1024 * 1024 }],
    ['streaming', { oneCallBytes: 0 }],
  ];

  it.each(paths)('%s: a tarball refused after files were written leaves nothing behind', async (_, limits) => {
    await expectRejected(evil(big(), file('package/../../canary.txt', 'pwned')), 'E_TAR_PATH', '../../canary.txt', { limits });
    await expectRejected(evil(big(), file('package/BIG.bin', 'x')), 'E_TAR_COLLISION', 'package/BIG.bin', { limits });
    // The manifest is checked against the files at the end: here the declared archive is missing.
    await expectRejected(gz(buildTar([...componentEntries().filter((e) => !e.path.endsWith('.a')), big()])), 'E_MANIFEST', undefined, { limits });
    const good = evil(big());
    await expectRejected(good.subarray(0, good.length - 4), 'E_TAR_CORRUPT', 'invalid gzip data', { limits });
    await expectRejected(gz(buildTar([...componentEntries(), big()], { end: false })), 'E_TAR_CORRUPT', undefined, { limits });
  });

  it.each(paths)('%s: a wrong expected integrity is the error, and nothing is written, not even for a while', async (_, limits) => {
    const sb = sandbox();
    // inotify sees a staging directory even when it is removed before unpack returns.
    const created: string[] = [];
    const watcher = watch(sb.base, (_event, name) => created.push(String(name)));
    try {
      const other = integrityOf(Buffer.from('something else'));
      for (const tgz of [evil(big()), evil(big(), file('package/../../canary.txt', 'pwned'))]) {
        for (const replayBytes of [1024, 64 * 1024 * 1024]) {
          await expect(unpackComponent(tgz, sb.out, { integrity: other, limits: { ...limits, replayBytes } })).rejects.toMatchObject({ code: 'E_INTEGRITY' });
          expect(readdirSync(sb.base)).toEqual(['canary.txt']);
        }
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(created).toEqual([]);
      // The control: a matching integrity is seen creating its staging directory.
      const tgz = evil(big());
      await unpackComponent(tgz, sb.out, { integrity: integrityOf(tgz), limits });
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      watcher.close();
    }
    expect(created[0]).toMatch(/^\.out\.rumpkg-staging-/);
    expect(readFileSync(sb.canary, 'utf8')).toBe('original\n');
  });

  it.each(paths)('%s: an expected sha256, sha384 or sha512 is checked; the sha512 SRI is returned', async (_, limits) => {
    const tgz = evil(big());
    for (const alg of ['sha256', 'sha384', 'sha512']) {
      const sb = sandbox();
      const good = `${alg}-${createHash(alg).update(tgz).digest('base64')}`;
      expect((await unpackComponent(tgz, sb.out, { integrity: good, limits })).integrity).toBe(integrityOf(tgz));
      expect((await readTarballEntries(tgz, { integrity: good, limits })).integrity).toBe(integrityOf(tgz));
      const bad = `${alg}-${createHash(alg).update('other').digest('base64')}`;
      await expect(unpackComponent(tgz, join(sb.base, 'x'), { integrity: bad, limits })).rejects.toMatchObject({ code: 'E_INTEGRITY' });
      await expect(readTarballEntries(tgz, { integrity: bad, limits })).rejects.toMatchObject({ code: 'E_INTEGRITY' });
      expect(readdirSync(sb.base).sort()).toEqual(['canary.txt', 'out']);
    }
  });

  it.each(paths)('%s: a local file (no expected integrity) returns the integrity of exactly the bytes it extracted', async (_, limits) => {
    const sb = sandbox();
    const payload = randomBytes(300_000);
    const tgz = evil(file('package/big.bin', payload));
    const r = await unpackComponent(tgz, sb.out, { localFile: true, limits });
    expect(r.integrity).toBe(integrityOf(tgz));
    expect(readFileSync(join(sb.out, 'big.bin')).equals(payload)).toBe(true);
    // One flipped bit in the compressed bytes: a different integrity or a refusal, never the same one.
    const flipped = Buffer.from(tgz);
    flipped[tgz.length >> 1] = (flipped[tgz.length >> 1] as number) ^ 1;
    const out2 = join(sb.base, 'flipped');
    const again = await unpackComponent(flipped, out2, { localFile: true, limits }).catch((e: unknown) => e);
    if (isRumpkgError(again)) {
      expect(again.code).toBe('E_TAR_CORRUPT');
      expect(existsSync(out2)).toBe(false);
    } else expect((again as { integrity: string }).integrity).toBe(integrityOf(flipped));
    expect(integrityOf(flipped)).not.toBe(r.integrity);
    // A bad local file is refused like any other, with nothing left.
    const bad = evil(big(), file('package/../../canary.txt', 'pwned'));
    await expect(unpackComponent(bad, join(sb.base, 'other'), { localFile: true, limits })).rejects.toMatchObject({ code: 'E_TAR_PATH' });
    expect(readdirSync(sb.base).sort()).toEqual(['canary.txt', 'out']);
  });

  it.each(paths)('%s: a file system error while writing: the tarball’s own error first, else that error', async (_, limits) => {
    const sb = sandbox();
    // The destination's parent does not exist: the staging directory cannot be created.
    const dest = join(sb.base, 'missing', 'out');
    const bad = evil(big(), file('package/../../canary.txt', 'pwned'));
    await expect(unpackComponent(bad, dest, { integrity: integrityOf(bad), limits })).rejects.toMatchObject({ code: 'E_TAR_PATH' });
    const good = evil(big());
    const err = await unpackComponent(good, dest, { integrity: integrityOf(good), limits }).catch((e: unknown) => e);
    expect(isRumpkgError(err, 'E_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toContain(join(sb.base, 'missing'));
    expect(readdirSync(sb.base)).toEqual(['canary.txt']);
  });
});
