// `rumpkg import archives` on 100 archives totalling ~200 MB, side by side with `nm` over the
// same archives, in the same run. Needs `npm run build` first (imports ../dist) and binutils.
//
// The archives are generated once (GNU as; cached in the temp directory): one per catalog
// library (the first 100), each with BENCH_IMPORT_FUNCS global functions (default 2500, about
// real librump.a's 2347), weak and common definitions, strong undefined references to symbols
// of its catalog dependencies, a link_set_rump_components entry, and an initialised array
// padding it to ~2 MB (real archives: 10 MB for 82; the padding stands for code and data).
//
// The archives register through link sets (like NetBSD-native and rumprun builds), so they are
// imported for hw-x86_64. Timed, process against process, alternating: (a) `rumpkg import archives --dry-run` (the
// shipped bin: read + scan + symbol analysis + manifests), (b) the full import (also copies the
// 200 MB and writes 100 component directories), against (c) `nm -g` over the 100 archives (one
// process) — what the analysis needs at minimum — and (d) `nm` (all symbols). The import on the
// real archives is the lead's bench. Env: BENCH_ROUNDS (default 5), BENCH_IMPORT_MB (per
// archive, default 2).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadAverage, report, rounds, rumpkg, tool } from './lib/measure.mjs';

const { importArchives, loadCatalog } = await import('../dist/components/index.js');

const nfunc = Number(process.env.BENCH_IMPORT_FUNCS ?? 2500);
const mbPer = Number(process.env.BENCH_IMPORT_MB ?? 2);
const N = 100;
const dir = join(tmpdir(), `rumpkg-bench-import-v1-${nfunc}-${mbPer}`);
const lib = join(dir, 'lib');

function generate() {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'src'), { recursive: true });
  mkdirSync(lib, { recursive: true });
  const catalog = loadCatalog();
  const comps = catalog.components.slice(0, N);
  const libOf = new Map(catalog.components.map((c) => [c.name, c.lib]));
  for (const [k, c] of comps.entries()) {
    const p = [`\t.text`];
    for (let i = 0; i < nfunc; i++) p.push(`\t.globl rumpns_${c.lib}_f${i}\n\t.type rumpns_${c.lib}_f${i},@function\nrumpns_${c.lib}_f${i}:\n\tret\n\t.size rumpns_${c.lib}_f${i},1`);
    for (let i = 0; i < 50; i++) p.push(`\t.weak rumpns_${c.lib}_w${i}\nrumpns_${c.lib}_w${i}:\n\tret`);
    for (let i = 0; i < 20; i++) p.push(`\t.comm rumpns_${c.lib}_c${i},8,8`);
    p.push(`\t.globl rumpns_${c.lib}_caller\nrumpns_${c.lib}_caller:`);
    for (const d of c.dependencies) {
      const dl = libOf.get(d);
      if (dl === undefined || !comps.some((x) => x.lib === dl)) continue;
      for (let i = 0; i < 40; i++) p.push(`\tcall rumpns_${dl}_f${(i * 37) % nfunc}`);
    }
    p.push(`\tcall rumpuser_putchar\n\tret`);
    p.push(`\t.section .rodata\ncomp:\n\t.long ${k % 14}\n\t.quad 0\n\t.section link_set_rump_components,"aw"\n\t.quad comp`);
    p.push(`\t.data\npad_${k}:\n\t.byte 1\n\t.zero ${mbPer * 1_000_000}`);
    p.push(`\t.section .note.GNU-stack,"",@progbits\n`);
    const s = join(dir, 'src', `${c.lib}.s`);
    const o = join(dir, 'src', `${c.lib}.o`);
    writeFileSync(s, p.join('\n'));
    execFileSync('as', ['-o', o, s]);
    execFileSync('ar', ['rcsD', join(lib, `${c.lib}.a`), o]);
    rmSync(o);
    rmSync(s);
  }
}

if (!existsSync(join(lib, 'librump.a')) || readdirSync(lib).length !== N) {
  const t0 = performance.now();
  generate();
  process.stdout.write(`generated ${N} archives in ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
const files = readdirSync(lib).sort().map((f) => join(lib, f));
const total = files.reduce((n, f) => n + statSync(f).size, 0);

const out = join(dir, 'out');
const common = ['import', 'archives', lib, '--target', 'hw-x86_64', '--version', '10.0.0', '--no-include'];
const r = await rounds([
  { name: 'analysis', run: rumpkg([...common, '--dry-run', '--json']) },
  { name: 'full', run: rumpkg([...common, '-o', out, '--json']), teardown: () => rmSync(out, { recursive: true, force: true }) },
  { name: 'nmG', run: tool('nm', ['-g', ...files]) },
  { name: 'nmAll', run: tool('nm', files) },
]);
process.stdout.write(`${files.length} archives, ${(total / 1e6).toFixed(0)} MB, ${nfunc} functions each; ${loadAverage()}\n`);
report({ metric: 'rumpkg import archives --dry-run vs nm -g (100 synthetic archives, 200 MB)', rumpkg: r.analysis, peer: r.nmG, peerName: 'nm -g' });
report({ metric: 'rumpkg import archives (writes 100 dirs) vs nm -g (100 synthetic archives, 200 MB)', rumpkg: r.full, peer: r.nmG, peerName: 'nm -g' });
report({ metric: 'rumpkg import archives --dry-run vs nm, all symbols (100 synthetic archives)', rumpkg: r.analysis, peer: r.nmAll, peerName: 'nm' });
const last = await importArchives(lib, { target: 'hw-x86_64', version: '10.0.0', dryRun: true });
const counts = {};
for (const st of Object.values(last.analysis.status)) for (const v of Object.values(st)) counts[v] = (counts[v] ?? 0) + 1;
process.stdout.write(`  symbol edges: ${JSON.stringify(counts)}; findings: ${last.findings.length}\n`);
