// `rumpkg audit IMAGE --no-registry --json` (the shipped bin: read the file, sha256 it, every
// defined global symbol, the link set followed to its structs, the embedded manifest, licences)
// on a ~100 MB ELF against `nm --defined-only -g` on the same file, process against process,
// alternating. The in-process auditImage with 200 known components (fingerprint matching) is
// timed for the record. The goal row on the real archives is the lead's bench (audit vs nm).
// Needs `npm run build` and cc + binutils; the image is shared with bench/elf.mjs.
// Env: BENCH_ELF_SYMBOLS (default 300000 functions + 100000 data objects), BENCH_ELF_MB (100),
// BENCH_ROUNDS (5).
import { execFileSync } from 'node:child_process';
import { bigElfImage } from './lib/big-elf.mjs';
import { fmtMs, loadAverage, report, rounds, rumpkg, tool } from './lib/measure.mjs';

const { auditImage } = await import('../dist/packager/index.js');

const { image, size } = bigElfImage();

// Known components: 200 synthetic fingerprints of 1000 names each (half of them in the image),
// so the matching step does real work.
const known = [];
for (let c = 0; c < 200; c++) {
  const defined = [];
  for (let i = 0; i < 1000; i++) defined.push(c % 2 === 0 ? `rumpns_fn_${c * 1000 + i}` : `absent_${c}_${i}`);
  defined.sort();
  known.push({ name: `@bench/c${c}`, version: '1.0.0', target: 'posix-x86_64', license: 'BSD-2-Clause', lib: `libc${c}`, aliases: [], kind: 'component', initLevels: [], defined, computed: { defined: defined.length, digest: 'x' }, source: 'bench' });
}

// correctness first: the audit saw every defined global nm sees, and the 100 present components.
const first = await auditImage(image, { knownComponents: known, target: 'posix-x86_64' });
const nmCount = new Set(execFileSync('nm', ['-P', '--defined-only', '-g', image], { maxBuffer: 1 << 30, encoding: 'utf8' })
  .split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0])).size;
if (first.image.definedSymbols !== nmCount) throw new Error(`audit saw ${first.image.definedSymbols} defined globals, nm ${nmCount}`);
if (first.components.length !== 100) throw new Error(`expected 100 components found, got ${first.components.length}`);

process.stdout.write(`image: ${(size / 1e6).toFixed(1)} MB, ${nmCount} defined globals, link set ${first.image.linkSetEntries} entries; 200 known components, ${first.components.length} found; ${loadAverage()}\n`);
const r = await rounds([
  { name: 'rumpkg', run: rumpkg(['audit', image, '--no-registry', '--json']) },
  { name: 'nm', run: tool('nm', ['--defined-only', '-g', image]) },
]);
report({ metric: 'rumpkg audit of a 100 MB ELF vs nm --defined-only -g (process vs process)', rumpkg: r.rumpkg, peer: r.nm, peerName: 'nm' });
const inproc = await rounds([{ name: 'audit', run: () => auditImage(image, { knownComponents: known, target: 'posix-x86_64' }) }]);
process.stdout.write(`in process: auditImage with 200 known components ${fmtMs(inproc.audit.median)} (median)\n`);
