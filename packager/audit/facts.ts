/**
 * What a known component's archive yields for the audit — its defined names, link-set levels and
 * member content prints (components/binary fingerprint.ts) — and the cache of those facts
 * (`<home>/cache/prints`).
 *
 * Why the cache is safe: the facts are a pure function of the archive's bytes and of this code.
 * The audit still reads every archive whole and hashes it (sha256) on every run; an entry is
 * used only when its recorded sha256 equals the hash of the bytes just read and its format and
 * tool version are this code's — otherwise the facts are computed from the bytes and the entry
 * is (re)written (atomically: a temp file in `<home>/cache/tmp`, then rename; a failed write only
 * costs the next run the computation). So a cached answer is the answer for the bytes audited
 * now; an entry is as trusted as the store beside it (the same home, the same owner). Bump
 * FACTS_FORMAT whenever what `archiveFacts` computes, or how an entry spells it, changes.
 *
 * The entry format (2): one line of header, `{format, tool, sha256, body}` (`body`: the sha256
 * hex of the rest of the file), then the body, `{defined, linkSetTypes, prints}`: each member
 * print a tuple `[member, symbols, registrations]`, each symbol print a tuple
 * `[name, bind, type, size, hash, mask, hidden 0|1]`, each registration
 * `[level, via, init symbol tuple | null]`. Tuples, not objects: an entry of the real base
 * archive holds ~3000 symbol prints, and keys cost the reader more than the values.
 * - Every byte of an entry is checked before it is used (RELIABILITY IN-08): the header names
 *   the archive, format and tool, and the body must hash to the header's digest — a flipped
 *   byte anywhere (a digit of a symbol's hash would make a member "modified") makes the entry
 *   stale, so it is recomputed and rewritten.
 * - An entry is rumpkg's own file, not a document from outside (IN-05): its header must be byte
 *   for byte the one this code writes for the archive (compared, not parsed: the safe reader's
 *   first call cost more than the five comparisons), its body — once it hashes to the header's
 *   digest — goes through `JSON.parse`
 *   (the safe reader's scan of the ~0.7 MB of the real closure's entries cost more than the
 *   parse), and is then rebuilt value by value into fresh objects, every field checked
 *   (strings, the known binds and types, non-negative safe integers, masks of start/length
 *   pairs); an entry that does not decode whole is recomputed too. Nothing of it is copied by
 *   key, so no key of an entry (`__proto__` included) reaches an object of the audit.
 */
import { hash, randomBytes } from 'node:crypto';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  archivePrints,
  archiveTables,
  readFileIfRegularSync,
  readWholeFileSync,
  summarizeArchive,
  toolVersion,
  type MemberPrint,
  type ReadBuffer,
  type RegistrationPrint,
  type SymbolPrint,
} from '../../components/index.js';

/** What a known component's archive yields for the audit (a pure function of its bytes). */
export interface ArchiveFacts {
  /** Defined global names: sorted, unique. */
  defined: string[];
  /** rc_type of each link-set entry, when every one could be followed; else null. */
  linkSetTypes: number[] | null;
  /** Content prints of its members (fingerprint.ts). */
  prints: MemberPrint[];
}

/** The cache entry format (see the module head); an entry is `<archive sha256>-v<format>.facts`. */
const FACTS_FORMAT = 2;

/** Entries larger than this are not read (recomputed instead). */
const ENTRY_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The buffers archives and cache entries are read into, each reused from one file to the next
 * (a view of one is valid until the next read into it): the real closure's archives are 3.7 MB
 * and its entries 0.7 MB, and fresh pages cost a page fault each (on the VMs measured, as much
 * as hashing them). Entries get their own buffer: an entry is read while its archive's bytes
 * are still needed on a miss.
 */
const archiveBuffer: ReadBuffer = { buf: Buffer.alloc(0) };
const entryBuffer: ReadBuffer = { buf: Buffer.alloc(0) };

/** The sha256 of `bytes`, hex (crypto.hash: one call, no Hash object). */
export const sha256Hex = (bytes: Uint8Array): string => hash('sha256', bytes, 'hex');

/** `rumpkg@<version>`, recorded in and required of cache entries (read once). */
let toolName: string | undefined;

/** Archive facts already computed in this process, by the archive's sha256. */
const factsByHash = new Map<string, ArchiveFacts>();

const BINDS: ReadonlySet<unknown> = new Set<SymbolPrint['bind']>(['local', 'global', 'weak', 'unique', 'other']);

