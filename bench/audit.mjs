// `rumpkg audit` (packager auditImage: read the file, sha256 it, every defined global symbol,
// the link set followed to its structs, the embedded manifest, fingerprint matching, licences)
// on a ~100 MB ELF against `nm --defined-only -g` and `readelf -Ws` on the same file, same run.
// Needs `npm run build` first (imports ../dist) and cc + binutils. The image is generated as in
// bench/elf.mjs (same cache directory, so the two share it): many global functions and data
// objects, a link_set_rump_components section and a large initialised array to reach the size.
//
// Env: BENCH_ELF_SYMBOLS (default 300000 functions + 100000 data objects), BENCH_ELF_MB (100),
// BENCH_RUNS (5).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const { auditImage } = await import('../dist/packager/index.js');

const nfunc = Number(process.env.BENCH_ELF_SYMBOLS ?? 300_000);
const ndata = Math.floor(nfunc / 3);
const mb = Number(process.env.BENCH_ELF_MB ?? 100);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const dir = join(tmpdir(), `rumpkg-bench-elf-${nfunc}-${mb}`);
const image = join(dir, 'image');

function generate() {
  mkdirSync(dir, { recursive: true });
  const parts = ['\t.text'];
  for (let i = 0; i < nfunc; i++) {
    parts.push(`\t.globl rumpns_fn_${i}\n\t.type rumpns_fn_${i},@function\nrumpns_fn_${i}:\n\tret\n\t.size rumpns_fn_${i},1`);
    if (i % 4 === 0) parts.push(`local_fn_${i}:\n\tret`);
  }
  parts.push('\t.data');
  for (let i = 0; i < ndata; i++) parts.push(`\t.globl rumpns_obj_${i}\n\t.type rumpns_obj_${i},@object\nrumpns_obj_${i}:\n\t.quad ${i}\n\t.size rumpns_obj_${i},8`);
  parts.push('\t.section .rodata\ncomp0:\n\t.long 7\n\t.quad 0\ncomp1:\n\t.long 2\n\t.quad 0');
  parts.push('\t.section link_set_rump_components,"aw"\n\t.quad comp0\n\t.quad comp1');
  parts.push(`\t.data\n\t.globl big_array\nbig_array:\n\t.byte 1\n\t.zero ${mb * 1_000_000}`);
  parts.push('\t.text\n\t.globl main\nmain:\n\txor %eax,%eax\n\tret\n\t.section .note.GNU-stack,"",@progbits\n');
  writeFileSync(join(dir, 'image.s'), parts.join('\n'));
  execFileSync('cc', ['-no-pie', join(dir, 'image.s'), '-o', image], { stdio: 'inherit' });
}

if (!existsSync(image)) {
  const t0 = performance.now();
  generate();
  process.stdout.write(`generated ${image} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
const size = statSync(image).size;

// Known components: 200 synthetic fingerprints of 1000 names each (half of them in the image),
// so the matching step does real work.
const known = [];
for (let c = 0; c < 200; c++) {
  const defined = [];
  for (let i = 0; i < 1000; i++) defined.push(c % 2 === 0 ? `rumpns_fn_${c * 1000 + i}` : `absent_${c}_${i}`);
  defined.sort();
  known.push({ name: `@bench/c${c}`, version: '1.0.0', target: 'posix-x86_64', license: 'BSD-2-Clause', lib: `libc${c}`, aliases: [], kind: 'component', initLevels: [], defined, computed: { defined: defined.length, digest: 'x' }, source: 'bench' });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
/** Runs the contenders in turns (one round = each once), so load changes hit all alike; medians. */
async function timeRounds(fns) {
  const xs = fns.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of fns.entries()) {
      globalThis.gc?.();
      const t0 = performance.now();
      await fn();
      xs[k].push(performance.now() - t0);
    }
  }
  return xs.map(median);
}
function tool(cmd, args) {
  return async () => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${cmd} failed`);
  };
}

// correctness first: the audit saw every defined global nm sees, and the 100 present components.
const report = await auditImage(image, { knownComponents: known, target: 'posix-x86_64' });
const nmCount = new Set(execFileSync('nm', ['-P', '--defined-only', '-g', image], { maxBuffer: 1 << 30, encoding: 'utf8' })
  .split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0])).size;
if (report.image.definedSymbols !== nmCount) throw new Error(`audit saw ${report.image.definedSymbols} defined globals, nm ${nmCount}`);
if (report.components.length !== 100) throw new Error(`expected 100 components found, got ${report.components.length}`);

const cli = new URL('../dist/cli/bin.js', import.meta.url).pathname;
const [tAudit, tCli, tNm, tReadelf] = await timeRounds([
  () => auditImage(image, { knownComponents: known, target: 'posix-x86_64' }),
  // the whole `rumpkg audit` process (node start-up, CLI, audit without known components, JSON out)
  tool(process.execPath, [cli, 'audit', image, '--no-registry', '--json']),
  tool('nm', ['--defined-only', '-g', image]),
  tool('readelf', ['-Ws', image]),
]);
const ms = (x) => `${x.toFixed(0)} ms`;
process.stdout.write(`image: ${(size / 1e6).toFixed(1)} MB, ${nmCount} defined globals, link set ${report.image.linkSetEntries} entries; 200 known components, ${report.components.length} found; median of ${runs} rounds (contenders in turns)\n`);
process.stdout.write(`rumpkg auditImage (read + sha256 + symbols + link set + match + licences): ${ms(tAudit)}\n`);
process.stdout.write(`rumpkg audit IMAGE --no-registry --json (whole process): ${ms(tCli)}   ratio nm/process ${(tNm / tCli).toFixed(2)}x\n`);
process.stdout.write(`nm --defined-only -g:  ${ms(tNm)}   ratio nm/audit      ${(tNm / tAudit).toFixed(2)}x\n`);
process.stdout.write(`readelf -Ws:           ${ms(tReadelf)}   ratio readelf/audit ${(tReadelf / tAudit).toFixed(2)}x\n`);
process.stdout.write(`goal (faster than nm): ${tAudit < tNm ? 'met' : 'NOT met'}\n`);
