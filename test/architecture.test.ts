/**
 * The architecture, checked (DESIGN.md §3, STYLE.md §1):
 * - imports flow schemas ← components ← resolver ← registry ← packager ← cli; a module imports
 *   another only through its index.ts; inside a module, a sub-folder imports another sub-folder
 *   only through that sub-folder's index.ts; every sub-folder has one;
 * - no import loops between files (type-only imports included);
 * - the resolver never touches fs, network, pacote or octokit;
 * - library code never prints (only cli/ writes to stdout/stderr);
 * - product code never imports test fixtures, scripts or benches; benches and scripts use the
 *   built product only through module index files;
 * - every module has a README saying its job, its public API and what it must never import.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const ORDER = ['schemas', 'components', 'resolver', 'registry', 'packager', 'cli'] as const;
type Module = (typeof ORDER)[number];

function filesUnder(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, ext));
    else if (ext.test(p)) out.push(p);
  }
  return out;
}
const tsFiles = (dir: string): string[] => filesUnder(dir, /\.ts$/);
const rel = (p: string): string => relative(root, p).split(sep).join('/');

export function importsOf(source: string): string[] {
  const re = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  const found: string[] = [];
  for (const m of source.matchAll(re)) found.push((m[1] ?? m[2]) as string);
  return found;
}

/** The repository path a relative import of `from` names (`.js` as written). */
function target(from: string, spec: string): string {
  return relative(root, resolve(root, dirname(from), spec)).split(sep).join('/');
}

/** Returns one message per violation in `files` (repository-relative paths). */
export function violations(files: Array<{ path: string; source: string }>): string[] {
  const bad: string[] = [];
  for (const f of files) {
    const parts = f.path.split('/');
    const from = parts[0] as Module;
    const fromRank = ORDER.indexOf(from);
    const fromSub = parts.length > 2 ? parts[1] : undefined;
    for (const spec of importsOf(f.source)) {
      if (from === 'resolver' && /^(node:)?(fs|fs\/promises|http|https|net|child_process)$|^(pacote|octokit|tar)$/.test(spec)) {
        bad.push(`${f.path}: the resolver must stay pure but imports ${spec}`);
      }
      if (!spec.startsWith('.')) continue;
      const t = target(f.path, spec);
      const tParts = t.split('/');
      const to = tParts[0] as Module;
      if (!ORDER.includes(to)) {
        bad.push(`${f.path}: product code imports ${t}, which is not product code (tests, scripts and benches are not shipped)`);
        continue;
      }
      if (to === from) {
        const toSub = tParts.length > 2 ? tParts[1] : undefined;
        if (toSub !== undefined && toSub !== fromSub && t !== `${to}/${toSub}/index.js`) {
          bad.push(`${f.path}: imports ${to}/${toSub}'s internals (${spec}); use ${to}/${toSub}/index.js`);
        }
        continue;
      }
      if (ORDER.indexOf(to) > fromRank) bad.push(`${f.path}: ${from} must not import ${to} (${spec})`);
      else if (t !== `${to}/index.js`) bad.push(`${f.path}: imports ${to}'s internals (${spec}); use ${to}/index.js`);
    }
  }
  return bad;
}

/** Import cycles among `files` (every relative import, type-only ones included), each as a path list. */
export function importCycles(files: Array<{ path: string; source: string }>): string[][] {
  const known = new Set(files.map((f) => f.path));
  const edges = new Map<string, string[]>();
  for (const f of files) {
    edges.set(
      f.path,
      importsOf(f.source)
        .filter((s) => s.startsWith('.'))
        .map((s) => target(f.path, s).replace(/\.js$/, '.ts'))
        .filter((t) => known.has(t)),
    );
  }
  // Tarjan's strongly connected components, iteratively.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  for (const start of edges.keys()) {
    if (idx.has(start)) continue;
    const work: Array<{ v: string; i: number }> = [{ v: start, i: 0 }];
    idx.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const next = edges.get(top.v)![top.i++];
      if (next !== undefined) {
        if (!idx.has(next)) {
          idx.set(next, index);
          low.set(next, index++);
          stack.push(next);
          onStack.add(next);
          work.push({ v: next, i: 0 });
        } else if (onStack.has(next)) low.set(top.v, Math.min(low.get(top.v)!, idx.get(next)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === idx.get(top.v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== top.v);
        if (scc.length > 1 || edges.get(top.v)!.includes(top.v)) cycles.push(scc.sort());
      }
    }
  }
  return cycles;
}

