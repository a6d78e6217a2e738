/**
 * Byte sources for the positioned ELF / ar readers (elf.ts `ByteSource`): a file read with
 * positioned reads (`FileHandle.read(buffer, 0, length, position)`), a window of another source
 * (an archive member), or bytes already in memory.
 *
 * Why: an image of 100 MB needs a few MB of it to be audited (headers, the symbol table and its
 * strings, a few small sections), and an archive's members need their headers and symbol tables,
 * not their code. Reading whole files costs more than everything else the readers do.
 *
 * Contract: `read(offset, length)` returns exactly `length` bytes or throws E_ELF (the file is
 * shorter than when its size was taken: truncated while being read). Callers check
 * `offset + length ≤ size` before reading; the sources check it again (a bug otherwise).
 * Small reads are served from a read-ahead window, so walking an archive's member headers or
 * following link-set pointers costs one system call per window, not one per field.
 *
 * And one whole-file read for the in-memory readers (`readWholeFileSync`): small files read one
 * after another into one reused buffer, each parsed before the next is read.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from './elf.js';
import { elfError } from './elf.js';
import { fsError } from '../model/index.js';
import { RumpkgError } from '../model/index.js';

interface FileSource extends ByteSource {
  /** Closes the file; reads after this fail. */
  close(): Promise<void>;
  /** The open file's descriptor, for readers that hash it themselves (valid until `close`). */
  readonly fd: number;
  /** Bytes read from the file so far (for tests and benchmarks). */
  readonly bytesRead: number;
}

interface OpenFileSourceOptions {
  /** Read-ahead window for small reads (default 16 KiB); the last four windows are kept. */
  window?: number;
  /**
   * Read with synchronous positioned reads (no thread-pool round trip per read): for many small
   * files in the page cache, such as a directory of archives. The API stays the same.
   */
  sync?: boolean;
}

/**
 * Opens the regular file `path` for reading, synchronously: its descriptor and size (E_NOT_FOUND
 * / E_EACCES, or E_ELF for a directory or other non-regular file; nothing left open on failure).
 */
function openRegularSync(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fsError(e, path, 'read');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new RumpkgError('E_ELF', `${path} is not a regular file`, { context: { path }, hint: 'give the path of an ELF file or ar archive' });
    }
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    if (e instanceof RumpkgError) throw e;
    throw fsError(e, path, 'read');
  }
}

/**
 * Opens `path` for positioned reads (E_NOT_FOUND / E_EACCES, or E_ELF for a directory or other
 * non-regular file). Close it when done (`try … finally`).
 */
export async function openFileSource(path: string, options: OpenFileSourceOptions = {}): Promise<FileSource> {
  // The file through either the thread pool (FileHandle) or synchronous calls.
  let io: { fd: number; read(buf: Buffer, at: number, length: number, position: number): Promise<number>; close(): Promise<void> };
  let size: number;
  if (options.sync === true) {
    const opened = openRegularSync(path);
    const fd = opened.fd;
    size = opened.size;
    let open_ = true;
    io = {
      fd,
      read: (buf, at, length, position) => {
        try {
          return Promise.resolve(readSync(fd, buf, at, length, position));
        } catch (e) {
          return Promise.reject(e);
        }
      },
      close: () => {
        if (open_) closeSync(fd);
        open_ = false;
        return Promise.resolve();
      },
    };
  } else {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw fsError(e, path, 'read');
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        throw new RumpkgError('E_ELF', `${path} is not a regular file`, { context: { path }, hint: 'give the path of an ELF file or ar archive' });
      }
      size = st.size;
    } catch (e) {
      await fh.close().catch(() => undefined);
      if (e instanceof RumpkgError) throw e;
      throw fsError(e, path, 'read');
    }
    io = {
      fd: fh.fd,
      read: async (buf, at, length, position) => (await fh.read(buf, at, length, position)).bytesRead,
      close: () => fh.close(),
    };
  }
  const windowSize = options.window ?? 16 * 1024;
  const windows: Array<{ start: number; data: Uint8Array }> = []; // most recently used first
  let total = 0;
  const readExact = async (offset: number, length: number, min: number): Promise<Uint8Array> => {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      let n: number;
      try {
        n = await io.read(buf, got, length - got, offset + got);
      } catch (e) {
        throw fsError(e, path, 'read');
      }
      if (n === 0) break;
      got += n;
    }
    total += got;
    if (got < min) {
      elfError(path, `the file ended at offset ${offset + got} while reading ${min} bytes at ${offset} (was it truncated while being read?)`, { offset });
    }
    return got === length ? buf : buf.subarray(0, got);
  };
  const source: FileSource = {
    file: path,
    size,
    fd: io.fd,
    get bytesRead() {
      return total;
    },
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new Error(`bug: read of ${length} bytes at ${offset} outside ${path} (${size} bytes)`);
      }
      if (length === 0) return new Uint8Array(0);
      for (let i = 0; i < windows.length; i++) {
        const w = windows[i] as { start: number; data: Uint8Array };
        if (offset >= w.start && offset + length <= w.start + w.data.length) {
          if (i > 0) windows.unshift(...windows.splice(i, 1));
          return w.data.subarray(offset - w.start, offset - w.start + length);
        }
      }
      if (length >= windowSize) return readExact(offset, length, length);
      const data = await readExact(offset, Math.min(windowSize, size - offset), length);
      windows.unshift({ start: offset, data });
      if (windows.length > 4) windows.pop();
      return data.subarray(0, length);
    },
    async prefetch(offset, length) {
      if (offset < 0 || length <= 0 || offset + length > size) return;
      if (windows.some((w) => offset >= w.start && offset + length <= w.start + w.data.length)) return;
      windows.unshift({ start: offset, data: await readExact(offset, length, length) });
      if (windows.length > 4) windows.pop();
    },
    close: () => io.close(),
  };
  return source;
}

