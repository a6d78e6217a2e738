/**
 * The miniature corpus (DESIGN.md §8): one small C library per catalog component, following the
 * conventions of real rump kernel archives (components/corpus/README.md is the contract), built
 * with the real compilers into `.a` archives and written as component directories:
 *
 *   <outDir>/<version>/<name>/package.json          the ComponentManifest (from the catalog)
 *   <outDir>/<version>/<name>/src/*.c, *.h           the miniature sources
 *   <outDir>/<version>/<name>/lib/<target>/<lib>.a   one archive per target it ships
 *
 * `generateCorpus` writes the sources (I/O, no compiler); `buildCorpus` generates, compiles (a
 * few `cc -c` per version × toolchain, each compiling a slice of the components; every version
 * and toolchain at once, at most `jobs` processes running), archives with `ar -M` (deterministic,
 * like `ar rcsD`) and writes the manifests. Targets are rows of CORPUS_TARGETS: adding
 * an arch or platform is one row. The versions differ where CORPUS_VERSION_CHANGES says so
 * (miniature history for the resolver to choose from, not NetBSD's real history); every archive
 * embeds its version string, so archives of different versions differ.
 *
 * Beyond the 106 catalog components the corpus holds rumpkg's own components
 * (CORPUS_EXTRA_COMPONENTS, origin `rumpkg`): the platform packages of the freestanding hw
 * targets (boot code, console, power-off, hypercalls, bus backends; sources in
 * components/platforms/) and the miniature `virtio-mmio` bus. A platform package ships an archive
 * (platform.o), `objects` linked first (boot.o) and a `linkerScript` for its target.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { catalogEntry, catalogShipsTarget, loadCatalog, type CatalogEntry } from '../../components/index.js';
import { RumpkgError } from '../../components/index.js';
import { symbolEvidence } from '../../components/index.js';
import {
  DEFAULT_SCOPE,
  INIT_LEVEL_RUN_ORDER,
  type ComponentManifest,
  type SymbolEvidence,
  type Target,
  type TargetEntry,
} from '../../components/index.js';

/** The releases the corpus is built for. */
export const CORPUS_VERSIONS = ['8.0.0', '9.0.0', '10.0.0', '10.1.0'] as const;

/** How one target's archives are compiled. `hostedCc` compiles the posix platform package. */
export interface CorpusToolchain {
  /** Compiler for the freestanding component sources. */
  cc: string;
  /** Extra compiler flags for this target (triple, ABI). */
  cflags: string[];
  /** The subset of the flags that is ABI-relevant (recorded in manifests as abiFlags). */
  abiFlags: string[];
  ar: string;
  nm: string;
  /** Compiler for sources that use the host libc (rumpuser); null on freestanding targets. */
  hostedCc: string | null;
  /** Debian package to install when the compiler is missing. */
  package: string;
  /**
   * How components register, as real builds for the target do: Linux-hosted posix builds through
   * constructors (`.init_array`), rumprun hw builds through `link_set_rump_components`.
   */
  registration: 'constructor' | 'link-set';
}

/** One row per target. */
export const CORPUS_TARGETS: Readonly<Record<Target, CorpusToolchain>> = {
  'posix-x86_64': { cc: 'cc', cflags: [], abiFlags: ['-fcommon'], ar: 'ar', nm: 'nm', hostedCc: 'cc', package: 'gcc binutils', registration: 'constructor' },
  'hw-x86_64': {
    cc: 'clang',
    cflags: ['--target=x86_64-unknown-none-elf', '-mno-red-zone'],
    abiFlags: ['-fcommon', '-mno-red-zone'],
    ar: 'ar',
    nm: 'llvm-nm',
    hostedCc: null,
    package: 'clang binutils',
    registration: 'link-set',
  },
  'xen-x86_64': {
    cc: 'clang',
    cflags: ['--target=x86_64-unknown-none-elf', '-mno-red-zone'],
    abiFlags: ['-fcommon', '-mno-red-zone'],
    ar: 'ar',
    nm: 'llvm-nm',
    hostedCc: null,
    package: 'clang binutils',
    registration: 'link-set',
  },
  'hw-riscv64': {
    cc: 'clang',
    cflags: ['--target=riscv64-unknown-elf', '-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany'],
    abiFlags: ['-fcommon', '-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany'],
    ar: 'ar',
    nm: 'llvm-nm',
    hostedCc: null,
    package: 'clang binutils',
    registration: 'link-set',
  },
};

/** Targets built when none are given: every catalog component ships at least one of them. */
export const CORPUS_DEFAULT_TARGETS: readonly Target[] = ['posix-x86_64', 'hw-x86_64', 'hw-riscv64', 'xen-x86_64'];

