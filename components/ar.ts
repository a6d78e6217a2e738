/**
 * A strict reader of `ar` archives (static libraries), hand-written for the same reasons as the
 * ELF reader next to it (see elf.ts): System V / GNU format (`!<arch>\n`, the `/` and `/SYM64/`
 * symbol tables, the `//` long-name table, `/123` long names, `name/` short names) and BSD
 * `#1/<len>` names and `__.SYMDEF` tables (tolerated, skipped). Thin archives (`!<thin>\n`) hold
 * no member bytes and are rejected explicitly.
 *
 * Every header field is validated and every member is bounds-checked against the bytes given;
 * malformed input → RumpkgError E_ELF naming the archive and the member. Member data are views
 * into the archive bytes, never copies.
 */
import { Buffer } from 'node:buffer';
import { RumpkgError } from './errors.js';
import type { ByteSource } from './elf.js';

export interface ArMember {
  /** The member's file name (long names resolved, trailing `/` removed). */
  name: string;
  /** Offset of the member's data in the archive. */
  offset: number;
  size: number;
  /** The member's bytes (a view into the archive). */
  data: Uint8Array;
}

export interface ArArchive {
  file: string;
  /** Regular members in archive order (symbol and long-name tables excluded). */
  members: ArMember[];
  /** Which archive symbol index was present, if any. */
  symbolIndex: 'sysv' | 'sysv64' | 'bsd' | null;
}

const MAGIC = '!<arch>\n';
const THIN = '!<thin>\n';
const HEADER = 60;

function arError(file: string, what: string, context: Record<string, unknown> = {}): never {
  throw new RumpkgError('E_ELF', `malformed ar archive ${file}: ${what}`, {
    context: { file, ...context },
    hint: 'the archive is truncated or corrupt; rebuild it with `ar rcs`',
  });
}

/** True when `bytes` start with the ar magic (regular or thin). */
export function isAr(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1');
  return head === MAGIC || head === THIN;
}

/** Parses a decimal header field: digits, then only spaces. */
function decimal(buf: Buffer, start: number, width: number): number | undefined {
  let n = 0;
  let digits = 0;
  let i = start;
  const end = start + width;
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) if (buf[i] !== 0x20) return undefined;
  return digits === 0 ? undefined : n;
}

export interface ParseArOptions {
  file?: string;
}

