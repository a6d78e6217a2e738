// `rumpkg build --force` of an examples/hello-net-like project (tcpip + virtif + net-config from
// the miniature corpus, posix-x86_64), whole process (the shipped bin) against the same work done
// without rumpkg, alternating:
//   - the plan's own tool commands (the `--dry-run` script: stage, 2× cc -c, 2× objcopy, cc link,
//     objcopy) run directly by sh — the goal row (≤ 1.15× + 100 ms; on the real tcpip image the
//     lead's bench/real-*.mjs reports the same metric);
//   - the plan's `cc` link command alone, in a staged build directory (the linker's own time);
// plus the image's size per component (rumpkg size). The no-op build is in bench/install.mjs.
// Needs `npm run build` and cc. Env: BENCH_ROUNDS (default 5).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INIT_LEVEL_RUN_ORDER } from '../dist/components/index.js';
import { buildProject, componentDirsFromRoot, readSizeReport, renderPlanScript } from '../dist/packager/index.js';
import { cachedCorpus } from './lib/corpus.mjs';
import { ROOT, loadAverage, report, rounds, rumpkg, tool } from './lib/measure.mjs';

const VERSION = '10.0.0';
const TARGET = 'posix-x86_64';

const bare = (n) => n.replace(/^@[^/]+\//, '');
/** The hard-dependency closure + rumpuser, link order dependents-first, init order by level. */
function lockedTarget(root, names) {
  const man = new Map();
  const visit = (n) => {
    if (man.has(n)) return;
    const m = JSON.parse(readFileSync(join(root, VERSION, bare(n), 'package.json'), 'utf8'));
    man.set(n, m);
    for (const d of Object.keys(m.dependencies).sort()) visit(d);
  };
  for (const n of [...names, '@rump/rumpuser']) visit(n);
  const order = [];
  const done = new Set();
  const place = (n) => {
    if (done.has(n)) return;
    done.add(n);
    for (const d of Object.keys(man.get(n).dependencies).sort()) place(d);
    order.unshift(n);
  };
  for (const n of [...man.keys()].sort().reverse()) if (n !== '@rump/rumpuser') place(n);
  const linkOrder = [...order, '@rump/rumpuser'];
  const components = {};
  for (const [n, m] of [...man].sort()) {
    components[n] = { version: m.version, registry: '@rump', tarball: `${n}/-/${bare(n)}-${m.version}.tgz`, integrity: `sha512-${createHash('sha512').update(n).digest('base64')}`, license: m.license, lib: m.rump.lib, kind: m.rump.kind, initLevels: m.rump.initLevels, dependencies: m.dependencies, requires: {}, provides: m.rump.provides, optionalDependencies: {}, requiredBy: [] };
  }
  const initOrder = INIT_LEVEL_RUN_ORDER.flatMap((level) => linkOrder.filter((n) => components[n].initLevels.includes(level)).map((n) => ({ level, component: n, lib: components[n].lib })));
  return { platform: '@rump/rumpuser', components, linkOrder, initOrder };
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

const root = await cachedCorpus({ versions: [VERSION], targets: [TARGET] });
const dir = mkdtempSync(join(tmpdir(), 'rumpkg-bench-build-'));
const names = ['@rump/net-config', '@rump/tcpip', '@rump/virtif'];
const lt = lockedTarget(root, names);
writeFileSync(join(dir, 'rumpkg.json'), JSON.stringify({ schemaVersion: 1, name: 'hello-net', targets: [TARGET], components: Object.fromEntries(names.map((n) => [n, '^10.0.0'])), registries: {}, image: { sources: ['app.c'], net: [{ if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '24' }] } }));
writeFileSync(join(dir, 'rumpkg.lock'), JSON.stringify({ lockfileVersion: 1, revision: 1, requested: {}, targets: { [TARGET]: lt } }));
writeFileSync(join(dir, 'app.c'), readFileSync(join(ROOT, 'examples/hello-net/app.c')));

// The plan, as a script (full) and staged for the link step alone.
const [dry] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root), dryRun: true });
const script = renderPlanScript(dry.plan);
const byHandOut = join(dir, 'by-hand');
const stage = mkdtempSync(join(tmpdir(), 'rumpkg-bench-stage-'));
sh('sh', ['-c', script.replace('B=$(mktemp -d)', `B=${stage}`)], { env: { ...process.env, OUT: byHandOut } });
const link = dry.plan.steps.find((s) => s.args.includes('image.linked') && s.args.includes('-o'));

sh(join(ROOT, 'dist/rumpkg'), ['build', '--force', '--components-dir', root], { cwd: dir });
const r = await rounds([
  { name: 'rumpkg', run: rumpkg(['build', '--force', '--components-dir', root], { cwd: dir }) },
  { name: 'script', run: tool('sh', ['-c', script], { env: { ...process.env, OUT: byHandOut } }) },
  { name: 'link', run: tool(link.command[0], [...link.command.slice(1), ...link.args], { cwd: stage }) },
]);
const same = createHash('sha256').update(readFileSync(byHandOut)).digest('hex') === createHash('sha256').update(readFileSync(join(dir, 'build', TARGET, 'hello-net'))).digest('hex');
console.log(`${names.join(' + ')} → ${lt.linkOrder.length} components; by-hand image identical to rumpkg's: ${same}; ${loadAverage()}`);
if (!same) process.exitCode = 1;
report({ metric: "rumpkg build --force vs the plan's commands by sh (miniature hello-net)", rumpkg: r.rumpkg, peer: r.script, peerName: 'sh plan script', goal: { ratio: 1.15, plusMs: 100 }, floor: { name: "the plan's cc link alone", ...r.link } });
report({ metric: "rumpkg build --force vs the plan's cc link alone (miniature hello-net)", rumpkg: r.rumpkg, peer: r.link, peerName: 'cc link' });
const size = await readSizeReport(join(dir, 'build', TARGET, 'hello-net'));
console.log(`image: ${size.fileBytes} bytes on disk, ${size.allocBytes} allocated`);
for (const row of size.rows) console.log(`  ${row.owner.padEnd(18)} ${String(row.total).padStart(6)} B  (text ${row.text}, data ${row.data}, bss ${row.bss})`);
console.log(`  ${'(unattributed)'.padEnd(18)} ${String(size.unattributed).padStart(6)} B`);
rmSync(dir, { recursive: true, force: true });
rmSync(stage, { recursive: true, force: true });
