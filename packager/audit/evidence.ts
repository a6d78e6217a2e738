/**
 * Evidence for the audit (DESIGN.md §4.4, RELIABILITY.md IM-03): what the bytes of an image say
 * is inside it, and what the components rumpkg knows about look like.
 *
 * - A `KnownComponent` is one component version for one target with its fingerprint: the
 *   `SymbolEvidence` recorded at publish time (`rump.targets[T].symbols`) and, when its archive
 *   is at hand, the defined global names themselves (needed to look for them in an image: a
 *   digest alone cannot be matched against a subset of the image's symbols). Sources: a
 *   directory of unpacked components (`--components-dir`, the store), or the registry.
 * - `readImage` (`readImageEvidence`) reads of an image what it needs (components/symbols.ts
 *   `readImageIndex`): its defined global symbols (indexed as bytes, looked up by name, decoded
 *   only on demand), its `link_set_rump_components` entries — each followed to its
 *   `struct rump_component` for the init level (`rc_type`) and, where the struct carries one
 *   (the corpus convention, components/corpus/rump_component.h), the `rc_name` string — and the
 *   embedded `.rumpkg.manifest`, and its sha256. An image up to 16 MiB is read once, whole, and
 *   its content view (for content matching) comes from the same bytes; a larger one is read with
 *   positioned reads while a worker thread hashes the whole file (a 100 MB image costs ~20 MB of
 *   reads on the main thread).
 *
 * Activation shims (tcpip, tcpip6: no global definitions, only a link-set entry) are recognised
 * by their link-set entries: by `rc_name` when the struct has one, else by the init levels left
 * over once every component found by symbols has taken its own.
 *
 * The archive facts cache (`printsCache`, `<home>/cache/prints`): what a known component's archive
 * yields (its defined names, link-set levels, member content prints), by the sha256 of the bytes
 * read now; facts.ts says why it is safe.
 */
import { createHash } from 'node:crypto';
import { read as fsRead, readFileSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  RumpkgError,
  isRumpkgError,
  parseJsonDocument,
  readEmbeddedManifest,
  fsError,
  openFileSource,
  memorySource,
  readImageIndex,
  archivePrints,
  parseImageContent,
  linkSetLevels,
  symbolDigest,
  RUMP_COMPONENT_TYPES,
  type ByteSource,
  type ImageContent,
  type MemberPrint,
  type ComponentKind,
  type ComponentManifest,
  type ImageManifest,
  type LockedComponent,
  type Lockfile,
  type SymbolEvidence,
  type Target,
  type Upstream,
} from '../../components/index.js';
import type { RegistryClient, Store } from '../../registry/index.js';
import { archiveFacts, sha256Hex } from './facts.js';

/** One component version for one target, with what is known of its fingerprint. */
export interface KnownComponent {
  name: string;
  version: string;
  target: Target;
  license: string;
  lib: string;
  aliases: string[];
  kind: ComponentKind;
  initLevels: string[];
  integrity?: string;
  upstream?: Upstream;
  /** The fingerprint recorded in its manifest at publish time (absent in old manifests). */
  recorded?: SymbolEvidence;
  /** The fingerprint computed from its archive (when the archive was read). */
  computed?: SymbolEvidence;
  /** Defined global names of its archive, sorted (when the archive was read). */
  defined?: string[];
  /** Content fingerprints of its archive's members and objects (when they were read). */
  members?: MemberPrint[];
  /** Where it came from: `components-dir`, `store`, `registry`. */
  source: string;
}

/** One entry of an image's `link_set_rump_components`. */
export interface LinkSetEntry {
  /** Init level (`rc_type` mapped through RUMP_COMPONENT_TYPES), null when unreadable. */
  level: string | null;
  /** The struct's `rc_name` string (corpus convention), null when there is none. */
  rcName: string | null;
}