/** Parses an ar archive. Malformed input → RumpkgError E_ELF naming `options.file`. */
export function parseAr(bytes: Uint8Array, options: ParseArOptions = {}): ArArchive {
  const file = options.file ?? '<bytes>';
  const len = bytes.length;
  if (len === 0) arError(file, 'the file is empty');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (len < 8) arError(file, 'no ar magic (!<arch>)');
  const magic = buf.toString('latin1', 0, 8);
  if (magic === THIN) arError(file, 'thin archives (!<thin>) hold no member data and are not supported');
  if (magic !== MAGIC) arError(file, 'no ar magic (!<arch>) at offset 0');

  const members: ArMember[] = [];
  let symbolIndex: ArArchive['symbolIndex'] = null;
  let longNames: { start: number; end: number } | undefined;
  let off = 8;
  let index = 0;
  while (off < len) {
    // Members start on even offsets; a lone trailing '\n' pad byte ends the archive.
    if (len - off < HEADER) {
      if (len - off === 1 && bytes[off] === 0x0a) break;
      arError(file, `truncated member header at offset ${off}`, { offset: off });
    }
    if (bytes[off + 58] !== 0x60 || bytes[off + 59] !== 0x0a) {
      arError(file, `member header at offset ${off} lacks the \`\\n terminator`, { offset: off });
    }
    const size = decimal(buf, off + 48, 10);
    if (size === undefined) {
      arError(file, `member at offset ${off} has an invalid size field "${buf.toString('latin1', off + 48, off + 58).trim()}"`, { offset: off });
    }
    const dataStart = off + HEADER;
    if (size > len - dataStart) {
      arError(file, `member at offset ${off} (size ${size}) extends past the end of the archive (${len} bytes)`, { offset: off, size });
    }
    const rawName = buf.toString('latin1', off, off + 16);
    let name: string;
    let start = dataStart;
    let msize = size;
    if (rawName === '/               ' || rawName === '/SYM64/         ') {
      if (index !== 0) arError(file, `symbol table member at offset ${off} is not the first member`, { offset: off });
      symbolIndex = rawName.startsWith('/SYM64/') ? 'sysv64' : 'sysv';
      name = '';
    } else if (rawName === '//              ') {
      if (longNames !== undefined) arError(file, `a second long-name table at offset ${off}`, { offset: off });
      longNames = { start: dataStart, end: dataStart + size };
      name = '';
    } else if (rawName.startsWith('#1/')) {
      const n = decimal(buf, off + 3, 13);
      if (n === undefined || n > size) arError(file, `BSD long name at offset ${off} has an invalid length`, { offset: off });
      // BSD names may be NUL-padded.
      let e = dataStart + n;
      while (e > dataStart && bytes[e - 1] === 0) e--;
      name = buf.toString('utf8', dataStart, e);
      start = dataStart + n;
      msize = size - n;
      if (name === '__.SYMDEF' || name === '__.SYMDEF SORTED' || name === '__.SYMDEF_64' || name === '__.SYMDEF_64 SORTED') {
        symbolIndex = 'bsd';
        name = '';
      }
    } else if (rawName.startsWith('/')) {
      const n = decimal(buf, off + 1, 15);
      if (n === undefined) arError(file, `member at offset ${off} has an invalid name "${rawName.trim()}"`, { offset: off });
      if (longNames === undefined) arError(file, `member at offset ${off} uses long name /${n} but there is no // table`, { offset: off });
      const s = longNames.start + n;
      if (s >= longNames.end) arError(file, `member at offset ${off}: long name /${n} is outside the // table`, { offset: off });
      let e = s;
      while (e < longNames.end && bytes[e] !== 0x0a && bytes[e] !== 0) e++;
      if (e >= longNames.end) arError(file, `member at offset ${off}: long name /${n} is unterminated`, { offset: off });
      if (e > s && bytes[e - 1] === 0x2f) e--; // GNU: "name/\n"
      if (e === s) arError(file, `member at offset ${off}: long name /${n} is empty`, { offset: off });
      name = buf.toString('utf8', s, e);
    } else {
      const t = rawName.trimEnd();
      name = t.endsWith('/') ? t.slice(0, -1) : t;
      if (name === '__.SYMDEF' || name === '__.SYMDEF SORTED') {
        symbolIndex = 'bsd';
        name = '';
      } else if (name === '') {
        arError(file, `member at offset ${off} has an empty name`, { offset: off });
      }
    }
    if (name !== '') members.push({ name, offset: start, size: msize, data: bytes.subarray(start, start + msize) });
    off = dataStart + size + (size & 1);
    index++;
  }
  return { file, members, symbolIndex };
}

/** A member found by `readArMembers`: where its bytes are, not the bytes. */
export interface ArMemberRef {
  name: string;
  offset: number;
  size: number;
}

/**
 * The members of an ar archive read through `source` with positioned reads: the member headers
 * (and the `//` long-name table, BSD names), never the member data. The same checks and the
 * same results as `parseAr` (the fuzz tests compare the two).
 */
