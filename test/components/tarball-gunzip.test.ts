/**
 * ReusedGunzip (components/tarball/gunzip.ts): the bytes and the errors of gunzipSync on the
 * whole input, however the input is cut, through zlib's handle and through the fallback — and
 * every piece of output is a view of one reused buffer (the point of it: bounded memory).
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ReusedGunzip } from '../../components/tarball/gunzip.js';

function run(input: Buffer, cut: number, outSize: number, forceFallback: boolean): { out: Buffer; error?: string; buffers: Set<ArrayBufferLike> } {
  const g = new ReusedGunzip(outSize, { forceFallback });
  const parts: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  const take = (b: Buffer): void => {
    buffers.add(b.buffer);
    parts.push(Buffer.from(b));
  };
  try {
    for (let off = 0; off < input.length; off += cut) g.write(input.subarray(off, off + cut), take);
    g.finish(take);
  } catch (e) {
    return { out: Buffer.concat(parts), error: (e as Error).message, buffers };
  } finally {
    g.close();
  }
  return { out: Buffer.concat(parts), buffers };
}

function reference(input: Buffer): { out: Buffer; error?: string } {
  try {
    return { out: gunzipSync(input) };
  } catch (e) {
    return { out: Buffer.alloc(0), error: (e as Error).message };
  }
}

const text = Buffer.from('int rumpns_x(int a) { return a * 3; } /* netinet */\n'.repeat(20_000));
const member = gzipSync(Buffer.concat([randomBytes(200_000), text]));
const cases: Array<[string, Buffer]> = [
  ['one member', member],
  ['two members', Buffer.concat([member, gzipSync(Buffer.from('second'))])],
  ['trailing NULs', Buffer.concat([member, Buffer.alloc(3000)])],
  ['trailing garbage', Buffer.concat([member, Buffer.from('garbage')])],
  ['NULs then garbage', Buffer.concat([member, Buffer.alloc(10), Buffer.from('garbage')])],
  ['truncated', member.subarray(0, member.length - 10)],
  ['cut in the header', member.subarray(0, 5)],
  ['not gzip', Buffer.from('this is not gzip at all, not even a little')],
  ['corrupt body', Buffer.concat([member.subarray(0, 100), Buffer.alloc(500, 7)])],
];

describe('ReusedGunzip', () => {
  for (const forceFallback of [false, true]) {
    const how = forceFallback ? 'fallback' : 'zlib handle';
    it.each(cases)(`${how}: %s gives gunzipSync's bytes and error, however it is cut`, (_, input) => {
      const want = reference(input);
      for (const [cut, outSize] of [[input.length, 64 * 1024], [1, 4096], [7, 512], [4096, 1024 * 1024], [65_536, 256 * 1024]] as const) {
        const got = run(input, cut, outSize, forceFallback);
        expect(got.error).toBe(want.error);
        if (want.error === undefined) expect(got.out.equals(want.out)).toBe(true);
      }
    });
  }

  it('hands every piece of output in the same reused buffer', () => {
    const got = run(member, 16 * 1024, 32 * 1024, false);
    expect(got.out.length).toBeGreaterThan(10 * 32 * 1024);
    expect(got.buffers.size).toBe(1);
  });
});
