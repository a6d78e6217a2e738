/**
 * The link plan: everything `rumpkg build` will do to make an image, as data (DESIGN.md §7).
 * `planLink` is pure; `rumpkg build --dry-run` prints the plan and the real build executes the
 * very same plan (build.ts), so what is printed is what runs.
 *
 * Reproducibility: every path in `steps` is a fixed relative path inside a private build
 * directory (sources under `src/N/`, objects under `obj/`, archives under `lib/<component>/`),
 * so no absolute or temporary path reaches the image; the inputs come in a fixed order (the
 * application's, then the glue, then the components in lockfile link order, then the platform
 * package); the link uses `-Wl,--build-id=none`; no timestamps are involved (compiling without
 * `-g`, there is no compilation directory to record). Only `files[].from` holds absolute paths:
 * they say where staged inputs are copied from and never appear in commands.
 *
 * Link line: application objects, the glue object, `-Wl,--whole-archive` the component archives
 * `-Wl,--no-whole-archive` (rump components are found through the `link_set_rump_components`
 * section, not by symbol references, so every member must be kept), the platform package's
 * archive, its ldflags, and for hosted platforms the libc the `cc` driver adds by itself.
 * The image manifest is a non-allocated section `.rumpkg.manifest`: it takes no memory at run
 * time and does not move any code. On hosted targets whose objects carry no ELF flags to agree on
 * (x86_64, i386, aarch64) it is linked in as a small object after the archives
 * (manifest-object.ts; GNU ld puts the section where objcopy would), elsewhere it is added to the
 * linked image with `objcopy --add-section .rumpkg.manifest=…`.
 *
 * Freestanding targets (a toolchain with an `ld` tool, e.g. hw-*): the link is `ld.lld` itself,
 * `ld.lld --build-id=none -static -Map=image.map -T <platform.ld> -o image.linked <platform
 * objects (boot.o)> <app> <glue> --whole-archive <components> --no-whole-archive <platform
 * archive>`; there is no libc and no crt, the platform package's boot object and linker script
 * take their place. A freestanding closure without a platform package, or a platform package
 * without a linker script, cannot make a bootable image: E_BUILD before anything runs.
 *
 * A platform package with a `platform` convention (rumprun.ts; today only `rumprun`) decides the
 * rest from its manifest, not from the target's name: application sources and the glue are
 * compiled by the same clang for the platform's triple with its flags and `-isystem` its header
 * directories (staged as links into the package: `lib/<platform>/include<N>`; `-MD` records which
 * headers a compile read, for the build stamp); the link adds `-z max-page-size=…` and ends with
 * `--start-group <platform archive> <its userland libraries> --end-group`. So on hw-x86_64 the
 * same link plan makes a miniature image or one with real NetBSD drivers, whichever platform
 * package the registry served.
 */
import { MANIFEST_SECTION, RumpkgError, type LockedTarget, type PlatformConvention, type Target, type TargetEntry } from '../../components/index.js';
import { entrySymbol } from './glue.js';
import { parseTarget } from './targets.js';
import { HOSTED_BASE_CFLAGS, type Toolchain, type ToolName } from './toolchain.js';
import { manifestObjectFits, manifestObjectParts } from './manifest-object.js';

/** The image manifest as an object for the link (manifest-object.ts). */
const MANIFEST_OBJECT = 'rumpkg-manifest.o';

type PlanFileRole = 'app-source' | 'app-object' | 'app-header' | 'glue' | 'manifest' | 'manifest-object' | 'archive' | 'platform-archive' | 'platform-object' | 'platform-library' | 'linker-script' | 'include-dir';

/**
 * A file the build directory must hold before the steps run: copied from `from`, or `content`.
 * An `include-dir` is a directory of the platform package, staged as a symbolic link to `from`.
 * A `manifest-object` is the ELF object `renderManifestObject(content, target)` (manifest-object.ts):
 * `content` is the manifest text it carries.
 */
