// ELF symbol reading on a ~100 MB image: rumpkg's imageSymbols (components/symbols.ts; bytes in
// memory) and readImageSymbols (positioned reads: headers, symbol table and strings only) against
// `nm --defined-only -g` and `readelf -Ws` on the same file, in the same run, in turns. Needs `npm run
// build` first (imports ../dist) and cc + binutils. The image is generated once (assembly with
// many global functions and data objects, a link_set_rump_components section, and a large
// initialised array to reach the size) and cached in the temp directory.
//
// Env: BENCH_ELF_SYMBOLS (default 300000 functions + 100000 data objects), BENCH_ELF_MB (100),
// BENCH_RUNS (5).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { bigElfImage } from './lib/big-elf.mjs';
import { median, timeRounds, tool } from './lib/measure.mjs';

const { imageSymbols, readImageSymbols } = await import('../dist/components/index.js');

const runs = Number(process.env.BENCH_RUNS ?? 5);
const { image, size } = bigElfImage();
const timeRoundsN = (fns) => timeRounds(fns, runs);

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
const [tParse, tReadParse, tPositioned, tProcess, tNm, tNmP, tReadelf] = await timeRoundsN([
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