type SymbolTuple = [string, SymbolPrint['bind'], SymbolPrint['type'], number, string, number[], 0 | 1];

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function symbolTuple(s: SymbolPrint): SymbolTuple {
  return [s.name, s.bind, s.type, s.size, s.hash, s.mask, s.hidden === true ? 1 : 0];
}

function memberTuple(m: MemberPrint): unknown[] {
  return [m.member, m.symbols.map(symbolTuple), m.registrations.map((r) => [r.level, r.via, r.init === null ? null : symbolTuple(r.init)])];
}

/**
 * The symbol print of a tuple, or undefined when any field is not what the writer writes. (Read
 * by index, not destructured: this runs for every symbol of every archive, once per process, in
 * code the engine has not optimised, where destructuring goes through the array iterator.)
 */
function symbolOf(t: unknown): SymbolPrint | undefined {
  if (!Array.isArray(t) || t.length !== 7) return undefined;
  const name: unknown = t[0];
  const bind: unknown = t[1];
  const type: unknown = t[2];
  const size: unknown = t[3];
  const digest: unknown = t[4];
  const mask: unknown = t[5];
  const hidden: unknown = t[6];
  if (typeof name !== 'string' || !BINDS.has(bind) || (type !== 'func' && type !== 'object') || !isCount(size) || typeof digest !== 'string') return undefined;
  if (!Array.isArray(mask) || mask.length % 2 !== 0 || (hidden !== 0 && hidden !== 1)) return undefined;
  for (let i = 0; i < mask.length; i++) if (!isCount(mask[i])) return undefined;
  const b = bind as SymbolPrint['bind'];
  return hidden === 1 ? { name, bind: b, type, size, hash: digest, mask: mask as number[], hidden: true } : { name, bind: b, type, size, hash: digest, mask: mask as number[] };
}

function memberOf(t: unknown): MemberPrint | undefined {
  if (!Array.isArray(t) || t.length !== 3) return undefined;
  const member: unknown = t[0];
  const syms: unknown = t[1];
  const regs: unknown = t[2];
  if (typeof member !== 'string' || !Array.isArray(syms) || !Array.isArray(regs)) return undefined;
  const symbols: SymbolPrint[] = new Array(syms.length);
  for (let i = 0; i < syms.length; i++) {
    const s = symbolOf(syms[i]);
    if (s === undefined) return undefined;
    symbols[i] = s;
  }
  const registrations: RegistrationPrint[] = [];
  for (const r of regs) {
    if (!Array.isArray(r) || r.length !== 3) return undefined;
    const level: unknown = r[0];
    const via: unknown = r[1];
    const init: unknown = r[2];
    if ((level !== null && typeof level !== 'string') || (via !== 'constructor' && via !== 'link-set')) return undefined;
    const initPrint = init === null ? null : symbolOf(init);
    if (initPrint === undefined) return undefined;
    registrations.push({ level, via, init: initPrint });
  }
  return { member, symbols, registrations };
}

/** A cache entry (see the module head). */
function encodeEntry(tool: string, sha256: string, facts: ArchiveFacts): string {
  const body = JSON.stringify({ defined: facts.defined, linkSetTypes: facts.linkSetTypes, prints: facts.prints.map(memberTuple) });
  return `${JSON.stringify({ format: FACTS_FORMAT, tool, sha256, body: sha256Hex(Buffer.from(body, 'utf8')) })}\n${body}`;
}

/** The header `encodeEntry` writes for `tool` and `sha256`, up to the body digest's first digit. */
function headerPrefix(tool: string, sha256: string): string {
  const whole = JSON.stringify({ format: FACTS_FORMAT, tool, sha256, body: '' });
  return whole.slice(0, whole.length - 2);
}

/**
 * The facts of a cache entry (its bytes `raw`), or undefined when it is not a whole,
 * intact entry of this format, tool and archive.
 */
