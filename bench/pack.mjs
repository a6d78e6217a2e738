// Pack and unpack throughput of a ~50 MB component, side by side with GNU `tar czf` / `tar xzf`
// of the same tree (gzip level 6 in both cases). Prints MB/s of file content and the ratio
// rumpkg time / tar time (lower is better; 1.0 = as fast as tar). Median of RUNS runs.
// Needs `npm run build` first (imports ../dist). Run: `npm run bench -- pack`.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packComponent, unpackComponent } from '../dist/components/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MB = 1024 * 1024;
const base = mkdtempSync(join(tmpdir(), 'rumpkg-bench-pack-'));
const src = join(base, 'component');

function compressible(bytes) {
  const lines = [];
  let n = 0;
  let i = 0;
  while (n < bytes) {
    const l = `int rumpns_sym_${i}(int a) { return a * ${i % 97} + ${(i * 7919) % 1000}; } /* netinet tcp_input.c */\n`;
    lines.push(l);
    n += l.length;
    i++;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

function buildTree() {
  mkdirSync(join(src, 'lib/posix-x86_64'), { recursive: true });
  mkdirSync(join(src, 'include/netinet'), { recursive: true });
  mkdirSync(join(src, 'src'), { recursive: true });
  // An ar archive: magic + one member header + a mix of random and repetitive bytes.
  const member = Buffer.concat([randomBytes(8 * MB), compressible(8 * MB)]);
  const hdr = Buffer.from(`${'x.o/'.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'644'.padEnd(8)}${String(member.length).padEnd(10)}\`\n`);
  writeFileSync(join(src, 'lib/posix-x86_64/x.a'), Buffer.concat([Buffer.from('!<arch>\n'), hdr, member]));
  for (let i = 0; i < 3; i++) writeFileSync(join(src, `src/blob${i}.bin`), randomBytes(6 * MB));
  writeFileSync(join(src, 'src/sources.c'), compressible(14 * MB));
  for (let i = 0; i < 200; i++) writeFileSync(join(src, `include/netinet/h${i}.h`), compressible(8 * 1024));
  const manifest = {
    name: '@rump/bench', version: '1.0.0', license: 'BSD-2-Clause', description: 'bench component',
    dependencies: {},
    rump: {
      schemaVersion: 1, kind: 'component', lib: 'librumpbench', aliases: [], faction: 'net',
      initLevels: ['RUMP_COMPONENT_NET'], requires: [], provides: [], conflicts: [], optionalDependencies: {},
      targets: { 'posix-x86_64': { archive: 'lib/posix-x86_64/x.a' } },
    },
  };
  writeFileSync(join(src, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(fn) {
  const out = [];
  for (let i = 0; i < RUNS; i++) {
    globalThis.gc?.();
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return median(out);
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
}

try {
  buildTree();
  const du = spawnSync('du', ['-sb', src], { encoding: 'utf8' }).stdout.split('\t')[0];
  const size = Number(du);
  let packed;
  const packMs = await time(async () => {
    packed = await packComponent(src);
  });
  const tarPackMs = await time(async (i) => sh('tar', ['czf', join(base, `tar-${i}.tgz`), '-C', src, '.']));
  const again = await packComponent(src);
  const unpackMs = await time(async (i) => {
    await unpackComponent(packed.data, join(base, `out-${i}`), { integrity: packed.integrity });
  });
  writeFileSync(join(base, 'rumpkg.tgz'), packed.data);
  const tarUnpackMs = await time(async (i) => {
    mkdirSync(join(base, `tarout-${i}`));
    sh('tar', ['xzf', join(base, 'rumpkg.tgz'), '-C', join(base, `tarout-${i}`)]);
  });
  const mbs = (ms) => (size / MB / (ms / 1000)).toFixed(1);
  const row = (label, a, b) =>
    `${label.padEnd(8)} rumpkg ${a.toFixed(0).padStart(6)} ms ${mbs(a).padStart(7)} MB/s | tar ${b.toFixed(0).padStart(6)} ms ${mbs(b).padStart(7)} MB/s | ratio ${(a / b).toFixed(2)}`;
  console.log(`component tree: ${(size / MB).toFixed(1)} MB, tarball ${(packed.size / MB).toFixed(1)} MB; median of ${RUNS} runs; node ${process.version}`);
  console.log(row('pack', packMs, tarPackMs));
  console.log(row('unpack', unpackMs, tarUnpackMs));
  console.log(`reproducible: ${again.integrity === packed.integrity ? 'yes' : 'NO'} (${packed.integrity.slice(0, 24)}…)`);
  if (again.integrity !== packed.integrity) process.exitCode = 1;
} finally {
  rmSync(base, { recursive: true, force: true });
}
