/**
 * A tarball given as a file (`{ file }`, what `rumpkg inspect` hands over: read a piece at a time,
 * never whole) is read, checked and extracted exactly as the same bytes given as a buffer: the
 * same tree, result and integrity, the same refusals with the same messages, nothing left behind.
 */
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { integrityOf, isRumpkgError, readTarballEntries, unpackComponent } from '../../components/index.js';
import { buildTar, componentEntries, dir, file, gz, pax, type RawEntry } from '../helpers/tar.js';

const bases: string[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) rmSync(b, { recursive: true, force: true });
});

function sandbox(): string {
  const base = mkdtempSync(join(tmpdir(), 'rumpkg-tarfile-'));
  bases.push(base);
  return base;
}

const evil = (...extra: RawEntry[]): Buffer => gz(buildTar([...componentEntries(), ...extra]));
const what = '@rump/evil@1.0.0';

/** Everything under `root`: the mode and the sha256 of each file, the mode of each directory. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of (readdirSync(root, { recursive: true }) as string[]).sort()) {
    const p = join(root, rel);
    const st = lstatSync(p);
    const mode = (st.mode & 0o7777).toString(8);
    out[rel] = st.isDirectory() ? `dir ${mode}` : `${mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
  }
  return out;
}

/** The outcome of unpacking `source` into a fresh directory: the result or the error's code and message. */
async function outcome(source: Buffer | { file: string }, base: string, name: string, integrity?: string): Promise<unknown> {
  const dest = join(base, name);
  const r = await unpackComponent(source, dest, integrity === undefined ? { localFile: true, what, digests: true } : { integrity, what, digests: true }).then(
    (v) => ({ ok: v, tree: tree(dest) }),
    (e: unknown) => ({ code: isRumpkgError(e) ? e.code : 'not a RumpkgError', message: (e as Error).message }),
  );
  const read = await readTarballEntries(source, { what, ...(integrity === undefined ? {} : { integrity }) }).then(
    (v) => ({ ok: v }),
    (e: unknown) => ({ code: isRumpkgError(e) ? e.code : 'not a RumpkgError', message: (e as Error).message }),
  );
  return { unpack: r, read };
}

describe('a tarball given as a file', () => {
  const big = randomBytes(700_000); // more than one 256 KiB piece, compressed or not
  const cases: Array<[string, Buffer]> = [
    ['good, several pieces', evil(file('package/big.bin', big), dir('package/sub/'), file('package/sub/a.txt', 'alpha'), file('package/empty', ''))],
    ['good, small', evil(file('package/a.txt', 'x'))],
    ['path traversal after data', evil(file('package/big.bin', big), file('package/../../canary.txt', 'pwned'))],
    ['a symlink', evil(file('package/big.bin', big), { path: 'package/link', type: 'SymbolicLink', linkpath: '/etc/passwd' })],
    ['a collision', evil(file('package/big.bin', big), file('package/BIG.bin', 'x'))],
    ['pax smuggling', evil(pax({ path: 'package/innocent', linkpath: '/etc/passwd' }), file('package/innocent', 'x'))],
    ['truncated gzip', evil(file('package/big.bin', big)).subarray(0, 400_000)],
    ['not gzip', buildTar(componentEntries())],
    ['empty', Buffer.alloc(0)],
    ['data after the end-of-archive marker', gz(Buffer.concat([buildTar(componentEntries()), buildTar([file('package/hidden', 'x')])]))],
    ['no end-of-archive marker', gz(buildTar([...componentEntries(), file('package/big.bin', big)], { end: false }))],
    ['a gzip bomb', gzipSync(buildTar([...componentEntries(), file('package/zeros', Buffer.alloc(40 * 1024 * 1024))]), { level: 9 })],
  ];

  it.each(cases)('%s: the same outcome as the same bytes in a buffer, with and without an expected integrity', async (_, tgz) => {
    const base = sandbox();
    const path = join(base, 'x.tgz');
    writeFileSync(path, tgz);
    const other = integrityOf(Buffer.from('something else'));
    for (const integrity of [undefined, integrityOf(tgz), other]) {
      const fromBuffer = await outcome(tgz, base, 'from-buffer', integrity);
      const fromFile = await outcome({ file: path }, base, 'from-file', integrity);
      expect(fromFile).toEqual(fromBuffer);
      if (integrity === other) expect(fromFile).toMatchObject({ unpack: { code: 'E_INTEGRITY' }, read: { code: 'E_INTEGRITY' } });
      rmSync(join(base, 'from-buffer'), { recursive: true, force: true });
      rmSync(join(base, 'from-file'), { recursive: true, force: true });
      expect(readdirSync(base)).toEqual(['x.tgz']); // nothing else left: no staging directory
    }
  });

  it('returns the size and the integrity of the file', async () => {
    const base = sandbox();
    const tgz = evil(file('package/big.bin', big));
    writeFileSync(join(base, 'x.tgz'), tgz);
    const r = await unpackComponent({ file: join(base, 'x.tgz') }, join(base, 'out'), { integrity: integrityOf(tgz) });
    expect(r.size).toBe(tgz.length);
    expect(r.integrity).toBe(integrityOf(tgz));
    expect(readFileSync(join(base, 'out', 'big.bin')).equals(big)).toBe(true);
  });

  it('a pipe (no size to go by) is read whole, with the same result', async () => {
    const base = sandbox();
    const tgz = evil(file('package/big.bin', big));
    writeFileSync(join(base, 'x.tgz'), tgz);
    const fifo = join(base, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', join(base, 'x.tgz'), fifo], { stdio: 'ignore' });
    const written = new Promise((res) => writer.on('exit', res));
    const r = await unpackComponent({ file: fifo }, join(base, 'out'), { integrity: integrityOf(tgz) });
    expect(await written).toBe(0);
    expect(r.size).toBe(tgz.length);
    expect(readFileSync(join(base, 'out', 'big.bin')).equals(big)).toBe(true);
  });

  it('a missing file is a file system error naming it, and nothing is created', async () => {
    const base = sandbox();
    const missing = join(base, 'missing.tgz');
    const err = await unpackComponent({ file: missing }, join(base, 'out'), { localFile: true }).catch((e: unknown) => e);
    expect(isRumpkgError(err, 'E_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toContain(missing);
    expect(readdirSync(base)).toEqual([]);
  });
});