export interface ImageEvidence {
  file: string;
  bytes: number;
  /** `sha256-<hex>` of the whole file. */
  sha256: string;
  class: 32 | 64;
  endian: 'le' | 'be';
  machine: string;
  symbolTable: '.symtab' | '.dynsym' | null;
  /** Defined global names, sorted (may be decoded lazily, on first access). */
  defined: string[];
  /** How many distinct defined global names (= `defined.length`, without decoding them). */
  definedCount?: number;
  /** Whether `name` is one of `defined` (without decoding them). */
  hasDefined?(name: string): boolean;
  /** A number in [0, definedCount) naming `name` when it is one of `defined`, else -1. */
  definedId?(name: string): number;
  /** `definedId` of many names at once (faster: the lookups are grouped by hash bucket). */
  definedIds?(names: readonly string[]): Int32Array;
  /** Whether `name` is a global of an input that the link made local (hidden visibility). */
  hasHidden?(name: string): boolean;
  /** null when the image has no link set section. */
  linkSet: LinkSetEntry[] | null;
  /** The embedded manifest, or null when the section is missing. */
  manifest: ImageManifest | null;
  /** The image's content (symbols by name, bytes, registrations), when it was read for content matching. */
  content?: ImageContent;
}

const sortStrings = (xs: Iterable<string>): string[] => [...new Set(xs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** The evidence read through `source` (the one path for files and bytes); `sha256` hashes the same bytes meanwhile. */
async function evidenceFrom(source: ByteSource, sha256: Promise<string>, options: { levelNames?: readonly string[] }): Promise<ImageEvidence> {
  const x = await readImageIndex(source);
  const levelNames = options.levelNames ?? RUMP_COMPONENT_TYPES;
  const manifest = await readEmbeddedManifest(source, x.layout);
  const linkSet: LinkSetEntry[] | null =
    x.linkSet === null
      ? null
      : x.linkSet.structs.map((st) => ({ level: st.type === null ? null : (levelNames[st.type] ?? `rc_type:${st.type}`), rcName: st.name }));
  const index = x.defined;
  let defined: string[] | undefined;
  const l = x.layout;
  return {
    file: source.file,
    bytes: source.size,
    sha256: `sha256-${await sha256}`,
    class: l.class,
    endian: l.endian,
    machine: l.machineName,
    symbolTable: x.symbolTable,
    get defined(): string[] {
      defined ??= index.names();
      return defined;
    },
    set defined(v: string[]) {
      defined = v;
    },
    definedCount: index.count,
    hasDefined: (name: string) => index.has(name),
    definedId: (name: string) => index.lookup(name),
    definedIds: (names: readonly string[]) => index.lookupMany(names),
    hasHidden: (name: string) => x.hidden().has(name),
    linkSet,
    manifest,
  };
}

/**
 * SHA-256 of the first `size` bytes of the open file `fd`, computed on a worker thread with
 * positioned reads of 1 MiB (bounded memory; the chunk stays in cache between read and hash; overlaps the symbol work on the main thread).
 */
const HASH_WORKER = new URL('./hash-worker.cjs', import.meta.url);

/** SHA-256 of the open file on this thread (the fallback when no worker can be started). */
async function hashHere(fd: number, size: number, path: string): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(size, 1 << 20)));
  let pos = 0;
  while (pos < size) {
    const n = await new Promise<number>((res, rej) => fsRead(fd, buf, 0, Math.min(buf.length, size - pos), pos, (e, k) => (e === null ? res(k) : rej(fsError(e, path, 'read image')))));
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  if (pos !== size) {
    throw new RumpkgError('E_ELF', `${path} ended at ${pos} bytes while being hashed (it was ${size}): was it changed while being read?`, { context: { path }, hint: 'audit the image when nothing is writing it' });
  }
  return h.digest('hex');
}