export interface PlanFile {
  path: string;
  role: PlanFileRole;
  /** The component it belongs to (archives, platform objects). */
  component?: string;
  /** Absolute path it is copied from. */
  from?: string;
  /** Generated content (glue source, image manifest). */
  content?: string;
}

export interface PlanStep {
  tool: ToolName;
  /** The program and its fixed leading arguments (e.g. `['cc']`). */
  command: string[];
  args: string[];
  /** Always `.`: the build directory. */
  cwd: '.';
  description: string;
}

interface PlanInput {
  path: string;
  role: 'app-object' | 'glue-object' | 'archive' | 'platform-archive' | 'platform-object' | 'platform-library';
  component?: string;
  wholeArchive: boolean;
}

export interface LinkPlan {
  planVersion: 1;
  target: Target;
  toolchain: { id: string; libc: 'host' | 'none'; tools: Partial<Record<ToolName, string[]>> };
  files: PlanFile[];
  /** The link inputs in link order. */
  inputs: PlanInput[];
  flags: { cflags: string[]; ldflags: string[]; platformLdflags: string[] };
  steps: PlanStep[];
  /** The image inside the build directory. */
  output: string;
  /** The linker map inside the build directory (size attribution). */
  map: string;
  /** Where the build puts the image (informational; never used in a step). */
  destination: string;
  /** Entry point object (in the build dir) → the symbol its `main` became. */
  entries: Array<{ object: string; symbol: string }>;
  /** The platform package's convention for making images (absent: rumpkg's glue). */
  convention?: 'rumprun';
}

interface AppInput {
  /** C sources (absolute paths), compiled in this order. */
  sources: string[];
  /** Prebuilt application objects (absolute paths). */
  objects: string[];
  /**
   * The sources/objects that each hold one entry point (`main`), in order. When absent or empty,
   * the whole application is one program and `main` is renamed in every application object.
   */
  entries?: string[];
  /** The application's own headers (absolute paths), staged together so `#include "x.h"` finds them. */
  headers?: string[];
}

interface PlanLinkOptions {
  target: Target;
  lockedTarget: LockedTarget;
  /** Component name → directory where it is unpacked (package root). */
  componentDirs: Record<string, string>;
  /** Component name → what it ships for this target (from its package.json); default `lib/<target>/<lib>.a`. */
  componentTargets?: Record<string, TargetEntry>;
  app: AppInput;
  /** The rendered glue C source (see renderGlue). */
  glue: string;
  /** The rendered image manifest JSON (see renderImageManifest). */
  manifest: string;
  /** Final image path (informational). */
  output: string;
  toolchain: Toolchain;
  /** Extra compiler flags for the application (rumpkg.json image.cflags). */
  cflags?: string[];
}