/** Flags every component source is compiled with (freestanding, reproducible). */
export const CORPUS_CFLAGS = [
  '-std=c11',
  '-ffreestanding',
  '-fno-builtin',
  '-fcommon',
  '-fno-stack-protector',
  '-O2',
  '-fPIE',
  '-g0',
  '-Wall',
  '-Werror',
] as const;

/** One documented difference between corpus versions. */
export interface CorpusVersionChange {
  component: string;
  /**
   * `absent`: the component does not exist in `versions`; `dependency`: it has the extra hard edge
   * `dependency` there; `no-dependency`: it lacks the catalog's hard edge `dependency` there.
   */
  change: 'absent' | 'dependency' | 'no-dependency';
  dependency?: string;
  versions: string[];
  why: string;
}

/**
 * The miniature history. The newest release matches the catalog exactly; older ones differ here.
 */
export const CORPUS_VERSION_CHANGES: readonly CorpusVersionChange[] = [
  {
    component: 'dev-virtio-vioscsi',
    change: 'absent',
    versions: ['8.0.0'],
    why: 'new in 9.0.0: a component that did not exist in 8.x',
  },
  {
    component: 'net-config',
    change: 'dependency',
    dependency: 'dev-bpf',
    versions: ['8.0.0', '9.0.0'],
    why: 'lost its dependency on dev-bpf in 10.0.0 (DHCP no longer opens a bpf device)',
  },
  {
    component: 'kern-tty',
    change: 'no-dependency',
    dependency: 'vfs',
    versions: ['8.0.0'],
    why: 'gained its dependency on vfs in 9.0.0 (8.0.0 depends on base only)',
  },
];

/** Catalog-shaped entry of a component rumpkg adds to the corpus (not in the NetBSD catalog). */
function extraEntry(fields: Pick<CatalogEntry, 'name' | 'lib' | 'aliases' | 'faction' | 'kind' | 'description' | 'initLevels' | 'requires' | 'provides' | 'upstream' | 'platforms' | 'arches' | 'platformNote'>): CatalogEntry {
  return {
    catalogName: fields.name,
    origin: 'rumpkg',
    dependencies: [],
    conflicts: [],
    optionalDependencies: [],
    edges: [],
    license: 'BSD-2-Clause',
    licenseFiles: {},
    buildCondition: null,
    rumprunBakeSets: [],
    notes: [],
    ...fields,
  };
}

/**
 * rumpkg's own components in the corpus (README.md, "Platform packages and virtio-mmio"):
 *
 * - `platform-hw-x86_64`: PVH boot for `qemu-system-x86_64 -kernel`, COM1 console,
 *   isa-debug-exit power-off; provides `hypercall:17` and `pci-backend` (configuration
 *   mechanism #1), so `pci` → `virtio-pci` → `virtio-net` resolve on hw-x86_64.
 * - `platform-hw-riscv64`: entered by OpenSBI on QEMU `virt`, NS16550A console, SiFive test
 *   finisher power-off; provides `hypercall:17` and `virtio-mmio-backend`. QEMU virt has no
 *   PCI host bridge rumpkg drives (and the catalog's `pci` is x86-only), so virtio devices are
 *   reached through virtio-mmio transports instead.
 * - `virtio-mmio`: a miniature of NetBSD's virtio_mmio driver (sys/dev/virtio/virtio_mmio.c,
 *   NetBSD ≥ 9; no rump kernel library of it exists upstream): provides `bus:virtio`, requires
 *   `bus:mainbus` and `virtio-mmio-backend`, which only platform-hw-riscv64 provides. So on
 *   hw-x86_64 `bus:virtio` comes from virtio-pci, on hw-riscv64 from virtio-mmio, and on posix
 *   from nobody (virtio-net fails to resolve, with the reason).
 */
