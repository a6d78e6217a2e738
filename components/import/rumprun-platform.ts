/**
 * `rumpkg import platform DIR --target hw-x86_64`: rumprun's bare-metal layer, as installed by
 * rumprun's build (`build-rr.sh hw`), → one platform package directory:
 *
 *   <out>/rumprun-<platform>/package.json
 *   <out>/rumprun-<platform>/lib/<target>/rumprun.o            the platform object (bmk: multiboot
 *                                                              boot, threads, scheduler, memory,
 *                                                              clock, console, PCI, interrupts; the
 *                                                              rumpuser hypercalls; compiler-rt)
 *   <out>/rumprun-<platform>/lib/<target>/librumprun_base.a    rumprun's own runtime (config,
 *                                                              program start-up, the syscall glue)
 *   <out>/rumprun-<platform>/lib/<target>/librumprunfs_base.o  the /etc files (an ELF object that
 *                                                              rumprun installs under a `.a` name)
 *   <out>/rumprun-<platform>/lib/<target>/<platform>.ldscript  the linker script
 *   <out>/rumprun-<platform>/lib/<target>/lib{c,pthread,m,util,prop}.a   the NetBSD userland
 *   <out>/rumprun-<platform>/include/<target>/…                 the headers applications compile against
 *
 * The input layout is rumprun's install prefix: `lib/rumprun-<platform>/{rumprun.o,
 * librumprun_base.a, librumprunfs_base.a}`, `lib/<platform>.ldscript`, `lib/lib*.a`, `include/`.
 * Nothing of rumprun's own tooling (rumprun-bake, its .conf, the compiler wrapper and specs) is
 * read or copied: how images are compiled, linked and booted is rumpkg's, recorded as data in the
 * manifest's `platform` object (schemas/component-manifest.schema.ts) and carried out by
 * packager/build and packager/run.
 *
 * Headers ship in the package (1.4k files, ~1.9 MB compressed), under `include/<target>/`, and are
 * used with `-isystem`: an application must compile against exactly the userland it links with,
 * and the package's integrity then covers both. Symbolic links inside the tree (`machine` →
 * `amd64`, `stdbool.h` → `sys/stdbool.h`) are copied as the files they point to, because component
 * tarballs hold regular files only; a link that leaves `include/` is refused (E_TAR_PATH), a
 * dangling one is skipped with a warning (rumprun installs `sys/soundcard.h` → `../soundcard.h`
 * without the file).
 *
 * Dependencies: `librumprun_base.a`'s undefined references are looked up in the kernel archives
 * next to it (`lib/rumprun-<platform>/librump*.a`): librump is a hard edge; the others it
 * references (librumpnet_config's `rump_pub_netconfig_*`, for the `net` configuration) are
 * optional, because rumpkg's generated glue defines weak stand-ins so an image without networking
 * links. One requirement no symbol shows is added as a hard edge: librumpkern_mman — libpthread
 * allocates its thread storage with `mmap` at start-up, a system call that component registers;
 * without it every program fails before `main` ("Cannot allocate pthread storage"); and, with
 * the /etc object, librumpvfs — its constructor creates /etc in the rump kernel's file system
 * before `main` (without it: "PANIC: platefs: mkdir"; measured). Components
 * the platform uses when they are there (tmpfs for /tmp, the bmktc timecounter, bpf for DHCP)
 * are optional edges.
 *
 * Provides `hypercall:17` (bmk's rumpuser implementation) and `pci-backend` (bmk's PCI
 * configuration and interrupt hypercalls that librumpdev_pci needs).
 *
 * Checks: the platform object, every userland archive and the platform archive are ELF for the
 * target's architecture (E_ARCH naming the file); a missing required file is E_NOT_FOUND naming
 * it. Nothing is written on failure: the package is built in a staging directory and renamed.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, cp, lstat, mkdir, readdir, readlink, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { openFileSource, readArchiveTables, summarizeArchive } from '../binary/index.js';
import { loadCatalog, type Catalog } from '../catalog/index.js';
import { checkManifest, loadComponentDir, normalizeManifest } from '../documents/index.js';
import { DEFAULT_SCOPE, HYPERCALL_ABI_VERSION, RumpkgError, fsError, isRumpkgError, parseTarget, parseVersion, type ComponentManifest, type TargetEntry } from '../model/index.js';
import { formatProblems } from '../../schemas/index.js';
import { readArchiveScan } from './import-symbols.js';

interface ImportPlatformOptions {
  target: string;
  version: string;
  /** Output directory (created); the package goes to `<out>/rumprun-<platform>`. */
  out: string;
  /** The rumprun commit the build came from (recorded as `upstream.commit`). */
  upstreamCommit?: string;
  /** `upstream.ref`; default the commit, else `unknown`. */
  upstreamRef?: string;
  license?: string;
  catalog?: Catalog;
}

