/**
 * Subresource Integrity (SRI) strings for tarballs: `sha512-<base64>` (the form npm and pacote
 * use). Parsing accepts the whitespace-separated multi-hash form and keeps the strongest
 * algorithm; a missing or sha1-only integrity is refused (RELIABILITY.md IN-02: no silent
 * downgrade). Verification compares digests in constant time and names what was checked.
 */
import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
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

/**
 * The integrity of bytes handed over a piece at a time (`update`), on the calling thread:
 * unpack hashes a tarball as it reads or inflates it, never holding it whole. node:crypto
 * hashes the bytes where they are; WebCrypto's async digest would first copy them all. With
 * `expected`, a weak or missing one is refused at construction (E_INTEGRITY_WEAK) and `result`
 * checks the bytes against it (E_INTEGRITY).
 */
export class IncrementalIntegrity {
  private readonly want: IntegrityHash | undefined;
  private readonly hashes: Hash[];
  private outcome: { sri: string } | { error: RumpkgError } | undefined;

  constructor(
    expected: string | undefined,
    private readonly options: { what: string },
  ) {
    this.want = expected === undefined ? undefined : parseIntegrity(expected, { what: options.what });
    // The sha512 SRI is always returned; an expected sha256/sha384 is hashed alongside it.
    this.hashes = [createHash('sha512')];
    if (this.want !== undefined && this.want.algorithm !== 'sha512') this.hashes.push(createHash(this.want.algorithm));
  }

  /** Hashes the next bytes (not after `result`). */
  update(bytes: Uint8Array): void {
    if (this.outcome !== undefined) throw new Error('integrity: update after result');
    for (const h of this.hashes) h.update(bytes);
  }

  /** The sha512 SRI of the bytes, or (every time) the E_INTEGRITY error. */
  result(): string {
    if (this.outcome === undefined) {
      const [sha512, other] = this.hashes.map((h) => h.digest()) as [Buffer, Buffer | undefined];
      const sri = `sha512-${sha512.toString('base64')}`;
      const want = this.want;
      const actual = other ?? sha512;
      if (want !== undefined && (actual.length !== want.digest.length || !timingSafeEqual(actual, want.digest))) {
        this.outcome = { error: mismatch(want, actual, this.options.what) };
      } else this.outcome = { sri };
    }
    if ('error' in this.outcome) throw this.outcome.error;
    return this.outcome.sri;
  }
}

/**
 * The integrity of `bytes`, hashed a slice at a time on the calling thread so that the caller
 * can interleave it with other work. With `expected`, a weak or missing one is refused at
 * construction (E_INTEGRITY_WEAK) and `result` checks the bytes against it (E_INTEGRITY).
 * The bytes must not change until `result` returned.
 */
export class SlicedIntegrity {
  private readonly hasher: IncrementalIntegrity;
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    expected: string | undefined,
    options: { what: string },
  ) {
    this.hasher = new IncrementalIntegrity(expected, options);
  }

  /** Hashes up to `n` more bytes; true once every byte is hashed. */
  step(n: number): boolean {
    const end = Math.min(this.bytes.length, this.offset + n);
    if (end > this.offset) {
      this.hasher.update(this.bytes.subarray(this.offset, end));
      this.offset = end;
    }
    return this.offset === this.bytes.length;
  }

  /** Hashes what is left; the sha512 SRI of the bytes, or (every time) the E_INTEGRITY error. */
  result(): string {
    this.step(Infinity);
    return this.hasher.result();
  }
}

function mismatch(want: IntegrityHash, actual: Buffer, what: string): RumpkgError {
  const actualSri = `${want.algorithm}-${actual.toString('base64')}`;
  return new RumpkgError('E_INTEGRITY', `integrity mismatch for ${what}: expected ${want.sri}, got ${actualSri}`, {
    context: { what, expected: want.sri, actual: actualSri },
    hint: 'the bytes were altered in transit or in storage; nothing was written',
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
