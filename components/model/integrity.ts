/**
 * Subresource Integrity (SRI) strings for tarballs: `sha512-<base64>` (the form npm and pacote
 * use). Parsing accepts the whitespace-separated multi-hash form and keeps the strongest
 * algorithm; a missing or sha1-only integrity is refused (RELIABILITY.md IN-02: no silent
 * downgrade). Verification compares digests in constant time and names what was checked.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { RumpkgError } from './errors.js';

/** Algorithms rumpkg accepts, weakest first. sha1 and md5 are recognised only to be refused. */
const STRONG_ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;
type IntegrityAlgorithm = (typeof STRONG_ALGORITHMS)[number];

/** One parsed hash of an SRI string. */
interface IntegrityHash {
  algorithm: IntegrityAlgorithm;
  /** The raw digest bytes. */
  digest: Buffer;
  /** The canonical `alg-base64` form. */
  sri: string;
}

/** The SRI string (`sha512-<base64>`) of `bytes`. */
export function integrityOf(bytes: Uint8Array): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

const DIGEST_LENGTH: Record<string, number> = { sha1: 20, md5: 16, sha256: 32, sha384: 48, sha512: 64 };

/**
 * Parses an SRI string (`sha512-…`, possibly several space-separated hashes with `?options`)
 * and returns the strongest hash. Throws E_INTEGRITY_WEAK when nothing strong is present.
 */
export function parseIntegrity(s: string | undefined | null, options: { what?: string } = {}): IntegrityHash {
  const what = options.what === undefined ? '' : ` for ${options.what}`;
  if (typeof s !== 'string' || s.trim() === '') {
    throw new RumpkgError('E_INTEGRITY_WEAK', `missing integrity${what}`, {
      context: { what: options.what },
      hint: 'every tarball needs a sha512 SRI integrity; republish or relock with rumpkg',
    });
  }
  let best: IntegrityHash | undefined;
  const weak: string[] = [];
  for (const token of s.trim().split(/\s+/)) {
    const m = /^([a-z0-9]+)-([A-Za-z0-9+/]+={0,2})(\?[\x21-\x7e]*)?$/.exec(token);
    if (m === null) continue;
    const alg = m[1] as string;
    const digest = Buffer.from(m[2] as string, 'base64');
    if (digest.length !== DIGEST_LENGTH[alg]) continue;
    const rank = (STRONG_ALGORITHMS as readonly string[]).indexOf(alg);
    if (rank < 0) {
      weak.push(alg);
      continue;
    }
    if (best === undefined || rank > STRONG_ALGORITHMS.indexOf(best.algorithm)) {
      best = { algorithm: alg as IntegrityAlgorithm, digest, sri: `${alg}-${digest.toString('base64')}` };
    }
  }
  if (best === undefined) {
    const found = weak.length > 0 ? `only weak hashes (${[...new Set(weak)].join(', ')})` : 'no valid hash';
    throw new RumpkgError('E_INTEGRITY_WEAK', `integrity${what} has ${found}: ${s.slice(0, 120)}`, {
      context: { what: options.what, integrity: s.slice(0, 200) },
      hint: 'rumpkg requires sha256, sha384 or sha512 (sha512 preferred); sha1 is not accepted',
    });
  }
  return best;
}

const WEBCRYPTO: Record<IntegrityAlgorithm, string> = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };

/** The digest of `bytes`, computed off the main thread (WebCrypto runs it on the libuv pool). */
async function digestAsync(algorithm: IntegrityAlgorithm, bytes: Uint8Array): Promise<Buffer> {
  return Buffer.from(await globalThis.crypto.subtle.digest(WEBCRYPTO[algorithm], bytes));
}

/** `integrityOf`, computed off the main thread: the caller keeps working (decompressing…) meanwhile. */
export async function integrityOfAsync(bytes: Uint8Array): Promise<string> {
  return `sha512-${(await digestAsync('sha512', bytes)).toString('base64')}`;
}

function mismatch(want: IntegrityHash, actual: Buffer, what: string): RumpkgError {
  const actualSri = `${want.algorithm}-${actual.toString('base64')}`;
  return new RumpkgError('E_INTEGRITY', `integrity mismatch for ${what}: expected ${want.sri}, got ${actualSri}`, {
    context: { what, expected: want.sri, actual: actualSri },
    hint: 'the bytes were altered in transit or in storage; nothing was written',
  });
}

/**
 * `verifyIntegrity`, with the digest computed off the main thread. `expected` is parsed (and a
 * weak or missing one refused) before it returns the promise.
 */
export function verifyIntegrityAsync(bytes: Uint8Array, expected: string | undefined | null, options: { what: string }): Promise<IntegrityHash> {
  const want = parseIntegrity(expected, { what: options.what });
  return digestAsync(want.algorithm, bytes).then((actual) => {
    if (actual.length !== want.digest.length || !timingSafeEqual(actual, want.digest)) throw mismatch(want, actual, options.what);
    return want;
  });
}

/**
 * Checks `bytes` against `expected` (an SRI string); throws E_INTEGRITY naming `what` with the
 * expected and the actual digest, or E_INTEGRITY_WEAK when `expected` is missing or sha1-only.
 * Returns the verified hash.
 */
export function verifyIntegrity(bytes: Uint8Array, expected: string | undefined | null, options: { what: string }): IntegrityHash {
  const want = parseIntegrity(expected, { what: options.what });
  const actual = createHash(want.algorithm).update(bytes).digest();
  if (actual.length !== want.digest.length || !timingSafeEqual(actual, want.digest)) throw mismatch(want, actual, options.what);
  return want;
}