/** The hash of an open file on a worker; `stop()` ends the worker early (resolves once it no longer reads the descriptor). */
function hashOpenFile(fd: number, size: number, path: string): { digest: Promise<string>; stop(): Promise<void> } {
  const w = new Worker(HASH_WORKER, { workerData: { fd, size } });
  const exited = new Promise<void>((res) => w.once('exit', () => res()));
  let here: Promise<string> | undefined;
  const digest = new Promise<string>((resolvePromise, reject) => {
    let settled = false;
    w.once('message', (m: { hex?: string; bytes?: number; error?: string; code?: string }) => {
      settled = true;
      if (m.hex !== undefined && m.bytes === size) resolvePromise(m.hex);
      else if (m.hex !== undefined) {
        reject(new RumpkgError('E_ELF', `${path} ended at ${m.bytes} bytes while being hashed (it was ${size}): was it changed while being read?`, { context: { path }, hint: 'audit the image when nothing is writing it' }));
      } else {
        const e = Object.assign(new Error(m.error ?? 'hash failed'), m.code === undefined ? {} : { code: m.code });
        reject(fsError(e, path, 'read image'));
      }
    });
    w.once('error', () => {
      // The worker could not run (resource limits): hash here instead.
      if (settled) return;
      settled = true;
      here = hashHere(fd, size, path);
      here.then(resolvePromise, reject);
    });
    w.once('exit', (code) => {
      if (!settled) reject(new Error(`the hash worker for ${path} exited with ${code}`));
    });
  });
  digest.catch(() => undefined); // awaited by the caller; a parse error must not leave it unhandled
  return {
    digest,
    stop: async () => {
      await w.terminate();
      await exited;
      await here?.catch(() => undefined); // the fallback reads the descriptor too
    },
  };
}

/**
 * The content view of an image (components/binary image-content.ts): the whole file is read and
 * its symbol table decoded — done only when some known component has content fingerprints.
 */
export async function readImageContent(imagePath: string): Promise<ImageContent> {
  let bytes: Buffer;
  try {
    bytes = await readFile(imagePath);
  } catch (e) {
    throw fsError(e, imagePath, 'read image');
  }
  return contentOf(bytes, imagePath);
}

const contentOf = (bytes: Uint8Array, file: string): ImageContent => parseImageContent(bytes, { file });

/**
 * Images up to this size are read whole, once: hashed on this thread (sha256 runs at ~1 GB/s
 * with SHA extensions: ~15 ms for 16 MiB), indexed, and — when the audit matches content — parsed
 * for their content view from the same bytes. A worker's start-up alone (~40–70 ms) is longer
 * than that hash and sits on the audit's critical path (the evidence waits for the digest).
 * Larger images are read with positioned reads and hashed on a worker meanwhile.
 */
const READ_WHOLE_MAX = 16 * 1024 * 1024;

/** An image read for the audit: its evidence, and its content view when asked for. */
export interface ImageRead {
  evidence: ImageEvidence;
  /** The content view (`readImageContent`), of the bytes the evidence was read from when the image was read whole. */
  content(): Promise<ImageContent>;
}

/**
 * Reads an image file (E_NOT_FOUND / E_EACCES / E_ELF): its headers, symbol table and strings,
 * link set and manifest, and its sha256. Up to READ_WHOLE_MAX the file is read once, whole;
 * above, with positioned reads — a few MB of a 100 MB image — while the whole file is hashed on
 * a worker thread.
 */
export async function readImage(imagePath: string, options: { levelNames?: readonly string[] } = {}): Promise<ImageRead> {
  const source = await openFileSource(imagePath, { sync: true });
  if (source.size <= READ_WHOLE_MAX) {
    let bytes: Uint8Array;
    try {
      bytes = source.size === 0 ? new Uint8Array(0) : await source.read(0, source.size);
    } finally {
      await source.close();
    }
    const evidence = await evidenceFrom(memorySource(bytes, imagePath), Promise.resolve(sha256Hex(bytes)), options);
    return { evidence, content: async () => contentOf(bytes, imagePath) };
  }
  const hash = hashOpenFile(source.fd, source.size, imagePath);
  let done = false;
  try {
    const evidence = await evidenceFrom(source, hash.digest, options);
    done = true;
    return { evidence, content: () => readImageContent(imagePath) };
  } finally {
    // The worker reads through the descriptor: close it only once the worker is done with it.
    if (done) await hash.digest.catch(() => undefined);
    else await hash.stop();
    await source.close();
  }
}

/** `readImage`'s evidence alone. */
export async function readImageEvidence(imagePath: string, options: { levelNames?: readonly string[] } = {}): Promise<ImageEvidence> {
  return (await readImage(imagePath, options)).evidence;
}

// ---------------------------------------------------------------------------------------------
// Known components

function manifestOk(m: unknown): m is ComponentManifest {
  const o = m as Partial<ComponentManifest> | null;
  return (
    o !== null &&
    typeof o === 'object' &&
    typeof o.name === 'string' &&
    typeof o.version === 'string' &&
    o.rump !== null &&
    typeof o.rump === 'object' &&
    typeof o.rump.targets === 'object' &&
    o.rump.targets !== null
  );
}

