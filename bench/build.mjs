// `rumpkg build` of examples/hello-net-like project (tcpip + virtif + net-config from the
// miniature corpus, posix-x86_64), side by side with the same work done without rumpkg:
//   - full: `rumpkg build --force` (CLI, fresh process) vs running the plan's own tool commands
//     (the `--dry-run` script: stage, 2× cc -c, 2× objcopy, cc link, objcopy) directly with sh;
//   - link: the same vs the plan's `cc` link command alone, in a staged build directory;
//   - no-op: `rumpkg build` with nothing changed (goal < 150 ms), next to `rumpkg --version`
//     (the CLI's bare start-up cost on this machine) and the in-process no-op buildProject;
//   - the image's size per component (rumpkg size).
// Median of RUNS runs. Needs `npm run build` first (imports ../dist). Run: `npm run bench -- build`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { INIT_LEVEL_RUN_ORDER } from '../dist/components/index.js';
import { buildCorpus, corpusFingerprint } from '../dist/scripts/corpus/index.js';
import { buildProject, componentDirsFromRoot, readSizeReport, renderPlanScript } from '../dist/packager/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const BIN = resolve('dist/cli/bin.js');
const VERSION = '10.0.0';
const TARGET = 'posix-x86_64';

async function corpus() {
  const opts = { versions: [VERSION], targets: [TARGET] };
  // Keyed on the compiled generator, the catalog and the C assets.
  const h = createHash('sha256').update(await corpusFingerprint(opts));
  const root = join(tmpdir(), `rumpkg-bench-corpus-${h.digest('hex').slice(0, 16)}`);
  if (existsSync(join(root, '.done'))) return root;
  const tmp = mkdtempSync(join(tmpdir(), 'rumpkg-bench-corpus-tmp-'));
  await buildCorpus(tmp, opts);
  writeFileSync(join(tmp, '.done'), '');
  try {
    renameSync(tmp, root);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  return root;
}

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
    components[n] = { version: m.version, registry: '@rump', tarball: `${n}/-/${bare(n)}-${m.version}.tgz`, integrity: 'sha512-bench', license: m.license, lib: m.rump.lib, kind: m.rump.kind, initLevels: m.rump.initLevels, dependencies: m.dependencies, requires: {}, provides: m.rump.provides, optionalDependencies: {}, requiredBy: [] };
  }
  const initOrder = INIT_LEVEL_RUN_ORDER.flatMap((level) => linkOrder.filter((n) => components[n].initLevels.includes(level)).map((n) => ({ level, component: n, lib: components[n].lib })));
  return { platform: '@rump/rumpuser', components, linkOrder, initOrder };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function time(fn) {
  const out = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return median(out);
}
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

const root = await corpus();
const dir = mkdtempSync(join(tmpdir(), 'rumpkg-bench-build-'));
const names = ['@rump/net-config', '@rump/tcpip', '@rump/virtif'];
const lt = lockedTarget(root, names);
writeFileSync(join(dir, 'rumpkg.json'), JSON.stringify({ schemaVersion: 1, name: 'hello-net', targets: [TARGET], components: Object.fromEntries(names.map((n) => [n, '^10.0.0'])), registries: {}, image: { sources: ['app.c'], net: [{ if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '24' }] } }));
writeFileSync(join(dir, 'rumpkg.lock'), JSON.stringify({ lockfileVersion: 1, revision: 1, requested: {}, targets: { [TARGET]: lt } }));
writeFileSync(join(dir, 'app.c'), readFileSync('examples/hello-net/app.c'));
const cli = (...a) => sh(process.execPath, [BIN, ...a, '--components-dir', root], { cwd: dir });

// The plan, as a script (full) and staged for the link step alone.
const [dry] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root), dryRun: true });
const script = renderPlanScript(dry.plan);
const byHandOut = join(dir, 'by-hand');
const stage = mkdtempSync(join(tmpdir(), 'rumpkg-bench-stage-'));
sh('sh', ['-c', script.replace('B=$(mktemp -d)', `B=${stage}`)], { env: { ...process.env, OUT: byHandOut } });
const link = dry.plan.steps.find((s) => s.args.includes('image.linked') && s.args.includes('-o'));

cli('build', '--force');
const tBuild = time(() => cli('build', '--force'));
const tScript = time(() => sh('sh', ['-c', script], { env: { ...process.env, OUT: byHandOut } }));
const tLink = time(() => sh(link.command[0], [...link.command.slice(1), ...link.args], { cwd: stage }));
const tNoop = time(() => cli('build'));
const tVersion = time(() => sh(process.execPath, [BIN, '--version']));
const inproc = [];
for (let i = 0; i < RUNS; i++) {
  const t = performance.now();
  const [r] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root) });
  if (!r.upToDate) throw new Error('expected an up-to-date build');
  inproc.push(performance.now() - t);
}
const same = createHash('sha256').update(readFileSync(byHandOut)).digest('hex') === createHash('sha256').update(readFileSync(join(dir, 'build', TARGET, 'hello-net'))).digest('hex');

const f = (ms) => `${ms.toFixed(0)} ms`;
console.log(`runs per measurement: ${RUNS} (median); ${names.join(' + ')} → ${lt.linkOrder.length} components`);
console.log(`rumpkg build --force (CLI)            ${f(tBuild)}`);
console.log(`plan's commands run directly (sh)     ${f(tScript)}   ratio ${(tBuild / tScript).toFixed(2)} (goal ≤ 1.15)`);
console.log(`plan's cc link command alone          ${f(tLink)}   ratio ${(tBuild / tLink).toFixed(2)}`);
console.log(`no-op rebuild (CLI)                   ${f(tNoop)}   (goal < 150 ms)`);
console.log(`  rumpkg --version (CLI start-up)     ${f(tVersion)}`);
console.log(`  no-op buildProject in process       ${median(inproc).toFixed(1)} ms`);
console.log(`by-hand image identical to rumpkg's:  ${same}`);
const size = await readSizeReport(join(dir, 'build', TARGET, 'hello-net'));
console.log(`image: ${size.fileBytes} bytes on disk, ${size.allocBytes} allocated`);
for (const r of size.rows) console.log(`  ${r.owner.padEnd(18)} ${String(r.total).padStart(6)} B  (text ${r.text}, data ${r.data}, bss ${r.bss})`);
console.log(`  ${'(unattributed)'.padEnd(18)} ${String(size.unattributed).padStart(6)} B`);
rmSync(dir, { recursive: true, force: true });
rmSync(stage, { recursive: true, force: true });
