/**
 * Toolchains: which programs build an image for a target, and how to find them.
 *
 * `TOOLCHAINS` is a table, tried in order; the first row whose platform and arch match the target
 * is used. Each tool names the Debian package that provides it, so a missing tool is an
 * E_TOOLCHAIN error that says what to install. The `posix` row uses the host `cc` (it also links
 * the host libc) and is only valid for the host's own architecture. Freestanding `hw` targets use
 * one cross toolchain for every arch — Debian's `clang` (`--target=<arch>-unknown-none-elf`),
 * `ld.lld` (package `lld`) and `llvm-objcopy` (package `llvm`; GNU objcopy of an x86_64 host does
 * not recognise riscv64 ELF files) — one row per arch because the ABI flags differ. A row with
 * an `ld` tool links with it directly (link-plan.ts), not through the compiler driver.
 *
 * Link plans refer to tools by their logical name (`cc`, `objcopy`), so a printed plan does not
 * depend on where the tools live; `findToolchain` resolves those names on PATH for execution and
 * for the build stamp (path + size + mtime identify the tool without running it).
 */
import { realpathSync, statSync } from 'node:fs';
import { findProgram } from '../early/index.js';
import { RumpkgError, type Target } from '../../components/index.js';
import { ARCHES, hostArch, parseTarget, type Arch, type Platform } from './targets.js';

/** A logical tool of a toolchain. */
export type ToolName = 'cc' | 'objcopy' | 'ld';

interface ToolSpec {
  /** The program to run, looked up on PATH. */
  command: string;
  /** Arguments always passed first (e.g. `--target=x86_64-unknown-none-elf`). */
  args: string[];
  /** Debian package that provides the program. */
  debianPackage: string;
}

interface ToolchainSpec {
  id: string;
  platforms: Platform[];
  /** Architectures; `'host'` means only the host's own architecture. */
  arches: Arch[] | 'host';
  tools: Partial<Record<ToolName, ToolSpec>> & { cc: ToolSpec; objcopy: ToolSpec };
  /** Flags always given to the compiler for this toolchain. */
  cflags: string[];
  /** Flags always given to the linking driver (reproducibility, no build id). */
  ldflags: string[];
  /** Whether the platform links a libc (posix: the host libc, implicitly via the cc driver). */
  libc: 'host' | 'none';
}

/**
 * Compiler flags rumpkg adds for a platform package that brings its own userland (its own
 * headers and libc, e.g. the rumprun convention): the platform's manifest adds the rest.
 */
export const HOSTED_BASE_CFLAGS = ['-O2', '-fno-ident'] as const;

/** Compiler flags of every freestanding image input rumpkg compiles (application, glue). */
const FREESTANDING_CFLAGS = ['-O2', '-fno-ident', '-ffreestanding', '-fno-builtin', '-fno-stack-protector', '-fno-pic', '-fno-pie'] as const;

/** Per-arch ABI flags for freestanding code (the corpus compiles components with the same). */
const FREESTANDING_ARCH_CFLAGS: Record<'x86_64' | 'riscv64', string[]> = {
  x86_64: ['-mno-red-zone'],
  riscv64: ['-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany'],
};

const TOOLCHAINS: ToolchainSpec[] = [
  {
    id: 'host-cc',
    platforms: ['posix'],
    arches: 'host',
    tools: {
      cc: { command: 'cc', args: [], debianPackage: 'gcc' },
      objcopy: { command: 'objcopy', args: [], debianPackage: 'binutils' },
    },
    cflags: ['-O2', '-fno-ident'],
    ldflags: ['-Wl,--build-id=none'],
    libc: 'host',
  },
  ...(['x86_64', 'riscv64'] as const).map((arch): ToolchainSpec => ({
    id: `clang-lld-${arch}`,
    platforms: ['hw'],
    arches: [arch],
    tools: {
      cc: { command: 'clang', args: [`--target=${ARCHES[arch].clangTriple}`], debianPackage: 'clang' },
      ld: { command: 'ld.lld', args: [], debianPackage: 'lld' },
      objcopy: { command: 'llvm-objcopy', args: [], debianPackage: 'llvm' },
    },
    cflags: [...FREESTANDING_CFLAGS, ...FREESTANDING_ARCH_CFLAGS[arch]],
    ldflags: ['--build-id=none', '-static'],
    libc: 'none',
  })),
];

/** A toolchain resolved for one target. */
export interface Toolchain {
  id: string;
  target: Target;
  tools: Partial<Record<ToolName, ToolSpec>> & { cc: ToolSpec; objcopy: ToolSpec };
  cflags: string[];
  ldflags: string[];
  libc: 'host' | 'none';
}

/** A toolchain whose tools were found on PATH. */
export interface ResolvedToolchain extends Toolchain {
  /** Logical tool → absolute path of the program. */
  paths: Partial<Record<ToolName, string>>;
  /** A string that changes when any tool binary changes (for the build stamp). */
  identity: string;
}

/** Chooses the toolchain row for a target (pure; E_TARGET when none fits). */
export function selectToolchain(target: Target, options: { hostArch?: Arch | null } = {}): Toolchain {
  const t = parseTarget(target);
  const host = options.hostArch === undefined ? hostArch() : options.hostArch;
  for (const row of TOOLCHAINS) {
    if (!row.platforms.includes(t.platform)) continue;
    if (row.arches === 'host') {
      if (host !== t.arch) {
        throw new RumpkgError('E_TARGET', `target ${target} runs on the host, but this host is ${host ?? process.arch}`, {
          context: { target, hostArch: host },
          hint: host === null ? 'posix targets need a host architecture rumpkg knows' : `use posix-${host}, or build on a ${t.arch} machine`,
        });
      }
    } else if (!row.arches.includes(t.arch)) continue;
    return { id: row.id, target, tools: row.tools, cflags: row.cflags, ldflags: row.ldflags, libc: row.libc };
  }
  throw new RumpkgError('E_TARGET', `no toolchain is known for target ${target}`, {
    context: { target },
    hint: `rumpkg can build for: ${TOOLCHAINS.map((r) => `${r.platforms.join('|')}-${r.arches === 'host' ? (host ?? '?') : r.arches.join('|')}`).join(', ')}`,
  });
}

/** Looks a program up on PATH like `which` does, without spawning anything (packager/early: the launcher's early starts look programs up the same way). */
export { findProgram };

/** Selects and resolves the toolchain for a target; E_TOOLCHAIN names a missing tool and its package. */
export function findToolchain(target: Target, options: { path?: string; hostArch?: Arch | null } = {}): ResolvedToolchain {
  const tc = selectToolchain(target, options.hostArch === undefined ? {} : { hostArch: options.hostArch });
  const paths: Partial<Record<ToolName, string>> = {};
  const ident: string[] = [tc.id];
  for (const [name, spec] of Object.entries(tc.tools) as Array<[ToolName, ToolSpec]>) {
    const p = findProgram(spec.command, options.path ?? process.env.PATH);
    if (p === null) {
      throw new RumpkgError('E_TOOLCHAIN', `the ${name} tool '${spec.command}' for target ${target} was not found on PATH`, {
        context: { target, tool: name, command: spec.command, debianPackage: spec.debianPackage },
        hint: `install it: apt-get install ${spec.debianPackage}`,
      });
    }
    paths[name] = p;
    let real = p;
    try {
      real = realpathSync(p);
      const st = statSync(real);
      ident.push(`${name}=${real}:${st.size}:${Math.trunc(st.mtimeMs)}`);
    } catch {
      ident.push(`${name}=${real}`);
    }
  }
  return { ...tc, paths, identity: ident.join(';') };
}
