/**
 * Component names, specs, ranges, versions and targets. Every function here is pure and bounded:
 * names and ranges come from command lines, manifests and registries and may be hostile
 * (path tricks, IN-06 pathological ranges). The pattern lists live in `schemas/` (the bottom of
 * the dependency order) and are re-exported from here.
 */
import coerce from 'semver/functions/coerce.js';
import valid from 'semver/functions/valid.js';
import Range from 'semver/classes/range.js';

import {
  CAPABILITY_PATTERN,
  KNOWN_ARCHES,
  KNOWN_PLATFORMS,
  NAME_MAX_LENGTH,
  RANGE_MAX_LENGTH,
  TARGET_PATTERN,
  VERSION_PATTERN,
} from '../../schemas/index.js';
import { RumpkgError } from './errors.js';
import { DEFAULT_SCOPE } from './types.js';

// Only the parts of semver in use: its index loads every module of the package (~15 ms at start-up).
const semver = { coerce, valid, Range };

export { KNOWN_ARCHES, KNOWN_PLATFORMS, NAME_MAX_LENGTH, RANGE_MAX_LENGTH } from '../../schemas/index.js';
export type Platform = (typeof KNOWN_PLATFORMS)[number];
export type Arch = (typeof KNOWN_ARCHES)[number];

/** Every `<platform>-<arch>` combination rumpkg knows. */
export const KNOWN_TARGETS: readonly string[] = KNOWN_PLATFORMS.flatMap((p) => KNOWN_ARCHES.map((a) => `${p}-${a}`));

/** At most this many comparators in one range (IN-06). */
const RANGE_MAX_COMPARATORS = 64;

/** Names that can never be components (npm's blacklist and Windows device names, CA-04). */
const RESERVED = new Set([
  'node_modules', 'favicon.ico', 'con', 'prn', 'aux', 'nul',
  'com1', 'com2', 'com3', 'com4', 'com5', 'com6', 'com7', 'com8', 'com9',
  'lpt1', 'lpt2', 'lpt3', 'lpt4', 'lpt5', 'lpt6', 'lpt7', 'lpt8', 'lpt9',
]);
const PART = /^[a-z0-9][a-z0-9._-]*$/;
const CAPABILITY = new RegExp(CAPABILITY_PATTERN);
const TARGET = new RegExp(TARGET_PATTERN);
const VERSION = new RegExp(VERSION_PATTERN);

/**
 * Why `name` is not a valid component name, or undefined when it is. Accepts `@scope/name` and
 * bare words: lowercase `[a-z0-9._-]`, no leading dot/underscore/dash, no `..`, no trailing dot,
 * no `%`, `\`, `/` outside the scope separator, at most 214 characters, not reserved.
 */
export function nameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'a name must be a non-empty string';
  if (name.length > NAME_MAX_LENGTH) return `a name is at most ${NAME_MAX_LENGTH} characters (this one has ${name.length})`;
  if (name !== name.trim()) return 'a name must not have leading or trailing spaces';
  if (name.toLowerCase() !== name) return 'a name must be lowercase';
  if (/[%\\]/.test(name)) return 'a name must not contain "%" or "\\"';
  if (name.includes('..')) return 'a name must not contain ".."';
  const parts = name.startsWith('@') ? name.slice(1).split('/') : [name];
  if (name.startsWith('@') && parts.length !== 2) return 'a scoped name has the form @scope/name';
  if (!name.startsWith('@') && name.includes('/')) return 'a name must not contain "/" (except after its @scope)';
  for (const part of parts) {
    if (part.length === 0) return 'a name part must not be empty';
    if (part.startsWith('.') || part.startsWith('_')) return 'a name part must not start with "." or "_"';
    if (!PART.test(part)) return 'a name part may contain only a-z, 0-9, ".", "_" and "-", starting with a letter or digit';
    if (part.endsWith('.')) return 'a name part must not end with "."';
    if (RESERVED.has(part)) return `"${part}" is a reserved name`;
  }
  return undefined;
}

