// Reading the defined global symbols of a ~100 MB ELF image, process against process: a node
// process running rumpkg's readImageSymbols (positioned reads: headers, symbol table and strings
// only) against `nm --defined-only -g` and `readelf -Ws` on the same file, alternating. The
// in-process parse times are printed for the record. Needs `npm run build`, cc and binutils. The
// image is generated once and cached (bench/lib/big-elf.mjs, shared with bench/audit.mjs).
// Env: BENCH_ELF_SYMBOLS (default 300000 functions + 100000 data objects), BENCH_ELF_MB (100),
// BENCH_ROUNDS (5).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { bigElfImage } from './lib/big-elf.mjs';
import { fmtMs, loadAverage, report, rounds, tool } from './lib/measure.mjs';

const { imageSymbols, readImageSymbols } = await import('../dist/components/index.js');

const { image, size } = bigElfImage();

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
console.log(`image: ${(size / 1e6).toFixed(1)} MB, ${summary.defined} defined globals, link set entries ${summary.entries}; ${loadAverage()}`);

const script = `const { readImageSymbols } = await import(${JSON.stringify(new URL('../dist/components/index.js', import.meta.url).href)}); await readImageSymbols(${JSON.stringify(image)});`;
const r = await rounds([
  { name: 'rumpkg', run: tool(process.execPath, ['--input-type=module', '-e', script]) },
  { name: 'nm', run: tool('nm', ['--defined-only', '-g', image]) },
  { name: 'readelf', run: tool('readelf', ['-Ws', image]) },
]);
report({ metric: 'defined globals of a 100 MB ELF: node + readImageSymbols vs nm --defined-only -g (process vs process)', rumpkg: r.rumpkg, peer: r.nm, peerName: 'nm' });
report({ metric: 'defined globals of a 100 MB ELF: node + readImageSymbols vs readelf -Ws (process vs process)', rumpkg: r.rumpkg, peer: r.readelf, peerName: 'readelf' });

const bytes = new Uint8Array(readFileSync(image));
const inproc = await rounds([
  { name: 'parse', run: () => imageSymbols(bytes, { file: image }) },
  { name: 'positioned', run: () => readImageSymbols(image) },
]);
console.log(`in process: imageSymbols (bytes in memory) ${fmtMs(inproc.parse.median)}, readImageSymbols (positioned reads) ${fmtMs(inproc.positioned.median)} (medians)`);
