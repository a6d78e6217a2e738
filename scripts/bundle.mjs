// Build step (after tsc, postbuild and compile-schemas): the CLI as one bundle plus a tiny
// launcher, for start-up time. package.json `bin` points at dist/rumpkg, a POSIX sh script that
// starts node on the launcher, dist/rumpkg.cjs.
//
//   dist/rumpkg-bundle.cjs        every local module of the CLI in one file (esbuild)
//   dist/rumpkg-bundle.cjs.cache  V8 code cache of that file, made here with this node (start-up,
//                                 --help), and rumpkg-bundle.cjs.cache-<command>, one per command
//                                 trained on real workloads (scripts/code-cache.mjs)
//   dist/rumpkg.cjs               the launcher: compiles the bundle with the code cache, runs it
//   dist/rumpkg-early.cjs         packager/build/early-link.ts (+ packager/early), which the launcher loads for
//                                 `build --force` to start the project's previous link first
//   dist/rumpkg-early-run.cjs     packager/run/early-qemu.ts (+ console.ts, packager/early), which the launcher loads for
//                                 `run` to start the project's QEMU when nothing it depends on changed
//   dist/rumpkg-early-noop.cjs    packager/early (its replay), which the launcher loads for
//                                 `build` and `install` to answer a run with nothing to do from its memo
//   dist/rumpkg                   the shipped command (package.json bin): `exec node rumpkg.cjs`,
//                                 with NODE_EXTRA_CA_CERTS deferred to rumpkg's first TLS
//                                 connection (Node 20 loads it on every start: ~40 ms here)
//   dist/cli/bin.js               (tsc output, replaced) imports the launcher, so the tests,
//                                 benches, scripts/demo.sh and the README run the bundle too;
//                                 the unbundled entry stays as dist/cli/bin.unbundled.js
//
// Why this shape (measured on the no-op install/build paths, see the h13 report):
// - ~100 small ESM modules cost a run tens of milliseconds of module resolution and linking.
// - CommonJS, not ESM, output: in an ESM bundle every `import` of a node builtin or package is
//   hoisted to the top and loaded at start-up (node:http, zlib, child_process, all of semver…),
//   which made `rumpkg --version` slower than the unbundled CLI. In CommonJS output esbuild keeps
//   each lazily imported module (`await import('../../packager/index.js')` in the commands) in a
//   lazily initialised wrapper, requires included, so `--version` runs no library code at all.
// - semver and commander (small, pure JS, on every start-up path) are inlined: ~30 fewer files
//   to resolve. cacache (the download cache, loaded on first use with `import()`) is inlined with
//   everything it requires: ~60 files a cold `rumpkg add` would otherwise resolve and compile
//   (~45 ms of CPU), in a lazily initialised wrapper, so other commands never run it. So are the
//   small packages a project command loads on its way (escape-html and fastest-levenshtein with
//   the registry module, ajv's runtime helpers with the schema validators, spdx-expression-parse
//   and its licence lists with a manifest check): each was a module resolution of 1–3 ms. Every
//   other package stays external and loads from node_modules as before.
// - The code cache spares V8 parsing the whole bundle on each run; when it does not fit (another
//   node or V8 flags) V8 rejects it and compiles normally.
//
// Assets: modules find their files with `new URL('./x', import.meta.url)` (glue templates, the
// corpus C sources, the catalog, schemas/validators.generated.cjs through createRequire,
// package.json for the version). In the bundle each module's `import.meta.url` is rewritten to
// that module's ORIGINAL dist file URL (from `__dirname` of the bundle, which lives in dist/), so
// every asset resolves exactly as it did from dist/<module>/<file>.js.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const bundle = join(dist, 'rumpkg-bundle.cjs');
const cache = `${bundle}.cache`;
const launcher = join(dist, 'rumpkg.cjs');
const early = join(dist, 'rumpkg-early.cjs');
const earlyRun = join(dist, 'rumpkg-early-run.cjs');
const earlyNoop = join(dist, 'rumpkg-early-noop.cjs');
const command = join(dist, 'rumpkg');
const bin = join(dist, 'cli', 'bin.js');
const unbundled = join(dist, 'cli', 'bin.unbundled.js');
const MARKER = '// rumpkg launcher stub (scripts/bundle.mjs)';
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname, __rumpkgImport) { ';
const WRAP_TAIL = '\n});';
const INLINE = new Set(['semver', 'commander', 'cacache', 'escape-html', 'fastest-levenshtein', 'ajv', 'spdx-expression-parse']);
/** Inlined packages: INLINE and, transitively, what they require. */
const packageOf = (file) => {
  const rest = file.split(`${sep}node_modules${sep}`).pop();
  const parts = rest.split(sep);
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
};
const inlined = (importer) => importer.includes(`${sep}node_modules${sep}`) && INLINE.has(packageOf(importer));

function fail(message) {
  console.error(`bundle: ${message}`);
  process.exit(1);
}

if (!existsSync(bin)) fail('dist/cli/bin.js is missing; run tsc first (npm run build)');
// A fresh tsc output replaces the stub; a re-run without tsc bundles the saved entry.
if (!readFileSync(bin, 'utf8').includes(MARKER)) copyFileSync(bin, unbundled);
if (!existsSync(unbundled)) fail('dist/cli/bin.unbundled.js is missing; run npm run build');

const plugin = {
  name: 'rumpkg-bundle',
  setup(b) {
    // Packages are external except the few inlined ones; node builtins always external.
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { external: true };
      const pkg = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
      if (INLINE.has(pkg)) return undefined;
      if (inlined(args.importer)) {
        INLINE.add(pkg); // required by an inlined package: inlined too
        return undefined;
      }
      return { external: true };
    });
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      if (!args.path.startsWith(dist + sep)) return undefined;
      let text = await readFile(args.path, 'utf8');
      if (/import\.meta\.(dirname|filename|resolve)/.test(text)) {
        throw new Error(`${args.path}: only import.meta.url is rewritten for the bundle; use it`);
      }
      const rel = relative(dist, args.path).split(sep).join('/');
      // The precompiled schema validators (compile-schemas.mjs) go into the bundle too: they are
      // loaded by every command that reads a project, and the code cache then covers them.
      if (rel === 'schemas/validate.js') {
        const call = "createRequire(import.meta.url)('./validators.generated.cjs')";
        if (!text.includes(call)) throw new Error(`${args.path}: the validators are no longer loaded by ${call}; update scripts/bundle.mjs`);
        if (!existsSync(join(dist, 'schemas', 'validators.generated.cjs'))) throw new Error('dist/schemas/validators.generated.cjs is missing: run scripts/compile-schemas.mjs first');
        text = text.replace(call, "require('./validators.generated.cjs')");
      }
      // spdx-expression-parse (CommonJS, loaded on first use through createRequire) becomes a
      // plain require inside the same function, so esbuild inlines it, lazily initialised.
      if (rel === 'components/documents/manifest.js' || rel === 'packager/audit/licenses.js') {
        const call = "createRequire(import.meta.url)('spdx-expression-parse')";
        if (!text.includes(call)) throw new Error(`${args.path}: spdx-expression-parse is no longer loaded by ${call}; update scripts/bundle.mjs`);
        text = text.replace(call, "require('spdx-expression-parse')");
      }
      const url = `require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(rel)})).href`;
      text = text.replaceAll('import.meta.url', url);
      return { contents: text, loader: 'js' };
    });
  },
};

