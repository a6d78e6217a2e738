/**
 * The defined global names of a symbol table as an index over the string table's bytes:
 * distinct names are found with a byte hash table, without creating a JS string per symbol.
 * The audit asks "how many?" and "is this name defined?" of images with hundreds of thousands
 * of symbols; decoding and sorting every name costs more than reading the file.
 *
 * `names()` still gives the sorted, unique, decoded list (`imageSymbols().defined`): the
 * distinct names are sorted by their bytes (a multikey quicksort over offsets) and only then
 * decoded. Byte order equals UTF-16 code unit order for ASCII names; a table with any byte
 * ≥ 0x80 falls back to decoding and sorting strings, so the results are exactly those of the
 * string path (invalid UTF-8 decodes to U+FFFD, which can merge names).
 *
 * The checks are those of the symbol scans in symbols.ts: name indices inside the string table
 * (whose last byte is NUL), the string table's decoding budget, section indices through
 * `view.sectionOf` (E_ELF for indices past the section table, SHN_XINDEX resolved).
 */
import { elfError, type SymbolTableView } from './elf.js';

export interface DefinedIndex {
  /** Distinct defined global / weak / unique names (as `names().length`). */
  readonly count: number;
  /** Whether `name` is one of them. */
  has(name: string): boolean;
  /** A number in [0, count) naming `name` when it is one of them (stable for this index), else -1. */
  lookup(name: string): number;
  /**
   * `lookup` of many names at once (the same answers): hashed first, then probed bucket by
   * bucket, so each bucket's table stays in cache while its names are looked up.
   */
  lookupMany(names: readonly string[]): Int32Array;
  /** The names, sorted by UTF-16 code unit and unique (decoded on first call, then cached). */
  names(): string[];
}