export async function readArMembers(source: ByteSource): Promise<{ members: ArMemberRef[]; symbolIndex: ArArchive['symbolIndex'] }> {
  const file = source.file;
  const len = source.size;
  if (len === 0) arError(file, 'the file is empty');
  if (len < 8) arError(file, 'no ar magic (!<arch>)');
  const magic = Buffer.from(await source.read(0, 8)).toString('latin1');
  if (magic === THIN) arError(file, 'thin archives (!<thin>) hold no member data and are not supported');
  if (magic !== MAGIC) arError(file, 'no ar magic (!<arch>) at offset 0');
  const members: ArMemberRef[] = [];
  let symbolIndex: ArArchive['symbolIndex'] = null;
  let longNames: Uint8Array | undefined;
  let off = 8;
  let index = 0;
  while (off < len) {
    if (len - off < HEADER) {
      if (len - off === 1 && (await source.read(off, 1))[0] === 0x0a) break;
      arError(file, `truncated member header at offset ${off}`, { offset: off });
    }
    const hb = await source.read(off, HEADER);
    const buf = Buffer.from(hb.buffer, hb.byteOffset, hb.byteLength);
    if (buf[58] !== 0x60 || buf[59] !== 0x0a) {
      arError(file, `member header at offset ${off} lacks the \`\\n terminator`, { offset: off });
    }
    const size = decimal(buf, 48, 10);
    if (size === undefined) {
      arError(file, `member at offset ${off} has an invalid size field "${buf.toString('latin1', 48, 58).trim()}"`, { offset: off });
    }
    const dataStart = off + HEADER;
    if (size > len - dataStart) {
      arError(file, `member at offset ${off} (size ${size}) extends past the end of the archive (${len} bytes)`, { offset: off, size });
    }
    const rawName = buf.toString('latin1', 0, 16);
    let name: string;
    let start = dataStart;
    let msize = size;
    if (rawName === '/               ' || rawName === '/SYM64/         ') {
      if (index !== 0) arError(file, `symbol table member at offset ${off} is not the first member`, { offset: off });
      symbolIndex = rawName.startsWith('/SYM64/') ? 'sysv64' : 'sysv';
      name = '';
    } else if (rawName === '//              ') {
      if (longNames !== undefined) arError(file, `a second long-name table at offset ${off}`, { offset: off });
      longNames = await source.read(dataStart, size);
      name = '';
    } else if (rawName.startsWith('#1/')) {
      const n = decimal(buf, 3, 13);
      if (n === undefined || n > size) arError(file, `BSD long name at offset ${off} has an invalid length`, { offset: off });
      const nb = await source.read(dataStart, n);
      let e = n;
      while (e > 0 && nb[e - 1] === 0) e--;
      name = Buffer.from(nb.buffer, nb.byteOffset, e).toString('utf8');
      start = dataStart + n;
      msize = size - n;
      if (name === '__.SYMDEF' || name === '__.SYMDEF SORTED' || name === '__.SYMDEF_64' || name === '__.SYMDEF_64 SORTED') {
        symbolIndex = 'bsd';
        name = '';
      }
    } else if (rawName.startsWith('/')) {
      const n = decimal(buf, 1, 15);
      if (n === undefined) arError(file, `member at offset ${off} has an invalid name "${rawName.trim()}"`, { offset: off });
      if (longNames === undefined) arError(file, `member at offset ${off} uses long name /${n} but there is no // table`, { offset: off });
      const ln = longNames;
      if (n >= ln.length) arError(file, `member at offset ${off}: long name /${n} is outside the // table`, { offset: off });
      let e = n;
      while (e < ln.length && ln[e] !== 0x0a && ln[e] !== 0) e++;
      if (e >= ln.length) arError(file, `member at offset ${off}: long name /${n} is unterminated`, { offset: off });
      if (e > n && ln[e - 1] === 0x2f) e--;
      if (e === n) arError(file, `member at offset ${off}: long name /${n} is empty`, { offset: off });
      name = Buffer.from(ln.buffer, ln.byteOffset + n, e - n).toString('utf8');
    } else {
      const t = rawName.trimEnd();
      name = t.endsWith('/') ? t.slice(0, -1) : t;
      if (name === '__.SYMDEF' || name === '__.SYMDEF SORTED') {
        symbolIndex = 'bsd';
        name = '';
      } else if (name === '') {
        arError(file, `member at offset ${off} has an empty name`, { offset: off });
      }
    }
    if (name !== '') members.push({ name, offset: start, size: msize });
    off = dataStart + size + (size & 1);
    index++;
  }
  return { members, symbolIndex };
}
