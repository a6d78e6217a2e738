/**
 * The tar layer of component tarballs, written by hand rather than with node-tar: ustar is
 * 512-byte blocks, and owning both the writer and a strict reader lets us guarantee that what
 * the packer writes, the registry validates and the client extracts are read by one parser
 * with one policy (RELIABILITY.md "Tarballs", EX-01 … EX-13).
 *
 * - `encodeEntryHeader` writes a POSIX ustar header (plus a pax `x` header carrying only `path`
 *   when the path does not fit the ustar name/prefix fields).
 * - `TarParser` is an incremental (streaming, bounded memory) reader: feed it decompressed
 *   chunks, it returns events (entry / data / entry end) and throws a RumpkgError at the first
 *   violation. A `data` event's bytes are a view of the chunk; the parser keeps no view of a
 *   chunk after `write` returned (a split header or a pax body is copied), so the caller may
 *   reuse the chunk's memory once it handled the events. It enforces header checksums, the ustar magic, entry types (only regular files
 *   and directories; pax `x` with `path`/`size`/`mtime` only), the path policy, collisions
 *   after Unicode/case normalisation, limits, modes and truncation. It never touches the disk.
 */
import { RumpkgError, type ErrorCode } from '../model/index.js';

const BLOCK = 512;

/** Limits of the validation pass (EX-09/10). Every field can be overridden. */
export interface TarLimits {
  /** Maximum number of entries (files + directories + pax headers). */
  maxEntries: number;
  /** Maximum sum of the file sizes. */
  maxTotalSize: number;
  /** Maximum size of the decompressed tar stream (hard cap, independent of the ratio). */
  maxDecompressedSize: number;
  /** Maximum decompressed/compressed ratio (applies above `ratioFloor` bytes). */
  maxRatio: number;
  /** Decompressed bytes always allowed regardless of the ratio (tiny tarballs are mostly zeros). */
  ratioFloor: number;
  /** Maximum directory nesting below `package/`. */
  maxDepth: number;
  /** Maximum length of an entry path in UTF-8 bytes. */
  maxPathLength: number;
  /** Maximum size of one pax extended header. */
  maxPaxSize: number;
  /**
   * Unused: unpack holds no decompressed bytes while the integrity is checked (it checks the
   * compressed bytes first, then inflates them into one reused buffer). Kept so that limits
   * written for the earlier unpack still type-check.
   */
  replayBytes: number;
  /**
   * Speed, not policy: a buffer up to this many bytes (compressed) goes to gunzip in one piece
   * and is unpacked without yielding — a component is usually a few KiB; a larger tarball is
   * handed over 256 KiB at a time, and the event loop runs between pieces (downloads, a server's
   * requests). Every other limit holds either way.
   */
  oneCallBytes: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = {
  maxEntries: 20_000,
  maxTotalSize: 1024 * 1024 * 1024,
  maxDecompressedSize: 1100 * 1024 * 1024,
  maxRatio: 200,
  ratioFloor: 1024 * 1024,
  maxDepth: 32,
  maxPathLength: 1024,
  maxPaxSize: 64 * 1024,
  replayBytes: 128 * 1024 * 1024,
  oneCallBytes: 256 * 1024,
};

export type TarEntryType = 'file' | 'directory';

/** One validated entry. `path` is relative to the package root (`lib/x.a`); mode is normalised. */
export interface TarballEntry {
  path: string;
  size: number;
  mode: number;
  type: TarEntryType;
}

type TarEvent =
  | { kind: 'entry'; entry: TarballEntry; rawPath: string }
  | { kind: 'data'; bytes: Buffer }
  | { kind: 'entryEnd' };

/** The mode a file gets: 0755 when any execute bit is set, 0644 otherwise; directories 0755. */
export function normaliseMode(mode: number, type: TarEntryType): number {
  if (type === 'directory') return 0o755;
  return (mode & 0o111) !== 0 ? 0o755 : 0o644;
}

/**
 * The key two paths collide under: NFKC (NFC/NFD pairs, ligatures such as `ﬁ`), then a full
 * case fold approximated by upper-then-lower casing (`ß` → `SS` → `ss`), then NFKC again.
 */
export function collisionKey(path: string): string {
  return path.normalize('NFKC').toUpperCase().toLowerCase().replace(/ß/g, 'ss').normalize('NFKC');
}

// ---------------------------------------------------------------------------------------------
// Writing

const MTIME_1985 = Math.floor(Date.UTC(1985, 9, 26, 8, 15, 0) / 1000);

function writeString(block: Buffer, off: number, len: number, value: Buffer): void {
  value.copy(block, off, 0, Math.min(len, value.length));
}

function writeOctal(block: Buffer, off: number, len: number, value: number): void {
  // `len - 1` octal digits, zero padded, NUL terminated (what node-tar and GNU tar write).
  const s = value.toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) throw new Error(`tar: value ${value} does not fit a ${len}-byte field`);
  block.write(`${s}\0`, off, len, 'latin1');
}

