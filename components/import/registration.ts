/**
 * Which registration convention an archive's objects follow, and whether a target can use it.
 *
 * Rump kernel components announce themselves in one of two ways (../shared/netbsd/REAL-ARCHIVES.md,
 * the rumprun hw README): NetBSD-native and rumprun bare-metal builds put a pointer to each
 * `struct rump_component` into the `link_set_rump_components` section; builds on a Linux/ELF host
 * (buildrump.sh, posix) register through constructors instead — `.init_array` entries that call
 * `rump_component_load()` when the process starts. A freestanding platform (`hw-*`, `xen-*`)
 * finds components through the link set only, and its libc is NetBSD's, so an archive built for
 * posix is wrong there even when it links: its components would never be found, and its host-side
 * references (glibc's `__errno_location`, `__assert_fail` …) name a libc the image does not have.
 *
 * `freestandingArchiveProblem` looks at the tables `archiveTables`/`readArchiveTables` read (no
 * code or data is decoded) and returns the E_TARGET error naming the archive, the member and the
 * evidence, or null. Used by `rumpkg import archives` for freestanding targets and by
 * `rumpkg build` before linking a freestanding image.
 */
import { summarizeArchive, type ArchiveTables } from '../binary/index.js';
import { RumpkgError, parseTarget } from '../model/index.js';

/** Undefined names only the GNU C library defines: a reference to one was built against glibc. */
const GLIBC_ONLY = /^(__errno_location|__assert_fail|__ctype_b_loc|__ctype_tolower_loc|__ctype_toupper_loc|__isoc99_[a-z]+|__[a-z]+_chk|__libc_start_main|__xstat64?|__fxstat64?|__lxstat64?|stat64|fstat64|lstat64|open64|lseek64|mmap64)$/;

/** Constructor sections (`.init_array`, the older `.ctors`). */
const CONSTRUCTOR_SECTIONS = new Set(['.init_array', '.ctors']);

/**
 * Why an archive cannot serve a freestanding target, or null. `what` names it in the message
 * (`component @rump/tcpip (…/librumpnet_netinet.a)` or a file path).
 */
export function freestandingArchiveProblem(tables: ArchiveTables, options: { target: string; what: string; component?: string }): RumpkgError | null {
  const { platform } = parseTarget(options.target);
  if (platform === 'posix') return null;
  const ctor = tables.objects.find((o) => o.layout.sections.some((s) => CONSTRUCTOR_SECTIONS.has(s.name) && s.size > 0) && o.linkSet === null);
  if (ctor === undefined) return null;
  const glibc = summarizeArchive(tables).undefined.filter((n) => GLIBC_ONLY.test(n)).slice(0, 5);
  const member = ctor.member === '' ? undefined : ctor.member;
  return new RumpkgError(
    'E_TARGET',
    `${options.what} was built for a posix host, not for ${options.target}: ${member === undefined ? 'it' : `member ${member}`} registers through constructors (.init_array) and carries no link_set_rump_components entry` +
      (glibc.length > 0 ? `; it references the host's C library (${glibc.join(', ')})` : ''),
    {
      context: { path: tables.file, ...(member === undefined ? {} : { member }), ...(options.component === undefined ? {} : { component: options.component }), target: options.target, hostReferences: glibc },
      hint: `use the archives built for ${options.target} (rumprun's lib/rumprun-${platform}), not a buildrump.sh posix build`,
    },
  );
}
