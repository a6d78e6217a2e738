// Packing and unpacking a 49.6 MB component, whole process against whole process:
//   - `rumpkg pack DIR -o FILE` (the shipped bin) vs GNU `tar czf FILE -C DIR .` (gzip -6 both);
//   - `rumpkg inspect FILE --extract DIR` (integrity, every header validated, manifest checked,
//     files written) vs `tar xzf FILE -C DIR` of the same tarball;
// with `node -e 0` in the same rounds as the floor no Node.js program can beat. Alternating
// rounds, min and median (bench/lib/measure.mjs). The in-process times of packComponent and
// unpackComponent are printed too, to show what start-up costs. Needs `npm run build`.
// Env: BENCH_ROUNDS (default 5).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packComponent, unpackComponent } from '../dist/components/index.js';
import { cli, fmtMs, loadAverage, nodeFloor, report, rounds, rumpkg, tool } from './lib/measure.mjs';

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

try {
  buildTree();
  const size = Number(spawnSync('du', ['-sb', src], { encoding: 'utf8' }).stdout.split('\t')[0]);
  const tgz = join(base, 'rumpkg.tgz');
  const packed = JSON.parse(await cli(['--json', 'pack', src, '-o', tgz]));
  console.log(`component tree: ${(size / 1e6).toFixed(1)} MB, tarball ${(packed.size / 1e6).toFixed(1)} MB; node ${process.version}; ${loadAverage()}`);

  const out = (k) => join(base, `out-${k}`);
  const clean = (k) => () => rmSync(out(k), { recursive: true, force: true });
  const p = await rounds([
    { name: 'rumpkg', run: rumpkg(['pack', src, '-o', join(base, 'r.tgz')]), teardown: () => rmSync(join(base, 'r.tgz'), { force: true }) },
    { name: 'tar', run: tool('tar', ['czf', join(base, 't.tgz'), '-C', src, '.']), teardown: () => rmSync(join(base, 't.tgz'), { force: true }) },
    { name: 'node', run: nodeFloor('pack') },
  ]);
  report({ metric: 'rumpkg pack vs tar czf (49.6 MB tree)', rumpkg: p.rumpkg, peer: p.tar, peerName: 'tar czf', goal: { ratio: 1.5 }, floor: { name: 'node -e 0', ...p.node } });

  const u = await rounds([
    { name: 'rumpkg', run: rumpkg(['inspect', tgz, '--extract', out('r')]), teardown: clean('r') },
    { name: 'tar', setup: () => mkdirSync(out('t')), run: tool('tar', ['xzf', tgz, '-C', out('t')]), teardown: clean('t') },
    { name: 'node', run: nodeFloor('inspect') },
  ]);
  report({ metric: 'rumpkg inspect --extract vs tar xzf (same tarball)', rumpkg: u.rumpkg, peer: u.tar, peerName: 'tar xzf', goal: { ratio: 1.5 }, floor: { name: 'node -e 0', ...u.node } });

  // In-process, for the record (no start-up, no CLI): what the library itself costs.
  const data = (await packComponent(src)).data;
  const inproc = await rounds([
    { name: 'pack', run: () => packComponent(src) },
    { name: 'unpack', run: () => unpackComponent(data, out('i'), { integrity: packed.integrity }), teardown: clean('i') },
  ]);
  console.log(`in process: packComponent ${fmtMs(inproc.pack.median)}, unpackComponent ${fmtMs(inproc.unpack.median)} (medians)`);
  const again = await packComponent(src);
  console.log(`reproducible: ${again.integrity === packed.integrity ? 'yes' : 'NO'} (${packed.integrity.slice(0, 24)}…)`);
  if (again.integrity !== packed.integrity) process.exitCode = 1;
} finally {
  rmSync(base, { recursive: true, force: true });
}
