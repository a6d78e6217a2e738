/**
 * `rumpkg new component NAME`: a component directory that builds, validates, packs and publishes
 * as written:
 *
 *   NAME/package.json              the component manifest (one archive per chosen target)
 *   NAME/src/<id>.c                 the component: rumpns_ globals, RUMP_COMPONENT(level) init
 *   NAME/src/rump_component.h       the component ABI it registers through (constructor on
 *                                   posix targets, link set on hw targets)
 *   NAME/build.sh                   compiles and archives lib/<target>/<lib>.a per target
 *   NAME/README.md                  what to do next
 *
 * build.sh uses each target's own toolchain row (build/toolchain.ts: compiler, its target
 * arguments and flags) — the compiler rumpkg uses for that target's images — with `ar` for hosted
 * targets and `llvm-ar` for cross targets (package llvm, already part of their toolchain); the
 * target's machine flags (`-m…`) are recorded as the archive's `abiFlags`. The templates are in
 * templates/ (C and sh files, copied next to the compiled module).
 */
import { readFile, readdir, mkdir, writeFile, chmod, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_SCOPE, RumpkgError, fsError, nameProblem, type ComponentManifest, type Target, type TargetEntry } from '../../components/index.js';
import { hostArch, parseTarget, selectToolchain } from '../build/index.js';

/** Init level a faction's scaffold registers at (RUMP_COMPONENT(level)). */
const FACTION_LEVEL: Record<string, string> = {
  dev: 'RUMP_COMPONENT_DEV',
  net: 'RUMP_COMPONENT_NET',
  vfs: 'RUMP_COMPONENT_VFS',
  kern: 'RUMP_COMPONENT_KERN',
};

interface ScaffoldOptions {
  /** Directory to create (default: `<cwd>/<name without scope>`); must not exist or be empty. */
  dir?: string;
  cwd?: string;
  /** Targets to build for (default: posix for this host). */
  targets?: Target[];
  /** dev (default), net, vfs or kern: the library prefix and the init level. */
  faction?: string;
  version?: string;
  license?: string;
  /** Scope of a bare NAME (default @rump). */
  scope?: string;
}

interface ScaffoldResult {
  dir: string;
  name: string;
  lib: string;
  targets: Target[];
  /** Files written, relative to `dir`. */
  files: string[];
}

const template = (file: string): Promise<string> => readFile(new URL(`./templates/${file}`, import.meta.url), 'utf8');

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/@([A-Z]+)@/g, (m, k: string) => values[k] ?? m);
}

/** The shell words that compile for `target` (compiler + its target arguments), archiver, flags. */
function buildRule(target: Target): { cc: string; ar: string; cflags: string[]; abiFlags: string[] } {
  const tc = selectToolchain(target);
  const hosted = parseTarget(target).hosted;
  const cc = [tc.tools.cc.command, ...tc.tools.cc.args].join(' ');
  // Hosted (posix) images register components through constructors, like Linux-hosted rump
  // kernels; freestanding ones through the link set (the convention `import archives` enforces).
  return { cc, ar: hosted ? 'ar' : 'llvm-ar', cflags: [...tc.cflags, ...(hosted ? ['-DRUMP_USE_CTOR'] : [])], abiFlags: tc.cflags.filter((f) => f.startsWith('-m')) };
}

