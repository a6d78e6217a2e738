/**
 * Content evidence for the audit: a known component's archive members (fingerprint prints:
 * per symbol the masked sha256 of its bytes, per registration its init function) looked for in
 * an image's bytes (components/binary image-content.ts). Pure.
 *
 * Per member, over its non-weak symbols (a weak definition may be legitimately overridden):
 * - `present`: every symbol is in the image with the same size and masked bytes;
 * - `modified`: some are, but a global symbol of the same name has other bytes, or some are
 *   missing (a member is linked whole or not at all);
 * - `absent`: none is there;
 * - `unverifiable`: the member's symbols are all shared, byte for byte, with another known
 *   component (`component_simple.o` in three archives): its presence proves nothing.
 * A symbol counts as evidence only when its (name, bytes) pair belongs to this component alone.
 *
 * Per registration (constructor or link-set entry, with its level): found when an image
 * registration of that level has an init function with the same masked bytes — which tells
 * activation shims such as netinet and netinet6 apart, with or without a symbol table.
 *
 * A component (linked `--whole-archive`) is confirmed when every member is present (or
 * unverifiable) and every registration found. A platform package is linked as a normal archive,
 * so only the members the link needed are in the image: absent members are expected; modified
 * ones are not.
 */
import { maskedHash, type ImageContent, type ImageSymbolEntry, type MemberPrint, type SymbolPrint } from '../../components/index.js';

export interface MemberVerdict {
  member: string;
  state: 'present' | 'absent' | 'modified' | 'unverifiable';
  matched: number;
  total: number;
  /** Global symbols found with other bytes. */
  differing: string[];
  /** Symbols not found (only listed for members that are partly there). */
  missing: string[];
}

export interface ContentVerdict {
  present: boolean;
  members: MemberVerdict[];
  registrations: { expected: string[]; found: string[] };
  reasons: string[];
}

export interface Distinctive {
  /** Whether (name, bytes) of `p` belong to component `owner` alone. */
  bytes(p: SymbolPrint, owner: string): boolean;
  /** Whether the name of `p` belongs to component `owner` alone. */
  name(p: SymbolPrint, owner: string): boolean;
  /** Whether the bytes of `p` (whatever the name) belong to component `owner` alone. */
  content(p: SymbolPrint, owner: string): boolean;
}

/**
 * Which symbols belong to one component only, across every component known. Keyed by the
 * prints' own strings (a hash names its bytes; the few prints that share one are told apart by
 * name and size): no key string is made per symbol, which cost more than the rest of the audit's
 * matching on the real archives.
 */
export function distinctiveIndex(components: ReadonlyArray<{ name: string; members?: readonly MemberPrint[] }>): Distinctive {
  // hash → the prints with that hash and their components: [print, owner, print, owner, …]
  const byHash = new Map<string, Array<SymbolPrint | string>>();
  for (const c of components) {
    for (const m of c.members ?? []) {
      const symbols = m.symbols;
      for (let i = 0; i < symbols.length; i++) {
        const s = symbols[i] as SymbolPrint;
        const same = byHash.get(s.hash);
        if (same === undefined) byHash.set(s.hash, [s, c.name]);
        else same.push(s, c.name);
      }
    }
  }
  // name → its one component, null when several define it. Made on first use: only a global
  // symbol found in the image with other bytes asks (none does in the real UDP image).
  let byName: Map<string, string | null> | undefined;
  const namesOwners = (): Map<string, string | null> => {
    if (byName !== undefined) return byName;
    byName = new Map();
    for (const c of components) {
      for (const m of c.members ?? []) {
        const symbols = m.symbols;
        for (let i = 0; i < symbols.length; i++) {
          const s = symbols[i] as SymbolPrint;
          const o = byName.get(s.name);
          if (o === undefined) byName.set(s.name, c.name);
          else if (o !== c.name) byName.set(s.name, null);
        }
      }
    }
    return byName;
  };
  /**
   * Whether every print with the hash of `p` and its name (`byName`) or its size (else) is
   * `owner`'s; false when there is none.
   */
  const alone = (p: SymbolPrint, owner: string, sameName: boolean): boolean => {
    const same = byHash.get(p.hash);
    if (same === undefined) return false;
    let seen = false;
    for (let i = 0; i < same.length; i += 2) {
      const q = same[i] as SymbolPrint;
      if (sameName ? q.name !== p.name : q.size !== p.size) continue;
      if (same[i + 1] !== owner) return false;
      seen = true;
    }
    return seen;
  };
  return {
    bytes: (p, owner) => alone(p, owner, true),
    name: (p, owner) => namesOwners().get(p.name) === owner,
    content: (p, owner) => alone(p, owner, false),
  };
}