/** A buffer `readWholeFileSync` reads into, grown as needed and reused from one file to the next. */
export interface ReadBuffer {
  buf: Buffer;
}

/**
 * Reads the regular file `path` whole, synchronously, into `into.buf` (grown when too small):
 * the bytes as a view of that buffer, valid until the next read into it; null (nothing read)
 * when the file is empty or larger than `max` bytes. The same errors as `openFileSource` with
 * `sync` and a `read` of the whole file (E_NOT_FOUND / E_EACCES, E_ELF for a directory or a
 * file truncated while being read).
 *
 * Why: a directory of archives read one after another, each parsed before the next is read,
 * needs one buffer, not a fresh one per file (fresh pages cost a page fault each, and every
 * discarded buffer is memory the collector has to account for).
 */
export function readWholeFileSync(path: string, max: number, into: ReadBuffer): Uint8Array | null {
  const { fd, size } = openRegularSync(path);
  try {
    if (size === 0 || size > max) return null;
    return readOpenFileSync(fd, size, path, into);
  } finally {
    closeSync(fd);
  }
}

/**
 * `readWholeFileSync` for a file that may be missing: undefined (nothing read) when `path`
 * cannot be opened or is not a regular file — what `openFileSource` refuses —, else its bytes
 * (empty for an empty file) as a view of `into.buf`, valid until the next read into it. A read
 * that fails or ends early: the errors of `openFileSource`'s `read`.
 */
export function readFileIfRegularSync(path: string, into: ReadBuffer): Uint8Array | undefined {
  let opened: { fd: number; size: number };
  try {
    opened = openRegularSync(path);
  } catch {
    return undefined;
  }
  try {
    return opened.size === 0 ? new Uint8Array(0) : readOpenFileSync(opened.fd, opened.size, path, into);
  } finally {
    closeSync(opened.fd);
  }
}

/** The first `size` bytes of the open file `fd` into `into.buf` (grown when too small); E_ELF when it ends early. */
function readOpenFileSync(fd: number, size: number, path: string, into: ReadBuffer): Uint8Array {
  if (into.buf.length < size) into.buf = Buffer.allocUnsafe(Math.max(size, 2 * into.buf.length));
  const buf = into.buf;
  let got = 0;
  while (got < size) {
    let n: number;
    try {
      n = readSync(fd, buf, got, size - got, got);
    } catch (e) {
      throw fsError(e, path, 'read');
    }
    if (n === 0) break;
    got += n;
  }
  if (got < size) elfError(path, `the file ended at offset ${got} while reading ${size} bytes at 0 (was it truncated while being read?)`, { offset: 0 });
  return buf.subarray(0, size);
}

/** Bytes in memory as a source (the sync readers' inputs, tests). */
export function memorySource(bytes: Uint8Array, file = '<bytes>'): ByteSource {
  return {
    file,
    size: bytes.length,
    read: (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > bytes.length) {
        return Promise.reject(new Error(`bug: read of ${length} bytes at ${offset} outside ${file} (${bytes.length} bytes)`));
      }
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
  };
}

/** The window [offset, offset + size) of `source` as a source of its own (an archive member). */
export function subSource(source: ByteSource, offset: number, size: number, file: string): ByteSource {
  if (offset < 0 || size < 0 || offset + size > source.size) throw new Error(`bug: member window [${offset}, +${size}) outside ${source.file}`);
  return {
    file,
    size,
    read: (o, length) => {
      if (o < 0 || length < 0 || o + length > size) {
        return Promise.reject(new Error(`bug: read of ${length} bytes at ${o} outside ${file} (${size} bytes)`));
      }
      return source.read(offset + o, length);
    },
    prefetch: (o, length) => (o < 0 || length <= 0 || o + length > size ? Promise.resolve() : (source.prefetch?.(offset + o, length) ?? Promise.resolve())),
  };
}