/** Writes a new component directory (see the module head). E_EXISTS when `dir` holds files. */
export async function scaffoldComponent(word: string, options: ScaffoldOptions = {}): Promise<ScaffoldResult> {
  const bad = nameProblem(word);
  if (bad !== undefined) throw new RumpkgError('E_NAME', `invalid component name ${JSON.stringify(word)}: ${bad}`, { context: { name: word } });
  const name = word.startsWith('@') ? word : `${options.scope ?? DEFAULT_SCOPE}/${word}`;
  const scopeBad = nameProblem(name);
  if (scopeBad !== undefined) throw new RumpkgError('E_NAME', `invalid component name ${JSON.stringify(name)}: ${scopeBad}`, { context: { name } });
  const base = name.slice(name.indexOf('/') + 1);
  const id = base.replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'component';
  const faction = options.faction ?? 'dev';
  const level = FACTION_LEVEL[faction];
  if (level === undefined) {
    throw new RumpkgError('E_USAGE', `--faction ${faction}: expected one of ${Object.keys(FACTION_LEVEL).join(', ')}`, { context: { faction } });
  }
  const lib = `librump${faction}_${id}`;
  const version = options.version ?? '0.1.0';
  const arch = hostArch();
  const targets = [...new Set(options.targets ?? (arch === null ? [] : [`posix-${arch}`]))];
  if (targets.length === 0) throw new RumpkgError('E_TARGET', 'no target given and this host has no posix target', { hint: 'pass --target, e.g. --target hw-x86_64' });
  const rules = new Map(targets.map((t) => [t, buildRule(t)] as const)); // E_TARGET for a target without a toolchain

  const dir = resolve(options.cwd ?? process.cwd(), options.dir ?? base);
  const existing = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw fsError(e, dir, 'list');
  });
  if (existing.length > 0) {
    throw new RumpkgError('E_EXISTS', `${dir} already exists and is not empty`, { context: { path: dir }, hint: 'choose another name or --dir' });
  }

  const targetEntries: Record<Target, TargetEntry> = {};
  for (const [t, r] of rules) targetEntries[t] = { archive: `lib/${t}/${lib}.a`, ...(r.abiFlags.length > 0 ? { abiFlags: r.abiFlags } : {}) };
  const manifest: ComponentManifest = {
    name,
    version,
    license: options.license ?? 'BSD-2-Clause',
    description: `${base}: a rump kernel component`,
    dependencies: { [`${DEFAULT_SCOPE}/base`]: '^10.0.0' },
    keywords: ['rump-component', `rump-lib:${lib}`],
    rump: {
      schemaVersion: 1,
      kind: 'component',
      lib,
      aliases: [],
      faction,
      initLevels: [level],
      requires: [],
      provides: [],
      conflicts: [],
      optionalDependencies: {},
      targets: targetEntries,
    },
  } as ComponentManifest;

  const values = { NAME: name, ID: id, LIB: lib, LEVEL: level, VERSION: version, SRCS: `src/${id}.c`, TARGETS: targets.join(' ') };
  const ruleLines = [...rules].map(([t, r]) => `\t${t}) build ${t} "${r.cc}" ${r.ar} ${r.cflags.join(' ')} ;;`).join('\n');
  const readme = [
    `# ${name}`,
    '',
    `A rump kernel component (${lib}), written by \`rumpkg new component\`. Targets: ${targets.join(', ')}.`,
    '',
    '```sh',
    'sh build.sh                 # lib/<target>/' + `${lib}.a for every target (rumpkg doctor says what to install)`,
    'rumpkg validate .           # the manifest against the files',
    'rumpkg pack . -o c.tgz      # the reproducible tarball',
    'rumpkg publish .            # to the registry of its scope (--registry URL for another)',
    '```',
    '',
    `\`src/${id}.c\` registers its init code with \`RUMP_COMPONENT(${level})\`; every global symbol`,
    'carries the `rumpns_` prefix. A new target: add it to `rump.targets` in package.json and a',
    'rule to build.sh (or run `rumpkg new component` again with all the targets).',
    '',
  ].join('\n');

  const files: Array<[string, string, number?]> = [
    ['package.json', `${JSON.stringify(manifest, null, 2)}\n`],
    [`src/${id}.c`, fill(await template('component.c'), values)],
    ['src/rump_component.h', await template('rump_component.h')],
    ['build.sh', fill((await template('build.sh')).replace('@RULES@', ruleLines), values), 0o755],
    ['README.md', readme],
  ];
  try {
    await mkdir(join(dir, 'src'), { recursive: true });
    for (const [rel, text, mode] of files) {
      await writeFile(join(dir, rel), text, { flag: 'wx' });
      if (mode !== undefined) await chmod(join(dir, rel), mode);
    }
  } catch (e) {
    // Nothing half-written: the directory was empty or absent before.
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw fsError(e, dir, 'write');
  }
  return { dir, name, lib, targets, files: files.map(([rel]) => rel) };
}