export const CORPUS_EXTRA_COMPONENTS: readonly CatalogEntry[] = [
  extraEntry({
    name: 'platform-hw-x86_64',
    lib: 'librumpkg_platform_hw_x86_64',
    aliases: ['librumpkg_platform_hw_x86_64'],
    faction: 'hypercall',
    kind: 'platform',
    description: 'rumpkg platform package for hw-x86_64 (QEMU PVH boot, COM1 console, isa-debug-exit power-off, rumpuser ABI 17, PCI configuration mechanism #1)',
    initLevels: [],
    requires: [],
    provides: ['hypercall:17', 'pci-backend'],
    upstream: { project: 'rumpkg', repository: 'rumpkg/rumpkg', path: 'components/platforms/hw-x86_64' },
    platforms: ['hw'],
    arches: ['x86_64'],
    platformNote: 'the hw-x86_64 orchestration layer itself',
  }),
  extraEntry({
    name: 'platform-hw-riscv64',
    lib: 'librumpkg_platform_hw_riscv64',
    aliases: ['librumpkg_platform_hw_riscv64'],
    faction: 'hypercall',
    kind: 'platform',
    description: 'rumpkg platform package for hw-riscv64 (QEMU virt via OpenSBI, NS16550A console, SiFive test finisher power-off, rumpuser ABI 17, virtio-mmio transports)',
    initLevels: [],
    requires: [],
    provides: ['hypercall:17', 'virtio-mmio-backend'],
    upstream: { project: 'rumpkg', repository: 'rumpkg/rumpkg', path: 'components/platforms/hw-riscv64' },
    platforms: ['hw'],
    arches: ['riscv64'],
    platformNote: 'the hw-riscv64 orchestration layer itself',
  }),
  extraEntry({
    name: 'virtio-mmio',
    lib: 'librumpdev_virtio_mmio',
    aliases: ['librumpdev_virtio_mmio', 'rumpdev_virtio_mmio'],
    faction: 'dev',
    kind: 'component',
    description: 'virtio over memory-mapped transports (miniature of NetBSD sys/dev/virtio/virtio_mmio.c; rumpkg component, not a NetBSD rump library)',
    initLevels: ['RUMP_COMPONENT_DEV'],
    requires: ['bus:mainbus', 'virtio-mmio-backend'],
    provides: ['bus:virtio'],
    upstream: { project: 'rumpkg', repository: 'rumpkg/rumpkg', path: 'components/corpus/virtio_mmio.c' },
    platforms: ['hw'],
    arches: null,
    platformNote: 'needs a platform with virtio-mmio transports (virtio-mmio-backend)',
  }),
];

/** The entry of a corpus component: the catalog's, or one of CORPUS_EXTRA_COMPONENTS. */
export function corpusEntry(nameOrAlias: string): CatalogEntry | undefined {
  const key = nameOrAlias.startsWith(`${DEFAULT_SCOPE}/`) ? nameOrAlias.slice(DEFAULT_SCOPE.length + 1) : nameOrAlias;
  return catalogEntry(key) ?? CORPUS_EXTRA_COMPONENTS.find((e) => e.name === key || e.aliases.includes(key));
}

/** Platform packages built from components/platforms/<target>/ (boot.S, platform.c, platform.ld). */
const PLATFORM_SOURCES: Record<string, Target> = {
  librumpkg_platform_hw_x86_64: 'hw-x86_64',
  librumpkg_platform_hw_riscv64: 'hw-riscv64',
};

/** Files of a platform package's sources (components/platforms/<target>/ plus hw-common.c). */
const PLATFORM_FILES = ['boot.S', 'platform.c', 'platform.ld'] as const;

/** Flags the platform packages are compiled with on top of the target's (no PIC: boot code). */
export const PLATFORM_CFLAGS = ['-std=c11', '-ffreestanding', '-fno-builtin', '-fno-stack-protector', '-O2', '-fno-pic', '-fno-pie', '-g0', '-Wall', '-Werror'] as const;

/**
 * Components whose init at one level does more than attach: the function (in an EXTRA_SOURCES
 * file) is called after attaching. pci scans bus 0 after mainbus; virtio-mmio probes its slots.
 */
const INIT_HOOKS: Record<string, { level: string; fn: string }> = {
  librumpdev_pci: { level: 'RUMP_COMPONENT_DEV_AFTERMAINBUS', fn: 'rumpns_pci_autoconf' },
  librumpdev_virtio_mmio: { level: 'RUMP_COMPONENT_DEV', fn: 'rumpns_virtio_mmio_autoconf' },
};

/** Activation shims: like the real netinet/netinet6, no global definitions, only link-set entries. */
const SHIMS = new Set(['librumpnet_netinet', 'librumpnet_netinet6']);

/** Extra static sources (components/corpus/*.c) compiled into a component's archive. */
const EXTRA_SOURCES: Record<string, string[]> = {
  librump: ['rumpinit.c'],
  librumpvfs: ['etfs.c'],
  librumpnet_config: ['netconfig.c'],
  librumpdev_pci: ['pcibus.c'],
  librumpdev_virtio_mmio: ['virtio_mmio.c'],
};

/** What one component is in one corpus version. */
export interface CorpusComponentPlan {
  entry: CatalogEntry;
  version: string;
  /** Hard dependencies in this version (friendly names). */
  dependencies: string[];
  /** Targets (of those requested) it ships. */
  targets: Target[];
}

export interface CorpusVersionPlan {
  version: string;
  components: CorpusComponentPlan[];
}

const scoped = (name: string): string => `${DEFAULT_SCOPE}/${name}`;
const major = (version: string): string => version.split('.')[0] ?? version;

/** The NetBSD release branch a corpus version stands for, e.g. `netbsd-10-0-RELEASE`. */
export function corpusUpstreamRef(version: string): string {
  const [ma, mi] = version.split('.');
  return `netbsd-${ma}-${mi}-RELEASE`;
}