export interface ImportPlatformResult {
  name: string;
  dir: string;
  target: string;
  manifest: ComponentManifest;
  /** Library → the symbols of librumprun_base it defines (what proves each edge). */
  edges: Array<{ lib: string; name: string; kind: 'hard' | 'optional' | 'init-time'; symbols: string[] }>;
  /** Whether an existing package directory gained this target. */
  merged: boolean;
  warnings: string[];
}

/** How rumpkg compiles an application for the rumprun convention (FINDINGS: the flags rumprun's toolchain uses, for clang). */
const RUMPRUN_CFLAGS: Record<string, string[]> = {
  x86_64: ['-nostdinc', '-D__RUMPRUN__', '-mno-red-zone', '-fno-stack-protector', '-fcommon', '-fno-pic'],
};

/** The clang triple of the NetBSD userland for an arch. */
const NETBSD_TRIPLE: Record<string, string> = { x86_64: 'x86_64-unknown-netbsd' };

const ELF_MACHINE: Record<string, number> = { x86_64: 62, i386: 3, aarch64: 183, arm: 40, riscv64: 243 };

/** Userland archives: required first, then the ones linked when present (only referenced members land in an image). */
const USERLAND_REQUIRED = ['libc.a', 'libpthread.a'];
const USERLAND_OPTIONAL = ['libm.a', 'libutil.a', 'libprop.a'];

/** Kernel components the platform needs that no symbol shows (see the module head); `fsBase`: only with the /etc object. */
const INIT_TIME = [
  { lib: 'librumpkern_mman', fsBase: false, why: 'libpthread calls mmap at start-up; librumpkern_mman registers that system call' },
  { lib: 'librumpvfs', fsBase: true, why: 'the /etc object creates its files in the rump kernel\'s file system at start-up (else PANIC: platefs: mkdir)' },
];

/** Kernel components the platform uses when they are linked, recorded as optional edges. */
const USES_WHEN_PRESENT = [
  { lib: 'librumpfs_tmpfs', why: 'the platform mounts a tmpfs on /tmp at boot (else it prints that the mount failed)' },
  { lib: 'librumpkern_bmktc', why: "the platform clock as a 1 GHz timecounter (else the 100 Hz clock interrupt's)" },
  { lib: 'librumpdev_bpf', why: 'the DHCP client of the network configuration opens a bpf device' },
];

/** rumprun's own libraries, never kernel components (`rumpkg import archives` skips them). */
export const RUMPRUN_PLATFORM_LIBS: ReadonlySet<string> = new Set(['librumprun_base', 'librumprunfs_base', 'librumprun_tester']);

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function need(p: string, what: string): Promise<string> {
  if (!(await isFile(p))) {
    throw new RumpkgError('E_NOT_FOUND', `${what} not found: ${p}`, {
      context: { path: p },
      hint: 'point rumpkg import platform at a rumprun install prefix (the directory holding lib/rumprun-<platform>/ and include/)',
    });
  }
  return p;
}

/** Checks that an object or archive holds ELF objects for `arch` (E_ARCH / E_ELF name the file). */
async function checkMachine(path: string, arch: string, target: string): Promise<ReturnType<typeof summarizeArchive>> {
  const source = await openFileSource(path, { sync: true });
  try {
    const s = summarizeArchive(await readArchiveTables(source));
    if (s.machine !== null && s.machine !== ELF_MACHINE[arch]) {
      throw new RumpkgError('E_ARCH', `${path} holds ${s.machineName ?? `machine ${s.machine}`} objects, but the target is ${target}`, {
        context: { path, machine: s.machineName, target },
        hint: 'import the rumprun build made for this target',
      });
    }
    return s;
  } finally {
    await source.close();
  }
}

