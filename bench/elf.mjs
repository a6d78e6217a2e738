// ELF symbol reading on a ~100 MB image: rumpkg's imageSymbols (components/symbols.ts) against
// `nm --defined-only -g` and `readelf -Ws` on the same file, in the same run. Needs `npm run
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

const { imageSymbols } = await import('../dist/components/index.js');

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
function time(fn) {
  const xs = [];
  for (let i = 0; i < runs; i++) {
    globalThis.gc?.(); // start each run from a clean heap (npm run bench passes --expose-gc)
    const t0 = performance.now();
    fn();
    xs.push(performance.now() - t0);
  }
  return median(xs);
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
const summary = { defined: ours.defined.length, entries: ours.linkSet?.entries, types: ours.linkSet?.types };
ours = undefined;
nmNames = undefined;

const bytes = new Uint8Array(readFileSync(image));
const tParse = time(() => imageSymbols(bytes, { file: image }));
const tReadParse = time(() => imageSymbols(new Uint8Array(readFileSync(image)), { file: image }));
const script = `import { readFileSync } from 'node:fs'; const { imageSymbols } = await import(${JSON.stringify(new URL('../dist/components/index.js', import.meta.url).href)}); imageSymbols(new Uint8Array(readFileSync(${JSON.stringify(image)})));`;
const tProcess = time(tool(process.execPath, ['--max-semi-space-size=64', '--input-type=module', '-e', script]));
const tNm = time(tool('nm', ['--defined-only', '-g', image]));
const tNmP = time(tool('nm', ['-P', '--defined-only', '-g', image]));
const tReadelf = time(tool('readelf', ['-Ws', image]));

const ms = (x) => `${x.toFixed(1)} ms`;
process.stdout.write(`image: ${(size / 1e6).toFixed(1)} MB, ${summary.defined} defined globals, link set entries ${summary.entries} (rc_types ${JSON.stringify(summary.types)}); median of ${runs}\n`);
process.stdout.write(`imageSymbols (bytes in memory)          ${ms(tParse)}\n`);
process.stdout.write(`imageSymbols (readFile + parse)         ${ms(tReadParse)}\n`);
process.stdout.write(`node process: import + readFile + parse ${ms(tProcess)}\n`);
process.stdout.write(`nm --defined-only -g                    ${ms(tNm)}\n`);
process.stdout.write(`nm -P --defined-only -g                 ${ms(tNmP)}\n`);
process.stdout.write(`readelf -Ws                             ${ms(tReadelf)}\n`);
process.stdout.write(`ratio nm / (readFile + parse):          ${(tNm / tReadParse).toFixed(2)}x\n`);
process.stdout.write(`ratio nm / whole node process:          ${(tNm / tProcess).toFixed(2)}x\n`);
process.stdout.write(`ratio readelf -Ws / (readFile + parse): ${(tReadelf / tReadParse).toFixed(2)}x\n`);
process.stdout.write(`ratio readelf -Ws / whole node process: ${(tReadelf / tProcess).toFixed(2)}x\n`);
