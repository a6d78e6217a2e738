// `rumpkg audit` (packager auditImage: read the file, sha256 it, every defined global symbol,
// the link set followed to its structs, the embedded manifest, fingerprint matching, licences)
// on a ~100 MB ELF against `nm --defined-only -g` and `readelf -Ws` on the same file, same run.
// Needs `npm run build` first (imports ../dist) and cc + binutils. The image is generated as in
// bench/elf.mjs (same cache directory, so the two share it): many global functions and data
// objects, a link_set_rump_components section and a large initialised array to reach the size.
//
// Env: BENCH_ELF_SYMBOLS (default 300000 functions + 100000 data objects), BENCH_ELF_MB (100),
// BENCH_RUNS (5).
import { execFileSync } from 'node:child_process';
import { bigElfImage } from './lib/big-elf.mjs';
import { median, timeRounds, tool } from './lib/measure.mjs';

const { auditImage } = await import('../dist/packager/index.js');

const runs = Number(process.env.BENCH_RUNS ?? 5);
const { image, size } = bigElfImage();
const timeRoundsN = (fns) => timeRounds(fns, runs);

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
const report = await auditImage(image, { knownComponents: known, target: 'posix-x86_64' });
const nmCount = new Set(execFileSync('nm', ['-P', '--defined-only', '-g', image], { maxBuffer: 1 << 30, encoding: 'utf8' })
  .split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0])).size;
if (report.image.definedSymbols !== nmCount) throw new Error(`audit saw ${report.image.definedSymbols} defined globals, nm ${nmCount}`);
if (report.components.length !== 100) throw new Error(`expected 100 components found, got ${report.components.length}`);

const cli = new URL('../dist/cli/bin.js', import.meta.url).pathname;
const [tAudit, tCli, tNm, tReadelf] = await timeRoundsN([
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