const t0 = performance.now();
const cjs = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', legalComments: 'none', logLevel: 'warning', metafile: true };
const result = await build({ ...cjs, entryPoints: [unbundled], outfile: bundle, plugins: [plugin] });
if (result.errors.length > 0) process.exit(1);

// The early link (packager/build/early-link.ts) on its own, node builtins only: the launcher
// loads it for `build --force` before the CLI, to start the project's previous link at once.
const earlyResult = await build({ ...cjs, entryPoints: [join(dist, 'packager', 'build', 'early-link.js')], outfile: early });
if (earlyResult.errors.length > 0) process.exit(1);
if (Object.keys(earlyResult.metafile.inputs).length !== 2) fail('the early link bundle must hold early-link.js and packager/early alone (node builtins only)');
// The early boot of `rumpkg run` (packager/run/early-qemu.ts), likewise.
const earlyRunResult = await build({ ...cjs, entryPoints: [join(dist, 'packager', 'run', 'early-qemu.js')], outfile: earlyRun });
if (earlyRunResult.errors.length > 0) process.exit(1);
if (Object.keys(earlyRunResult.metafile.inputs).length !== 3) fail('the early boot bundle must hold early-qemu.js, packager/run/console.js and packager/early alone (node builtins only)');
// The replay of a build or install with nothing to do (packager/early's replayNoop), likewise.
const earlyNoopResult = await build({ ...cjs, entryPoints: [join(dist, 'packager', 'early', 'index.js')], outfile: earlyNoop });
if (earlyNoopResult.errors.length > 0) process.exit(1);
if (Object.keys(earlyNoopResult.metafile.inputs).length !== 1) fail('the replay bundle must hold packager/early alone (node builtins only)');

