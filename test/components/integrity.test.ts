import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SlicedIntegrity, integrityOf, isRumpkgError, parseIntegrity, verifyIntegrity } from '../../components/index.js';

const bytes = Buffer.from('rump kernel component');
const sri = (alg: string, b: Buffer = bytes): string => `${alg}-${createHash(alg).update(b).digest('base64')}`;

describe('integrity', () => {
  it('integrityOf gives sha512 SRI', () => {
    expect(integrityOf(bytes)).toBe(sri('sha512'));
  });

  it('parseIntegrity picks the strongest of several hashes and ignores options', () => {
    const s = `${sri('sha1')} ${sri('sha256')}?foo ${sri('sha512')}?x-y`;
    expect(parseIntegrity(s).algorithm).toBe('sha512');
    expect(parseIntegrity(`${sri('sha256')}  ${sri('sha384')}`).sri).toBe(sri('sha384'));
  });

  it('refuses sha1-only, md5-only, missing and malformed integrity (IN-02)', () => {
    for (const s of [sri('sha1'), sri('md5'), '', '   ', undefined, null, 'sha512-short', 'nonsense']) {
      const err = (() => {
        try {
          parseIntegrity(s, { what: '@rump/tcpip@10.0.0' });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(isRumpkgError(err, 'E_INTEGRITY_WEAK')).toBe(true);
      expect((err as Error).message).toContain('@rump/tcpip@10.0.0');
    }
  });

  it('verifyIntegrity accepts matching bytes and names what, expected and actual otherwise (IN-01)', () => {
    expect(verifyIntegrity(bytes, sri('sha512'), { what: 'x.tgz' }).algorithm).toBe('sha512');
    expect(verifyIntegrity(bytes, sri('sha256'), { what: 'x.tgz' }).algorithm).toBe('sha256');
    const other = Buffer.from(bytes);
    other[0] = (other[0] as number) ^ 1;
    try {
      verifyIntegrity(other, sri('sha512'), { what: '@rump/tcpip@10.0.0' });
      expect.unreachable();
    } catch (e) {
      expect(isRumpkgError(e, 'E_INTEGRITY')).toBe(true);
      const m = (e as Error).message;
      expect(m).toContain('@rump/tcpip@10.0.0');
      expect(m).toContain(sri('sha512'));
      expect(m).toContain(sri('sha512', other));
    }
    expect(() => verifyIntegrity(bytes, sri('sha1'), { what: 'x' })).toThrow(/weak/);
  });

  it('SlicedIntegrity: the same SRI and the same checks as hashing at once, however it is sliced', () => {
    const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251));
    for (const slice of [1, 7, 512, 4999, 5000, Infinity]) {
      const h = new SlicedIntegrity(big, undefined, { what: 'x' });
      let steps = 0;
      while (!h.step(slice)) steps++;
      expect(steps).toBe(slice >= big.length ? 0 : Math.ceil(big.length / slice) - 1);
      expect(h.result()).toBe(integrityOf(big));
      // An expected sha256/sha384/sha512 is checked; the sha512 SRI is what is returned.
      for (const alg of ['sha256', 'sha384', 'sha512']) {
        const v = new SlicedIntegrity(big, sri(alg, big), { what: 'x' });
        v.step(slice);
        expect(v.result()).toBe(integrityOf(big));
      }
    }
    // `result` hashes what is left, without any step.
    expect(new SlicedIntegrity(big, sri('sha256', big), { what: 'x' }).result()).toBe(integrityOf(big));
  });

  it('SlicedIntegrity: a mismatch is E_INTEGRITY every time result is asked; a weak expected one is refused at once', () => {
    const other = Buffer.from(bytes);
    other[other.length - 1] = (other[other.length - 1] as number) ^ 1;
    for (const alg of ['sha256', 'sha512']) {
      const h = new SlicedIntegrity(other, sri(alg), { what: '@rump/tcpip@10.0.0' });
      h.step(3);
      for (let i = 0; i < 2; i++) {
        const err = (() => {
          try {
            h.result();
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        expect(isRumpkgError(err, 'E_INTEGRITY')).toBe(true);
        expect((err as Error).message).toContain('@rump/tcpip@10.0.0');
        expect((err as Error).message).toContain(sri(alg, other));
      }
    }
    expect(() => new SlicedIntegrity(bytes, sri('sha1'), { what: 'x' })).toThrow(/weak/);
    expect(() => new SlicedIntegrity(bytes, '', { what: 'x' })).toThrow(/missing integrity/);
  });
});
