/**
 * Component tarballs: reproducible packing and defensive unpacking (DESIGN.md §4.1, STYLE.md §9,
 * RELIABILITY.md "Tarballs").
 *
 * Format: an npm-compatible `.tgz`; every entry under `package/`, sorted by path in byte order,
 * only regular files and directories, ustar headers written by ./tar-format.ts (not node-tar)
 * with mtime 1985-10-26T08:15:00Z, uid/gid 0, empty uname/gname, modes 0755 (directories and
 * files with any execute bit) or 0644, a pax header only for paths that do not fit ustar; gzip
 * level 6 via zlib with mtime 0, no file name and OS byte 3. The same content gives the same
 * bytes whatever the creation order, mtimes, owners or umask. Packing skips `.git`,
 * `node_modules`, `.DS_Store` anywhere and `*.tgz` at the package root (like npm-packlist).
 *
 * Unpacking order (nothing is trusted before it is checked):
 *   1. with an expected integrity, the SRI of every compressed byte — not one header is parsed
 *      before it matched (a file is hashed again as it is inflated and checked again before the
 *      commit, so bytes changed between the two reads are refused too); a local file the user
 *      unpacks without one (`localFile`) has nothing to match: its integrity is computed on the
 *      way and returned;
 *   2. one pass in bounded memory: the compressed bytes a piece at a time (a buffer sliced, a
 *      file — `{ file }` — read into one reused 256 KiB buffer), inflated synchronously by zlib
 *      into one reused 256 KiB output buffer (./gunzip.ts; a size and ratio cap), each piece
 *      parsed at once by the strict parser of ./tar-format.ts, and each entry it accepted
 *      written at once into a fresh private staging directory (mkdtemp next to `dest`, 0700)
 *      with `O_CREAT|O_EXCL|O_NOFOLLOW` files and normalised modes — what was validated is
 *      exactly what is written; the checks of the whole (truncation, the manifest against the
 *      files) come at the end. Peak memory is the two pieces, the parser's state and
 *      package.json, whatever the tarball's size: a 29 MB tarball (52 MB of tar) unpacks in
 *      ~54 MB resident, ~5,100 page faults — a tiny one takes ~4,700 — where reading it whole
 *      and inflating through gunzip's stream took ~115 MB and ~20,700 faults (the fresh pages,
 *      ~10 µs each, cost more than inflating: `rumpkg inspect --extract` went from ~2× to
 *      ~1× `tar xzf`, bench/pack.mjs; components/README.md has the numbers). A tarball above
 *      `limits.oneCallBytes` lets the event loop run between pieces;
 *   3. `rename(staging, dest)`, only when all of that passed. On any error the staging directory
 *      is removed; `dest` is never created or touched. A tarball's own error is reported in
 *      preference to a file system error met while writing it.
 * Extraction with `digests` also returns the sha256 and size of every file from the bytes it
 * wrote (the store's index, without reading the tree back).
 */
import { chmodSync, closeSync, constants as fsc, fchmodSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createGzip } from 'node:zlib';
import { createHash, type Hash } from 'node:crypto';
import { RumpkgError, fsError } from '../model/index.js';
import { IncrementalIntegrity, integrityOf, parseIntegrity } from '../model/index.js';
import { ReusedGunzip } from './gunzip.js';
import { MAX_MANIFEST_BYTES, loadManifestForPack, parseManifestText } from './tar-manifest.js';
import {
  DEFAULT_TAR_LIMITS,
  END_OF_ARCHIVE,
  TarParser,
  encodeEntryHeader,
  normaliseMode,
  paddingFor,
  type TarLimits,
  type TarballEntry,
} from './tar-format.js';
import type { ComponentManifest } from '../model/index.js';

export { DEFAULT_TAR_LIMITS, collisionKey, type TarLimits, type TarballEntry, type TarEntryType } from './tar-format.js';

/** The gzip level is part of the format: changing it changes every integrity. */
const GZIP_LEVEL = 6;