/** Library code that prints: only cli/ may write to the terminal. */
export function printing(files: Array<{ path: string; source: string }>): string[] {
  const bad: string[] = [];
  for (const f of files) {
    if (f.path.startsWith('cli/')) continue;
    const code = f.source.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
    const m = /\bconsole\.(log|info|warn|error|debug)\b|\bprocess\.(stdout|stderr)\.write\b/.exec(code);
    if (m !== null) bad.push(`${f.path}: library code prints (${m[0]}); report through an injected reporter instead`);
  }
  return bad;
}

/** Benches and scripts use the built product only through `dist/<module>/index.js` (or the corpus fixture's index). */
export function distInternals(files: Array<{ path: string; source: string }>): string[] {
  const bad: string[] = [];
  for (const f of files) {
    for (const m of f.source.matchAll(/dist\/((?:scripts\/)?[a-z]+)\/([\w./-]+\.js)/g)) {
      if (m[2] !== 'index.js' && !(m[1] === 'scripts/corpus' && m[2] === 'index.js') && !/^cli\/bin(\.unbundled)?\.js$/.test(`${m[1]}/${m[2]}`)) {
        bad.push(`${f.path}: uses dist/${m[1]}/${m[2]}; use dist/${m[1]}/index.js`);
      }
    }
  }
  return bad;
}

const productFiles = (): Array<{ path: string; source: string }> =>
  ORDER.flatMap((m) => tsFiles(join(root, m))).map((p) => ({ path: rel(p), source: readFileSync(p, 'utf8') }));