/**
 * Copies a header tree, turning symbolic links into the files or directories they point to.
 * A link whose target leaves `root` is refused; a cycle is cut by the depth limit.
 */
async function copyHeaders(root: string, from: string, to: string, skipped: string[], depth = 0): Promise<number> {
  if (depth > 32) throw new RumpkgError('E_TAR_LIMIT', `${from} is nested deeper than 32 levels (a symbolic link cycle?)`, { context: { path: from } });
  await mkdir(to, { recursive: true });
  let n = 0;
  for (const e of (await readdir(from, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const src = join(from, e.name);
    let real = src;
    if (e.isSymbolicLink()) {
      try {
        real = await realpath(src);
      } catch {
        // A dangling link (rumprun installs sys/soundcard.h → ../soundcard.h, which its build
        // does not install): nothing to copy.
        skipped.push(`${relative(root, src)} → ${await readlink(src).catch(() => '?')}`);
        continue;
      }
      const rel = relative(root, real);
      if (rel === '' || rel.startsWith('..') || rel.startsWith(sep) || resolve(root, rel) !== real) {
        throw new RumpkgError('E_TAR_PATH', `${src} is a symbolic link to ${real}, outside ${root}`, {
          context: { path: src, target: real },
          hint: 'a platform package holds its own headers only',
        });
      }
    }
    const st = await lstat(real);
    if (st.isDirectory()) n += await copyHeaders(root, real, join(to, e.name), skipped, depth + 1);
    else if (st.isFile()) {
      await copyFile(real, join(to, e.name));
      n++;
    }
  }
  return n;
}

/** Imports rumprun's bare-metal layer for one target (see the module head). */
export async function importRumprunPlatform(dir: string, options: ImportPlatformOptions): Promise<ImportPlatformResult> {
  const { target } = options;
  const { platform, arch } = parseTarget(target);
  const version = parseVersion(options.version, { what: 'import version' });
  if (platform !== 'hw' || NETBSD_TRIPLE[arch] === undefined) {
    throw new RumpkgError('E_TARGET', `rumpkg imports rumprun's bare-metal platform for hw-x86_64, not for ${target}`, {
      context: { target },
      hint: 'rumprun supports hw on x86_64 (and i386/arm, which rumpkg has not been tested with); xen is not imported',
    });
  }
  const root = resolve(dir);
  const rr = join(root, 'lib', `rumprun-${platform}`);
  const platformObject = await need(join(rr, 'rumprun.o'), `the rumprun platform object`);
  const baseArchive = await need(join(rr, 'librumprun_base.a'), `rumprun's base library`);
  const ldscript = await need(join(root, 'lib', `${platform}.ldscript`), 'the linker script');
  const fsBase = (await isFile(join(rr, 'librumprunfs_base.a'))) ? join(rr, 'librumprunfs_base.a') : undefined;
  const userland = [...(await Promise.all(USERLAND_REQUIRED.map((f) => need(join(root, 'lib', f), `the userland library ${f}`))))];
  for (const f of USERLAND_OPTIONAL) if (await isFile(join(root, 'lib', f))) userland.push(join(root, 'lib', f));
  const include = join(root, 'include');
  await need(join(include, 'sys', 'types.h'), 'the headers (include/sys/types.h)');

  await checkMachine(platformObject, arch, target);
  if (fsBase !== undefined) await checkMachine(fsBase, arch, target);
  for (const u of userland) await checkMachine(u, arch, target);
  const base = await readArchiveScan(baseArchive, { lib: 'librumprun_base', sync: true });
  if (base.machine !== null && base.machine !== ELF_MACHINE[arch]) {
    throw new RumpkgError('E_ARCH', `${baseArchive} holds ${base.machineName} objects, but the target is ${target}`, { context: { path: baseArchive, target } });
  }

  // Edges: which kernel archive next to it defines what librumprun_base references.
  const catalog = options.catalog ?? loadCatalog();
  const nameOfLib = new Map(catalog.components.map((c) => [c.lib, c.name]));
  const warnings: string[] = [];
  const providers = new Map<string, string>();
  let kernelLibs: string[] = [];
  try {
    kernelLibs = (await readdir(rr)).filter((f) => /^librump[a-z0-9_]*\.a$/.test(f) && !RUMPRUN_PLATFORM_LIBS.has(f.slice(0, -2))).sort();
  } catch (e) {
    throw fsError(e, rr, 'read directory');
  }
  for (const f of kernelLibs) {
    const lib = f.slice(0, -2);
    const scan = await readArchiveScan(join(rr, f), { lib, sync: true });
    for (const n of [...scan.strong, ...scan.common]) if (!providers.has(n)) providers.set(n, lib);
  }
  const proven = new Map<string, string[]>();
  for (const n of base.undefined) {
    const lib = providers.get(n);
    if (lib !== undefined) proven.set(lib, [...(proven.get(lib) ?? []), n]);
  }
  if (!proven.has('librump')) warnings.push(`no librump.a next to ${baseArchive}: the edge to the rump kernel base is recorded without symbol evidence`);
  const range = `^${version.split('.')[0]}.0.0`;
  const scoped = (lib: string): string | undefined => {
    const n = nameOfLib.get(lib);
    if (n === undefined) warnings.push(`${lib} is not in the catalog; its edge from the platform is not recorded`);
    return n === undefined ? undefined : `${DEFAULT_SCOPE}/${n}`;
  };
  const edges: ImportPlatformResult['edges'] = [];
  const dependencies: Record<string, string> = {};
  const optionalDependencies: Record<string, string> = {};
  for (const lib of ['librump', ...[...proven.keys()].filter((l) => l !== 'librump').sort()]) {
    const name = scoped(lib);
    if (name === undefined) continue;
    const kind = lib === 'librump' ? 'hard' : 'optional';
    (kind === 'hard' ? dependencies : optionalDependencies)[name] = range;
    edges.push({ lib, name, kind, symbols: (proven.get(lib) ?? []).slice(0, 8) });
  }
  for (const { lib, fsBase: withFs } of INIT_TIME) {
    if (withFs && fsBase === undefined) continue;
    const name = scoped(lib);
    if (name === undefined) continue;
    dependencies[name] = range;
    delete optionalDependencies[name];
    edges.push({ lib, name, kind: 'init-time', symbols: [] });
  }
  for (const { lib } of USES_WHEN_PRESENT) {
    const name = scoped(lib);
    if (name === undefined || dependencies[name] !== undefined || optionalDependencies[name] !== undefined) continue;
    optionalDependencies[name] = range;
    edges.push({ lib, name, kind: 'optional', symbols: [] });
  }

  const pkgName = `rumprun-${platform}`;
  const L = `lib/${target}`;
  const files = {
    object: `${L}/rumprun.o`,
    fsBase: `${L}/librumprunfs_base.o`,
    archive: `${L}/librumprun_base.a`,
    ldscript: `${L}/${platform}.ldscript`,
    include: `include/${target}`,
  };
  const entry: TargetEntry = {
    archive: files.archive,
    symbols: base.evidence,
    objects: [files.object, ...(fsBase === undefined ? [] : [files.fsBase])],
    linkerScript: files.ldscript,
    platform: {
      convention: 'rumprun',
      compile: { triple: NETBSD_TRIPLE[arch] as string, cflags: [...(RUMPRUN_CFLAGS[arch] ?? [])], include: [files.include] },
      libraries: userland.map((u) => `${L}/${basename(u)}`),
      maxPageSize: 4096,
    },
  };
  const commit = options.upstreamCommit;
  if (commit !== undefined && !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) {
    throw new RumpkgError('E_USAGE', `--upstream-commit must be a full commit id (40 or 64 hex digits), not ${commit}`, { context: { commit } });
  }
  let manifest = normalizeManifest({
    name: `${DEFAULT_SCOPE}/${pkgName}`,
    version,
    license: options.license ?? 'BSD-2-Clause AND BSD-3-Clause',
    description:
      `rumprun's ${platform} platform (bmk: multiboot boot, threads and scheduler, memory, clock, console, PCI and interrupts; ` +
      `rumpuser hypercalls ABI ${HYPERCALL_ABI_VERSION}) with the NetBSD userland and headers applications are built against: real NetBSD drivers on bare metal`,
    keywords: ['rump-component', 'rump-lib:librumprun_base', `rump-provides:hypercall:${HYPERCALL_ABI_VERSION}`, 'rump-provides:pci-backend', 'rump-platform:rumprun'],
    dependencies,
    rump: {
      schemaVersion: 1,
      kind: 'platform',
      lib: 'librumprun_base',
      aliases: ['rumprun', 'librumprun_base'],
      faction: 'hypercall',
      initLevels: [],
      requires: [],
      provides: [`hypercall:${HYPERCALL_ABI_VERSION}`, 'pci-backend'],
      conflicts: [],
      optionalDependencies,
      targets: { [target]: entry },
      upstream: {
        project: 'rumprun',
        repository: 'rumpkernel/rumprun',
        ref: options.upstreamRef ?? commit ?? 'unknown',
        ...(commit === undefined ? {} : { commit }),
        path: `platform/${platform}`,
      },
    },
  } as Parameters<typeof normalizeManifest>[0]);

  // Stage, then swap in; an existing package of the same name and version gains the target.
  const out = resolve(options.out);
  const dest = join(out, pkgName);
  try {
    await mkdir(out, { recursive: true });
  } catch (e) {
    throw fsError(e, out, 'create');
  }
  const staging = join(out, `.rumpkg-import-${process.pid}-${randomBytes(6).toString('hex')}`);
  let merged = false;
  try {
    const work = join(staging, pkgName);
    if (await isFile(join(dest, 'package.json'))) {
      const prev = await loadComponentDir(dest);
      if (prev.value === undefined || prev.value.name !== manifest.name || prev.value.version !== manifest.version) {
        throw new RumpkgError('E_EXISTS', `${dest} already holds ${prev.value === undefined ? 'an invalid component' : `${prev.value.name}@${prev.value.version}`}; refusing to merge ${manifest.name}@${manifest.version} into it`, {
          context: { path: dest },
          hint: 'import into another --out directory',
        });
      }
      manifest = normalizeManifest({ ...prev.value, rump: { ...prev.value.rump, targets: { ...prev.value.rump.targets, [target]: entry } } });
      merged = true;
      await cp(dest, work, { recursive: true });
      await rm(join(work, L), { recursive: true, force: true });
      await rm(join(work, files.include), { recursive: true, force: true });
    }
    await mkdir(join(work, L), { recursive: true });
    await copyFile(platformObject, join(work, files.object));
    if (fsBase !== undefined) await copyFile(fsBase, join(work, files.fsBase));
    await copyFile(baseArchive, join(work, files.archive));
    await copyFile(ldscript, join(work, files.ldscript));
    for (const u of userland) await copyFile(u, join(work, L, basename(u)));
    const dangling: string[] = [];
    await copyHeaders(include, include, join(work, files.include), dangling);
    if (dangling.length > 0) warnings.push(`skipped ${dangling.length} dangling symbolic link${dangling.length === 1 ? '' : 's'} in the headers: ${dangling.join(', ')}`);
    await writeFile(join(work, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const check = await loadComponentDir(work);
    if (check.value === undefined) throw new Error(`import produced an invalid platform manifest:\n${formatProblems(check.errors)}`);
    const problems = checkManifest(manifest, { file: join(dest, 'package.json') });
    if (problems.length > 0) throw new Error(`import produced an invalid platform manifest:\n${formatProblems(problems)}`);
    if (merged) await rename(dest, join(staging, `${pkgName}.old`));
    await mkdir(dirname(dest), { recursive: true });
    await rename(work, dest);
  } catch (e) {
    if (isRumpkgError(e) || !(e instanceof Error && 'code' in e)) throw e;
    throw fsError(e, out, 'write');
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { name: manifest.name, dir: dest, target, manifest, edges, merged, warnings };
}