export interface PackResult {
  /** The `.tgz` bytes. */
  data: Buffer;
  /** `sha512-<base64>` of `data`. */
  integrity: string;
  size: number;
  manifest: ComponentManifest;
  /** Package-relative entries in tarball order (directories included). */
  files: TarballEntry[];
}

interface PackOptions {
  /** Limits the packed result must satisfy (the ones unpack will apply). */
  limits?: Partial<TarLimits>;
}

const SKIP_ANYWHERE = new Set(['.git', 'node_modules', '.DS_Store']);

interface SourceEntry {
  rel: string;
  abs: string;
  type: 'file' | 'directory';
  mode: number;
  size: number;
}

async function walk(root: string, rel: string, out: SourceEntry[]): Promise<void> {
  const abs = rel === '' ? root : join(root, rel);
  let names: string[];
  try {
    names = await readdir(abs);
  } catch (e) {
    throw fsError(e, abs, 'read directory');
  }
  for (const name of names) {
    if (SKIP_ANYWHERE.has(name)) continue;
    if (rel === '' && name.endsWith('.tgz')) continue;
    const r = rel === '' ? name : `${rel}/${name}`;
    const p = join(root, r);
    let st;
    try {
      st = await lstat(p);
    } catch (e) {
      throw fsError(e, p, 'stat');
    }
    if (st.isDirectory()) {
      out.push({ rel: r, abs: p, type: 'directory', mode: 0o755, size: 0 });
      await walk(root, r, out);
    } else if (st.isFile()) {
      out.push({ rel: r, abs: p, type: 'file', mode: normaliseMode(st.mode, 'file'), size: st.size });
    } else {
      const kind = st.isSymbolicLink() ? 'a symbolic link' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device';
      throw new RumpkgError('E_TAR_ENTRY_TYPE', `cannot pack ${p}: it is ${kind}; component packages contain only regular files and directories`, {
        context: { path: p },
        hint: 'replace it with a regular file (copy the link target) or remove it',
      });
    }
  }
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Packs the component directory `dir` into a reproducible tarball. The manifest is loaded and
 * validated first (an invalid one is refused with its problems); the result is validated by the
 * same parser unpack uses, so everything `packComponent` returns can be unpacked.
 */
export async function packComponent(dir: string, options: PackOptions = {}): Promise<PackResult> {
  const root = resolve(dir);
  const sources: SourceEntry[] = [];
  await walk(root, '', sources);
  const fileList = sources.filter((s) => s.type === 'file').map((s) => s.rel);
  const manifest = await loadManifestForPack(root, fileList);

  const tarPath = (s: SourceEntry): string => `package/${s.rel}${s.type === 'directory' ? '/' : ''}`;
  sources.sort((a, b) => byteOrder(tarPath(a), tarPath(b)));
  // The tar stream goes to gzip as it is built (gzip runs on the libuv pool while the next file is
  // read); the output is byte for byte zlib's level 6 of the whole stream, however it is fed. The
  // stream is checked on the way by the parser unpack uses: the packed tarball must pass the
  // policy unpack applies (collisions, depth, path length…).
  const parser = new TarParser({ what: `packing ${manifest.name}@${manifest.version} from ${root}`, limits: options.limits });
  const files: TarballEntry[] = [];
  const gz = createGzip({ level: GZIP_LEVEL, chunkSize: 1024 * 1024 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const finished = new Promise<void>((res, rej) => {
    gz.on('end', res);
    gz.on('error', rej);
  });
  finished.catch(() => undefined);
  const emit = (bytes: Buffer): void => {
    for (const ev of parser.write(bytes)) if (ev.kind === 'entry') files.push(ev.entry);
    gz.write(bytes);
  };
  try {
    for (const s of sources) {
      if (s.type === 'directory') {
        emit(encodeEntryHeader(tarPath(s), 'directory', 0o755, 0));
        continue;
      }
      let bytes: Buffer;
      try {
        // O_NOFOLLOW: a file swapped for a symlink after the walk is refused, not followed.
        const fh = await open(s.abs, fsc.O_RDONLY | fsc.O_NOFOLLOW);
        try {
          bytes = await fh.readFile();
        } finally {
          await fh.close();
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
          throw new RumpkgError('E_TAR_ENTRY_TYPE', `cannot pack ${s.abs}: it became a symbolic link while packing`, { context: { path: s.abs } });
        }
        throw fsError(e, s.abs, 'read');
      }
      emit(encodeEntryHeader(tarPath(s), 'file', s.mode, bytes.length));
      emit(bytes);
      emit(paddingFor(bytes.length));
    }
    emit(END_OF_ARCHIVE);
    parser.end();
  } catch (e) {
    gz.destroy();
    throw e;
  }
  gz.end();
  await finished;
  const data = Buffer.concat(out);
  // zlib writes MTIME 0 and no FNAME; pin the OS byte so every platform gives the same bytes.
  data[9] = 3;
  return { data, integrity: integrityOf(data), size: data.length, manifest, files };
}

// ---------------------------------------------------------------------------------------------

interface ReadTarballOptions {
  /** Expected SRI; when given it is verified before anything is parsed. */
  integrity?: string;
  limits?: Partial<TarLimits>;
  /** What the tarball is (component id, file name, URL); named in every error. */
  what?: string;
}

interface TarballContents {
  /** Package-relative entries in tarball order (the `package/` root itself left out). */
  entries: TarballEntry[];
  /** `package/package.json` as parsed JSON (for manifest-confusion checks). */
  packageJson: unknown;
  /** The validated manifest. */
  manifest: ComponentManifest;
  integrity: string;
  size: number;
}

/**
 * A tarball on disk, given by path: read a piece at a time into one reused buffer (hashed as it
 * is read), never whole — what `rumpkg inspect FILE` hands over. Symbolic links to it are
 * followed, as reading a file the user named does.
 */
export interface TarballFile {
  file: string;
}

/** Bytes read (or, from a buffer, handed to gunzip) at a time; also the hashing slice. */
const INPUT_PIECE = 256 * 1024;
/** The one reused output buffer of gunzip: the decompressed bytes alive at any time. */
const OUTPUT_PIECE = 256 * 1024;
/** The smallest output buffer (a tarball of a few KiB, the usual component, needs no more). */
const SMALL_OUTPUT_PIECE = 16 * 1024;

/** The compressed bytes, as successive pieces, each valid only until the next one is asked for. */
interface Input {
  /** The size the bytes have (a file's at open; the pieces may give fewer or more if it changes). */
  readonly size: number;
  /** One buffer is passed over as one piece; a file is re-read from its start each time. */
  pieces(): Generator<Buffer>;
  close(): void;
}

function bufferInput(tgz: Buffer, oneCall: boolean): Input {
  return {
    size: tgz.length,
    *pieces() {
      if (oneCall) {
        yield tgz;
        return;
      }
      for (let off = 0; off < tgz.length; off += INPUT_PIECE) yield tgz.subarray(off, off + INPUT_PIECE);
    },
    close() {},
  };
}

function fileInput(path: string): Input {
  let fd: number | undefined;
  let size: number;
  try {
    fd = openSync(path, fsc.O_RDONLY);
    const st = fstatSync(fd);
    if (!st.isFile()) {
      // A pipe or a device has no size to bound the decompression by: read it whole.
      const bytes = readFileSync(fd);
      closeSync(fd);
      return bufferInput(bytes, false);
    }
    size = st.size;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    throw fsError(e, path, 'read');
  }
  const buf = Buffer.allocUnsafe(INPUT_PIECE);
  const handle = fd;
  return {
    size,
    *pieces() {
      for (let pos = 0; ; ) {
        let n: number;
        try {
          n = readSync(handle, buf, 0, buf.length, pos);
        } catch (e) {
          throw fsError(e, path, 'read');
        }
        if (n === 0) return;
        pos += n;
        yield buf.subarray(0, n);
      }
    },
    close() {
      closeSync(handle);
    },
  };
}

function openInput(tgz: Buffer | TarballFile, limits: TarLimits): Input {
  return Buffer.isBuffer(tgz) ? bufferInput(tgz, tgz.length <= limits.oneCallBytes) : fileInput(resolve(tgz.file));
}

interface Scan {
  entries: TarballEntry[];
  packageJson: unknown;
  manifest: ComponentManifest;
  /** The sha512 SRI of the compressed bytes (checked against the expected one when given). */
  integrity: string;
  /** The compressed bytes read. */
  size: number;
}

type TarEvent = ReturnType<TarParser['write']>[number];

interface ScanOptions {
  limits: TarLimits;
  what: string;
  /** The SRI the bytes must have: checked over every byte before a single header is parsed. */
  expected: string | undefined;
  /** Called once the expected integrity matched (at once without one), before any parsing. */
  ready?: () => void;
  /** Every parser event, right after the parser accepted it (extraction writes it). */
  sink?: (ev: TarEvent) => void;
}

/**
 * The validation pass: every header and the manifest, in bounded memory — the compressed bytes a
 * piece at a time (a file read into one reused buffer), decompressed synchronously into one
 * reused output buffer (./gunzip.ts), parsed and handed to `sink` as they come; nothing but the
 * parser's state, the entry list and package.json outlives a piece. Whole-tarball checks
 * (truncation, the manifest against the files) come at the end, before the caller commits
 * anything. A tarball above `limits.oneCallBytes` lets the event loop run between pieces.
 *
 * With `expected`, every byte is hashed and checked first (E_INTEGRITY, whatever the bytes would
 * have said), then inflated; a file is hashed again as it is inflated and checked again at the
 * end, so bytes changed between the two reads are refused too. Without it, the integrity is
 * computed on the way and returned.
 */
async function scan(source: Buffer | TarballFile, o: ScanOptions): Promise<Scan> {
  const { limits, what } = o;
  // A weak or missing expected integrity is refused before the file is even opened.
  const first = new IncrementalIntegrity(o.expected, { what });
  const input = openInput(source, limits);
  try {
    let seen: IncrementalIntegrity | undefined = first;
    if (o.expected !== undefined) {
      for (const piece of input.pieces()) first.update(piece);
      first.result(); // throws E_INTEGRITY
      // A buffer does not change (the caller's contract); a file may, and is hashed again.
      seen = Buffer.isBuffer(source) ? undefined : new IncrementalIntegrity(o.expected, { what });
    }
    o.ready?.();
    try {
      const s = await parse(input, o, seen);
      return { ...s, integrity: (seen ?? first).result() };
    } catch (e) {
      // Bytes that changed since they were checked are reported as such, not by what they say.
      if (seen !== undefined && seen !== first) {
        const again = new IncrementalIntegrity(o.expected, { what });
        for (const piece of input.pieces()) again.update(piece);
        again.result();
      }
      throw e;
    }
  } finally {
    input.close();
  }
}

async function parse(input: Input, o: ScanOptions, integrity: IncrementalIntegrity | undefined): Promise<Omit<Scan, 'integrity'>> {
  const { limits, what } = o;
  const parser = new TarParser({ what, limits });
  const entries: TarballEntry[] = [];
  let pj: Buffer[] | undefined;
  let pjSize = 0;
  let inPj = false;
  const feed = (chunk: Buffer): void => {
    for (const ev of parser.write(chunk)) {
      if (ev.kind === 'entry') {
        if (ev.entry.path !== '') entries.push(ev.entry);
        inPj = ev.entry.type === 'file' && ev.entry.path === 'package.json';
        if (inPj) {
          if (ev.entry.size > MAX_MANIFEST_BYTES) {
            throw new RumpkgError('E_TAR_LIMIT', `${what}: tarball entry "${ev.rawPath}" is larger than ${MAX_MANIFEST_BYTES} bytes`, { context: { what, entry: ev.rawPath } });
          }
          pj = [];
        }
      } else if (ev.kind === 'data' && inPj) {
        pj?.push(Buffer.from(ev.bytes));
        pjSize += ev.bytes.length;
      } else if (ev.kind === 'entryEnd') inPj = false;
      o.sink?.(ev);
    }
  };

  const notGzip = (): RumpkgError =>
    new RumpkgError('E_TAR_CORRUPT', `${what}: not gzip data`, {
      context: { what },
      hint: 'a component tarball is a gzip-compressed tar file (.tgz)',
    });
  const cap = Math.min(limits.maxDecompressedSize, Math.max(limits.ratioFloor, limits.maxRatio * input.size));
  const tooLarge = (): RumpkgError =>
    new RumpkgError(
      'E_TAR_LIMIT',
      `${what}: decompresses to more than ${cap} bytes from ${input.size} (ratio limit ${limits.maxRatio}, size limit ${limits.maxDecompressedSize}): a gzip bomb?`,
      { context: { what, compressed: input.size, limit: cap }, hint: 'the tarball is rejected as a whole; nothing was extracted' },
    );
  let total = 0;
  // What the decompressed bytes caused (a tarball's own error, a bug) passes through as it is;
  // anything else gunzip throws is the gzip data's fault.
  let fromTake: { error: unknown } | undefined;
  const take = (bytes: Buffer): void => {
    try {
      total += bytes.length;
      if (total > cap) throw tooLarge();
      feed(bytes);
    } catch (e) {
      fromTake = { error: e };
      throw e;
    }
  };
  // A small tarball gets a small buffer: one from malloc's heap, not a fresh mapping of its own.
  const gunzip = new ReusedGunzip(Math.min(OUTPUT_PIECE, Math.max(SMALL_OUTPUT_PIECE, 4 * input.size)), { maxOutputLength: cap + 1 });
  const inflate = (step: () => void): void => {
    try {
      step();
    } catch (e) {
      if (fromTake !== undefined || e instanceof RumpkgError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
      throw new RumpkgError('E_TAR_CORRUPT', `${what}: invalid gzip data (${(e as Error).message})`, {
        context: { what },
        cause: e,
        hint: 'the download may be truncated or corrupt; nothing was extracted',
      });
    }
  };
  const breathe = input.size > limits.oneCallBytes;
  let size = 0;
  try {
    let started = false;
    for (const piece of input.pieces()) {
      size += piece.length;
      if (!started) {
        if (input.size < 18 || piece.length < 2 || piece[0] !== 0x1f || piece[1] !== 0x8b) throw notGzip();
        started = true;
      }
      integrity?.update(piece);
      inflate(() => gunzip.write(piece, take));
      // Other work of the process (downloads, a server's requests) runs between pieces.
      if (breathe) await new Promise<void>((r) => setImmediate(r));
    }
    if (!started) throw notGzip();
    inflate(() => gunzip.finish(take));
  } finally {
    gunzip.close();
  }
  parser.end();
  if (pj === undefined) {
    throw new RumpkgError('E_TAR_CONTENT', `${what}: the tarball has no package/package.json`, {
      context: { what, entry: 'package/package.json' },
      hint: 'a component tarball holds its manifest at package/package.json',
    });
  }
  const text = Buffer.concat(pj, pjSize).toString('utf8');
  const files = entries.filter((e) => e.type === 'file').map((e) => e.path);
  const { manifest, packageJson } = parseManifestText(text, { file: `${what}: package/package.json`, files });
  return { entries, packageJson, manifest, size };
}

/**
 * The validation pass alone: verifies `integrity` when given (before a header is parsed), then
 * reads every header and the manifest without writing anything. Used by `rumpkg inspect`, the
 * registry client (IN-04) and the registry server.
 */
export async function readTarballEntries(tgz: Buffer | TarballFile, options: ReadTarballOptions = {}): Promise<TarballContents> {
  const what = options.what ?? 'component tarball';
  const limits = { ...DEFAULT_TAR_LIMITS, ...options.limits };
  return scan(tgz, { limits, what, expected: options.integrity });
}

type UnpackOptions = {
  limits?: Partial<TarLimits>;
  /** What the tarball is (component id, file name, URL); named in every error. */
  what?: string;
  /** Also return the sha256 and size of every file as written (`UnpackResult.written`). */
  digests?: boolean;
} & (
  | {
      /** Expected SRI of the whole tarball (required: IN-02, no silent downgrade). */
      integrity: string;
      localFile?: never;
    }
  | {
      /**
       * The user's own file, unpacked on request with no expected integrity (`rumpkg inspect
       * --extract FILE` without `--integrity`): there is nothing to verify; the integrity is
       * computed and returned. Every header is checked as always.
       */
      localFile: true;
      integrity?: undefined;
    }
);

interface UnpackResult {
  manifest: ComponentManifest;
  /** `package/package.json` as parsed JSON (for manifest-confusion checks). */
  packageJson: unknown;
  files: TarballEntry[];
  /** The sha512 SRI of the bytes unpacked (verified against the expected one when given). */
  integrity: string;
  /** The compressed bytes unpacked. */
  size: number;
  /**
   * With `digests`: every file written, by package-relative path in code-unit order, with the
   * `sha256-<base64>` of its bytes and its size — what reading the tree back would give.
   */
  written?: { files: Record<string, string>; sizes: Record<string, number> };
}

/**
 * Verifies, validates and extracts `tgz` so that `dest` (which must not exist) receives the
 * contents of the package root. All or nothing: on any error `dest` does not exist afterwards
 * and no staging directory is left behind.
 */
export async function unpackComponent(tgz: Buffer | TarballFile, dest: string, options: UnpackOptions): Promise<UnpackResult> {
  const what = options.what ?? 'component tarball';
  const expected = options.localFile === true ? undefined : (options.integrity as string | undefined);
  // IN-02: a missing or weak expected integrity is refused before anything else.
  if (options.localFile !== true) parseIntegrity(expected, { what });
  const limits = { ...DEFAULT_TAR_LIMITS, ...options.limits };
  const target = resolve(dest);
  const out = new Extraction(target, what, options.digests === true);
  try {
    // A wrong integrity is reported before an existing destination (scan checks it first).
    const checked = await scan(tgz, { limits, what, expected, ready: () => assertAbsent(target, what), sink: (ev) => out.take(ev) });
    out.commit();
    const { manifest, packageJson, entries, integrity, size } = checked;
    return { manifest, packageJson, files: entries, integrity, size, ...(out.digests === undefined ? {} : { written: writtenIndex(out.digests) }) };
  } catch (e) {
    out.abort();
    if (e instanceof RumpkgError) throw e;
    throw fsError(e, target, 'extract into');
  }
}

/**
 * The writing side of unpack: the events of the validation pass, as the parser accepts them,
 * written into a fresh private staging directory (mkdtemp next to the target, 0700, created at
 * the first event) with `O_CREAT|O_EXCL|O_NOFOLLOW` files and normalised modes; `commit` renames
 * it to the target once the whole tarball passed, `abort` removes it.
 *
 * A failed write stops the writing, not the validation: the tarball's own error, when it has
 * one, is the one reported (as if every header had been checked before the first write), and
 * `commit` throws the write's error otherwise.
 *
 * The file system calls are synchronous: a component is mostly small files in a private
 * directory, and one await per mkdir/open/write/chmod/close/rename — a trip through libuv's
 * thread pool, shared with whatever else the process writes — cost more than the calls.
 */
class Extraction {
  private staging: string | undefined;
  private failed: { error: unknown } | undefined;
  private fd: number | undefined;
  private current: TarballEntry | undefined;
  private readonly made = new Set<string>(['']);
  private hash: Hash | undefined;
  private size = 0;
  /** With `digests`: [path, sha256 SRI, size] of every file written. */
  readonly digests: Array<[string, string, number]> | undefined;

  constructor(
    private readonly target: string,
    private readonly what: string,
    digests: boolean,
  ) {
    this.digests = digests ? [] : undefined;
  }

  take(ev: TarEvent): void {
    if (this.failed !== undefined) return;
    try {
      this.write(ev);
    } catch (e) {
      this.failed = { error: e };
      this.close();
    }
  }

  private write(ev: TarEvent): void {
    if (ev.kind === 'entry') {
      this.current = ev.entry;
      const rel = ev.entry.path;
      if (ev.entry.type === 'directory') {
        this.ensureDir(rel);
        return;
      }
      this.ensureDir(rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
      this.fd = openSync(join(this.root(), rel), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, ev.entry.mode);
      if (this.digests !== undefined) {
        this.hash = createHash('sha256');
        this.size = 0;
      }
    } else if (ev.kind === 'data') {
      const fd = this.fd;
      if (fd === undefined) throw new Error(`tarball: data without an open file (${this.current?.path})`);
      for (let off = 0; off < ev.bytes.length; ) off += writeSync(fd, ev.bytes, off, ev.bytes.length - off);
      this.hash?.update(ev.bytes);
      this.size += ev.bytes.length;
    } else {
      const fd = this.fd;
      if (fd === undefined) throw new Error(`tarball: entry end without an open file (${this.current?.path})`);
      this.fd = undefined;
      try {
        fchmodSync(fd, this.current?.mode ?? 0o644);
      } finally {
        closeSync(fd);
      }
      if (this.digests !== undefined && this.hash !== undefined && this.current !== undefined) this.digests.push([this.current.path, `sha256-${this.hash.digest('base64')}`, this.size]);
      this.hash = undefined;
    }
  }

  /** The staging directory, created on first use. */
  private root(): string {
    if (this.staging !== undefined) return this.staging;
    try {
      this.staging = mkdtempSync(join(dirname(this.target), `.${basename(this.target)}.rumpkg-staging-`));
    } catch (e) {
      throw fsError(e, dirname(this.target), 'create a staging directory in');
    }
    chmodSync(this.staging, 0o700);
    return this.staging;
  }

  private ensureDir(rel: string): void {
    const root = this.root();
    if (this.made.has(rel)) return;
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    this.ensureDir(parent);
    const p = join(root, rel);
    try {
      mkdirSync(p, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = lstatSync(p);
      if (!st.isDirectory() || st.isSymbolicLink()) {
        throw new RumpkgError('E_TAR_PATH', `${this.what}: ${p} appeared during extraction and is not a directory`, { context: { what: this.what, path: p } });
      }
    }
    chmodSync(p, 0o755);
    this.made.add(rel);
  }

  /** After the whole tarball passed: the staging directory becomes the target. */
  commit(): void {
    if (this.failed !== undefined) throw this.failed.error;
    const staging = this.root();
    chmodSync(staging, 0o755);
    assertAbsent(this.target, this.what);
    renameSync(staging, this.target);
    this.staging = undefined;
  }

  /** After any error: nothing is left behind. */
  abort(): void {
    this.close();
    if (this.staging !== undefined) rmSync(this.staging, { recursive: true, force: true });
    this.staging = undefined;
  }

  private close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = undefined;
  }
}

/** The digests of the files written, keyed in code-unit order of their paths (the order of the store's index). */
function writtenIndex(digests: Array<[string, string, number]>): NonNullable<UnpackResult['written']> {
  const files: Record<string, string> = {};
  const sizes: Record<string, number> = {};
  for (const [path, digest, size] of digests.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    files[path] = digest;
    sizes[path] = size;
  }
  return { files, sizes };
}

function assertAbsent(target: string, what: string): void {
  try {
    lstatSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fsError(e, target, 'check');
  }
  throw new RumpkgError('E_EXISTS', `cannot unpack ${what} into ${target}: it already exists`, {
    context: { what, path: target },
    hint: 'unpack into a path that does not exist yet; rumpkg never merges into or overwrites a directory',
  });
}