describe('module boundaries', () => {
  it('the real tree has no violations', () => {
    const files = productFiles();
    expect(files.length).toBeGreaterThan(10);
    expect(violations(files)).toEqual([]);
  });

  it('catches an import of another module internals', () => {
    const v = violations([{ path: 'registry/server.ts', source: "import { x } from '../components/tarball.js';" }]);
    expect(v).toEqual(["registry/server.ts: imports components's internals (../components/tarball.js); use components/index.js"]);
  });

  it('catches an import against the dependency direction', () => {
    const v = violations([{ path: 'components/manifest.ts', source: "import { solve } from '../resolver/index.js';" }]);
    expect(v).toEqual(['components/manifest.ts: components must not import resolver (../resolver/index.js)']);
  });

  it('catches I/O in the resolver, including dynamic imports', () => {
    const v = violations([{ path: 'resolver/solver.ts', source: "const fs = await import('node:fs');\nimport pacote from 'pacote';" }]);
    expect(v).toHaveLength(2);
  });

  it('catches a sub-folder reaching into another sub-folder of its module', () => {
    const v = violations([
      { path: 'components/import/import-archives.ts', source: "import { parseAr } from '../binary/ar.js';\nimport { parseElf } from '../binary/index.js';" },
      { path: 'components/index.ts', source: "export * from './binary/index.js';" },
    ]);
    expect(v).toEqual(["components/import/import-archives.ts: imports components/binary's internals (../binary/ar.js); use components/binary/index.js"]);
  });

  it('catches product code importing fixtures, scripts or benches', () => {
    const v = violations([
      { path: 'packager/build/build.ts', source: "import { buildCorpus } from '../../scripts/corpus/index.js';" },
      { path: 'registry/client/client.ts', source: "import { x } from '../../test/helpers/tar.js';" },
    ]);
    expect(v).toHaveLength(2);
    expect(v[0]).toMatch(/imports scripts\/corpus\/index\.js, which is not product code/);
  });

  it('every sub-folder of a module has an index.ts', () => {
    const missing: string[] = [];
    for (const m of ORDER) {
      for (const e of readdirSync(join(root, m))) {
        const p = join(root, m, e);
        if (!statSync(p).isDirectory()) continue;
        if (tsFiles(p).length > 0 && !existsSync(join(p, 'index.ts'))) missing.push(rel(p));
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('import loops', () => {
  it('the real tree has none (type-only imports included)', () => {
    expect(importCycles([...productFiles(), ...tsFiles(join(root, 'scripts')).map((p) => ({ path: rel(p), source: readFileSync(p, 'utf8') }))])).toEqual([]);
  });

  it('finds a two-file loop and a self-import', () => {
    const c = importCycles([
      { path: 'packager/a.ts', source: "import type { B } from './b.js';" },
      { path: 'packager/b.ts', source: "import { a } from './a.js';" },
      { path: 'packager/c.ts', source: "import { c } from './c.js';" },
      { path: 'packager/d.ts', source: "import { a } from './a.js';" },
    ]);
    expect(c.sort()).toEqual([['packager/a.ts', 'packager/b.ts'], ['packager/c.ts']]);
  });
});

describe('library code never prints', () => {
  it('only cli/ writes to stdout or stderr', () => {
    expect(printing(productFiles())).toEqual([]);
  });

  it('catches console and process.stdout/stderr writes outside cli/, not in comments', () => {
    const v = printing([
      { path: 'registry/server/server.ts', source: "console.log('listening');" },
      { path: 'packager/build/build.ts', source: "// process.stderr.write is not used here\nprocess.stderr.write('x');" },
      { path: 'components/model/names.ts', source: '/* console.log(x) */ const y = 1;' },
      { path: 'cli/output.ts', source: "process.stdout.write('ok');" },
    ]);
    expect(v).toHaveLength(2);
  });
});

describe('benches and scripts', () => {
  it('use the built product only through module index files', () => {
    const files = [...filesUnder(join(root, 'bench'), /\.mjs$/), ...filesUnder(join(root, 'scripts'), /\.(mjs|sh)$/)].map((p) => ({ path: rel(p), source: readFileSync(p, 'utf8') }));
    expect(files.length).toBeGreaterThan(5);
    expect(distInternals(files)).toEqual([]);
    expect(distInternals([{ path: 'bench/x.mjs', source: "import { f } from '../dist/components/binary/elf.js';" }])).toHaveLength(1);
  });
});

describe('module READMEs', () => {
  it('every module says its job, its public API and what it must never import', () => {
    const missing: string[] = [];
    for (const m of ORDER) {
      const p = join(root, m, 'README.md');
      if (!existsSync(p)) {
        missing.push(`${m}/README.md is missing`);
        continue;
      }
      const text = readFileSync(p, 'utf8');
      if (!/public api/i.test(text)) missing.push(`${m}/README.md does not describe its public API`);
      if (!/never import/i.test(text) && m !== 'schemas') missing.push(`${m}/README.md does not say what it must never import`);
    }
    expect(missing).toEqual([]);
  });
});

/** Static value imports of library modules from the CLI shell (they slow every start-up). */
export function eagerCliImports(files: Array<{ path: string; source: string }>): string[] {
  const bad: string[] = [];
  for (const f of files) {
    if (!f.path.startsWith('cli/')) continue;
    for (const m of f.source.matchAll(/(?:^|\n)\s*import\s+(?!type\b)[^'"]*?from\s+['"](\.\.\/[^'"]+)['"]/g)) {
      const spec = m[1] as string;
      if (/^(\.\.\/)+(schemas|components|resolver|registry|packager)\//.test(spec)) bad.push(`${f.path}: loads ${spec} at start-up; import it lazily inside the action`);
    }
  }
  return bad;
}

describe('CLI start-up', () => {
  it('the CLI shell imports library modules only lazily (rumpkg --version stays fast)', () => {
    const files = tsFiles(join(root, 'cli')).map((p) => ({ path: rel(p), source: readFileSync(p, 'utf8') }));
    expect(eagerCliImports(files)).toEqual([]);
    expect(eagerCliImports([{ path: 'cli/commands/x.ts', source: "import { RumpkgError } from '../../components/index.js';" }])).toHaveLength(1);
    expect(eagerCliImports([{ path: 'cli/commands/x.ts', source: "import type { Lockfile } from '../../components/index.js';" }])).toHaveLength(0);
  });
});
