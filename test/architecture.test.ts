/**
 * Module boundaries (DESIGN.md §3, STYLE.md §1): imports flow
 * schemas ← components ← resolver ← registry ← packager ← cli, a module imports another only
 * through its index.ts, and the resolver never touches fs, network, pacote or octokit.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const ORDER = ['schemas', 'components', 'resolver', 'registry', 'packager', 'cli'] as const;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

export function importsOf(source: string): string[] {
  const re = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  const found: string[] = [];
  for (const m of source.matchAll(re)) found.push((m[1] ?? m[2]) as string);
  return found;
}

/** Returns one message per violation in `files` (module-relative paths). */
export function violations(files: Array<{ path: string; source: string }>): string[] {
  const bad: string[] = [];
  for (const f of files) {
    const from = f.path.split('/')[0] as (typeof ORDER)[number];
    const fromRank = ORDER.indexOf(from);
    for (const spec of importsOf(f.source)) {
      if (from === 'resolver' && /^(node:)?(fs|fs\/promises|http|https|net|child_process)$|^(pacote|octokit|tar)$/.test(spec)) {
        bad.push(`${f.path}: the resolver must stay pure but imports ${spec}`);
      }
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(f.path), spec)).split(sep).join('/');
      const to = target.split('/')[0] as (typeof ORDER)[number];
      if (to === from || !ORDER.includes(to)) continue;
      if (ORDER.indexOf(to) > fromRank) bad.push(`${f.path}: ${from} must not import ${to} (${spec})`);
      else if (target !== `${to}/index.js`) bad.push(`${f.path}: imports ${to}'s internals (${spec}); use ${to}/index.js`);
    }
  }
  return bad;
}

describe('module boundaries', () => {
  it('the real tree has no violations', () => {
    const files = ORDER.flatMap((m) => tsFiles(join(root, m))).map((p) => ({
      path: relative(root, p).split(sep).join('/'),
      source: readFileSync(p, 'utf8'),
    }));
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
    const files = tsFiles(join(root, 'cli')).map((p) => ({ path: relative(root, p).split(sep).join('/'), source: readFileSync(p, 'utf8') }));
    expect(eagerCliImports(files)).toEqual([]);
    expect(eagerCliImports([{ path: 'cli/commands/x.ts', source: "import { RumpkgError } from '../../components/index.js';" }])).toHaveLength(1);
    expect(eagerCliImports([{ path: 'cli/commands/x.ts', source: "import type { Lockfile } from '../../components/index.js';" }])).toHaveLength(0);
  });
});
