/**
 * Alias ownership (docs/registry-policy.md): the words a component claims. Users type words
 * (`rumpkg add netinet`, `rumpkg add librumpnet_netinet`); the client maps a bare word to the
 * component of the default scope with that name, or that lists it as an alias or NetBSD library
 * name. Each such word is therefore a claim, and a claim nobody checks is a dependency-confusion
 * hole: anyone could publish `@rump/evil` with `aliases: ["librumpnet_netinet"]`.
 *
 * A component claims, within its scope: its base name (`tcpip` for `@rump/tcpip`), every alias
 * and `lib` of every version it ever published, and each `lib` without its `lib` prefix (the
 * client resolves that form too). Words are compared lower-cased. Pure: no I/O.
 */
import type { Packument, PackumentVersion } from './packument.js';

/** `@rump/tcpip` → `@rump`; an unscoped name → ``. */
export function scopeOf(name: string): string {
  return name.startsWith('@') ? name.slice(0, Math.max(0, name.indexOf('/'))) : '';
}

/** `@rump/tcpip` → `tcpip`. */
function bareName(name: string): string {
  const i = name.indexOf('/');
  return i < 0 ? name : name.slice(i + 1);
}

/** The words one version claims besides the base name, each with what makes it a claim. */
export function versionClaims(doc: Pick<PackumentVersion, 'rump'> | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const rump = (doc?.rump ?? {}) as { lib?: unknown; aliases?: unknown };
  if (typeof rump.lib === 'string') {
    out.set(rump.lib.toLowerCase(), 'lib');
    if (rump.lib.startsWith('lib') && rump.lib.length > 3) out.set(rump.lib.slice(3).toLowerCase(), `lib ${rump.lib} without "lib"`);
  }
  if (Array.isArray(rump.aliases)) for (const a of rump.aliases) if (typeof a === 'string') out.set(a.toLowerCase(), 'alias');
  return out;
}

/** Every word `name` claims through the versions of `doc`, and its base name. */
export function componentClaims(name: string, doc: Pick<Packument, 'versions'> | undefined): Map<string, string> {
  const out = new Map<string, string>([[bareName(name).toLowerCase(), 'name']]);
  for (const v of Object.values(doc?.versions ?? {})) for (const [w, how] of versionClaims(v)) if (!out.has(w)) out.set(w, how);
  return out;
}

/** Word → the components claiming it (and how), names in the order of the claims they came from. */
export type ClaimIndex = Map<string, Array<{ name: string; as: string }>>;

/**
 * Inverts `claims` (component → the words it claims, as `componentClaims` gives them) into a
 * ClaimIndex, once per read of the claims, so that each question after costs a lookup per word
 * rather than a pass over every component.
 */
export function indexClaims(claims: Map<string, Map<string, string>>): ClaimIndex {
  const index: ClaimIndex = new Map();
  for (const [name, claimed] of claims) {
    for (const [word, as] of claimed) {
      let list = index.get(word);
      if (list === undefined) index.set(word, (list = []));
      list.push({ name, as });
    }
  }
  return index;
}

/** Who claims each of `words` (lower-cased: the keys of the answer), of every scope. */
export function claimantsOf(index: ClaimIndex, words: readonly string[]): ClaimIndex {
  return new Map(words.map((w) => [w.toLowerCase(), [...(index.get(w.toLowerCase()) ?? [])]]));
}

/** A claim of the publisher on a word another component holds. */
export interface ClaimConflict {
  word: string;
  /** How the new version claims it: `alias`, `lib`, `name`, … */
  claimedAs: string;
  holder: string;
  /** How the holder claims it. */
  heldAs: string;
  holderOwners: string[];
}

/**
 * The first word the new version `doc` of `name` claims that another component of the same scope
 * already holds, unless one owner holds both; undefined when there is none. Words `name` already
 * claimed through its earlier versions (and its base name, once published) are its own.
 *
 * `current` is the packument of `name` before this publish; `claimants` the owners on the
 * publishing side (the authenticated publisher, else the name's maintainers); `others` every
 * other component of the registry with its claims and owners.
 */
export function findClaimConflict(
  name: string,
  doc: Pick<PackumentVersion, 'rump'>,
  options: {
    current: Pick<Packument, 'versions'> | undefined;
    claimants: readonly string[];
    others: Iterable<{ name: string; claims: Map<string, string>; owners: string[] }>;
  },
): ClaimConflict | undefined {
  const own = options.current === undefined ? new Map<string, string>() : componentClaims(name, options.current);
  const wanted = new Map<string, string>();
  if (options.current === undefined) wanted.set(bareName(name).toLowerCase(), 'name');
  for (const [w, how] of versionClaims(doc)) if (!own.has(w) && !wanted.has(w)) wanted.set(w, how);
  if (wanted.size === 0) return undefined;
  const scope = scopeOf(name);
  for (const other of options.others) {
    if (other.name === name || scopeOf(other.name) !== scope) continue;
    if (other.owners.some((o) => options.claimants.includes(o))) continue;
    for (const [w, claimedAs] of wanted) {
      const heldAs = other.claims.get(w);
      if (heldAs !== undefined) return { word: w, claimedAs, holder: other.name, heldAs, holderOwners: [...other.owners] };
    }
  }
  return undefined;
}