/** What the corpus holds for these versions and targets. Pure. */
export function planCorpus(options: { versions?: readonly string[]; targets?: readonly Target[] } = {}): CorpusVersionPlan[] {
  const versions = options.versions ?? CORPUS_VERSIONS;
  const targets = options.targets ?? CORPUS_DEFAULT_TARGETS;
  for (const t of targets) {
    if (!Object.hasOwn(CORPUS_TARGETS, t)) {
      throw new RumpkgError('E_TARGET', `the miniature corpus has no toolchain row for target '${t}'`, {
        context: { target: t },
        hint: `known corpus targets: ${Object.keys(CORPUS_TARGETS).join(', ')}`,
      });
    }
  }
  const catalog = loadCatalog();
  return versions.map((version) => ({
    version,
    components: [...catalog.components, ...CORPUS_EXTRA_COMPONENTS]
      .filter((entry) => !CORPUS_VERSION_CHANGES.some((c) => c.component === entry.name && c.change === 'absent' && c.versions.includes(version)))
      .map((entry) => {
        const extra = CORPUS_VERSION_CHANGES.filter(
          (c) => c.component === entry.name && c.change === 'dependency' && c.versions.includes(version),
        ).map((c) => c.dependency as string);
        const without = CORPUS_VERSION_CHANGES.filter(
          (c) => c.component === entry.name && c.change === 'no-dependency' && c.versions.includes(version),
        ).map((c) => c.dependency as string);
        const dependencies = [...new Set([...entry.dependencies, ...extra])].filter((d) => !without.includes(d)).sort();
        return { entry, version, dependencies, targets: targets.filter((t) => catalogShipsTarget(entry, t)) };
      }),
  }));
}

/**
 * The known providers of each capability in `requires` (manifest `rump.providers`): every corpus
 * component (catalog and CORPUS_EXTRA_COMPONENTS) that provides it, whatever targets it ships —
 * the resolver keeps those that ship the target. So the corpus resolves on a registry whose
 * search does not index keywords. Pure.
 */
export function corpusProviders(requires: readonly string[]): Record<string, string[]> {
  const all = [...loadCatalog().components, ...CORPUS_EXTRA_COMPONENTS];
  const out: Record<string, string[]> = {};
  for (const cap of [...requires].sort()) {
    const names = all.filter((e) => e.provides.includes(cap)).map((e) => scoped(e.name)).sort();
    if (names.length > 0) out[cap] = names;
  }
  return out;
}

/** The manifest of a planned component, given the per-target entries it ships. Pure. */
export function corpusManifest(plan: CorpusComponentPlan, targets: Record<Target, TargetEntry>): ComponentManifest {
  const { entry, version } = plan;
  const range = `^${major(version)}.0.0`;
  const toMap = (names: string[]): Record<string, string> => Object.fromEntries(names.map((n) => [scoped(n), range]));
  const upstream =
    entry.origin === 'netbsd'
      ? { project: 'NetBSD', repository: entry.upstream.repository, ref: corpusUpstreamRef(version), path: entry.upstream.path }
      : { project: entry.upstream.project, repository: entry.upstream.repository, ref: 'master', path: entry.upstream.path };
  return {
    name: scoped(entry.name),
    version,
    license: entry.license,
    description: `${entry.description} (miniature for tests)`,
    keywords: ['rump-component', `rump-lib:${entry.lib}`, ...entry.provides.map((c) => `rump-provides:${c}`)],
    dependencies: toMap(plan.dependencies),
    rump: {
      schemaVersion: 1,
      kind: entry.kind,
      lib: entry.lib,
      aliases: entry.aliases,
      faction: entry.faction,
      initLevels: entry.initLevels,
      requires: entry.requires,
      ...(entry.requires.length === 0 ? {} : { providers: corpusProviders(entry.requires) }),
      provides: entry.provides,
      conflicts: entry.conflicts.map(scoped),
      optionalDependencies: toMap(entry.optionalDependencies),
      targets,
      upstream,
    },
  };
}

function checkLevel(level: string): string {
  if (!(INIT_LEVEL_RUN_ORDER as readonly string[]).includes(level)) throw new Error(`corpus: unknown init level ${level}`);
  return level;
}

