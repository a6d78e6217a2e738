/**
 * Gunzip into one reused output buffer, synchronously, a piece of input at a time: what unpack
 * needs to keep its memory bounded (RELIABILITY.md "Tarballs", EX-09/10 limits unchanged).
 *
 * Why not the `createGunzip()` stream or `gunzipSync`: both hand out every output chunk in a
 * freshly allocated buffer, and V8 frees those only at its next collection — unpacking a 29 MB
 * tarball (52 MB of tar) left ~50 MB of dead chunks resident, and the fresh pages cost ~13,000
 * page faults (about 10 µs each on our VMs), more than the decompression itself. Here zlib (the
 * same engine through the same handle `createGunzip()` drives, not a hand-written inflate)
 * writes into one buffer the caller consumes before the next piece, the way
 * `processChunkSync` in Node's lib/zlib.js drives it. That handle (`_handle.writeSync`,
 * `_writeState`) is Node's own, unchanged since Node 10; where it is missing, the input is
 * gathered and inflated by `gunzipSync` at `finish` (the same bytes and errors, whole in memory;
 * `maxOutputLength` bounds it, "ERR_BUFFER_TOO_LARGE" beyond).
 *
 * Semantics are gunzipSync's on the concatenated input: multi-member gzip is concatenated,
 * bytes after the last member are ignored when the first of them is NUL (zlib's rule), an
 * unfinished stream is "unexpected end of file" at `finish`. Errors are zlib's own `Error`s
 * (`code` Z_DATA_ERROR, Z_BUF_ERROR…); the caller wraps them.
 */
import { constants as zc, createGunzip, gunzipSync, type Gunzip } from 'node:zlib';

interface ZlibHandle {
  close(): void;
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}

/** The parts of Node's zlib object used here (lib/zlib.js, not in the typings). */
interface ZlibInternals {
  _handle: ZlibHandle | null;
  _writeState: Uint32Array;
}

export class ReusedGunzip {
  private readonly gz: Gunzip | undefined;
  private readonly out: Buffer;
  /** Without zlib's handle: the input gathered for `gunzipSync`. */
  private readonly gathered: Buffer[] | undefined;
  private ended = false;

  /**
   * `outSize`: the bytes of the one output buffer (each `take` gets at most that many);
   * `maxOutputLength` bounds the fallback only (the caller counts what it takes).
   */
  constructor(
    private readonly outSize: number,
    private readonly options: { maxOutputLength?: number; forceFallback?: boolean } = {},
  ) {
    // The stream's own output buffer goes unused: the smallest zlib allows (a larger one costs a
    // fresh allocation per tarball, ~250 µs at 256 KiB).
    const gz = createGunzip({ chunkSize: zc.Z_MIN_CHUNK });
    // Errors are read from `errored` right after each call; the 'error' the stream also emits
    // on the next tick must not be unhandled.
    gz.on('error', () => undefined);
    const z = gz as unknown as Partial<ZlibInternals>;
    if (options.forceFallback !== true && typeof z._handle?.writeSync === 'function' && z._writeState instanceof Uint32Array && z._writeState.length === 2) {
      this.gz = gz;
      this.out = Buffer.allocUnsafe(outSize);
    } else {
      gz.destroy();
      this.out = Buffer.alloc(0);
      this.gathered = [];
    }
  }

  /**
   * Inflates `input`, handing every piece of output to `take`, which must be done with the bytes
   * when it returns (they are overwritten next). Throws zlib's error; `take`'s errors pass through.
   */
  write(input: Buffer, take: (bytes: Buffer) => void): void {
    this.run(input, zc.Z_NO_FLUSH, take);
  }

  /** After the last input: flushes the rest; throws "unexpected end of file" when the gzip stream is unfinished. */
  finish(take: (bytes: Buffer) => void): void {
    this.run(Buffer.alloc(0), zc.Z_FINISH, take);
  }

  /**
   * Releases zlib's state (idempotent). The handle is closed as lib/zlib.js's one-shot calls
   * close it: the stream was never written to, and destroying it costs more than the inflating
   * of a small tarball.
   */
  close(): void {
    const z = this.gz as unknown as ZlibInternals | undefined;
    const handle = z?._handle;
    if (z === undefined || handle === null || handle === undefined) return;
    handle.close();
    z._handle = null;
  }

  private run(input: Buffer, flush: number, take: (bytes: Buffer) => void): void {
    if (this.gathered !== undefined) {
      this.gathered.push(Buffer.from(input));
      if (flush !== zc.Z_FINISH) return;
      const all = gunzipSync(Buffer.concat(this.gathered), { maxOutputLength: this.options.maxOutputLength });
      this.gathered.length = 0;
      for (let off = 0; off < all.length; off += this.outSize) take(all.subarray(off, off + this.outSize));
      return;
    }
    // Once the stream ended (zlib left input unread with room to spare), the rest is ignored, as
    // gunzipSync ignores it when it is handed the whole input at once.
    if (this.ended) return;
    const gz = this.gz as Gunzip;
    const z = gz as unknown as ZlibInternals;
    const state = z._writeState;
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      const handle = z._handle;
      if (handle === null) throw gz.errored ?? new Error('gunzip: used after close');
      handle.writeSync(flush, input, inOff, inLen, this.out, 0, this.out.length);
      if (gz.errored !== null) {
        this.ended = true;
        throw gz.errored;
      }
      const availOut = state[0] as number;
      const availIn = state[1] as number;
      const have = this.out.length - availOut;
      inOff += inLen - availIn;
      inLen = availIn;
      if (have > 0) take(this.out.subarray(0, have));
      if (availOut !== 0) {
        // zlib stopped with room left: the input is used up, or the stream ended before it.
        if (availIn > 0) this.ended = true;
        return;
      }
    }
  }
}