/** Whether the image holds symbol `p` with the same size and masked bytes. */
export function imageHas(content: ImageContent, p: SymbolPrint): 'same' | 'other' | 'none' {
  const entries = content.symbols(p.name);
  if (entries.length === 0) return 'none';
  const local = p.bind === 'local';
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as ImageSymbolEntry;
    // Same size and binding (a global made local, or the other way round, is a change), except
    // for hidden globals, which the link turns into locals — hidden in the object, or made hidden
    // by a reference elsewhere (the most constraining visibility wins).
    const madeLocal = !local && e.bind === 'local' && (p.hidden === true || e.visibility === 1 || e.visibility === 2);
    if (e.size !== p.size || ((e.bind === 'local') !== local && !madeLocal)) continue;
    const b = content.bytes(e.value, e.size);
    if (b !== null && maskedHash(b, p.mask) === p.hash) return 'same';
  }
  return 'other';
}

const MAX_NAMES = 8;

/** The content verdict of one known component version in one image (see the module head). */
export function contentVerdict(
  component: { name: string; kind: string; members: readonly MemberPrint[] },
  content: ImageContent,
  distinctive: Distinctive,
): ContentVerdict {
  const platform = component.kind === 'platform';
  const members: MemberVerdict[] = [];
  for (const m of component.members) {
    const syms = m.symbols.filter((s) => s.bind !== 'weak');
    let matched = 0;
    // Whether some matched symbol is distinctive (only that is asked of it: one is enough).
    let evidence = false;
    const differing: string[] = [];
    const otherLocals: string[] = [];
    const missing: string[] = [];
    // Indexed loops here and in imageHas: this runs once per archive symbol, in code the engine
    // has not optimised yet, where for…of goes through the array iterator.
    for (let i = 0; i < syms.length; i++) {
      const s = syms[i] as SymbolPrint;
      const r = content.hasSymbols ? imageHas(content, s) : 'none';
      if (r === 'same') {
        matched++;
        if (!evidence && distinctive.bytes(s, component.name)) evidence = true;
      } else if (r === 'other' && s.bind === 'global' && distinctive.name(s, component.name)) differing.push(s.name);
      else if (r === 'other' && s.bind === 'local') otherLocals.push(s.name);
      else missing.push(s.name);
    }
    // A local of the same name with other bytes is a change only in a member that is otherwise
    // there (locals repeat across members: elsewhere it is someone else's).
    if (evidence) differing.push(...otherLocals);
    else missing.push(...otherLocals);
    // Only a distinctive symbol says the member is there; a global name only this component
    // defines, present with other bytes, says it was changed.
    let state: MemberVerdict['state'];
    if (syms.length === 0) state = 'unverifiable';
    else if (differing.length > 0) state = 'modified';
    else if (!evidence) state = missing.length > 0 ? 'absent' : 'unverifiable';
    else if (missing.length > 0) state = 'modified';
    else state = 'present';
    members.push({ member: m.member, state, matched, total: syms.length, differing, missing: state === 'modified' ? missing : [] });
  }

  // Registrations: each expected (level, init bytes) against the image's registrations.
  const expected: string[] = [];
  const found: string[] = [];
  const missingRegs: string[] = [];
  const used = new Set<number>();
  for (const m of component.members) {
    for (const r of m.registrations) {
      const level = r.level ?? 'unknown';
      expected.push(level);
      const init = r.init;
      // An init function other components share byte for byte cannot say whose it is.
      if (init === null || !distinctive.content(init, component.name)) continue;
      const hit = content.registrations.findIndex((x, i) => {
        if (used.has(i) || x.init === null) return false;
        const b = content.bytes(x.init, init.size);
        return b !== null && maskedHash(b, init.mask) === init.hash;
      });
      if (hit >= 0) {
        used.add(hit);
        found.push(level);
      } else missingRegs.push(level);
    }
  }
  expected.sort();
  found.sort();

  const reasons: string[] = [];
  const list = (names: readonly string[]): string => `${names.slice(0, MAX_NAMES).join(', ')}${names.length > MAX_NAMES ? ', …' : ''}`;
  for (const v of members) {
    if (v.state === 'modified') {
      if (v.differing.length > 0) reasons.push(`${v.member}: ${v.differing.length} symbol(s) have other bytes than in the archive (${list(v.differing)})`);
      if (v.missing.length > 0) reasons.push(`${v.member}: ${v.missing.length} of ${v.total} symbols missing from the image (${list(v.missing)})`);
    } else if (v.state === 'absent' && !platform) reasons.push(`${v.member} is not in the image`);
  }
  const anyThere = members.some((v) => v.state === 'present' || v.state === 'modified') || found.length > 0;
  if (anyThere && missingRegs.length > 0 && !platform) reasons.push(`registers ${missingRegs.sort().join(', ')} in its archive, not in the image`);
  return { present: anyThere, members, registrations: { expected, found }, reasons };
}