/** The generated C source of one component's main object. Pure. */
export function corpusComponentSource(plan: CorpusComponentPlan): string {
  const { entry, version } = plan;
  const libOf = (name: string): string => {
    const e = corpusEntry(name);
    if (e === undefined) throw new Error(`corpus: unknown component ${name}`);
    return e.lib;
  };
  const lib = entry.lib;
  const shim = SHIMS.has(lib);
  const vis = shim ? 'static ' : '';
  const used = shim ? ' __attribute__((used))' : '';
  const deps = plan.dependencies.map(libOf);
  const buses = entry.requires.filter((c) => c.startsWith('bus:')).map((c) => c.slice(4));
  const provided = entry.provides.filter((c) => c.startsWith('bus:')).map((c) => c.slice(4));
  const hostSide = entry.kind === 'component' && entry.platforms.length === 1 && entry.platforms[0] === 'posix';
  const out: string[] = [
    `/*`,
    ` * ${lib} ${version}: miniature of ${entry.upstream.repository} ${entry.upstream.path}`,
    ` * for rumpkg's test corpus (component ${scoped(entry.name)}). Generated by components/corpus.ts;`,
    ` * not NetBSD code. Conventions: components/corpus/README.md.`,
    ` */`,
    `#include "rump_component.h"`,
    ``,
  ];
  for (const d of deps) out.push(`void rumpns_${d}_attach(void); /* hard dependency */`);
  for (const b of buses) out.push(`void rumpns_bus_${b}_attach(void); /* requires bus:${b} */`);
  if (entry.requires.includes('pci-backend')) {
    out.push(`int rumpcomp_pci_confread(unsigned, unsigned, unsigned, int, unsigned *); /* requires pci-backend */`);
    out.push(`static int (*const rumpcomp_pci_backend)(unsigned, unsigned, unsigned, int, unsigned *) __attribute__((used)) = rumpcomp_pci_confread;`);
  }
  if (hostSide) {
    out.push(`int getpid(void); /* host-side hypercall code: host libc (posix only) */`);
    out.push(`static int (*const rumpcomp_host_getpid)(void) __attribute__((used)) = getpid;`);
  }
  out.push(``, `${vis}const char rumpns_${lib}_version[]${used} = "${lib} ${version}";`, `static int attached;`, ``);
  out.push(`${vis}void`, `rumpns_${lib}_attach(void)`, `{`, `\tif (attached)`, `\t\treturn;`, `\tattached = 1;`);
  for (const d of deps) out.push(`\trumpns_${d}_attach();`);
  for (const b of buses) out.push(`\trumpns_bus_${b}_attach();`);
  out.push(`}`);
  if (shim) out.push(`static void (*const rumpns_${lib}_attach_ref)(void) __attribute__((used)) = rumpns_${lib}_attach;`);
  for (const b of provided) {
    out.push(``, `/* provides bus:${b} (weak: another provider, e.g. a platform package, may define it too) */`);
    out.push(`__attribute__((weak)) void`, `rumpns_bus_${b}_attach(void)`, `{`, `\trumpns_${lib}_attach();`, `}`);
  }
  const hook = INIT_HOOKS[lib];
  if (hook !== undefined) out.push(``, `void ${hook.fn}(void); /* ${hook.level}: autoconfiguration */`);
  // One struct per init level, named as NetBSD's RUMP_COMPONENT(LEVEL) names them; registered
  // by constructor or link-set entry per target (rump_component.h RUMP_COMPONENT_REGISTER).
  for (const level of entry.initLevels) {
    checkLevel(level);
    out.push(
      ``,
      `static void`,
      `rumpcompinit${level}(void)`,
      `{`,
      `\trumpns_${lib}_attach();`,
      ...(hook?.level === level ? [`\t${hook.fn}();`] : []),
      `}`,
      `static const struct rump_component rumpcomp${level} = { ${level}, rumpcompinit${level}, "${lib}", "${level}" };`,
      `RUMP_COMPONENT_REGISTER(${level});`,
    );
  }
  return out.join('\n') + '\n';
}

const assetUrl = (file: string): URL => new URL(`./src/${file}`, import.meta.url);
const platformUrl = (file: string): URL => new URL(`./platforms/${file}`, import.meta.url);

async function readAsset(file: string): Promise<string> {
  return readFile(assetUrl(file), 'utf8');
}

/** Source files of one component: file name → text. */
async function componentSources(plan: CorpusComponentPlan): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  files.set('rump_component.h', await readAsset('rump_component.h'));
  if (plan.entry.lib === 'librumpuser') {
    files.set('librumpuser.c', (await readAsset('rumpuser.c')).replace('@VERSION@', plan.version));
    return files;
  }
  const platform = PLATFORM_SOURCES[plan.entry.lib];
  if (platform !== undefined) {
    files.delete('rump_component.h');
    for (const f of PLATFORM_FILES) files.set(f, await readFile(platformUrl(`${platform}/${f}`), 'utf8'));
    files.set('hw-common.c', (await readFile(platformUrl('hw-common.c'), 'utf8')).replace('@VERSION@', plan.version));
    return files;
  }
  files.set(`${plan.entry.lib}.c`, corpusComponentSource(plan));
  for (const f of EXTRA_SOURCES[plan.entry.lib] ?? []) files.set(f, await readAsset(f));
  return files;
}

