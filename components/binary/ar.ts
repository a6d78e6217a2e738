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
import { RumpkgError } from '../model/index.js';
import type { ByteSource } from './elf.js';

interface ArMember {
  /** The member's file name (long names resolved, trailing `/` removed). */
  name: string;
  /** Offset of the member's data in the archive. */
  offset: number;
  size: number;
  /** The member's bytes (a view into the archive). */
  data: Uint8Array;
}

interface ArArchive {
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

/** What one member header says (shared by `parseAr` and `readArMembers`). */
type MemberName =
  | { kind: 'symtab'; index: 'sysv' | 'sysv64' }
  | { kind: 'longnames' }
  | { kind: 'bsd'; length: number }
  | { kind: 'long'; at: number }
  | { kind: 'short'; name: string };

interface MemberHeader {
  size: number;
  dataStart: number;
  name: MemberName;
}

/** Validates the 60-byte member header `hb` found at `off` in an archive of `len` bytes. */
function decodeMemberHeader(hb: Buffer, off: number, len: number, file: string): MemberHeader {
  if (hb[58] !== 0x60 || hb[59] !== 0x0a) {
    arError(file, `member header at offset ${off} lacks the \`\\n terminator`, { offset: off });
  }
  const size = decimal(hb, 48, 10);
  if (size === undefined) {
    arError(file, `member at offset ${off} has an invalid size field "${hb.toString('latin1', 48, 58).trim()}"`, { offset: off });
  }
  const dataStart = off + HEADER;
  const rawName = hb.toString('latin1', 0, 16);
  if (size > len - dataStart) {
    const shown = rawName.trimEnd().replace(/\/$/, '');
    const member = /^[\x20-\x7e]+$/.test(shown) && shown !== '' ? `member ${shown}` : 'member';
    arError(file, `${member} at offset ${off} (size ${size}) extends past the end of the archive (${len} bytes): the archive is truncated`, { offset: off, size, member: shown });
  }
  if (rawName === '/               ' || rawName === '/SYM64/         ') {
    return { size, dataStart, name: { kind: 'symtab', index: rawName.startsWith('/SYM64/') ? 'sysv64' : 'sysv' } };
  }
  if (rawName === '//              ') return { size, dataStart, name: { kind: 'longnames' } };
  if (rawName.startsWith('#1/')) {
    const n = decimal(hb, 3, 13);
    if (n === undefined || n > size) arError(file, `BSD long name at offset ${off} has an invalid length`, { offset: off });
    return { size, dataStart, name: { kind: 'bsd', length: n } };
  }
  if (rawName.startsWith('/')) {
    const n = decimal(hb, 1, 15);
    if (n === undefined) arError(file, `member at offset ${off} has an invalid name "${rawName.trim()}"`, { offset: off });
    return { size, dataStart, name: { kind: 'long', at: n } };
  }
  const t = rawName.trimEnd();
  return { size, dataStart, name: { kind: 'short', name: t.endsWith('/') ? t.slice(0, -1) : t } };
}

const BSD_SYMDEF = new Set(['__.SYMDEF', '__.SYMDEF SORTED', '__.SYMDEF_64', '__.SYMDEF_64 SORTED']);

/** A BSD `#1/<len>` name from its (possibly NUL-padded) bytes. */
function bsdName(nb: Uint8Array): string {
  let e = nb.length;
  while (e > 0 && nb[e - 1] === 0) e--;
  return Buffer.from(nb.buffer, nb.byteOffset, e).toString('utf8');
}

/** The long name `/<at>` from the `//` table `ln` (GNU `name/\n`, or NUL-terminated). */
function longName(ln: Uint8Array | undefined, at: number, off: number, file: string): string {
  if (ln === undefined) arError(file, `member at offset ${off} uses long name /${at} but there is no // table`, { offset: off });
  if (at >= ln.length) arError(file, `member at offset ${off}: long name /${at} is outside the // table`, { offset: off });
  let e = at;
  while (e < ln.length && ln[e] !== 0x0a && ln[e] !== 0) e++;
  if (e >= ln.length) arError(file, `member at offset ${off}: long name /${at} is unterminated`, { offset: off });
  if (e > at && ln[e - 1] === 0x2f) e--; // GNU: "name/\n"
  if (e === at) arError(file, `member at offset ${off}: long name /${at} is empty`, { offset: off });
  return Buffer.from(ln.buffer, ln.byteOffset + at, e - at).toString('utf8');
}

/**
 * The member a decoded header describes, given the BSD name bytes when it has one: its name
 * ('' for the symbol and long-name tables), data start and size, and the symbol index it is.
 */
function resolveMember(
  h: MemberHeader,
  ctx: { off: number; index: number; file: string; longNames: Uint8Array | undefined; bsd?: Uint8Array },
): { name: string; start: number; size: number; symbolIndex?: ArArchive['symbolIndex'] } {
  const { off, file } = ctx;
  switch (h.name.kind) {
    case 'symtab':
      if (ctx.index !== 0) arError(file, `symbol table member at offset ${off} is not the first member`, { offset: off });
      return { name: '', start: h.dataStart, size: h.size, symbolIndex: h.name.index };
    case 'longnames':
      return { name: '', start: h.dataStart, size: h.size };
    case 'bsd': {
      const name = bsdName(ctx.bsd ?? new Uint8Array(0));
      const start = h.dataStart + h.name.length;
      const size = h.size - h.name.length;
      return BSD_SYMDEF.has(name) ? { name: '', start, size, symbolIndex: 'bsd' } : { name, start, size };
    }
    case 'long':
      return { name: longName(ctx.longNames, h.name.at, off, file), start: h.dataStart, size: h.size };
    case 'short': {
      const name = h.name.name;
      if (name === '__.SYMDEF' || name === '__.SYMDEF SORTED') return { name: '', start: h.dataStart, size: h.size, symbolIndex: 'bsd' };
      if (name === '') arError(file, `member at offset ${off} has an empty name`, { offset: off });
      return { name, start: h.dataStart, size: h.size };
    }
  }
}

interface ParseArOptions {
  file?: string;
}

/** The global header: `!<arch>\n`, not the thin variant (E_ELF naming `file` otherwise). */
function checkMagic(file: string, len: number, magic: () => string): void {
  if (len < 8) arError(file, 'no ar magic (!<arch>)');
  const m = magic();
  if (m === THIN) arError(file, 'thin archives (!<thin>) hold no member data and are not supported');
  if (m !== MAGIC) arError(file, 'no ar magic (!<arch>) at offset 0');
}

/** Parses an ar archive. Malformed input → RumpkgError E_ELF naming `options.file`. */
export function parseAr(bytes: Uint8Array, options: ParseArOptions = {}): ArArchive {
  const file = options.file ?? '<bytes>';
  const len = bytes.length;
  if (len === 0) arError(file, 'the file is empty');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkMagic(file, len, () => buf.toString('latin1', 0, 8));

  const members: ArMember[] = [];
  let symbolIndex: ArArchive['symbolIndex'] = null;
  let longNames: Uint8Array | undefined;
  let off = 8;
  let index = 0;
  while (off < len) {
    // Members start on even offsets; a lone trailing '\n' pad byte ends the archive.
    if (len - off < HEADER) {
      if (len - off === 1 && bytes[off] === 0x0a) break;
      arError(file, `truncated member header at offset ${off}`, { offset: off });
    }
    const h = decodeMemberHeader(buf.subarray(off, off + HEADER), off, len, file);
    if (h.name.kind === 'longnames') {
      if (longNames !== undefined) arError(file, `a second long-name table at offset ${off}`, { offset: off });
      longNames = bytes.subarray(h.dataStart, h.dataStart + h.size);
    }
    const bsd = h.name.kind === 'bsd' ? bytes.subarray(h.dataStart, h.dataStart + h.name.length) : undefined;
    const m = resolveMember(h, { off, index, file, longNames, ...(bsd === undefined ? {} : { bsd }) });
    if (m.symbolIndex !== undefined) symbolIndex = m.symbolIndex;
    if (m.name !== '') members.push({ name: m.name, offset: m.start, size: m.size, data: bytes.subarray(m.start, m.start + m.size) });
    off = h.dataStart + h.size + (h.size & 1);
    index++;
  }
  return { file, members, symbolIndex };
}

/** A member found by `readArMembers`: where its bytes are, not the bytes. */
interface ArMemberRef {
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
  const head = len < 8 ? '' : Buffer.from(await source.read(0, 8)).toString('latin1');
  checkMagic(file, len, () => head);
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
    const h = decodeMemberHeader(Buffer.from(hb.buffer, hb.byteOffset, hb.byteLength), off, len, file);
    if (h.name.kind === 'longnames') {
      if (longNames !== undefined) arError(file, `a second long-name table at offset ${off}`, { offset: off });
      longNames = await source.read(h.dataStart, h.size);
    }
    const bsd = h.name.kind === 'bsd' ? await source.read(h.dataStart, h.name.length) : undefined;
    const m = resolveMember(h, { off, index, file, longNames, ...(bsd === undefined ? {} : { bsd }) });
    if (m.symbolIndex !== undefined) symbolIndex = m.symbolIndex;
    if (m.name !== '') members.push({ name: m.name, offset: m.start, size: m.size });
    off = h.dataStart + h.size + (h.size & 1);
    index++;
  }
  return { members, symbolIndex };
}