/** A component name as a directory name: `@rump/tcpip` → `rump+tcpip`. */
export function componentSlug(name: string): string {
  const s = name.replace(/^@/, '').replace(/\//g, '+');
  if (!/^[A-Za-z0-9._+-]+$/.test(s) || s.startsWith('.')) {
    throw new RumpkgError('E_NAME', `component name '${name}' cannot be used as a build path`, { context: { component: name } });
  }
  return s;
}

function baseName(p: string): string {
  const b = p.split('/').pop() ?? p;
  return b.replace(/[^A-Za-z0-9._+-]/g, '_') || 'file';
}

/** Plans the build of one image. Pure: reads nothing, runs nothing. */
export function planLink(options: PlanLinkOptions): LinkPlan {
  const { target, lockedTarget, componentDirs, app, toolchain } = options;
  const info = parseTarget(target);
  const files: PlanFile[] = [];
  const steps: PlanStep[] = [];
  const inputs: PlanInput[] = [];
  const cmd = (tool: ToolName): string[] => {
    const t = toolchain.tools[tool];
    if (t === undefined) throw new Error(`toolchain ${toolchain.id} has no ${tool}`);
    return [t.command, ...t.args];
  };

  // Components: everything in link order, the platform package separately at the end.
  const entryFor = (name: string): TargetEntry => {
    const given = options.componentTargets?.[name];
    if (given !== undefined) return given;
    const locked = lockedTarget.components[name];
    if (locked === undefined) throw new RumpkgError('E_LOCKFILE', `link order names ${name}, which the lockfile's ${target} closure does not contain`, { context: { component: name, target } });
    return { archive: `lib/${target}/${locked.lib}.a` };
  };
  const dirFor = (name: string): string => {
    const d = componentDirs[name];
    if (d === undefined) {
      throw new RumpkgError('E_NOT_FOUND', `component ${name} is locked for ${target} but not available in the store`, {
        context: { component: name, target },
        hint: 'run rumpkg install to fetch the locked components',
      });
    }
    return d.replace(/\/+$/, '');
  };
  const platform = lockedTarget.platform;
  const abiFlags: string[] = [];
  const archives: PlanInput[] = [];
  let platformArchive: PlanInput | undefined;
  const platformObjects: PlanInput[] = [];
  let linkerScript: string | undefined;
  let platformLdflags: string[] = [];
  let convention: PlatformConvention | undefined;
  const platformLibraries: PlanInput[] = [];
  const includeDirs: string[] = [];
  const order = [...lockedTarget.linkOrder.filter((n) => n !== platform), ...(platform === null ? [] : [platform])];
  for (const name of order) {
    const entry = entryFor(name);
    const slug = componentSlug(name);
    const dir = dirFor(name);
    const isPlatform = name === platform;
    if (entry.include !== undefined) {
      // Headers the application compiles against, linked (not copied) into the build directory.
      files.push({ path: `inc/${slug}`, role: 'include-dir', component: name, from: `${dir}/${entry.include}` });
      includeDirs.push(`inc/${slug}`);
    }
    for (const f of entry.abiFlags ?? []) if (!abiFlags.includes(f)) abiFlags.push(f);
    const path = `lib/${slug}/${baseName(entry.archive)}`;
    files.push({ path, role: isPlatform ? 'platform-archive' : 'archive', component: name, from: `${dir}/${entry.archive}` });
    const input: PlanInput = { path, role: isPlatform ? 'platform-archive' : 'archive', component: name, wholeArchive: !isPlatform };
    if (isPlatform) {
      platformArchive = input;
      (entry.objects ?? []).forEach((o, i) => {
        const p = `lib/${slug}/obj${i}-${baseName(o)}`;
        files.push({ path: p, role: 'platform-object', component: name, from: `${dir}/${o}` });
        platformObjects.push({ path: p, role: 'platform-object', component: name, wholeArchive: false });
      });
      if (entry.linkerScript !== undefined) {
        linkerScript = `lib/${slug}/${baseName(entry.linkerScript)}`;
        files.push({ path: linkerScript, role: 'linker-script', component: name, from: `${dir}/${entry.linkerScript}` });
      }
      platformLdflags = [...(entry.ldflags ?? [])];
      convention = entry.platform;
      (convention?.libraries ?? []).forEach((l) => {
        const p = `lib/${slug}/${baseName(l)}`;
        files.push({ path: p, role: 'platform-library', component: name, from: `${dir}/${l}` });
        platformLibraries.push({ path: p, role: 'platform-library', component: name, wholeArchive: false });
      });
      (convention?.compile.include ?? []).forEach((d, i) => {
        const p = `lib/${slug}/include${i}`;
        files.push({ path: p, role: 'include-dir', component: name, from: `${dir}/${d}` });
        includeDirs.push(p);
      });
    } else {
      archives.push(input);
      for (const f of entry.ldflags ?? []) if (!platformLdflags.includes(f)) platformLdflags.push(f);
    }
  }
  if (platform !== null && platformArchive === undefined) {
    throw new RumpkgError('E_LOCKFILE', `the lockfile names ${platform} as the platform of ${target} but it is not in the link order`, { context: { component: platform, target } });
  }

  // The application's headers in one staged directory (`#include "x.h"`), the first of a name wins.
  const appHeaders = new Map<string, string>();
  for (const h of app.headers ?? []) if (!appHeaders.has(baseName(h))) appHeaders.set(baseName(h), h);
  for (const [n, h] of [...appHeaders].sort((a, b) => (a[0] < b[0] ? -1 : 1))) files.push({ path: `src/h/${n}`, role: 'app-header', from: h });
  const quote = appHeaders.size > 0 ? ['-iquote', 'src/h'] : [];
  // The compiler: the toolchain's, or — for a platform with its own userland — the same clang
  // for the platform's triple, with its flags and headers instead of the freestanding ones.
  // Component headers (e.g. base's rump/rump.h) come first, then the platform's.
  const isystem = includeDirs.flatMap((d) => ['-isystem', d]);
  const ccCommand = convention === undefined ? cmd('cc') : [toolchain.tools.cc.command, `--target=${convention.compile.triple}`];
  const baseCflags = convention === undefined ? [...toolchain.cflags, ...isystem] : [...HOSTED_BASE_CFLAGS, ...convention.compile.cflags, ...isystem];
  const cflags = [...baseCflags, ...abiFlags.filter((f) => !baseCflags.includes(f)), ...quote, ...(options.cflags ?? [])];
  // Header dependencies of each compile (with component or platform headers: the stamp follows them).
  const depFlags = (obj: string): string[] => (includeDirs.length === 0 ? [] : ['-MD', '-MF', obj.replace(/\.o$/, '.d')]);

  // Application: stage, compile, rename main.
  const appObjects: string[] = [];
  const origin = new Map<string, string>();
  app.sources.forEach((src, i) => {
    const staged = `src/${i}/${baseName(src)}`;
    const obj = `obj/app${i}.o`;
    files.push({ path: staged, role: 'app-source', from: src });
    steps.push({ tool: 'cc', command: ccCommand, args: ['-c', ...cflags, ...depFlags(obj), '-o', obj, staged], cwd: '.', description: `compile ${src}` });
    appObjects.push(obj);
    origin.set(src, obj);
  });
  app.objects.forEach((o, i) => {
    const staged = `obj/user${i}-${baseName(o)}`;
    files.push({ path: staged, role: 'app-object', from: o });
    appObjects.push(staged);
    origin.set(o, staged);
  });
  const entries: Array<{ object: string; symbol: string }> = [];
  const entryList = app.entries ?? [];
  const renamed = new Map<string, string>();
  if (entryList.length === 0) {
    for (const o of appObjects) renamed.set(o, entrySymbol(0));
    if (appObjects.length > 0) entries.push({ object: appObjects[0] as string, symbol: entrySymbol(0) });
  } else {
    entryList.forEach((e, n) => {
      const o = origin.get(e);
      if (o === undefined) throw new RumpkgError('E_MANIFEST', `entry point ${e} is neither an application source nor an object`, { context: { path: e }, hint: 'list it in image.sources or image.entry' });
      if (renamed.has(o)) throw new RumpkgError('E_MANIFEST', `entry point ${e} is listed twice`, { context: { path: e } });
      renamed.set(o, entrySymbol(n));
      entries.push({ object: o, symbol: entrySymbol(n) });
    });
  }
  const linkApp = appObjects.map((o) => {
    const sym = renamed.get(o);
    if (sym === undefined) return o;
    const out = o.replace(/\.o$/, '') + '.entry.o';
    steps.push({ tool: 'objcopy', command: cmd('objcopy'), args: ['--redefine-sym', `main=${sym}`, o, out], cwd: '.', description: `rename main to ${sym} in ${o}` });
    return out;
  });
  for (const o of linkApp) inputs.push({ path: o, role: 'app-object', wholeArchive: false });

  // Glue.
  files.push({ path: 'glue/rumpkg_main.c', role: 'glue', content: options.glue });
  const glueFlags = convention === undefined ? [...toolchain.cflags, ...abiFlags] : [...baseCflags, ...abiFlags.filter((f) => !baseCflags.includes(f))];
  steps.push({ tool: 'cc', command: ccCommand, args: ['-c', ...glueFlags, ...depFlags('obj/rumpkg_main.o'), '-o', 'obj/rumpkg_main.o', 'glue/rumpkg_main.c'], cwd: '.', description: 'compile the orchestration glue' });
  inputs.push({ path: 'obj/rumpkg_main.o', role: 'glue-object', wholeArchive: false });
  inputs.unshift(...platformObjects);
  inputs.push(...archives);
  if (platformArchive !== undefined) inputs.push(platformArchive);
  inputs.push(...platformLibraries);

  // Link.
  let ldflags: string[];
  if (!info.hosted && toolchain.tools.ld !== undefined) {
    if (platform === null || linkerScript === undefined) {
      const why = platform === null ? `the ${target} closure has no platform package` : `platform package ${platform} has no linker script for ${target}`;
      throw new RumpkgError('E_BUILD', `cannot link a bootable ${target} image: ${why}`, {
        context: { target, ...(platform === null ? {} : { component: platform }) },
        hint: platform === null ? `a ${target} closure needs the ${info.platform} platform package (it provides hypercall:17), e.g. rumpkg add platform-${target}` : `republish ${platform} with rump.targets["${target}"].linkerScript`,
      });
    }
    ldflags = [...toolchain.ldflags, '-Map=image.map', ...(convention?.maxPageSize === undefined ? [] : ['-z', `max-page-size=0x${convention.maxPageSize.toString(16)}`])];
    const args = [...ldflags, '-T', linkerScript, '-o', 'image.linked', ...platformObjects.map((p) => p.path), ...linkApp, 'obj/rumpkg_main.o'];
    if (archives.length > 0) args.push('--whole-archive', ...archives.map((a) => a.path), '--no-whole-archive');
    // The platform archive and its userland reference each other (libc ↔ the platform's
    // syscall glue): one group, searched until nothing new resolves.
    const group = [...(platformArchive === undefined ? [] : [platformArchive.path]), ...platformLibraries.map((l) => l.path)];
    if (platformLibraries.length > 0) args.push('--start-group', ...group, '--end-group');
    else args.push(...group);
    // After every input, as on the hosted path; a non-allocated section is an orphan the linker
    // script leaves out of every segment (ld.lld puts it after the allocated ones).
    if (manifestObjectFits(target)) args.push(MANIFEST_OBJECT);
    args.push(...platformLdflags);
    steps.push({ tool: 'ld', command: cmd('ld'), args, cwd: '.', description: `link the image for ${target}` });
  } else {
    if (convention !== undefined) {
      throw new RumpkgError('E_BUILD', `platform package ${platform} follows the ${convention.convention} convention, which rumpkg links for freestanding targets only, not ${target}`, {
        context: { target, component: platform },
        hint: 'use it for the hw target it was made for',
      });
    }
    ldflags = [...toolchain.ldflags, '-Wl,-Map=image.map'];
    const linkArgs = [...ldflags, '-o', 'image.linked', ...platformObjects.map((p) => p.path), ...linkApp, 'obj/rumpkg_main.o'];
    if (archives.length > 0) linkArgs.push('-Wl,--whole-archive', ...archives.map((a) => a.path), '-Wl,--no-whole-archive');
    if (platformArchive !== undefined) linkArgs.push(platformArchive.path);
    // After every archive member, so the section lands where objcopy --add-section puts it.
    if (manifestObjectFits(target)) linkArgs.push(MANIFEST_OBJECT);
    linkArgs.push(...platformLdflags);
    if (linkerScript !== undefined) linkArgs.push(`-Wl,-T,${linkerScript}`);
    if (!info.hosted) linkArgs.unshift('-nostdlib', '-static');
    steps.push({ tool: 'cc', command: cmd('cc'), args: linkArgs, cwd: '.', description: `link the image for ${target}` });
  }

  // Embed the manifest: linked in as an object where that fits (manifest-object.ts), else added
  // to the linked image by objcopy.
  const linked = steps.at(-1)!.args.includes(MANIFEST_OBJECT);
  if (linked) files.push({ path: MANIFEST_OBJECT, role: 'manifest-object', content: options.manifest });
  else {
    files.push({ path: 'rumpkg-manifest.json', role: 'manifest', content: options.manifest });
    steps.push({
      tool: 'objcopy',
      command: cmd('objcopy'),
      args: ['--add-section', `${MANIFEST_SECTION}=rumpkg-manifest.json`, '--set-section-flags', `${MANIFEST_SECTION}=noload,readonly`, 'image.linked', 'image'],
      cwd: '.',
      description: `embed the image manifest in ${MANIFEST_SECTION}`,
    });
  }

  return {
    planVersion: 1,
    target,
    toolchain: { id: toolchain.id, libc: toolchain.libc, tools: Object.fromEntries(Object.keys(toolchain.tools).map((k) => [k, cmd(k as ToolName)])) },
    files,
    inputs,
    flags: { cflags, ldflags, platformLdflags },
    steps,
    output: linked ? 'image.linked' : 'image',
    map: 'image.map',
    destination: options.output,
    entries,
    ...(convention === undefined ? {} : { convention: convention.convention }),
  };
}

/** Quotes a word for a POSIX shell only when needed. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\-.,/=:+@%]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Shell lines writing `content` byte for byte through `redirect` (`> file`, `>> file`). */
function hereDocument(content: string, redirect: string): string[] {
  let tag = 'RUMPKG_EOF';
  while (content.split('\n').includes(tag)) tag += '_';
  if (content.endsWith('\n')) return [`cat ${redirect} <<'${tag}'`, content.slice(0, -1), tag];
  return [`printf '%s' ${shellQuote(content)} ${redirect}`];
}

/**
 * The plan as a POSIX shell script that, run with the same tools, produces the same image
 * bytes: make a private directory, stage the files, run the steps, copy the image out.
 */
export function renderPlanScript(plan: LinkPlan): string {
  const out: string[] = [
    '#!/bin/sh',
    `# rumpkg link plan for ${plan.target} (toolchain ${plan.toolchain.id}); generated by rumpkg build --dry-run`,
    'set -eu',
    'B=$(mktemp -d)',
    'cd "$B"',
  ];
  const dirs = [...new Set(['obj', ...plan.files.map((f) => f.path.split('/').slice(0, -1).join('/')).filter((d) => d !== '')])].sort();
  out.push(`mkdir -p ${dirs.map(shellQuote).join(' ')}`);
  for (const f of plan.files) {
    if (f.role === 'include-dir' && f.from !== undefined) out.push(`ln -s ${shellQuote(f.from)} ${shellQuote(f.path)}`);
    else if (f.from !== undefined) out.push(`cp ${shellQuote(f.from)} ${shellQuote(f.path)}`);
    else if (f.role === 'manifest-object') {
      // The object's headers by printf (octal escapes), the manifest between them as text.
      const content = f.content ?? '';
      const { head, tail } = manifestObjectParts(Buffer.byteLength(content, 'utf8'), plan.target);
      const octal = (b: Buffer): string => `'${[...b].map((x) => `\\${x.toString(8).padStart(3, '0')}`).join('')}'`;
      out.push(`printf ${octal(head)} > ${shellQuote(f.path)}`);
      out.push(...hereDocument(content, `>> ${shellQuote(f.path)}`));
      out.push(`printf ${octal(tail)} >> ${shellQuote(f.path)}`);
    } else {
      out.push(...hereDocument(f.content ?? '', `> ${shellQuote(f.path)}`));
    }
  }
  for (const s of plan.steps) {
    out.push(`# ${s.description}`);
    out.push([...s.command, ...s.args].map(shellQuote).join(' '));
  }
  // OUT may redirect the copy (e.g. to compare with a real build).
  out.push(`cp ${shellQuote(plan.output)} "\${OUT:-${plan.destination.replace(/["\\$`]/g, '\\$&')}}"`);
  return `${out.join('\n')}\n`;
}