// Every local module must be inside: a relative import/require left in the output would load
// dist/ at run time and hide a broken bundle behind a working dist/.
let text = readFileSync(bundle, 'utf8');
// The entry's `#!` line is the launcher's business (the bundle is compiled inside a wrapper).
if (text.startsWith('#!')) text = text.slice(text.indexOf('\n') + 1);
// Dynamic import() of a package (octokit is ESM-only) goes through the launcher's own import():
// code compiled by vm.Script has no dynamic-import host hook without an experimental option.
const DYNAMIC_IMPORT = /(?<![\w$.])import\((?=\s*["'][^."'])/g;
const dynamicImports = text.match(DYNAMIC_IMPORT)?.length ?? 0;
text = text.replace(DYNAMIC_IMPORT, '__rumpkgImport(');
// node:http (the registry server), node:worker_threads (the audit's hashing worker),
// node:child_process (the build's tools; commander's executable subcommands), node:crypto,
// node:zlib, node:stream, node:net and node:string_decoder (hashing, tarballs and HTTP, which a
// no-op install, build or run never reach; ~10 ms of a no-op install together) are used only
// inside functions: they load on first use. esbuild binds a named import as
// `import_node_x = require("node:x")` (commander: `var childProcess = require(…)`) and uses it
// only as `binding.name`; both are checked, so a use of another shape fails the build instead of
// meeting a half-loaded module.
const LAZY = ['http', 'worker_threads', 'child_process', 'crypto', 'zlib', 'stream', 'net', 'string_decoder'];
let lazyCount = 0;
for (const id of LAZY) {
  const binding = new RegExp(`\\b([A-Za-z_$][\\w$]*) = require\\("node:${id}"\\);`, 'g');
  // Outside plain declaration lists (`var a, b;`), every mention is the binding or `name.member`.
  const mentions = text.replace(/^\s*var [\w$, ]*;$/gm, '');
  for (const [, name] of [...text.matchAll(binding)]) {
    const bad = new RegExp(`(?<![\\w$.])${name.replace(/\$/g, '\\$')}\\b(?!\\.|(?: = require\\("node:${id}"\\);))`);
    if (bad.test(mentions)) fail(`${name} is used other than as ${name}.member; cannot load node:${id} lazily`);
    lazyCount++;
  }
  text = text.replace(binding, (_, name) => `${name} = __rumpkgLazy("node:${id}");`);
}
if (lazyCount > 0) {
  const strict = '"use strict";\n';
  if (!text.startsWith(strict)) fail('the bundle does not start with "use strict"');
  text = `${strict}var __rumpkgLazy = (id) => {\n  let m;\n  return new Proxy({}, { get: (_, key) => (m ??= require(id))[key] });\n};\n${text.slice(strict.length)}`;
}
// Pure ASCII, so the launcher reads it as latin1 (a plain copy) instead of decoding 1 MB of
// UTF-8 (~4 ms). esbuild escapes strings already; what is left (a few comments, a regex literal)
// gets \u escapes, which mean the same there.
text = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
// The file is the whole source the launcher compiles: the bundle inside Module.wrap's function
// (its parameters, plus the import() of the launcher for the bundle's imports of packages). V8
// compiles only flat strings: a wrapper joined at start-up was one more copy of the whole source
// on every run (2 MiB of fresh memory: ~530 more page faults per start, measured on `audit`).
writeFileSync(bundle, `${WRAP_HEAD}${text}${WRAP_TAIL}`);
const stray = [...text.matchAll(/\b(?:import|require)\(\s*["'](\.[^"']*)["']\s*\)/g)].map((m) => m[1]);
if (stray.length > 0) fail(`relative imports left in the bundle: ${stray.join(', ')}`);
if (/\bimport\.meta\b/.test(text)) fail('import.meta left in the CommonJS bundle');
if (/[^\x00-\x7f]/.test(text)) fail('the bundle is not ASCII');
if (/(?<![\w$.])import\(/.test(text)) fail('a dynamic import() the launcher cannot serve is left in the bundle');
const modules = Object.keys(result.metafile.inputs).filter((p) => resolve(root, p).startsWith(dist + sep)).length;

writeFileSync(
  launcher,
  `#!/usr/bin/env node
// rumpkg: compiles the bundle (rumpkg-bundle.cjs) with its V8 code cache and runs it; generated by
// scripts/bundle.mjs. The cache starts with a line naming the size and mtime of the bundle it was
// made from (V8 itself compares only the source length): another bundle → no cache. A cache that
// does not fit this node or its flags is rejected by V8 and ignored.
// Each trained command has a cache of its own (rumpkg-bundle.cjs.cache-<command>: the start-up
// and that command's code); others take rumpkg-bundle.cjs.cache (the start-up and --help). V8
// deserialises a whole cache on every start, ~4 ms per MiB here, so one cache of every command
// would cost each of them the others' code.
'use strict';
// Started by the shipped command (dist/rumpkg), which hands NODE_EXTRA_CA_CERTS over as
// RUMPKG_DEFERRED_CA_CERTS so that Node does not load it at start: the programs rumpkg starts (cc,
// QEMU, …) get it back; rumpkg's own TLS connections read it when they first need it.
if (process.env.RUMPKG_DEFERRED_CA_CERTS !== undefined && process.env.NODE_EXTRA_CA_CERTS === undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.RUMPKG_DEFERRED_CA_CERTS;
}
const { readFileSync, writeFileSync, renameSync, statSync } = require('node:fs');
const Module = require('node:module');
const { Script } = require('node:vm');
const file = require('node:path').join(__dirname, 'rumpkg-bundle.cjs');
// The command: the first argument that is not an option (the global --cwd takes a value).
let command = '';
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--cwd') i++;
  else if (!a.startsWith('-')) {
    command = a;
    break;
  }
}
// \`build --force\`: the project's previous link may start now, before the CLI loads
// (packager/build/early-link.ts, bundled as rumpkg-early.cjs); the build takes it or discards it,
// and so does the exit of a process that never reached its link.
if (command === 'build' && process.argv.includes('--force')) {
  try {
    const early = require('./rumpkg-early.cjs').startEarlyLink(process.argv.slice(2), process.env, process.cwd());
    if (early !== undefined) {
      globalThis.__rumpkgEarlyLink = early;
      process.on('exit', () => early.discard());
    }
  } catch {
    // no early link: the build links when it gets there
  }
}
// \`run\`: the project's QEMU may start now, when nothing the last passed up-to-date check
// depended on has changed (packager/run/early-qemu.ts, bundled as rumpkg-early-run.cjs); the boot
// takes it or kills it, and so does the exit of a process that never reached its boot. When the
// memo says how that run read its console (it went to the terminal), the launcher runs the guest
// to its end itself and loads the CLI only to report an error (early-qemu.ts, finishEarly).
let finishing = false;
// \`build\` and \`install\` with nothing to do: the previous identical run's answer, when nothing
// its check depended on has changed (packager/early, replayNoop, bundled as rumpkg-early-noop.cjs).
if (command === 'build' || command === 'install' || command === 'i') {
  try {
    const text = require('./rumpkg-early-noop.cjs').replayNoop(command === 'i' ? 'install' : command, process.argv.slice(2), process.env, process.cwd(), require('node:tty').isatty(1));
    if (text !== undefined) {
      process.stdout.write(text);
      finishing = true;
    }
  } catch {
    // no replay: the CLI answers
  }
}
if (command === 'run') {
  try {
    const early = require('./rumpkg-early-run.cjs').startEarlyQemu(process.argv.slice(2), process.env, process.cwd());
    if (early !== undefined) {
      globalThis.__rumpkgEarlyQemu = early;
      process.on('exit', () => early.discard());
      if (early.finish !== undefined) {
        early.finish({ stdout: process.stdout, stderr: process.stderr }, loadCli);
        finishing = true;
      }
    }
  } catch {
    // no early boot: the run boots when it gets there
  }
}
if (!finishing) loadCli();
function loadCli() {
  const baseCache = file + '.cache';
  const ownCache = /^[a-z]+$/.test(command) ? baseCache + '-' + command : undefined;
  const st = statSync(file);
  const header = 'rumpkg-code-cache ' + st.size + ' ' + st.mtimeMs + '\\n';
  // The bundle is written as one function expression (Module.wrap's parameters, plus the import()
  // of this file for the bundle's imports of packages): compiled as read, never joined to a wrapper
  // here (V8 would flatten the joined string, a copy of the whole source). latin1: the bundle is
  // ASCII (checked when it is built), and a copy beats UTF-8 decoding.
  // (The code cache is read into a buffer of its own: read into the bundle's 2 MiB buffer instead,
  // it saved ~200 page faults of the audit's start and cost \`inspect --extract\` of a 29 MB tarball
  // ~3,800 more and 40-80 ms.)
  const source = readFileSync(file, 'latin1');
  const readCache = (f) => {
    try {
      const c = readFileSync(f);
      return c.toString('latin1', 0, header.length) === header ? c.subarray(header.length) : undefined;
    } catch {
      return undefined;
    }
  };
  let cacheRead = ownCache;
  let cachedData = ownCache === undefined ? undefined : readCache(ownCache);
  if (cachedData === undefined) {
    cacheRead = baseCache;
    cachedData = readCache(baseCache);
  }
  // Training (scripts/code-cache.mjs) writes the command's own cache; --version and --help the base.
  const cacheFile = ownCache ?? baseCache;
  const script = new Script(source, { filename: file, cachedData });
  if (process.env.RUMPKG_CODE_CACHE_REPORT === '1') {
    process.stderr.write('rumpkg: code cache ' + (cachedData === undefined ? 'absent or stale' : script.cachedDataRejected ? 'rejected' : 'accepted') + ' (' + require('node:path').basename(cacheRead) + ')\\n');
  }
  if (process.env.RUMPKG_WRITE_CODE_CACHE === '1') {
    process.once('beforeExit', () => {
      writeFileSync(cacheFile + '.tmp', Buffer.concat([Buffer.from(header, 'latin1'), script.createCachedData()]));
      renameSync(cacheFile + '.tmp', cacheFile);
    });
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(__dirname);
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, __dirname, (specifier) => import(specifier));
}
`,
);
chmodSync(launcher, 0o755);

// The shipped command. Node 20 reads NODE_EXTRA_CA_CERTS on every start, before any program runs,
// and builds a certificate store of its bundled roots and that file: with the system bundle (as on
// this machine) `node -e 0` takes ~40 ms longer, paid by every rumpkg command whether or not it
// opens a TLS connection. rumpkg's own connections (registry/transport/http.ts) read the file
// when they first need it; \`verify\` and \`import\` (but \`import archives\`) may also reach GitHub
// through Node's fetch, which cannot be given the file later, so Node loads it for them as before.
// The command word is found as the launcher finds it (the first argument that is not an option;
// --cwd takes a value), and import's subcommand as the next such argument.
// Plain sh builtins, except readlink when started through a symlink (npm's node_modules/.bin).
writeFileSync(
  command,
  `#!/bin/sh
# rumpkg: starts node on the launcher next to this file (rumpkg.cjs); generated by
# scripts/bundle.mjs, which says why NODE_EXTRA_CA_CERTS is handed over as RUMPKG_DEFERRED_CA_CERTS.
cmd=
sub=
skip=
for a do
  if [ -n "$skip" ]; then skip=; continue; fi
  case $a in
    --cwd) skip=1 ;;
    -*) ;;
    *)
      if [ -z "$cmd" ]; then
        cmd=$a
        [ "$cmd" = import ] || break
      else
        sub=$a
        break
      fi
      ;;
  esac
done
unset RUMPKG_DEFERRED_CA_CERTS
defer=yes
case $cmd in
  verify) defer= ;;
  import) [ "$sub" = archives ] || defer= ;;
esac
if [ -n "$defer" ] && [ -n "\${NODE_EXTRA_CA_CERTS:-}" ]; then
  RUMPKG_DEFERRED_CA_CERTS=$NODE_EXTRA_CA_CERTS
  export RUMPKG_DEFERRED_CA_CERTS
  unset NODE_EXTRA_CA_CERTS
fi
f=$0
while [ -L "$f" ]; do
  l=$(readlink "$f")
  case $l in
    /*) f=$l ;;
    *) case $f in */*) f=\${f%/*}/$l ;; *) f=$l ;; esac ;;
  esac
done
case $f in
  */*) d=\${f%/*} ;;
  *) d=. ;;
esac
exec node "$d/rumpkg.cjs" "$@"
`,
);
chmodSync(command, 0o755);

// The code cache: a chain of real workloads run through the launcher (scripts/code-cache.mjs).
const r = spawnSync(process.execPath, [join(root, 'scripts', 'code-cache.mjs')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
if (r.status !== 0 || !existsSync(cache)) fail('the code cache could not be made (scripts/code-cache.mjs)');
const trained = r.stdout.trim();

writeFileSync(bin, `#!/usr/bin/env node\n${MARKER}: the CLI runs from dist/rumpkg.cjs; the unbundled entry is bin.unbundled.js.\nimport '../rumpkg.cjs';\n`);
chmodSync(bin, 0o755);
for (const old of ['rumpkg.mjs']) rmSync(join(dist, old), { force: true });
console.log(
  `bundle: dist/rumpkg-bundle.cjs (${modules} modules, ${dynamicImports} package import() via the launcher, ${(statSync(bundle).size / 1024).toFixed(0)} KiB, base code cache ${(statSync(cache).size / 1024).toFixed(0)} KiB), launcher dist/rumpkg.cjs, command dist/rumpkg, in ${(performance.now() - t0).toFixed(0)} ms\n${trained}`,
);