/** Throws E_NAME unless `name` is valid. `what` names the thing in the message (`component name`). */
export function assertName(name: string, options: { what?: string } = {}): string {
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new RumpkgError('E_NAME', `invalid ${options.what ?? 'component name'} ${JSON.stringify(name.slice(0, 240))}: ${problem}`, {
      context: { name },
      hint: 'component names look like @rump/tcpip or tcpip (lowercase letters, digits, ".", "_", "-")',
    });
  }
  return name;
}

/** `@rump/tcpip` → `{scope: '@rump', bare: 'tcpip'}`; `tcpip` → `{scope: undefined, bare: 'tcpip'}`. */
export function splitName(name: string): { scope: string | undefined; bare: string } {
  assertName(name);
  if (!name.startsWith('@')) return { scope: undefined, bare: name };
  const slash = name.indexOf('/');
  return { scope: name.slice(0, slash), bare: name.slice(slash + 1) };
}

/** A bare word becomes `<scope>/<word>` (default `@rump`); a scoped name is returned as is. */
export function qualifyName(word: string, options: { scope?: string } = {}): string {
  assertName(word);
  if (word.startsWith('@')) return word;
  const scope = options.scope ?? DEFAULT_SCOPE;
  const full = `${scope}/${word}`;
  if (!scope.startsWith('@') || nameProblem(full) !== undefined) {
    throw new RumpkgError('E_NAME', `invalid scope ${JSON.stringify(scope)}: ${nameProblem(full) ?? 'a scope starts with "@"'}`, {
      context: { scope },
      hint: 'a scope looks like @rump',
    });
  }
  return full;
}

/** Why `version` is not a canonical semver version, or undefined. */
export function versionProblem(version: string): string | undefined {
  if (typeof version !== 'string' || version.length === 0) return 'a version must be a non-empty string';
  if (version.length > RANGE_MAX_LENGTH) return `a version is at most ${RANGE_MAX_LENGTH} characters`;
  if (VERSION.test(version) && semver.valid(version) !== null) return undefined;
  const loose = semver.valid(semver.coerce(version, { includePrerelease: true }));
  return loose === null ? 'not a semver version (e.g. 10.0.0)' : `not a canonical semver version (did you mean ${loose}?)`;
}

/** Throws E_SEMVER unless `version` is a canonical semver version; returns it. */
export function parseVersion(version: string, options: { what?: string } = {}): string {
  const problem = versionProblem(version);
  if (problem !== undefined) {
    throw new RumpkgError('E_SEMVER', `invalid ${options.what ?? 'version'} ${JSON.stringify(String(version).slice(0, 80))}: ${problem}`, {
      context: { version: String(version).slice(0, RANGE_MAX_LENGTH) },
      hint: 'versions look like 10.0.0 or 10.1.0-rc.1',
    });
  }
  return version;
}

/**
 * Why `range` is not an acceptable semver range, or undefined. Bounded before semver sees it:
 * at most 256 characters and 64 comparators (IN-06). Non-registry specs (`file:`, git, URLs) and
 * dist-tags are refused: components depend on version ranges only.
 */
export function rangeProblem(range: string): string | undefined {
  if (typeof range !== 'string') return 'a range must be a string';
  if (range.length > RANGE_MAX_LENGTH) return `a range is at most ${RANGE_MAX_LENGTH} characters (this one has ${range.length})`;
  // Cheap pre-count: every comparator needs at least one token.
  const tokens = range.split(/\s+|\|\|/).filter((t) => t.length > 0).length;
  if (tokens > RANGE_MAX_COMPARATORS * 3) return `a range has at most ${RANGE_MAX_COMPARATORS} comparators`;
  if (/[:/\\]/.test(range)) return 'only semver ranges are allowed (no file:, git or URL specs)';
  let parsed: Range;
  try {
    parsed = new semver.Range(range);
  } catch {
    return 'not a semver range (e.g. ^10.0.0, >=9.0.0 <11.0.0)';
  }
  const comparators = parsed.set.reduce((n, set) => n + set.length, 0);
  if (comparators > RANGE_MAX_COMPARATORS) return `a range has at most ${RANGE_MAX_COMPARATORS} comparators (this one has ${comparators})`;
  return undefined;
}

