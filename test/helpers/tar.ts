/**
 * Raw tarball builders for tests (RELIABILITY.md: "build raw fixtures with tar's `Header`, not
 * `tar.c`"). Headers are encoded by node-tar's `Header` — an implementation independent of
 * rumpkg's own writer — and then patched byte by byte when a test needs something `Header`
 * would not write (an unknown type flag, a NUL in a name, a wrong checksum).
 *
 *   const tgz = gz(buildTar([...componentEntries(), file('package/../evil', 'x')]));
 */
import { gzipSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Header } from 'tar';

export interface RawEntry {
  /** The path written into the header (ustar name/prefix as node-tar splits it). */
  path: string;
  /** A node-tar type name ('File', 'Directory', 'SymbolicLink', …) or a raw one-character type flag. */
  type?: string;
  /** Entry data (written after the header, padded). */
  data?: Buffer | string;
  /** The size field; defaults to the data length. */
  size?: number;
  mode?: number;
  linkpath?: string;
  uid?: number;
  gid?: number;
  mtime?: Date;
  /** Replace the name field (bytes 0..99) with these raw bytes. */
  rawName?: Buffer;
  /** Write a wrong header checksum. */
  badChecksum?: boolean;
}

const TYPE_NAMES: Record<string, string> = {
  '0': 'File', '1': 'Link', '2': 'SymbolicLink', '3': 'CharacterDevice', '4': 'BlockDevice',
  '5': 'Directory', '6': 'FIFO', '7': 'ContiguousFile', x: 'ExtendedHeader', g: 'GlobalExtendedHeader',
};

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  return sum;
}

function setChecksum(block: Buffer, value: number): void {
  block.write(`${value.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
}

/** One header block (512 bytes) for `e`. */
export function rawHeader(e: RawEntry): Buffer {
  const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
  const type = e.type ?? 'File';
  const typeName = TYPE_NAMES[type] ?? (type.length === 1 ? 'File' : type);
  const h = new Header({
    path: e.path,
    type: typeName as 'File',
    size: e.size ?? data?.length ?? 0,
    mode: e.mode ?? (typeName === 'Directory' ? 0o755 : 0o644),
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    mtime: e.mtime ?? new Date(Date.UTC(1985, 9, 26, 8, 15)),
    ...(e.linkpath === undefined ? {} : { linkpath: e.linkpath }),
  });
  const block = Buffer.alloc(512);
  h.encode(block, 0);
  if (type.length === 1 && TYPE_NAMES[type] === undefined) block.write(type, 156, 1, 'latin1');
  if (e.rawName !== undefined) {
    block.fill(0, 0, 100);
    e.rawName.copy(block, 0, 0, Math.min(100, e.rawName.length));
  }
  const sum = checksum(block);
  setChecksum(block, e.badChecksum === true ? sum + 1 : sum);
  return block;
}

/** The encoded pax records (`len key=value\n`). */
export function paxBody(records: Record<string, string>): Buffer {
  return Buffer.concat(
    Object.entries(records).map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      const n = Buffer.byteLength(body);
      let len = n + 1;
      while (String(len).length + n !== len) len = String(len).length + n;
      return Buffer.from(`${len}${body}`);
    }),
  );
}

/** A regular file entry. */
export const file = (path: string, data: Buffer | string = '', extra: Partial<RawEntry> = {}): RawEntry => ({ path, data, type: 'File', ...extra });
/** A directory entry. */
export const dir = (path: string, extra: Partial<RawEntry> = {}): RawEntry => ({ path, type: 'Directory', ...extra });
/** A pax extended header (`x`), or a global one (`g`) with `{ global: true }`. */
export const pax = (records: Record<string, string>, opts: { global?: boolean } = {}): RawEntry => ({
  path: 'PaxHeader',
  type: opts.global === true ? 'g' : 'x',
  data: paxBody(records),
});

/** Concatenates headers, data and padding; `end: false` omits the end-of-archive blocks. */
export function buildTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(rawHeader(e));
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
    if (data !== undefined && data.length > 0) {
      parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const gz = (tar: Buffer): Buffer => gzipSync(tar);

/** A valid component manifest (DESIGN.md §4.1 shape); `overrides` are shallow-merged. */
export function manifestJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: '@rump/tcpip',
    version: '10.0.0',
    license: 'BSD-2-Clause',
    description: 'IPv4 and TCP/UDP (NetBSD netinet)',
    dependencies: { '@rump/net': '^10.0.0' },
    rump: {
      schemaVersion: 1,
      kind: 'component',
      lib: 'librumpnet_netinet',
      aliases: ['netinet', 'rumpnet_netinet'],
      faction: 'net',
      initLevels: ['RUMP_COMPONENT_NET'],
      requires: ['hypercall:17'],
      provides: [],
      conflicts: [],
      optionalDependencies: {},
      targets: { 'posix-x86_64': { archive: 'lib/posix-x86_64/librumpnet_netinet.a' } },
    },
    ...overrides,
  };
}

/** The archive bytes used by the fixtures (an `ar` magic and some filler). */
export const ARCHIVE_BYTES = Buffer.concat([Buffer.from('!<arch>\n'), Buffer.alloc(100, 0x41)]);

/** The entries of a valid component package; EX-* tests add one hostile entry to them. */
export function componentEntries(manifest: Record<string, unknown> = manifestJson()): RawEntry[] {
  return [
    dir('package/'),
    file('package/package.json', `${JSON.stringify(manifest, null, 2)}\n`),
    dir('package/lib/'),
    dir('package/lib/posix-x86_64/'),
    file('package/lib/posix-x86_64/librumpnet_netinet.a', ARCHIVE_BYTES),
  ];
}

/** Writes a component directory: `files` maps relative paths to contents (the manifest is added). */
export function writeComponentDir(root: string, files: Record<string, string | Buffer> = {}, manifest: Record<string, unknown> = manifestJson()): void {
  const all: Record<string, string | Buffer> = {
    'package.json': `${JSON.stringify(manifest, null, 2)}\n`,
    'lib/posix-x86_64/librumpnet_netinet.a': ARCHIVE_BYTES,
    ...files,
  };
  for (const [rel, data] of Object.entries(all)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), data);
  }
}