/** A KnownComponent from a manifest alone (registry metadata): the recorded fingerprint only. */
function knownFromManifest(m: ComponentManifest, target: Target, extra: { integrity?: string; source: string }): KnownComponent | undefined {
  const entry = m.rump.targets[target];
  if (entry === undefined) return undefined;
  return {
    name: m.name,
    version: m.version,
    target,
    license: typeof m.license === 'string' ? m.license : '',
    lib: m.rump.lib,
    aliases: Array.isArray(m.rump.aliases) ? m.rump.aliases : [],
    kind: m.rump.kind ?? 'component',
    initLevels: Array.isArray(m.rump.initLevels) ? m.rump.initLevels : [],
    ...(extra.integrity === undefined ? {} : { integrity: extra.integrity }),
    ...(m.rump.upstream === undefined ? {} : { upstream: m.rump.upstream }),
    ...(entry.symbols === undefined ? {} : { recorded: entry.symbols }),
    source: extra.source,
  };
}

/**
 * The digest recorded for a file the component names (its archive, an object) that could not be
 * read: no index digest equals it, so the store's check fails and the verified path — which
 * repairs a damaged entry — reads the directory instead.
 */
const UNREADABLE = '';

/**
 * A component directory (`package.json` + archives) → one KnownComponent per target it ships
 * (or only `target`), with the names and fingerprint computed from each archive.
 */
async function readKnownComponentDir(
  dir: string,
  options: { target?: Target; integrity?: string; source?: string; printsCache?: string; digests?: Map<string, string> } = {},
): Promise<KnownComponent[]> {
  const p = join(dir, 'package.json');
  let m: unknown;
  try {
    // Synchronous: one small local file per component (a thread-pool round trip for each of
    // open, stat, read and close cost more than the read).
    const bytes = readFileSync(p);
    options.digests?.set(p, sha256Hex(bytes));
    // The safe reader (E_JSON_PARSE / E_SCHEMA naming the file); the shape is checked below.
    m = parseJsonDocument(bytes, { file: p });
  } catch (e) {
    if (isRumpkgError(e)) throw e;
    throw fsError(e, p, 'read');
  }
  if (!manifestOk(m)) return [];
  const targets = options.target === undefined ? Object.keys(m.rump.targets).sort() : [options.target];
  const out: KnownComponent[] = [];
  for (const t of targets) {
    const k = knownFromManifest(m, t, {
      source: options.source ?? 'components-dir',
      ...(options.integrity === undefined ? {} : { integrity: options.integrity }),
    });
    if (k === undefined) continue;
    const archive = m.rump.targets[t]?.archive;
    if (typeof archive === 'string' && !archive.includes('..')) {
      const ap = join(dir, archive);
      const a = await archiveFacts(ap, options.printsCache, options.digests);
      if (a === undefined) options.digests?.set(ap, UNREADABLE);
      else {
        k.defined = a.defined;
        k.computed = { defined: a.defined.length, digest: symbolDigest(a.defined) };
        if (a.linkSetTypes !== null && a.linkSetTypes.length > 0) k.computed.linkSet = linkSetLevels(a.linkSetTypes);
        const objects = (m.rump.targets[t]?.objects ?? []).filter((o) => typeof o === 'string' && !o.includes('..'));
        k.members = [...a.prints, ...(await readPrints(objects.map((o) => join(dir, o)), options.digests))];
      }
    }
    out.push(k);
  }
  return out;
}

/** Prints of objects already read in this process: by the sha256 of their bytes. */
const printCache = new Map<string, MemberPrint[]>();

/**
 * Content fingerprints of the objects at `paths` (members of each, in order); cached. `digests`
 * receives each path read → the sha256 hex of its bytes.
 */
async function readPrints(paths: readonly string[], digests?: Map<string, string>): Promise<MemberPrint[]> {
  const out: MemberPrint[] = [];
  for (const p of paths) {
    try {
      await stat(p);
    } catch {
      digests?.set(p, UNREADABLE);
      continue; // a missing extra object: the archive's prints are what there is
    }
    const bytes = await readFile(p);
    const key = sha256Hex(bytes);
    digests?.set(p, key);
    let prints = printCache.get(key);
    if (prints === undefined) {
      prints = archivePrints(bytes, { file: p });
      printCache.set(key, prints);
    }
    out.push(...prints);
  }
  return out;
}