/** Throws E_SEMVER unless `range` is an acceptable range; returns it trimmed (`''` → `*`). */
export function parseRange(range: string, options: { what?: string } = {}): string {
  const problem = rangeProblem(range);
  if (problem !== undefined) {
    throw new RumpkgError('E_SEMVER', `invalid ${options.what ?? 'range'} ${JSON.stringify(String(range).slice(0, 80))}: ${problem}`, {
      context: { range: String(range).slice(0, RANGE_MAX_LENGTH) },
      hint: 'ranges look like ^10.0.0, ~9.2, >=8.0.0 <11.0.0 or *',
    });
  }
  const trimmed = range.trim();
  return trimmed === '' ? '*' : trimmed;
}

interface ComponentSpec {
  /** The name as written (bare or scoped), qualified when `options.scope` was given. */
  name: string;
  /** The semver range; `*` when none was written. */
  range: string;
}

/**
 * `tcpip@^10` → `{name: 'tcpip', range: '^10'}`; `@rump/tcpip@^10` → `{name: '@rump/tcpip', …}`;
 * `tcpip` → range `*`. With `options.scope`, a bare name is qualified (`@rump/tcpip`).
 */
export function parseSpec(spec: string, options: { scope?: string } = {}): ComponentSpec {
  if (typeof spec !== 'string' || spec.length === 0) {
    throw new RumpkgError('E_USAGE', 'empty component spec', { hint: 'write NAME or NAME@RANGE, e.g. tcpip@^10' });
  }
  if (spec.length > NAME_MAX_LENGTH + 1 + RANGE_MAX_LENGTH) {
    throw new RumpkgError('E_NAME', `component spec is too long (${spec.length} characters)`, { hint: 'write NAME or NAME@RANGE, e.g. tcpip@^10' });
  }
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  const name = at === -1 ? spec : spec.slice(0, at);
  const rawRange = at === -1 ? '*' : spec.slice(at + 1);
  assertName(name);
  const range = parseRange(rawRange, { what: `range for ${name}` });
  return { name: options.scope === undefined ? name : qualifyName(name, { scope: options.scope }), range };
}

/** Why `target` is not a known `<platform>-<arch>`, or undefined. */
export function targetProblem(target: string): string | undefined {
  if (typeof target !== 'string' || !TARGET.test(target)) {
    return `unknown target (platforms: ${KNOWN_PLATFORMS.join(', ')}; arches: ${KNOWN_ARCHES.join(', ')})`;
  }
  return undefined;
}

/** `hw-x86_64` → `{platform: 'hw', arch: 'x86_64'}`; throws E_TARGET for an unknown target. */
export function parseTarget(target: string): { platform: Platform; arch: Arch } {
  const problem = targetProblem(target);
  if (problem !== undefined) {
    throw new RumpkgError('E_TARGET', `invalid target ${JSON.stringify(String(target).slice(0, 80))}: ${problem}`, {
      context: { target },
      hint: `targets look like ${KNOWN_TARGETS.slice(0, 3).join(', ')}`,
    });
  }
  const dash = target.indexOf('-');
  return { platform: target.slice(0, dash) as Platform, arch: target.slice(dash + 1) as Arch };
}

export function isCapability(s: string): boolean {
  return typeof s === 'string' && s.length <= 128 && CAPABILITY.test(s);
}

/**
 * Why `p` is not a safe relative path inside a package, or undefined: `/`-separated, not
 * absolute, no drive letter, no backslash or NUL, no empty, `.` or `..` segments, no segment
 * starting with a dot.
 */
export function packagePathProblem(p: string): string | undefined {
  if (typeof p !== 'string' || p.length === 0) return 'a path must be a non-empty string';
  if (p.length > 1024) return 'a path is at most 1024 characters';
  if (p.includes('\0')) return 'a path must not contain NUL';
  if (p.includes('\\')) return 'a path must use "/" separators (no "\\")';
  if (p.startsWith('/')) return 'a path must be relative (no leading "/")';
  if (/^[A-Za-z]:/.test(p)) return 'a path must not start with a drive letter';
  for (const seg of p.split('/')) {
    if (seg === '') return 'a path must not contain empty segments ("//" or a trailing "/")';
    if (seg === '.' || seg === '..') return `a path must not contain "${seg}" segments`;
    if (seg.startsWith('.')) return 'a path segment must not start with "."';
  }
  return undefined;
}
