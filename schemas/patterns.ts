/**
 * The vocabulary shared by every schema: name, target, capability and path patterns and the
 * known platforms, architectures and init levels. `schemas/` is the bottom of the dependency
 * order, so these lists live here; `components/names.ts` re-exports and reuses them, and a test
 * checks that `INIT_LEVELS` equals `INIT_LEVEL_RUN_ORDER` in components/types.ts.
 */

/** Platforms a target can name (`<platform>-<arch>`). */
export const KNOWN_PLATFORMS = ['posix', 'hw', 'xen'] as const;
/** Architectures a target can name. */
export const KNOWN_ARCHES = ['x86_64', 'i386', 'aarch64', 'arm', 'riscv64'] as const;

/** The 14 rump init levels in their real run order (netbsd initLevelRunOrder). */
export const INIT_LEVELS = [
  'RUMP_COMPONENT_KERN',
  'RUMP__FACTION_VFS',
  'RUMP_COMPONENT_VFS',
  'RUMP__FACTION_NET',
  'RUMP_COMPONENT_NET',
  'RUMP_COMPONENT_NET_ROUTE',
  'RUMP_COMPONENT_NET_IF',
  'RUMP_COMPONENT_NET_IFCFG',
  'RUMP__FACTION_DEV',
  'RUMP_COMPONENT_DEV',
  'RUMP_COMPONENT_DEV_AFTERMAINBUS',
  'RUMP_COMPONENT_KERN_VFS',
  'RUMP_COMPONENT_POSTINIT',
  'RUMP_COMPONENT_SYSCALL',
] as const;

/** `<platform>-<arch>`. */
export const TARGET_PATTERN = `^(${KNOWN_PLATFORMS.join('|')})-(${KNOWN_ARCHES.join('|')})$`;
/** `hypercall:17`, `bus:pci`, `pci-backend`. */
export const CAPABILITY_PATTERN = '^[a-z0-9][a-z0-9._-]*(:[a-z0-9._-]+)?$';
/** One name part (scope body or bare name): lowercase, no leading dot/underscore/dash. */
const PART = '[a-z0-9][a-z0-9._-]*';
/** A component name, scoped (`@rump/tcpip`) or bare (`tcpip`); finer rules in components/names.ts. */
export const NAME_PATTERN = `^(@${PART}/)?${PART}$`;
/** The key of an any-of group: two or more component names, sorted, joined by `|`. */
export const ANY_OF_KEY_PATTERN = `^(@${PART}/)?${PART}(\\|(@${PART}/)?${PART})+$`;
/** A scope key, e.g. `@rump`. */
export const SCOPE_PATTERN = `^@${PART}$`;
/** Maximum length of a component name (npm's limit). */
export const NAME_MAX_LENGTH = 214;
/** Maximum length of a version or range string (IN-06). */
export const RANGE_MAX_LENGTH = 256;
/** A canonical semver 2.0.0 version (no leading `v`, no whitespace). */
export const VERSION_PATTERN =
  '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)' +
  '(-((0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?' +
  '(\\+([0-9a-zA-Z-]+(\\.[0-9a-zA-Z-]+)*))?$';
/** One path segment inside a package: no leading dot (so no `.`/`..`/hidden files), no spaces. */
const SEGMENT = '[A-Za-z0-9_+-][A-Za-z0-9._+-]*';
/** A safe relative path inside a package or upstream tree (`lib/posix-x86_64/librumpnet.a`). */
export const RELATIVE_PATH_PATTERN = `^${SEGMENT}(/${SEGMENT})*$`;
/** A NetBSD library name: `librumpnet_netinet`. */
export const LIB_PATTERN = '^lib[a-z0-9_]+$';
/** `sha512-<base64>` (SRI). */
export const SHA512_SRI_PATTERN = '^sha512-[A-Za-z0-9+/]{86}==$';
/** `sha256-<base64>` (symbol digests). */
export const SHA256_SRI_PATTERN = '^sha256-[A-Za-z0-9+/]{43}=$';
/** A git object id: sha1 (40 hex) or sha256 (64 hex). */
export const GIT_OID_PATTERN = '^([0-9a-f]{40}|[0-9a-f]{64})$';