/** Writes the sources of every planned component under `<outDir>/<version>/<name>/src/`. */
export async function generateCorpus(
  outDir: string,
  options: { versions?: readonly string[]; targets?: readonly Target[] } = {},
): Promise<CorpusVersionPlan[]> {
  const plans = planCorpus(options);
  for (const v of plans) {
    for (const c of v.components) {
      const dir = join(outDir, v.version, c.entry.name, 'src');
      await mkdir(dir, { recursive: true });
      for (const [file, text] of await componentSources(c)) await writeFile(join(dir, file), text);
    }
  }
  return plans;
}

interface ExecResult {
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], options: { cwd?: string; pkg?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: options.cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) return resolve({ stdout, stderr });
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new RumpkgError('E_TOOLCHAIN', `cannot run ${cmd}: not found`, {
            context: { tool: cmd },
            hint: `install it (Debian: apt-get install ${options.pkg ?? cmd})`,
            cause: err,
          }),
        );
      }
      reject(
        new RumpkgError('E_BUILD', `${cmd} failed building the miniature corpus: ${stderr.trim().split('\n').slice(0, 20).join('\n')}`, {
          context: { tool: cmd, cwd: options.cwd },
          cause: err,
        }),
      );
    });
  });
}

function runWithInput(cmd: string, args: string[], input: string, options: { cwd?: string; pkg?: string }): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: options.cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) return resolve({ stdout, stderr });
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new RumpkgError('E_TOOLCHAIN', `cannot run ${cmd}: not found`, { context: { tool: cmd }, hint: `install it (Debian: apt-get install ${options.pkg ?? cmd})`, cause: err })
          : new RumpkgError('E_BUILD', `${cmd} failed building the miniature corpus: ${stderr.trim()}`, { context: { tool: cmd, cwd: options.cwd }, cause: err }),
      );
    });
    child.stdin?.end(input);
  });
}

/** Progress events of buildCorpus (library code never prints). */
export type CorpusEvent =
  | { type: 'compiled'; version: string; target: Target; components: number; ms: number }
  | { type: 'version-done'; version: string; ms: number };

export interface BuildCorpusOptions {
  versions?: readonly string[];
  targets?: readonly Target[];
  /** Compiler for posix targets (default `cc`). */
  cc?: string;
  /** Compiler and archiver processes at once, over all versions and targets (default: the CPUs). */
  jobs?: number;
  onEvent?: (event: CorpusEvent) => void;
}

export interface CorpusBuildResult {
  outDir: string;
  versions: string[];
  targets: Target[];
  /** Component directories written. */
  components: number;
  archives: number;
  ms: number;
}

/**
 * Compiles one version's sources once for targets that share a toolchain row (e.g. hw-x86_64 and
 * xen-x86_64) and archives them per target. Returns target → component name → TargetEntry.
 */