/**
 * Every component directory under `root` (depth ≤ 3: `<name>`, `<version>/<name>`,
 * `@scope/<name>`, `<version>/@scope/<name>`), read with `readKnownComponentDir`.
 */
export async function readComponentsDir(root: string, options: { target?: Target } = {}): Promise<KnownComponent[]> {
  const base = resolve(root);
  try {
    if (!(await stat(base)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    const err = fsError(e, base, 'read components directory');
    if (err instanceof RumpkgError) throw err;
    throw new RumpkgError('E_NOT_FOUND', `${base} is not a directory of components`, { context: { path: base }, cause: e });
  }
  const dirs: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      return;
    }
    if (names.includes('package.json') && depth > 0) {
      dirs.push(dir);
      return;
    }
    if (depth >= 3) return;
    for (const n of names) {
      if (n.startsWith('.') || n === 'node_modules' || n === 'src' || n === 'lib') continue;
      const p = join(dir, n);
      try {
        if ((await stat(p)).isDirectory()) await walk(p, depth + 1);
      } catch {
        // raced away: skip
      }
    }
  };
  await walk(base, 0);
  const out: KnownComponent[] = [];
  for (const d of dirs) out.push(...(await readKnownComponentDir(d, { ...(options.target === undefined ? {} : { target: options.target }), source: 'components-dir' })));
  return out;
}

export { sortStrings };

// ---------------------------------------------------------------------------------------------
// Fingerprints from the project's store and from the registry

/** What the audit lookups report (the CLI's Reporter fits). */
interface EvidenceReporter {
  warn?(message: string): void;
  info?(message: string): void;
}

/**
 * The store lookup of `knownFromLockfile`: `resolveDir` gives a verified directory (fetched or
 * repaired if need be). With `lookup` (unverified presence) and `checkLookup` (the verified
 * path's check of a looked-up directory against the store's index, given the digests of the
 * files the caller read itself; with scope `read`, of those files alone) — the project store
 * resolver (packager/project `storeComponentDirResolver`) has both — each file the audit uses is
 * read and hashed once, and no other file of the entry is.
 */
type ComponentDirResolver = ((name: string, locked: LockedComponent) => string | Promise<string>) & {
  lookup?(name: string, locked: LockedComponent): string | undefined;
  checkLookup?(name: string, locked: LockedComponent, known?: ReadonlyMap<string, string>, scope?: 'all' | 'read'): string | undefined;
};

/**
 * Known components from the project's lockfile + store: every locked component of `target`,
 * unpacked by `resolveDir` (the store lookup `rumpkg build` uses) and read with its archive.
 * A component that cannot be had is reported and skipped (the audit then says `unverified`).
 * `printsCache`: the archive facts cache directory (see the module head), if any.
 *
 * IN-08 (a flipped byte in the store is detected on read): with `lookup` and `checkLookup`, a
 * looked-up directory is read first — package.json, the archive, the objects: every byte the
 * fingerprint is made of, each file hashed as it is read — and the store's check (scope `read`)
 * then compares those digests, the entry's integrity and its name@version with its index; a
 * file package.json names that could not be read counts as damaged. What was read is used only
 * when the check passes. Anything else (not at hand, a failed check, an error while reading)
 * takes `resolveDir`, which verifies the whole entry, repairs or fetches it, and reads the
 * directory again: the answers of `resolveDir` alone, the archives read once. Files the audit
 * does not read (headers) are not hashed; whoever reads them checks them (the build does).
 */