function decodeEntry(raw: Uint8Array, tool: string, sha256: string): ArchiveFacts | undefined {
  // The header is not covered by the digest: it must be, byte for byte, the one this code writes
  // for this format, tool and archive (`encodeEntry`), with a digest of 64 hex digits. Compared,
  // not parsed: any other spelling is recomputed and rewritten like any other stale entry.
  const prefix = Buffer.from(headerPrefix(tool, sha256), 'utf8');
  const nl = prefix.length + 66;
  if (raw.length <= nl || raw[nl] !== 10 || raw[nl - 1] !== 0x7d || raw[nl - 2] !== 0x22) return undefined;
  if (prefix.compare(raw, 0, prefix.length) !== 0) return undefined;
  const digest = Buffer.from(raw.buffer, raw.byteOffset + prefix.length, 64).toString('latin1');
  if (!/^[0-9a-f]{64}$/.test(digest)) return undefined;
  const body = raw.subarray(nl + 1);
  if (sha256Hex(body) !== digest) return undefined;
  // The body is the bytes this code wrote (they hash to the header's digest), read with the
  // plain parser and rebuilt value by value below (see the module head).
  const c = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as unknown;
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return undefined;
  const { defined, linkSetTypes, prints } = c as Record<string, unknown>;
  if (!Array.isArray(defined) || !Array.isArray(prints)) return undefined;
  for (let i = 0; i < defined.length; i++) if (typeof defined[i] !== 'string') return undefined;
  let types: number[] | null = null;
  if (linkSetTypes !== null) {
    if (!Array.isArray(linkSetTypes)) return undefined;
    for (const n of linkSetTypes) if (typeof n !== 'number' || !Number.isSafeInteger(n)) return undefined;
    types = linkSetTypes as number[];
  }
  const members: MemberPrint[] = new Array(prints.length);
  for (let i = 0; i < prints.length; i++) {
    const m = memberOf(prints[i]);
    if (m === undefined) return undefined;
    members[i] = m;
  }
  return { defined: defined as string[], linkSetTypes: types, prints: members };
}

/**
 * The facts of the archive at `path`, from its bytes (read whole, hashed; see the module head for
 * `cacheDir`). Undefined when it cannot be opened or is not a regular file (a missing archive:
 * the recorded fingerprint is all there is); a malformed archive → E_ELF / E_ARCH. `digests`
 * receives `path` → the sha256 hex of the bytes the facts are of.
 */
export async function archiveFacts(path: string, cacheDir: string | undefined, digests?: Map<string, string>): Promise<ArchiveFacts | undefined> {
  // Read into one buffer reused from archive to archive (`archiveBuffer`); nothing below awaits
  // before the bytes are hashed and, on a miss, copied.
  const read = readFileIfRegularSync(path, archiveBuffer);
  if (read === undefined) return undefined;
  let bytes = read;
  const sha256 = sha256Hex(bytes);
  digests?.set(path, sha256);
  const known = factsByHash.get(sha256);
  if (known !== undefined) return known;
  toolName ??= `rumpkg@${toolVersion()}`;
  const tool = toolName;
  const entry = cacheDir === undefined ? undefined : join(cacheDir, `${sha256}-v${FACTS_FORMAT}.facts`);
  if (entry !== undefined) {
    try {
      // Synchronous: one small local file, read once per archive (a thread-pool round trip each
      // would only add waiting).
      const raw = readWholeFileSync(entry, ENTRY_MAX_BYTES, entryBuffer);
      const facts = raw === null ? undefined : decodeEntry(raw, tool, sha256);
      if (facts !== undefined) {
        factsByHash.set(sha256, facts);
        return facts;
      }
    } catch {
      // no entry, or an unreadable one: computed below and rewritten
    }
  }
  // A miss (rare: a new archive, a new rumpkg): the facts from a copy of their own, so that no
  // view of the shared buffer can outlive the next archive's read.
  bytes = bytes.slice();
  const s = summarizeArchive(archiveTables(bytes, { file: path }));
  const facts: ArchiveFacts = { defined: s.defined, linkSetTypes: s.linkSet?.types ?? null, prints: archivePrints(bytes, { file: path }) };
  factsByHash.set(sha256, facts);
  if (entry !== undefined && cacheDir !== undefined) {
    // staged in <home>/cache/tmp under a `<kind>-<pid>-` name: a write cut off by a crash is
    // removed by the next run's stale-temp sweep (registry/home cleanStaleTemp, CA-01)
    const tmpDir = join(dirname(cacheDir), 'tmp');
    const tmp = join(tmpDir, `prints-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(cacheDir, { recursive: true });
      await mkdir(tmpDir, { recursive: true });
      await writeFile(tmp, encodeEntry(tool, sha256, facts));
      await rename(tmp, entry);
    } catch {
      await unlink(tmp).catch(() => undefined); // the cache is an optimisation: the audit goes on
    }
  }
  return facts;
}