function checksumOf(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  return sum;
}

function ustarHeader(name: Buffer, prefix: Buffer, type: string, mode: number, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, 0); // uid
  writeOctal(h, 116, 8, 0); // gid
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, MTIME_1985);
  h.write(type, 156, 1, 'latin1');
  h.write('ustar\u000000', 257, 8, 'latin1');
  // uname/gname stay empty; devmajor/devminor are written as zeros like node-tar does.
  writeOctal(h, 329, 8, 0);
  writeOctal(h, 337, 8, 0);
  writeString(h, 345, 155, prefix);
  const sum = checksumOf(h);
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return Buffer.from(`${len}${body}`);
}

function pad(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * The header block(s) of one entry, with normalised metadata: fixed mtime (1985-10-26T08:15Z,
 * like npm), uid/gid 0, empty uname/gname. `path` is the full in-tar path (`package/…`,
 * directories with a trailing `/`). A pax header (with only `path`) is emitted only when the
 * path does not fit the ustar name/prefix split.
 */
export function encodeEntryHeader(path: string, type: TarEntryType, mode: number, size: number): Buffer {
  const typeflag = type === 'directory' ? '5' : '0';
  const bytes = Buffer.from(path, 'utf8');
  if (size > 0o77777777777) throw new Error(`tar: ${path} is larger than 8 GiB`);
  if (bytes.length <= 100) return ustarHeader(bytes, Buffer.alloc(0), typeflag, mode, size);
  // Split at a '/' so that prefix ≤ 155 bytes and name ≤ 100 bytes.
  for (let i = bytes.length - 1; i > 0; i--) {
    if (bytes[i] !== 0x2f) continue;
    const prefix = bytes.subarray(0, i);
    const name = bytes.subarray(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) {
      return ustarHeader(name, prefix, typeflag, mode, size);
    }
    if (prefix.length <= 155) break;
  }
  const record = paxRecord('path', path);
  const paxHead = ustarHeader(Buffer.from('PaxHeader'), Buffer.alloc(0), 'x', 0o644, record.length);
  const fallback = bytes.subarray(bytes.length - 100);
  return Buffer.concat([paxHead, record, Buffer.alloc(pad(record.length)), ustarHeader(fallback, Buffer.alloc(0), typeflag, mode, size)]);
}

/** The padding after `size` bytes of entry data. */
export function paddingFor(size: number): Buffer {
  return Buffer.alloc(pad(size));
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

// ---------------------------------------------------------------------------------------------
// Reading

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const ALLOWED_PAX_KEYS = new Set(['path', 'size', 'mtime']);

type State =
  | { s: 'header' }
  | { s: 'pax'; size: number; got: Buffer[]; have: number; header: string }
  | { s: 'data'; left: number; skip: number }
  | { s: 'skip'; left: number }
  | { s: 'eof' };

/** Everything needed to describe where a problem is. */
interface TarParserOptions {
  /** What is being read: a component id, a file name or a URL (named in every message). */
  what: string;
  limits?: Partial<TarLimits>;
}

/**
 * A strict incremental ustar/pax reader. `write()` returns the events of a chunk; `end()` must
 * be called after the last chunk (it throws on truncation or a missing end-of-archive marker).
 */
export class TarParser {
  readonly limits: TarLimits;
  private readonly what: string;
  private state: State = { s: 'header' };
  private pending: Buffer = Buffer.alloc(0);
  private pax: Map<string, string> | undefined;
  private offset = 0;
  private entries = 0;
  private totalSize = 0;
  private currentPath = '';
  private readonly seen = new Map<string, { path: string; kind: 'file' | 'directory' | 'implicit' }>();

  constructor(options: TarParserOptions) {
    this.what = options.what;
    this.limits = { ...DEFAULT_TAR_LIMITS, ...options.limits };
  }

  private fail(code: ErrorCode, entry: string | undefined, problem: string, hint?: string): never {
    const where = entry === undefined ? `at byte ${this.offset}` : `entry ${JSON.stringify(entry)}`;
    throw new RumpkgError(code, `${this.what}: tarball ${where}: ${problem}`, {
      context: { what: this.what, ...(entry === undefined ? {} : { entry }), offset: this.offset },
      hint: hint ?? 'the tarball is rejected as a whole; nothing was extracted',
    });
  }

  write(chunk: Buffer): TarEvent[] {
    const out: TarEvent[] = [];
    let buf = chunk;
    if (this.pending.length > 0) {
      // A header split across chunks: complete its block alone (not a copy of the whole chunk).
      const need = BLOCK - this.pending.length;
      const head = Buffer.concat([this.pending, buf.subarray(0, need)]);
      this.pending = Buffer.alloc(0);
      buf = buf.subarray(Math.min(need, buf.length));
      this.step(head, out);
    }
    while (buf.length > 0) buf = this.step(buf, out);
    return out;
  }

  /** Consumes what it can of `buf` (events into `out`); returns the rest. */
  private step(buf: Buffer, out: TarEvent[]): Buffer {
    const st = this.state;
    if (st.s === 'data') {
      const n = Math.min(st.left, buf.length);
      if (n > 0) out.push({ kind: 'data', bytes: buf.subarray(0, n) });
      st.left -= n;
      this.offset += n;
      buf = buf.subarray(n);
      if (st.left === 0) {
        out.push({ kind: 'entryEnd' });
        this.state = st.skip > 0 ? { s: 'skip', left: st.skip } : { s: 'header' };
      }
      return buf;
    }
    if (st.s === 'skip') {
      const n = Math.min(st.left, buf.length);
      st.left -= n;
      this.offset += n;
      buf = buf.subarray(n);
      if (st.left === 0) this.state = { s: 'header' };
      return buf;
    }
    if (st.s === 'pax') {
      const want = st.size + pad(st.size) - st.have;
      const n = Math.min(want, buf.length);
      st.got.push(Buffer.from(buf.subarray(0, n))); // a copy: the caller may reuse the chunk
      st.have += n;
      this.offset += n;
      buf = buf.subarray(n);
      if (st.have === st.size + pad(st.size)) {
        this.pax = this.parsePax(Buffer.concat(st.got).subarray(0, st.size), st.header);
        this.state = { s: 'header' };
      }
      return buf;
    }
    if (st.s === 'eof') {
      for (const b of buf) {
        if (b !== 0) this.fail('E_TAR_CORRUPT', undefined, 'data after the end-of-archive marker');
      }
      this.offset += buf.length;
      buf = buf.subarray(buf.length);
      return buf;
    }
    // header
    if (buf.length < BLOCK) {
      this.pending = Buffer.from(buf);
      return buf.subarray(buf.length);
    }
    const block = buf.subarray(0, BLOCK);
    const ev = this.header(block);
    this.offset += BLOCK;
    buf = buf.subarray(BLOCK);
    if (ev !== undefined) {
      out.push(ev);
      if (ev.kind === 'entry' && ev.entry.type === 'file' && ev.entry.size === 0) out.push({ kind: 'entryEnd' });
    }
    return buf;
  }

  /** Call after the last chunk; throws on truncated data or a missing end-of-archive marker. */
  end(): void {
    const st = this.state;
    if (st.s === 'eof') return;
    if (st.s === 'data' || st.s === 'pax' || st.s === 'skip' || this.pending.length > 0) {
      this.fail('E_TAR_CORRUPT', this.currentPath || undefined, 'truncated: the data ends inside this entry');
    }
    if (this.pax !== undefined) this.fail('E_TAR_CORRUPT', undefined, 'truncated: a pax header is not followed by an entry');
    this.fail('E_TAR_CORRUPT', undefined, 'truncated: no end-of-archive marker');
  }

  private header(block: Buffer): TarEvent | undefined {
    if (isZero(block)) {
      if (this.pax !== undefined) this.fail('E_TAR_CORRUPT', undefined, 'a pax header is not followed by an entry');
      this.state = { s: 'eof' };
      return undefined;
    }
    const rawName = cString(block, 0, 100);
    const stored = parseOctal(block, 148, 8);
    if (stored === undefined || stored !== checksumOf(block)) {
      this.fail('E_TAR_CORRUPT', printable(rawName), `bad header checksum (stored ${stored ?? 'unreadable'}, computed ${checksumOf(block)})`);
    }
    const magic = block.toString('latin1', 257, 263);
    const version = block.toString('latin1', 263, 265);
    const posix = magic === 'ustar\u0000' && version === '00';
    const gnu = magic === 'ustar ' && version === ' \u0000';
    if (!posix && !gnu) this.fail('E_TAR_CORRUPT', printable(rawName), 'not a ustar header (bad magic)');
    const prefix = posix ? cString(block, 345, 155) : Buffer.alloc(0);
    const nameBytes = prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), rawName]) : rawName;
    let path: string;
    try {
      path = UTF8.decode(nameBytes);
    } catch {
      this.fail('E_TAR_PATH', printable(nameBytes), 'the path is not valid UTF-8');
    }
    const typeflag = String.fromCharCode(block[156] as number);
    const pax = this.pax;
    this.pax = undefined;
    if (pax?.has('path') === true) path = pax.get('path') as string;
    this.currentPath = path;

    if (++this.entries > this.limits.maxEntries) {
      this.fail('E_TAR_LIMIT', path, `more than ${this.limits.maxEntries} entries`, 'raise limits.maxEntries if this component is legitimate');
    }
    let size = parseOctal(block, 124, 12);
    if (size === undefined) this.fail('E_TAR_CORRUPT', path, 'unreadable size field');
    if (pax?.has('size') === true) size = Number(pax.get('size'));

    if (typeflag === 'x') {
      if (pax !== undefined) this.fail('E_TAR_CORRUPT', path, 'two pax headers in a row');
      if (size > this.limits.maxPaxSize) this.fail('E_TAR_LIMIT', path, `pax header of ${size} bytes exceeds ${this.limits.maxPaxSize}`);
      this.state = { s: 'pax', size, got: [], have: 0, header: path };
      return undefined;
    }
    if (typeflag === 'g') this.fail('E_TAR_CORRUPT', path, 'global pax headers are not allowed (PAX smuggling)');
    const type: TarEntryType | undefined = typeflag === '0' || typeflag === '\u0000' ? 'file' : typeflag === '5' ? 'directory' : undefined;
    if (type === undefined) {
      const names: Record<string, string> = {
        '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device',
        '6': 'a FIFO', '7': 'a contiguous file', L: 'a GNU long-name header', K: 'a GNU long-link header',
      };
      this.fail('E_TAR_ENTRY_TYPE', path, `is ${names[typeflag] ?? `of unknown type ${JSON.stringify(typeflag)}`}; component packages contain only regular files and directories`);
    }
    const linkname = cString(block, 157, 100);
    if (linkname.length > 0) this.fail('E_TAR_CORRUPT', path, 'a link name on a regular entry');
    const mode = parseOctal(block, 100, 8);
    if (mode === undefined || mode > 0o7777) this.fail('E_TAR_CORRUPT', path, 'unreadable mode field');
    if ((mode & 0o7000) !== 0) {
      this.fail('E_TAR_MODE', path, `mode ${mode.toString(8)} has setuid/setgid/sticky bits`, 'component packages never carry setuid, setgid or sticky bits');
    }
    if (type === 'directory' && size !== 0) this.fail('E_TAR_CORRUPT', path, `a directory with a size of ${size}`);

    const rel = this.checkPath(path, type);
    if (type === 'file') {
      this.totalSize += size;
      if (this.totalSize > this.limits.maxTotalSize) {
        this.fail('E_TAR_LIMIT', path, `the files exceed ${this.limits.maxTotalSize} bytes in total`, 'raise limits.maxTotalSize if this component is legitimate');
      }
    }
    const entry: TarballEntry = { path: rel, size, mode: normaliseMode(mode, type), type };
    if (type === 'file') this.state = size > 0 ? { s: 'data', left: size, skip: pad(size) } : { s: 'header' };
    return { kind: 'entry', entry, rawPath: path };
  }

  private parsePax(body: Buffer, header: string): Map<string, string> {
    const out = new Map<string, string>();
    let pos = 0;
    while (pos < body.length) {
      const sp = body.indexOf(0x20, pos);
      const lenText = sp < 0 ? '' : body.toString('latin1', pos, sp);
      if (!/^[1-9][0-9]{0,6}$/.test(lenText)) this.fail('E_TAR_CORRUPT', header, 'malformed pax record length');
      const len = Number(lenText);
      if (pos + len > body.length || body[pos + len - 1] !== 0x0a) this.fail('E_TAR_CORRUPT', header, 'malformed pax record');
      let record: string;
      try {
        record = UTF8.decode(body.subarray(sp + 1, pos + len - 1));
      } catch {
        this.fail('E_TAR_CORRUPT', header, 'a pax record is not valid UTF-8');
      }
      const eq = record.indexOf('=');
      if (eq <= 0) this.fail('E_TAR_CORRUPT', header, 'malformed pax record');
      const key = record.slice(0, eq);
      const value = record.slice(eq + 1);
      if (!ALLOWED_PAX_KEYS.has(key)) {
        this.fail('E_TAR_CORRUPT', out.get('path') ?? header, `pax key ${JSON.stringify(key.slice(0, 64))} is not allowed (PAX smuggling); only path, size and mtime are`);
      }
      if (out.has(key)) this.fail('E_TAR_CORRUPT', header, `pax key ${key} given twice`);
      if (key === 'size' && !/^[0-9]{1,15}$/.test(value)) this.fail('E_TAR_CORRUPT', header, 'malformed pax size');
      if (key === 'mtime' && !/^-?[0-9]{1,15}(\.[0-9]{1,9})?$/.test(value)) this.fail('E_TAR_CORRUPT', header, 'malformed pax mtime');
      if (key === 'path' && value.length === 0) this.fail('E_TAR_CORRUPT', header, 'empty pax path');
      out.set(key, value);
      pos += len;
    }
    return out;
  }

  /** Applies the path policy (EX-01/02/06/07/09/10) and returns the package-relative path. */
  private checkPath(path: string, type: TarEntryType): string {
    const shown = path;
    if (Buffer.byteLength(path) > this.limits.maxPathLength) {
      this.fail('E_TAR_LIMIT', shown.slice(0, 200), `the path is longer than ${this.limits.maxPathLength} bytes`);
    }
    if (path.includes('\u0000')) this.fail('E_TAR_PATH', shown, 'the path contains a NUL byte');
    if (/[\u0001-\u001f\u007f]/.test(path)) this.fail('E_TAR_PATH', shown, 'the path contains control characters');
    if (path.includes('\\')) this.fail('E_TAR_PATH', shown, 'the path contains a backslash');
    if (path.startsWith('/')) this.fail('E_TAR_PATH', shown, 'the path is absolute');
    let p = path;
    if (p.endsWith('/')) {
      if (type !== 'directory') this.fail('E_TAR_PATH', shown, 'a file path ends with "/"');
      p = p.slice(0, -1);
    }
    const segments = p.split('/');
    for (const s of segments) {
      if (/^[A-Za-z]:/.test(s)) this.fail('E_TAR_PATH', shown, 'the path is drive-relative');
      if (s === '') this.fail('E_TAR_PATH', shown, 'the path has an empty segment (repeated "/")');
      if (s === '.' || s === '..') this.fail('E_TAR_PATH', shown, `the path has a "${s}" segment`);
    }
    if (segments[0] !== 'package') this.fail('E_TAR_PATH', shown, 'every entry must be under "package/"');
    if (segments.length === 1 && type !== 'directory') this.fail('E_TAR_PATH', shown, '"package" must be a directory');
    if (segments.length - 1 > this.limits.maxDepth) {
      this.fail('E_TAR_LIMIT', shown, `nested deeper than ${this.limits.maxDepth} levels`);
    }
    // Collisions after normalisation, and files used as directories.
    for (let i = 1; i <= segments.length; i++) {
      const sub = segments.slice(0, i).join('/');
      const key = collisionKey(sub);
      const seen = this.seen.get(key);
      const last = i === segments.length;
      if (seen === undefined) {
        this.seen.set(key, { path: sub, kind: last ? type : 'implicit' });
        continue;
      }
      if (seen.path !== sub) {
        this.fail('E_TAR_COLLISION', shown, `collides with ${JSON.stringify(`${seen.path}${seen.kind === 'file' ? '' : '/'}`)} after Unicode/case normalisation`);
      }
      if (!last) {
        if (seen.kind === 'file') this.fail('E_TAR_COLLISION', shown, `its parent ${JSON.stringify(sub)} is a file`);
        continue;
      }
      if (type === 'directory' && seen.kind === 'implicit') {
        seen.kind = 'directory';
        continue;
      }
      if (seen.kind === 'file' || type === 'file') {
        this.fail('E_TAR_COLLISION', shown, type === seen.kind ? 'duplicate entry' : 'a file and a directory share this path');
      }
      this.fail('E_TAR_COLLISION', shown, 'duplicate entry');
    }
    return segments.slice(1).join('/');
  }
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function cString(block: Buffer, off: number, len: number): Buffer {
  const field = block.subarray(off, off + len);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

/** An octal numeric field: optional spaces, octal digits, then NULs/spaces only. */
function parseOctal(block: Buffer, off: number, len: number): number | undefined {
  const s = block.toString('latin1', off, off + len);
  const m = /^ *([0-7]*)[ \u0000]*$/.exec(s);
  if (m === null) return undefined;
  return m[1] === '' ? 0 : parseInt(m[1] as string, 8);
}

/** A display form of raw name bytes (invalid UTF-8 and control characters escaped). */
function printable(bytes: Buffer): string {
  const s = bytes.toString('utf8');
  return s.replace(/[\u0000-\u001f\u007f\ufffd]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