const SHN_LORESERVE = 0xff00;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a's low bits mix poorly; a multiply-xorshift finish spreads them (buckets use the top bits, slots the low). */
function finish(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

/**
 * Indexes the defined global, weak and unique symbols of `view` (entry 0 skipped, empty names
 * skipped). With `hiddenLocals`, the defined local symbols of hidden visibility instead: in a
 * linked image those are globals of its inputs that the link made local because some input
 * declared them hidden (e.g. `__dso_handle`), still evidence of the input that defined them.
 */
export function indexDefinedSymbols(view: SymbolTableView, options: { hiddenLocals?: boolean } = {}): DefinedIndex {
  const hiddenLocals = options.hiddenLocals === true;
  const d = view.data;
  const r = view.reader;
  const le = r.le;
  const es = view.entsize;
  const infoAt = r.is64 ? 4 : 12;
  const otherAt = r.is64 ? 5 : 13;
  const shndxAt = r.is64 ? 6 : 14;
  const n = view.count;
  const sectionCount = view.sectionCount;
  const str = view.names.data;
  const strSize = str.length;
  // Pass 1 (sequential): hash, start and length of every defined global name.
  const hs = new Int32Array(n);
  const st = new Int32Array(n);
  const ln = new Int32Array(n);
  let m = 0;
  let acc = 0; // OR of every name byte: ≥ 0x80 means some name is not ASCII
  let charged = 0;
  for (let i = 1; i < n; i++) {
    const o = i * es;
    const bind = (d[o + infoAt] as number) >> 4;
    if (hiddenLocals) {
      if (bind !== 0 || ((d[o + otherAt] as number) & 3) !== 2) continue; // STB_LOCAL, STV_HIDDEN
    } else if (bind !== 1 && bind !== 2 && bind !== 10) continue; // STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE
    const raw = le ? (d[o + shndxAt] as number) | ((d[o + shndxAt + 1] as number) << 8) : ((d[o + shndxAt] as number) << 8) | (d[o + shndxAt + 1] as number);
    if (raw === 0) continue; // SHN_UNDEF
    if (raw >= SHN_LORESERVE || raw >= sectionCount) {
      // reserved indices (ABS, COMMON, XINDEX, machine-specific undefined) and bad ones: the full check
      if (view.sectionOf(i, raw) === 'UND') continue;
    }
    const nameIdx = le
      ? ((d[o] as number) | ((d[o + 1] as number) << 8) | ((d[o + 2] as number) << 16) | ((d[o + 3] as number) << 24)) >>> 0
      : (((d[o] as number) << 24) | ((d[o + 1] as number) << 16) | ((d[o + 2] as number) << 8) | (d[o + 3] as number)) >>> 0;
    if (nameIdx >= strSize) {
      if (nameIdx === 0) continue; // an empty table: the empty name
      elfError(r.file, `symbol ${i}: string index ${nameIdx} is outside the symbol string table (size ${strSize})`, { index: nameIdx });
    }
    let h = FNV_OFFSET;
    let j = nameIdx;
    let c = str[j] as number;
    while (c !== 0) {
      h = Math.imul(h ^ c, FNV_PRIME);
      acc |= c;
      c = str[++j] as number; // the table ends with NUL: j stays inside it
    }
    const len = j - nameIdx;
    if (len === 0) continue;
    charged += len;
    if (charged > 1 << 20) {
      view.names.charge(charged);
      charged = 0;
    }
    hs[m] = finish(h);
    st[m] = nameIdx;
    ln[m] = len;
    m++;
  }
  // Pass 2: bucket by the hash's top bits (buckets of ~2k names: their tables stay in cache),
  // then dedupe bucket by bucket. Slot k of bucket b is [hash, id + 1] at 2 (base_b + k).
  let bits = 0;
  while ((1 << bits) * 2048 < m) bits++;
  const nb = 1 << bits;
  const shift = (32 - bits) & 31;
  const bmask = nb - 1;
  const bucketOf = (h: number): number => (h >>> shift) & bmask;
  const cnt = new Int32Array(nb + 1);
  for (let k = 0; k < m; k++) {
    const b = bucketOf(hs[k] as number) + 1;
    cnt[b] = (cnt[b] as number) + 1;
  }
  for (let b = 0; b < nb; b++) cnt[b + 1] = (cnt[b + 1] as number) + (cnt[b] as number);
  const fill = cnt.slice(0, nb);
  const order = new Int32Array(m);
  for (let k = 0; k < m; k++) {
    const b = bucketOf(hs[k] as number);
    order[fill[b] as number] = k;
    fill[b] = (fill[b] as number) + 1;
  }
  const base = new Int32Array(nb);
  const masks = new Int32Array(nb);
  let total = 0;
  for (let b = 0; b < nb; b++) {
    const c = (cnt[b + 1] as number) - (cnt[b] as number);
    let cap = 4;
    while (cap < c * 2) cap *= 2;
    base[b] = total;
    masks[b] = cap - 1;
    total += cap;
  }
  const table = new Int32Array(total * 2);
  // Distinct names, by id: start and length in the string table.
  const us = new Int32Array(m);
  const ul = new Int32Array(m);
  let distinct = 0;
  for (let b = 0; b < nb; b++) {
    const rb = base[b] as number;
    const mask = masks[b] as number;
    const end = cnt[b + 1] as number;
    for (let q = cnt[b] as number; q < end; q++) {
      const k = order[q] as number;
      const h = hs[k] as number;
      const len = ln[k] as number;
      const s0 = st[k] as number;
      let slot = h & mask;
      let found = false;
      for (;;) {
        const p = 2 * (rb + slot);
        const e1 = table[p + 1] as number;
        if (e1 === 0) break;
        if (table[p] === h && ul[e1 - 1] === len) {
          const s = us[e1 - 1] as number;
          let x = 0;
          while (x < len && str[s + x] === str[s0 + x]) x++;
          if (x === len) {
            found = true;
            break;
          }
        }
        slot = (slot + 1) & mask;
      }
      if (found) continue;
      const p = 2 * (rb + slot);
      us[distinct] = s0;
      ul[distinct] = len;
      table[p] = h;
      table[p + 1] = ++distinct;
    }
  }
  view.names.charge(charged);
  const ascii = acc < 0x80;
  let sorted: string[] | undefined;
  const names = (): string[] => {
    if (sorted !== undefined) return sorted;
    const buf = Buffer.from(str.buffer, str.byteOffset, str.byteLength) as Buffer & { latin1Slice?: (s: number, e: number) => string };
    const latin1 = typeof buf.latin1Slice === 'function' ? buf.latin1Slice.bind(buf) : (s: number, e: number): string => buf.toString('latin1', s, e);
    const starts = us.subarray(0, distinct);
    const lens = ul.subarray(0, distinct);
    if (ascii) {
      const idx = new Int32Array(distinct);
      for (let k = 0; k < distinct; k++) idx[k] = k;
      sortByBytes(idx, starts, lens, str);
      const out = new Array<string>(distinct);
      for (let k = 0; k < distinct; k++) {
        const e = idx[k] as number;
        const s = starts[e] as number;
        out[k] = latin1(s, s + (lens[e] as number));
      }
      sorted = out;
    } else {
      const out = new Array<string>(distinct);
      for (let k = 0; k < distinct; k++) out[k] = buf.toString('utf8', starts[k], (starts[k] as number) + (lens[k] as number));
      out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      let w = 0;
      for (let k = 0; k < out.length; k++) if (k === 0 || out[k] !== out[w - 1]) out[w++] = out[k] as string;
      out.length = w;
      sorted = out;
    }
    return sorted;
  };
  const lookupBytes = (name: string): number => {
    const len = name.length;
    let h = FNV_OFFSET;
    for (let k = 0; k < len; k++) {
      const c = name.charCodeAt(k);
      if (c >= 0x80 || c === 0) return -1; // the table's names are ASCII without NUL
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    return probe(name, finish(h));
  };
  /** The probe of `lookupBytes` for a name whose (finished) hash is `h`. */
  const probe = (name: string, h: number): number => {
    const len = name.length;
    const b = bucketOf(h);
    const rb = base[b] as number;
    const mask = masks[b] as number;
    let slot = h & mask;
    for (;;) {
      const p = 2 * (rb + slot);
      const e1 = table[p + 1] as number;
      if (e1 === 0) return -1;
      if (table[p] === h && ul[e1 - 1] === len) {
        const s = us[e1 - 1] as number;
        let k = 0;
        while (k < len && str[s + k] === name.charCodeAt(k)) k++;
        if (k === len) return e1 - 1;
      }
      slot = (slot + 1) & mask;
    }
  };
  /**
   * The distinct names decoded into a map to their ids (the ids the probe gives): for a batch
   * about as large as the table, V8's own string hashing beats hashing every name here,
   * character by character, in code that runs once per process (the audit of an image with a
   * few thousand names asks for a few thousand).
   */
  let ids: Map<string, number> | undefined;
  const idMap = (): Map<string, number> => {
    if (ids !== undefined) return ids;
    const buf = Buffer.from(str.buffer, str.byteOffset, str.byteLength) as Buffer & { latin1Slice?: (s: number, e: number) => string };
    const latin1 = typeof buf.latin1Slice === 'function' ? buf.latin1Slice.bind(buf) : (s: number, e: number): string => buf.toString('latin1', s, e);
    ids = new Map();
    for (let e = 0; e < distinct; e++) ids.set(latin1(us[e] as number, (us[e] as number) + (ul[e] as number)), e);
    return ids;
  };
  const lookupMany = (names: readonly string[]): Int32Array => {
    const out = new Int32Array(names.length);
    if (ascii && names.length * 2 >= distinct) {
      // the table is ASCII: a name with another character (or NUL) is not a key, as the probe says
      const m = idMap();
      for (let i = 0; i < names.length; i++) out[i] = m.get(names[i] as string) ?? -1;
      return out;
    }
    if (!ascii || names.length < 1024) {
      for (let i = 0; i < names.length; i++) out[i] = lookup(names[i] as string);
      return out;
    }
    // Pass 1: hashes (names that cannot be in an ASCII table are answered at once).
    const hq = new Int32Array(names.length);
    const ok = new Uint8Array(names.length);
    const cq = new Int32Array(nb + 1);
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      let h = FNV_OFFSET;
      let good = 1;
      for (let k = 0; k < name.length; k++) {
        const c = name.charCodeAt(k);
        if (c >= 0x80 || c === 0) {
          good = 0;
          break;
        }
        h = Math.imul(h ^ c, FNV_PRIME);
      }
      if (good === 0) {
        out[i] = -1;
        continue;
      }
      h = finish(h);
      hq[i] = h;
      ok[i] = 1;
      const b = bucketOf(h) + 1;
      cq[b] = (cq[b] as number) + 1;
    }
    // Pass 2: by bucket (a counting sort of the positions), then probe.
    for (let b = 0; b < nb; b++) cq[b + 1] = (cq[b + 1] as number) + (cq[b] as number);
    const at = cq.slice(0, nb);
    const order = new Int32Array(cq[nb] as number);
    for (let i = 0; i < names.length; i++) {
      if (ok[i] === 0) continue;
      const b = bucketOf(hq[i] as number);
      order[at[b] as number] = i;
      at[b] = (at[b] as number) + 1;
    }
    for (let q = 0; q < order.length; q++) {
      const i = order[q] as number;
      out[i] = probe(names[i] as string, hq[i] as number);
    }
    return out;
  };
  let byName: Map<string, number> | undefined;
  const lookup = (name: string): number => {
    if (ascii) return lookupBytes(name);
    if (byName === undefined) {
      byName = new Map();
      for (const [k, v] of names().entries()) byName.set(v, k);
    }
    return byName.get(name) ?? -1;
  };
  return {
    get count() {
      return ascii ? distinct : names().length;
    },
    has: (name) => lookup(name) >= 0,
    lookup,
    lookupMany,
    names,
  };
}

/**
 * Sorts `idx` (entries whose bytes are `bytes[starts[e] … starts[e] + lens[e])`) by those bytes,
 * unsigned, a proper prefix first. Multikey quicksort (Bentley–Sedgewick) with an explicit
 * stack; insertion sort for short runs.
 */
export function sortByBytes(idx: Int32Array, starts: Int32Array, lens: Int32Array, bytes: Uint8Array): void {
  const stack: number[] = [0, idx.length, 0];
  const ch = (e: number, depth: number): number => (depth < (lens[e] as number) ? (bytes[(starts[e] as number) + depth] as number) : -1);
  const cmpFrom = (x: number, y: number, depth: number): number => {
    let p = (starts[x] as number) + depth;
    let q = (starts[y] as number) + depth;
    const pe = (starts[x] as number) + (lens[x] as number);
    const qe = (starts[y] as number) + (lens[y] as number);
    while (p < pe && q < qe) {
      const a = bytes[p] as number;
      const b = bytes[q] as number;
      if (a !== b) return a - b;
      p++;
      q++;
    }
    return pe - p - (qe - q);
  };
  while (stack.length > 0) {
    const depth = stack.pop() as number;
    const hi = stack.pop() as number;
    const lo = stack.pop() as number;
    if (hi - lo < 2) continue;
    if (hi - lo < 12) {
      for (let i = lo + 1; i < hi; i++) {
        const v = idx[i] as number;
        let j = i;
        while (j > lo && cmpFrom(idx[j - 1] as number, v, depth) > 0) {
          idx[j] = idx[j - 1] as number;
          j--;
        }
        idx[j] = v;
      }
      continue;
    }
    const m = (lo + hi) >>> 1;
    const a = ch(idx[lo] as number, depth);
    const b = ch(idx[m] as number, depth);
    const c = ch(idx[hi - 1] as number, depth);
    const piv = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let lt = lo;
    let gt = hi - 1;
    let i = lo;
    while (i <= gt) {
      const e = idx[i] as number;
      const x = ch(e, depth);
      if (x < piv) {
        idx[i] = idx[lt] as number;
        idx[lt] = e;
        lt++;
        i++;
      } else if (x > piv) {
        idx[i] = idx[gt] as number;
        idx[gt] = e;
        gt--;
      } else i++;
    }
    stack.push(lo, lt, depth);
    if (piv >= 0) stack.push(lt, gt + 1, depth + 1);
    stack.push(gt + 1, hi, depth);
  }
}