export async function knownFromLockfile(
  lockfile: Lockfile,
  target: Target,
  resolveDir: ComponentDirResolver,
  options: { reporter?: EvidenceReporter; printsCache?: string } = {},
): Promise<KnownComponent[]> {
  const lt = lockfile.targets[target];
  if (lt === undefined) return [];
  const out: KnownComponent[] = [];
  const { lookup, checkLookup } = resolveDir;
  for (const [name, locked] of Object.entries(lt.components).sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const readOptions = { target, integrity: locked.integrity, source: 'store', ...(options.printsCache === undefined ? {} : { printsCache: options.printsCache }) };
    try {
      const looked = lookup === undefined || checkLookup === undefined ? undefined : lookup.call(resolveDir, name, locked);
      if (looked !== undefined) {
        const digests = new Map<string, string>();
        const read = await readKnownComponentDir(looked, { ...readOptions, digests }).catch((e: unknown) => {
          if (e instanceof RumpkgError) return undefined; // damage, perhaps: the verified path below says
          throw e;
        });
        if (read !== undefined && checkLookup!.call(resolveDir, name, locked, digests, 'read') === undefined) {
          out.push(...read);
          continue;
        }
      }
      const dir = await resolveDir(name, locked);
      out.push(...(await readKnownComponentDir(dir, readOptions)));
    } catch (e) {
      if (!(e instanceof RumpkgError)) throw e;
      options.reporter?.warn?.(`cannot read the fingerprint of ${name}@${locked.version}: ${e.message}`);
    }
  }
  return out;
}

/**
 * A lookup over the registry: for the names an image claims, the libraries its link set names
 * (resolved through aliases) and, for images without a manifest, a sweep of the registry's
 * components, every version's recorded fingerprint; the newest version of each is unpacked
 * (through the store, integrity-checked) to learn its symbol names, which versions with the
 * same recorded digest share.
 */
export function createRegistryLookup(
  client: RegistryClient,
  store: Pick<Store, 'ensureUnpacked'>,
  options: { reporter?: EvidenceReporter; sweep?: boolean; maxComponents?: number } = {},
): (hint: { names: string[]; libs: string[]; target: Target | null }) => Promise<KnownComponent[]> {
  return async ({ names, libs, target }) => {
    const wanted = new Set(names);
    for (const lib of libs) {
      try {
        wanted.add((await client.resolveName(lib)).name);
      } catch (e) {
        if (!(e instanceof RumpkgError)) throw e;
      }
    }
    if (options.sweep !== false && names.length === 0) {
      try {
        for (const hit of await client.search(['rump-component'], { size: options.maxComponents ?? 250 })) wanted.add(hit.name);
      } catch (e) {
        if (!(e instanceof RumpkgError)) throw e;
        options.reporter?.warn?.(`cannot list the registry's components: ${e.message}`);
      }
    }
    const out: KnownComponent[] = [];
    for (const name of [...wanted].sort()) {
      let versions;
      try {
        versions = await client.versions(name);
      } catch (e) {
        if (!(e instanceof RumpkgError)) throw e;
        options.reporter?.warn?.(`cannot read ${name} from the registry: ${e.message}`);
        continue;
      }
      const targets = target === null ? null : [target];
      const perVersion: KnownComponent[] = [];
      for (const v of versions) {
        const m = v.manifest as unknown;
        if (!manifestOk(m)) continue;
        for (const t of targets ?? Object.keys(m.rump.targets)) {
          const k = knownFromManifest(m, t, { integrity: v.integrity, source: 'registry' });
          if (k !== undefined) perVersion.push(k);
        }
      }
      // Names from the newest version per target; shared by versions with the same recorded digest.
      const byTarget = new Map<Target, KnownComponent[]>();
      for (const k of perVersion) byTarget.set(k.target, [...(byTarget.get(k.target) ?? []), k]);
      for (const [t, ks] of byTarget) {
        const newest = ks[ks.length - 1]!;
        try {
          const dir = await store.ensureUnpacked(name, newest.version, { integrity: newest.integrity ?? '' });
          const [read] = await readKnownComponentDir(dir, { target: t, ...(newest.integrity === undefined ? {} : { integrity: newest.integrity }), source: 'registry' });
          if (read?.defined !== undefined) {
            for (const k of ks) {
              if (k === newest || (k.recorded !== undefined && k.recorded.digest === read.computed?.digest)) {
                k.defined = read.defined;
                if (read.members !== undefined) k.members = read.members;
                if (read.computed !== undefined) k.computed = read.computed;
              }
            }
          }
        } catch (e) {
          if (!(e instanceof RumpkgError)) throw e;
          options.reporter?.warn?.(`cannot fetch ${name}@${newest.version} to read its symbols: ${e.message}`);
        }
        out.push(...ks);
      }
    }
    return out;
  };
}
