/**
 * package.json tells the truth about what rumpkg needs:
 * - every dependency is pinned to one exact version;
 * - a package the product imports (schemas/ … cli/, the scripts) is a runtime dependency, a
 *   package only tests import is a devDependency, and no runtime dependency goes unused;
 * - every package the lockfile installs accepts the oldest Node that `engines` allows and the
 *   Node running the tests (`npm ci` would warn EBADENGINE otherwise).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; dev?: boolean; optional?: boolean }>;
};

function filesUnder(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    if (e === 'node_modules' || e === 'dist') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, ext));
    else if (ext.test(p)) out.push(p);
  }
  return out;
}

/** Package names a source file loads: import/export from, import(), require() and createRequire(…)(…). */
export function packagesImported(source: string): string[] {
  const specs: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:require|\))\(\s*['"]([^'"]+)['"]\s*\)|\.resolve\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3] ?? m[4]) as string);
  return [
    ...new Set(
      specs
        .filter((s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:'))
        .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : (s.split('/')[0] as string))),
    ),
  ].sort();
}

const PRODUCT = ['schemas', 'components', 'resolver', 'registry', 'packager', 'cli', 'scripts'];
// This file is left out: its scanner fixture names packages (pacote) in a string.
const importedBy = (dirs: string[]): Set<string> =>
  new Set(
    dirs
      .flatMap((d) => filesUnder(join(root, d), /\.(ts|mjs|cjs)$/))
      .filter((f) => f !== fileURLToPath(import.meta.url))
      .flatMap((f) => packagesImported(readFileSync(f, 'utf8'))),
  );

describe('dependencies', () => {
  it('are pinned to exact versions', () => {
    const loose = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).filter(([, v]) => semver.valid(v) === null);
    expect(loose).toEqual([]);
  });

  it('the import scanner sees every form of loading a package (so the next test can fail)', () => {
    expect(
      packagesImported(
        "import { Header } from 'tar';\nconst x = await import('octokit');\nconst p = createRequire(import.meta.url)('pacote');\nimport type { A } from '@scope/pkg/sub.js';\nimport { join } from 'node:path';\nimport { y } from './local.js';",
      ),
    ).toEqual(['@scope/pkg', 'octokit', 'pacote', 'tar']);
  });

  it('the product imports only runtime dependencies, and uses every one of them', () => {
    const product = importedBy(PRODUCT);
    const runtime = new Set(Object.keys(pkg.dependencies));
    // Build tools the scripts run at build time only.
    const buildOnly = new Set(['esbuild', 'typescript']);
    expect([...product].filter((p) => !runtime.has(p) && !buildOnly.has(p))).toEqual([]);
    expect([...runtime].filter((p) => !product.has(p))).toEqual([]);
  });

  it('packages only the tests import are devDependencies (tar among them)', () => {
    const product = importedBy(PRODUCT);
    const tests = importedBy(['test', 'bench']);
    const testOnly = [...tests].filter((p) => !product.has(p) && p !== 'vitest');
    expect(testOnly).toContain('tar');
    for (const p of testOnly) expect(pkg.devDependencies[p], `${p} is imported by tests only`).toBeDefined();
    expect(pkg.dependencies.tar).toBeUndefined();
  });
});

describe('engines', () => {
  const oldest = semver.minVersion(pkg.engines.node)!.version;

  it(`every installed package accepts Node ${oldest} (the oldest engines allows) and ${process.version}`, () => {
    const refused: string[] = [];
    for (const [path, p] of Object.entries(lock.packages)) {
      const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
      if (path === '' || range === undefined) continue;
      for (const node of [oldest, process.version]) {
        if (!semver.satisfies(node, range)) refused.push(`${path}@${p.version} needs node ${range}, refuses ${node}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it('the Node running the tests is one engines allows', () => {
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });
});
