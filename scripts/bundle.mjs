// Build step (after tsc, postbuild and compile-schemas): bundles the CLI into ONE ESM file,
// dist/rumpkg.mjs — what package.json `bin` points at. Loading ~100 small ESM modules costs a
// CLI run tens of milliseconds of module resolution; one file costs a parse.
//
// - Entry: the compiled dist/cli/bin.js (tsc output). Every local module is inlined, including
//   the lazy `await import('../../packager/index.js')` of the commands (esbuild turns those into
//   lazily initialised sections of the same file, so `rumpkg --version` still runs none of the
//   library's module bodies). npm packages stay external: they are resolved from node_modules at
//   run time exactly as before.
// - Assets: modules find their files with `new URL('./x', import.meta.url)` (glue templates, the
//   corpus C sources, the catalog, schemas/validators.generated.cjs through createRequire,
//   package.json for the version). In the bundle, each module's `import.meta.url` is rewritten to
//   that module's ORIGINAL dist file URL, relative to the bundle:
//   `new URL("./packager/glue.js", import.meta.url).href`, so every asset resolves exactly as it
//   did from dist/<module>/<file>.js (the assets stay where postbuild put them).
// - dist/cli/bin.js (which tests, benches, scripts/demo.sh and the README run) becomes a
//   two-line launcher of the bundle, so everything that runs "the built CLI" runs the bundle.
//   The unbundled entry is kept as dist/cli/bin.unbundled.js (for debugging, and as the entry
//   when this script is re-run without tsc).
import { build } from 'esbuild';
import { chmodSync, copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'rumpkg.mjs');
const bin = join(dist, 'cli', 'bin.js');
const unbundled = join(dist, 'cli', 'bin.unbundled.js');
const MARKER = '// rumpkg launcher (scripts/bundle.mjs)';

if (!existsSync(bin)) {
  console.error('bundle: dist/cli/bin.js is missing; run tsc first (npm run build)');
  process.exit(1);
}
// A fresh tsc output replaces the launcher; a re-run without tsc bundles the saved entry.
if (!readFileSync(bin, 'utf8').includes(MARKER)) copyFileSync(bin, unbundled);
if (!existsSync(unbundled)) {
  console.error('bundle: dist/cli/bin.unbundled.js is missing; run npm run build');
  process.exit(1);
}

/** `import.meta.url` of a dist module → its original URL, relative to the bundle. */
const importMetaPlugin = {
  name: 'rumpkg-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?js$/ }, async (args) => {
      const path = args.path;
      if (!path.startsWith(dist + sep)) return undefined;
      let text = await readFile(path, 'utf8');
      if (/import\.meta\.(dirname|filename)/.test(text)) {
        throw new Error(`${path}: import.meta.dirname/filename are not rewritten; use import.meta.url`);
      }
      if (text.includes('import.meta.url')) {
        const rel = `./${relative(dirname(out), path).split(sep).join('/')}`;
        text = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`);
      }
      return { contents: text, loader: 'js' };
    });
  },
};

const t0 = performance.now();
const result = await build({
  entryPoints: [unbundled],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  splitting: false,
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  plugins: [importMetaPlugin],
});
if (result.errors.length > 0) process.exit(1);
chmodSync(out, 0o755);

// Every local module must be in the bundle (a dynamic import esbuild could not follow would
// still load dist/ at run time and hide a broken bundle behind a working dist/).
const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(root, p));
const compiled = inputs.filter((p) => p.startsWith(dist + sep));
const text = readFileSync(out, 'utf8');
const stray = [...text.matchAll(/\bimport\(\s*["'](\.[^"']*)["']\s*\)/g)].map((m) => m[1]);
if (stray.length > 0) {
  console.error(`bundle: relative dynamic imports left in the bundle: ${stray.join(', ')}`);
  process.exit(1);
}

writeFileSync(bin, `#!/usr/bin/env node\n${MARKER}: the CLI runs from the bundle; the unbundled entry is bin.unbundled.js.\nimport '../rumpkg.mjs';\n`);
chmodSync(bin, 0o755);
console.log(`bundle: ${relative(root, out)} (${compiled.length} modules, ${(statSync(out).size / 1024).toFixed(0)} KiB) in ${(performance.now() - t0).toFixed(0)} ms`);
