/**
 * `readCapped` (transport/): a response body read into one Buffer under the JSON or tarball cap
 * (RG-04). httpFetch's bodies (node:stream) are read by their events, an injected fetch's (web
 * streams, async iterables) by iteration: both give the same bytes, the same E_TOO_LARGE (the
 * transfer cut off) and the same stream errors — including a body closed before its end, which
 * the retry policy treats as transient (NW-01).
 */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isRumpkgError } from '../../components/index.js';
import { readCapped } from '../../registry/index.js';

const opts = { max: 10, what: '@rump/x', url: 'http://user:secret@127.0.0.1:9/@rump%2fx?q=1' };

/** The same chunks as a node:stream and as a plain async iterable (the web-stream path). */
function both(chunks: Buffer[]): Array<[string, () => AsyncIterable<Uint8Array>]> {
  return [
    ['node stream', () => Readable.from(chunks, { objectMode: false })],
    ['async iterable', () => (async function* () { yield* chunks; })()],
  ];
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('readCapped', () => {
  for (const [kind, body] of both([Buffer.from('abc'), Buffer.from('defg'), Buffer.from('hij')])) {
    it(`${kind}: the chunks in order, up to the cap included`, async () => {
      expect((await readCapped(body(), opts)).toString()).toBe('abcdefghij');
    });
  }

  for (const [kind, body] of both([Buffer.from('abcdef'), Buffer.from('ghijk'), Buffer.from('never read')])) {
    it(`${kind}: one byte over the cap is E_TOO_LARGE naming the component and the redacted URL; the transfer is cut off`, async () => {
      let cut = 0;
      const stream = body();
      const e = await failure(readCapped(stream, { ...opts, onTooLarge: () => cut++ }));
      expect(isRumpkgError(e, 'E_TOO_LARGE')).toBe(true);
      expect((e as Error).message).toBe('@rump/x from http://127.0.0.1:9/@rump%2fx exceeds 10 bytes');
      expect(cut).toBe(1);
      if (stream instanceof Readable) expect(stream.destroyed).toBe(true);
    });
  }

  it('a stream error is the rejection, on either path', async () => {
    const boom = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const viaEvents = new PassThrough();
    const viaIteration = new PassThrough();
    const a = failure(readCapped(viaEvents, opts));
    const b = failure(readCapped((async function* () { yield* viaIteration; })(), opts));
    for (const s of [viaEvents, viaIteration]) {
      s.write(Buffer.from('abc'));
      setImmediate(() => s.destroy(boom));
    }
    expect(await a).toBe(boom);
    expect(await b).toBe(boom);
  });

  it('a body closed before its end is ERR_STREAM_PREMATURE_CLOSE, as the stream’s own iterator says', async () => {
    const viaEvents = new PassThrough();
    const viaIterator = new PassThrough();
    const a = failure(readCapped(viaEvents, opts));
    // The node stream's own async iterator: what readCapped used for every body before.
    const b = failure((async () => {
      for await (const _ of viaIterator) void _;
    })());
    for (const s of [viaEvents, viaIterator]) {
      s.write(Buffer.from('abc'));
      setImmediate(() => s.destroy());
    }
    expect((await a as { code?: string }).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    expect((await b as { code?: string }).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
  });

  it('an empty body is an empty Buffer', async () => {
    const s = new PassThrough();
    s.end();
    expect((await readCapped(s, opts)).length).toBe(0);
  });
});
