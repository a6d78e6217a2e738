// ELF symbol reading on a ~100 MB image: rumpkg's imageSymbols (components/symbols.ts; bytes in
// memory) and readImageSymbols (positioned reads: headers, symbol table and strings only) against
// `nm --defined-only -g` and `readelf -Ws` on the same file, in the same run, in turns. Needs `npm run
// build` first (imports ../dist) and cc + binutils. The image is generated once (assembly with
// many global functions and data objects, a link_set_rump_components section, and a large
// initialised array to reach the size) and cached in the temp directory.
//
// Env: BENCH_ELF_SYMBOLS (default 300000 functions + 100000 data objects), BENCH_ELF_MB (100),
// BENCH_RUNS (5).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const { imageSymbols, readImageSymbols } = await import('../dist/components/index.js');

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

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
/** Runs the contenders in turns (one round = each once), so load changes hit all alike; medians. */
async function timeRounds(fns) {
  const xs = fns.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of fns.entries()) {
      globalThis.gc?.(); // start each run from a clean heap (npm run bench passes --expose-gc)
      const t0 = performance.now();
      await fn();
      xs[k].push(performance.now() - t0);
    }
  }
  return xs.map(median);
}
function tool(cmd, args) {
  return () => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${cmd} failed`);
  };
}

// correctness first: the same defined globals as nm
let ours = imageSymbols(new Uint8Array(readFileSync(image)), { file: image });
let nmNames = [...new Set(execFileSync('nm', ['-P', '--defined-only', '-g', image], { maxBuffer: 1 << 30, encoding: 'utf8' })
  .split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0]))].sort();
if (JSON.stringify(ours.defined) !== JSON.stringify(nmNames)) throw new Error('imageSymbols disagrees with nm');
const summary = { defined: ours.defined.length, entries: ours.linkSet?.entries, types: ours.linkSet?.types, names: ours.defined };
ours = undefined;
nmNames = undefined;

const positioned = await readImageSymbols(image);
if (JSON.stringify(positioned.defined) !== JSON.stringify(summary.names) || JSON.stringify(positioned.linkSet?.types) !== JSON.stringify(summary.types)) {
  throw new Error('readImageSymbols disagrees with imageSymbols');
}
summary.names = undefined;
const bytes = new Uint8Array(readFileSync(image));
const script = `const { imageSymbols, readImageSymbols } = await import(${JSON.stringify(new URL('../dist/components/index.js', import.meta.url).href)}); await readImageSymbols(${JSON.stringify(image)});`;
const [tParse, tReadParse, tPositioned, tProcess, tNm, tNmP, tReadelf] = await timeRounds([
  () => imageSymbols(bytes, { file: image }),
  () => imageSymbols(new Uint8Array(readFileSync(image)), { file: image }),
  () => readImageSymbols(image),
  tool(process.execPath, ['--max-semi-space-size=64', '--input-type=module', '-e', script]),
  tool('nm', ['--defined-only', '-g', image]),
  tool('nm', ['-P', '--defined-only', '-g', image]),
  tool('readelf', ['-Ws', image]),
]);

const ms = (x) => `${x.toFixed(1)} ms`;
process.stdout.write(`image: ${(size / 1e6).toFixed(1)} MB, ${summary.defined} defined globals, link set entries ${summary.entries} (rc_types ${JSON.stringify(summary.types)}); median of ${runs}\n`);
process.stdout.write(`imageSymbols (bytes in memory)          ${ms(tParse)}\n`);
process.stdout.write(`imageSymbols (readFile + parse)         ${ms(tReadParse)}\n`);
process.stdout.write(`readImageSymbols (positioned reads)     ${ms(tPositioned)}\n`);
process.stdout.write(`node process: import + readImageSymbols ${ms(tProcess)}\n`);
process.stdout.write(`nm --defined-only -g                    ${ms(tNm)}\n`);
process.stdout.write(`nm -P --defined-only -g                 ${ms(tNmP)}\n`);
process.stdout.write(`readelf -Ws                             ${ms(tReadelf)}\n`);
process.stdout.write(`ratio nm / (readFile + parse):          ${(tNm / tReadParse).toFixed(2)}x\n`);
process.stdout.write(`ratio nm / readImageSymbols:            ${(tNm / tPositioned).toFixed(2)}x\n`);
process.stdout.write(`ratio nm / whole node process:          ${(tNm / tProcess).toFixed(2)}x\n`);
process.stdout.write(`ratio readelf -Ws / (readFile + parse): ${(tReadelf / tReadParse).toFixed(2)}x\n`);
process.stdout.write(`ratio readelf -Ws / readImageSymbols:   ${(tReadelf / tPositioned).toFixed(2)}x\n`);
process.stdout.write(`ratio readelf -Ws / whole node process: ${(tReadelf / tProcess).toFixed(2)}x\n`);