async function buildGroup(
  root: string,
  plan: CorpusVersionPlan,
  group: readonly Target[],
  tc: CorpusToolchain,
  limit: Limiter,
  jobs: number,
): Promise<Map<Target, Map<string, TargetEntry>>> {
  const comps = plan.components.filter((c) => c.targets.some((t) => group.includes(t)));
  const target = group.join('+');
  const obj = await mkdtemp(join(tmpdir(), 'rumpkg-corpus-obj-'));
  try {
    const vdir = join(root, plan.version);
    const prefix = [`-ffile-prefix-map=${vdir}=.`, `-ffile-prefix-map=${obj}=.`];
    const free: string[] = [];
    const hosted: string[] = [];
    const members = new Map<string, string[]>();
    const platforms: CorpusComponentPlan[] = [];
    for (const c of comps) {
      const src = join(vdir, c.entry.name, 'src');
      if (PLATFORM_SOURCES[c.entry.lib] !== undefined) {
        platforms.push(c);
        members.set(c.entry.name, [`${c.entry.name}/platform.o`]);
        continue;
      }
      const files = (await readdir(src)).filter((f) => f.endsWith('.c')).sort();
      members.set(c.entry.name, files.map((f) => f.replace(/\.c$/, '.o')));
      (c.entry.lib === 'librumpuser' ? hosted : free).push(...files.map((f) => join(src, f)));
    }
    // Every compiler process of this version × toolchain at once, each under the limiter: the
    // component sources in `jobs` slices (one `cc -c` per slice; object names are unique per
    // version, so the slices share one object directory), the platform packages, rumpuser.
    if (hosted.length > 0 && tc.hostedCc === null) throw new Error(`corpus: ${target} has no hosted compiler for rumpuser`);
    const register = tc.registration === 'constructor' ? ['-DRUMPKG_REGISTER_BY_CONSTRUCTOR'] : [];
    const per = Math.max(1, Math.ceil(free.length / Math.max(1, jobs)));
    const slices = Array.from({ length: Math.ceil(free.length / per) }, (_, i) => free.slice(i * per, (i + 1) * per));
    await Promise.all([
      ...slices.map((slice) => limit(() => run(tc.cc, [...CORPUS_CFLAGS, ...tc.cflags, ...register, ...prefix, '-c', ...slice], { cwd: obj, pkg: tc.package }))),
      // Platform packages: boot code and hypercalls, compiled without PIC; boot.o and the linker
      // script ship next to the archive (TargetEntry objects / linkerScript).
      ...platforms.map(async (c) => {
        const src = join(vdir, c.entry.name, 'src');
        const pobj = join(obj, c.entry.name);
        await mkdir(pobj, { recursive: true });
        await limit(() => run(tc.cc, [...PLATFORM_CFLAGS, ...tc.cflags, ...prefix, `-ffile-prefix-map=${pobj}=.`, '-c', join(src, 'boot.S'), join(src, 'platform.c')], { cwd: pobj, pkg: tc.package }));
      }),
      ...(hosted.length > 0 ? [limit(() => run(tc.hostedCc as string, ['-std=c11', '-O2', '-fPIE', '-g0', '-Wall', '-Werror', ...prefix, '-c', ...hosted], { cwd: obj, pkg: tc.package }))] : []),
    ]);
    // One ar process per version × target: an MRI script creates every archive (GNU ar writes
    // deterministic archives — zero dates/uids, mode 644, symbol index — like `ar rcsD`).
    const mri: string[] = [];
    for (const [t, c] of group.flatMap((t) => comps.filter((c) => c.targets.includes(t)).map((c) => [t, c] as const))) {
      const dir = join(vdir, c.entry.name, 'lib', t);
      await mkdir(dir, { recursive: true });
      mri.push(`CREATE ${join(dir, `${c.entry.lib}.a`)}`, ...(members.get(c.entry.name) ?? []).map((m) => `ADDMOD ${m}`), 'SAVE');
    }
    mri.push('END', '');
    const bad = mri.find((l) => /[\s;*()+,]/.test(l.slice(l.indexOf(' ') + 1)));
    if (bad !== undefined) {
      throw new RumpkgError('E_BUILD', `cannot build the corpus in ${vdir}: ar MRI scripts do not allow white space or ;*()+, in paths`, {
        context: { path: vdir },
        hint: 'build the corpus in a directory whose path has no such characters',
      });
    }
    await limit(() => runWithInput(tc.ar, ['-M'], mri.join('\n'), { cwd: obj, pkg: tc.package }));
    const out = new Map<Target, Map<string, TargetEntry>>();
    for (const t of group) {
      const entries = new Map<string, TargetEntry>();
      for (const c of comps.filter((c) => c.targets.includes(t))) {
        const archive = join(vdir, c.entry.name, 'lib', t, `${c.entry.lib}.a`);
        const symbols: SymbolEvidence = symbolEvidence(await readFile(archive), { file: archive });
        const entry: TargetEntry = { archive: `lib/${t}/${c.entry.lib}.a`, symbols };
        if (PLATFORM_SOURCES[c.entry.lib] !== undefined) {
          await writeFile(join(vdir, c.entry.name, 'lib', t, 'boot.o'), await readFile(join(obj, c.entry.name, 'boot.o')));
          await writeFile(join(vdir, c.entry.name, 'lib', t, 'platform.ld'), await readFile(join(vdir, c.entry.name, 'src', 'platform.ld')));
          entry.objects = [`lib/${t}/boot.o`];
          entry.linkerScript = `lib/${t}/platform.ld`;
        }
        entry.abiFlags = c.entry.lib === 'librumpuser' ? [] : tc.abiFlags;
        entries.set(c.entry.name, entry);
      }
      out.set(t, entries);
    }
    return out;
  } finally {
    await rm(obj, { recursive: true, force: true });
  }
}

/** Runs the functions given to it with at most `jobs` of them in flight (the rest wait in order). */
type Limiter = <R>(fn: () => Promise<R>) => Promise<R>;

