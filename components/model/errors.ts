/**
 * The one error class for user-facing failures (pnpm-style: code + hint).
 *
 * Contract:
 * - `code` is stable: codes are never renamed or reused. Add new ones to `ErrorCode` below.
 * - `message` carries context (`name@version`, the offending path or URL), never a token.
 * - `hint` says what the user can do next. `cause` keeps the underlying error.
 * - Bugs are plain `Error`s: the CLI prints their stack and exits 70; a RumpkgError exits 1
 *   (usage errors exit 2, audit findings 3) and prints message + hint without a stack.
 */

/** Every stable error code. Grouped by area; the RELIABILITY.md case id is in the comment. */
const ERROR_CODES = [
  // usage and generic I/O
  'E_USAGE',
  'E_IO',
  'E_NOT_FOUND',
  'E_ENOSPC',
  'E_EACCES',
  'E_EROFS',
  'E_LOCKED', // CA-06
  // JSON documents and manifests
  'E_JSON_PARSE',
  'E_SCHEMA', // IN-05: a document does not match its JSON Schema
  'E_MANIFEST', // semantic manifest checks (names, semver, targets, aliases)
  'E_NAME', // an invalid component name (path tricks, bad scope)
  'E_SEMVER', // IN-06: invalid or hostile version / range
  // tarballs (EX-*)
  'E_TAR_PATH', // EX-01/02 traversal, absolute, drive-relative, prefix tricks
  'E_TAR_ENTRY_TYPE', // EX-04/05 links, devices, FIFOs, unknown types
  'E_TAR_COLLISION', // EX-06/07 duplicates after normalisation
  'E_TAR_LIMIT', // EX-09/10 depth, count, size, ratio, path length
  'E_TAR_CORRUPT', // EX-11/12 malformed headers, checksums, truncation, non-gzip, PAX smuggling
  'E_TAR_MODE', // EX-13 setuid/setgid
  'E_TAR_CONTENT', // the package does not hold what it must (package/package.json, archives)
  // integrity (IN-*)
  'E_INTEGRITY', // IN-01 bytes differ from the expected SRI
  'E_INTEGRITY_WEAK', // IN-02 missing or sha1-only integrity
  'E_INTEGRITY_LOCK', // IN-03 lockfile integrity differs from the registry's
  'E_MANIFEST_CONFUSION', // IN-04 registry metadata differs from the tarball's package.json
  // registry and transport (RG-*, NW-*)
  'E_REGISTRY', // an unexpected registry answer
  'E_REGISTRY_AUTH', // 401/403
  'E_REGISTRY_CONFLICT', // SV-02 name@version already published
  'E_REGISTRY_ROLLBACK', // RG-01
  'E_FOREIGN_TARBALL', // RG-03 tarball URL on another host or scheme
  'E_TOO_LARGE', // RG-04 / SV-04 size caps
  'E_TIMEOUT', // RG-05 slow bodies
  'E_NETWORK', // NW-01 after retries
  'E_OFFLINE', // NW-02 a cache miss with --offline
  'E_SCOPE', // RG-06 a scope without a registry
  'E_LOCKFILE', // RG-08 / frozen lockfile refused
  'E_CACHE', // IN-08 a corrupt cache entry that could not be repaired
  // resolver
  'E_RESOLVE', // no solution; the derivation tree is attached as context
  'E_RESOLVE_LIMIT', // bounded time/steps exceeded
  // packager
  'E_TARGET', // unknown or unsupported target
  'E_TOOLCHAIN', // a missing compiler, linker or emulator
  'E_LINK', // the linker failed (undefined symbol, …)
  'E_ARCH', // an object or image for the wrong architecture
  'E_BUILD', // other build failures
  'E_RUN', // running or booting an image failed
  'E_ELF', // malformed ELF or ar input
  // audit
  'E_AUDIT', // audit could not be performed
  'E_LICENSE', // an unparsable SPDX expression
  'E_ADVISORY', // a malformed OSV advisory
  // upstream
  'E_UPSTREAM', // GitHub upstream failures
  'E_RATE_LIMIT',
  'E_EXISTS', // a destination that must not exist already does (unpack, pack -o)
  'E_AUDIT_FINDINGS', // audit findings at or above --audit-level / a --deny policy (exit 3)
  'E_REGISTRATION', // an archive registers its components by another convention than its target's (constructors vs link set)
  'E_STALE', // a built image is older than what it is built from (run after a change, before build)
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

interface RumpkgErrorOptions {
  /** Structured context for `--json` output and tests: component, path, url, … (never tokens). */
  context?: Record<string, unknown>;
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
  /** Exit code the CLI uses; default 1 (2 for E_USAGE). */
  exitCode?: number;
}

export class RumpkgError extends Error {
  override readonly name = 'RumpkgError';
  readonly code: ErrorCode;
  readonly context: Record<string, unknown>;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: RumpkgErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = options.context ?? {};
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? (code === 'E_USAGE' ? 2 : 1);
  }

  /** The JSON shape the CLI prints with `--json`. */
  toJSON(): { code: ErrorCode; message: string; hint?: string; context: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      context: this.context,
    };
  }
}

export function isRumpkgError(e: unknown, code?: ErrorCode): e is RumpkgError {
  return e instanceof RumpkgError && (code === undefined || e.code === code);
}

/** Maps a Node.js file-system error to a typed error naming the path (CA-08). */
export function fsError(e: unknown, path: string, action: string): RumpkgError | unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const map: Record<string, ErrorCode> = {
    ENOSPC: 'E_ENOSPC',
    EACCES: 'E_EACCES',
    EPERM: 'E_EACCES',
    EROFS: 'E_EROFS',
    ENOENT: 'E_NOT_FOUND',
  };
  const mapped = code === undefined ? undefined : map[code];
  if (mapped === undefined) return e;
  const hints: Partial<Record<ErrorCode, string>> = {
    E_ENOSPC: 'free some disk space and try again; nothing was changed',
    E_EACCES: 'check the permissions of that path',
    E_EROFS: 'the file system is read-only; choose another location',
  };
  return new RumpkgError(mapped, `cannot ${action} ${path}: ${code}`, {
    context: { path },
    hint: hints[mapped],
    cause: e,
  });
}