function createLimiter(jobs: number): Limiter {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <R>(fn: () => Promise<R>): Promise<R> => {
    if (active >= jobs) await new Promise<void>((go) => waiting.push(go));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * Generates and compiles the corpus into `outDir` (see the module head for the layout). Writes
 * into `outDir` directly; callers that need atomicity build into a temporary directory and rename
 * it (test/helpers/corpus.ts does).
 */
export async function buildCorpus(outDir: string, options: BuildCorpusOptions = {}): Promise<CorpusBuildResult> {
  const started = Date.now();
  const targets = [...(options.targets ?? CORPUS_DEFAULT_TARGETS)];
  const versions = [...(options.versions ?? CORPUS_VERSIONS)];
  const plans = await generateCorpus(outDir, { versions, targets });
  const table = (t: Target): CorpusToolchain => {
    const row = CORPUS_TARGETS[t] as CorpusToolchain;
    if (options.cc === undefined || !t.startsWith('posix-')) return row;
    return { ...row, cc: options.cc, hostedCc: options.cc };
  };
  const jobs = Math.max(1, options.jobs ?? availableParallelism());
  const limit = createLimiter(jobs);
  // Targets with the same toolchain row share one compilation.
  const bySig = new Map<string, Target[]>();
  for (const t of targets) {
    const row = table(t);
    const sig = JSON.stringify([row.cc, row.cflags, row.hostedCc, row.registration]);
    bySig.set(sig, [...(bySig.get(sig) ?? []), t]);
  }
  const groups = [...bySig.values()];
  let components = 0;
  let archives = 0;
  // Every version × toolchain at once; the limiter keeps `jobs` processes running until the end.
  await Promise.all(plans.map(async (plan) => {
    const t0 = Date.now();
    const entries = new Map<string, Record<Target, TargetEntry>>(plan.components.map((c) => [c.entry.name, {}]));
    await Promise.all(groups.map(async (group) => {
      const t1 = Date.now();
      const built = await buildGroup(outDir, plan, group, table(group[0] as Target), limit, jobs);
      for (const [target, byName] of built) {
        for (const [name, e] of byName) (entries.get(name) as Record<Target, TargetEntry>)[target] = e;
        archives += byName.size;
        options.onEvent?.({ type: 'compiled', version: plan.version, target, components: byName.size, ms: Date.now() - t1 });
      }
    }));
    for (const c of plan.components) {
      const targetEntries = entries.get(c.entry.name) as Record<Target, TargetEntry>;
      const dir = join(outDir, plan.version, c.entry.name);
      if (Object.keys(targetEntries).length === 0) {
        // Ships none of the requested targets: no component directory for it in this build.
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      await writeFile(join(dir, 'package.json'), JSON.stringify(corpusManifest(c, targetEntries), null, 2) + '\n');
      components++;
    }
    options.onEvent?.({ type: 'version-done', version: plan.version, ms: Date.now() - t0 });
  }));
  return { outDir, versions, targets, components, archives, ms: Date.now() - started };
}

/** Files whose content determines the corpus (for cache keys): generator, C assets, catalog. */
export async function corpusInputFiles(): Promise<string[]> {
  const dir = fileURLToPath(new URL('./src/', import.meta.url));
  const assets = (await readdir(dir)).filter((f) => /\.(c|h)$/.test(f)).sort().map((f) => join(dir, f));
  const pdir = fileURLToPath(new URL('./platforms/', import.meta.url));
  assets.push(join(pdir, 'hw-common.c'));
  for (const t of [...new Set(Object.values(PLATFORM_SOURCES))].sort()) for (const f of PLATFORM_FILES) assets.push(join(pdir, t, f));
  // The TypeScript sources whenever they are there (a checkout), also when running from dist/:
  // the tests (sources) and the demo (dist/) then compute the same key and share one cache.
  const fromDist = import.meta.url.endsWith('.js');
  const dist = new URL('../../', import.meta.url);
  const repo = fromDist ? new URL('../', dist) : dist;
  const code = (rel: string): string => {
    const ts = fileURLToPath(new URL(`${rel}.ts`, repo));
    return existsSync(ts) ? ts : fileURLToPath(new URL(`${rel}.js`, dist));
  };
  return [code('scripts/corpus/corpus'), code('components/catalog/catalog'), fileURLToPath(new URL('../../components/catalog/netbsd.json', import.meta.url)), ...assets];
}

/**
 * A fingerprint of everything a corpus build depends on: generator sources, C assets, the
 * catalog, the compiler versions of the targets, the versions and targets requested.
 */
export async function corpusFingerprint(options: { versions?: readonly string[]; targets?: readonly Target[]; cc?: string } = {}): Promise<string> {
  const h = createHash('sha256');
  const targets = [...(options.targets ?? CORPUS_DEFAULT_TARGETS)];
  h.update(JSON.stringify({ versions: options.versions ?? CORPUS_VERSIONS, targets, cc: options.cc ?? null }));
  for (const f of await corpusInputFiles()) {
    h.update(f.split('/').slice(-2).join('/'));
    h.update(await readFile(f));
  }
  const compilers = new Set<string>();
  for (const t of targets) {
    const row = CORPUS_TARGETS[t];
    if (row === undefined) continue;
    compilers.add(t.startsWith('posix-') && options.cc !== undefined ? options.cc : row.cc);
  }
  for (const cc of [...compilers].sort()) {
    try {
      h.update((await run(cc, ['--version'])).stdout);
    } catch {
      h.update(`${cc}: missing`);
    }
  }
  return h.digest('hex').slice(0, 16);
}
