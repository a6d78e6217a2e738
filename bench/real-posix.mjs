// The real NetBSD 7.99.34 posix-x86_64 archives (../shared/netbsd/real), whole process against
// whole process, alternating rounds (bench/README.md):
//   - `rumpkg import archives` of the whole set (82 archives; analysis without writing, and the
//     full import writing 81 component directories) vs `nm -g` over the same archives; the
//     writing row's floor is `cp -a` of the tree the import writes (the filesystem's share);
//   - `rumpkg build --force` of the real UDP image (examples/real/udp: tcpip) vs the plan's own
//     commands run by `sh` (the --dry-run script) and vs its link command alone; its compiles come
//     from the object cache ($RUMPKG_HOME/objects, filled by the first build), so the fair floor is
//     the link; and `rumpkg build --force` with the object cache emptied before each round (every
//     step runs: the same work as the sh plan);
//   - `rumpkg audit` of that image vs `nm` on it.
// The build rows are sub-second, so they take 3 × BENCH_ROUNDS rounds (as install.mjs does):
// their goal is an absolute margin that five medians on a 2-core machine swing across.
// Needs `npm run build`; skips its rows with a message without ../shared.
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, ROUNDS, cli, exec, missingTools, nodeFloor, report, rounds, rumpkg, skip, tmpName, tool } from './lib/measure.mjs';
import { realSet } from './lib/real.mjs';

const posix = realSet('posix');
const METRICS = {
  analyse: ['rumpkg import archives (82 real archives, analysis) vs nm -g over them', { ratio: 1 }],
  import: ['rumpkg import archives (82 real archives, writing 81 components) vs nm -g over them', { ratio: 1 }],
  build: ['rumpkg build --force (real UDP image) vs the plan\'s own commands (sh)', { ratio: 1.15, plusMs: 100 }],
  link: ['rumpkg build --force (real UDP image) vs its link command alone', { ratio: 1.15, plusMs: 100 }],
  cold: ['rumpkg build --force, object cache emptied (real UDP image) vs the plan\'s own commands (sh)', { ratio: 1.15, plusMs: 100 }],
  audit: ['rumpkg audit (real UDP image) vs nm on it', { ratio: 1 }],
};
const missing = missingTools(['nm', 'cc', 'objcopy', 'sh']);
if (!posix.available || missing.length > 0) {
  const why = !posix.available ? posix.skipReason : `${missing.join(', ')} not on PATH`;
  for (const [metric, goal] of Object.values(METRICS)) skip(metric, why, goal);
  process.exit(0);
}

const build = await posix.dir();
const lib = join(build, 'lib');
const archives = readdirSync(lib).filter((f) => f.endsWith('.a')).sort().map((f) => join(lib, f));
const work = tmpName('rumpkg-bench-real-');
mkdirSync(work, { recursive: true });
const env = { ...process.env, RUMPKG_HOME: join(work, 'home'), NO_COLOR: '1' };
const importArgs = (out) => ['import', 'archives', lib, '--target', 'posix-x86_64', '--version', '7.99.34', '-o', out, '--upstream-commit', '82f3a6905f6a3a65ceb3a21046de62437f61e7dd'];

try {
  // The written tree once (untimed): the source of the `cp -a` floor and of the project below.
  const comps = join(work, 'components');
  await exec(BIN, [...importArgs(comps), '--quiet'], { env });
  // import vs nm -g over the same archives; `cp -a` of the 81 directories the import writes is
  // the filesystem's own cost of writing that tree (247 directories, 12 MB), which nm never pays.
  // The trees written are kept until the end (`work` is removed last): on ext4 without a journal
  // every inode allocation skips, one by one, the free inodes of its block group freed within the
  // last minute (longer while their inode table block is unwritten; fs/ext4/ialloc.c,
  // recently_deleted), so removing each round's ~860 inodes made every later import and copy pay
  // for the bench's own clean-up (cp -a of the tree: ~25 ms with the trees kept, 140–320 ms with
  // them removed after each run).
  const r1 = await rounds([
    { name: 'analyse', run: rumpkg([...importArgs(join(work, 'dry')), '--dry-run', '--json'], { env }) },
    { name: 'import', setup: (r) => join(work, `out-${r}`), run: (out) => exec(BIN, [...importArgs(out), '--quiet'], { env }) },
    { name: 'nm', run: tool('nm', ['-g', ...archives]) },
    { name: 'cp', setup: (r) => join(work, `cp-${r}`), run: (out) => exec('cp', ['-a', comps, out]) },
    { name: 'node', run: nodeFloor('import archives') },
  ]);
  const floor = { name: 'node -e 0', ...r1.node };
  report({ metric: METRICS.analyse[0], rumpkg: r1.analyse, peer: r1.nm, peerName: 'nm -g', goal: METRICS.analyse[1], floor });
  report({
    metric: METRICS.import[0],
    rumpkg: r1.import,
    peer: r1.nm,
    peerName: 'nm -g',
    goal: METRICS.import[1],
    floor: { name: 'cp -a of the written tree', ...r1.cp },
    note: `writing costs rumpkg ${(r1.import.median - r1.analyse.median).toFixed(0)} ms over its analysis (medians); cp -a writes the same tree in ${r1.cp.median.toFixed(0)} ms`,
  });

  // a project: the real UDP example, imported components published into the embedded registry
  await exec(BIN, ['--quiet', 'publish', ...readdirSync(comps).sort().map((d) => join(comps, d))], { env });
  const ex = join(work, 'examples');
  cpSync(join(ROOT, 'examples/real'), ex, { recursive: true });
  const dir = join(ex, 'udp');
  await exec(BIN, ['install'], { cwd: dir, env });
  await exec(BIN, ['build'], { cwd: dir, env });
  const image = join(dir, 'build/posix-x86_64/real-udp');
  // The plan's own commands: the dry-run script, and its last cc step (the link) run alone in a
  // directory the script prepared.
  const script = await cli(['build', '--dry-run'], { cwd: dir, env });
  writeFileSync(join(work, 'plan.sh'), script);
  const linkLine = script.split('\n').filter((l) => /(^| )-o image\.linked /.test(l)).pop();
  // the whole plan once in a fixed directory, where the link can then be run on its own
  const staged = join(work, 'staged');
  writeFileSync(join(work, 'stage.sh'), script.replace('B=$(mktemp -d)', `B=${staged}; rm -rf "$B"; mkdir -p "$B"`));
  await exec('sh', [join(work, 'stage.sh')], { cwd: work, env: { ...env, OUT: join(work, 'staged.img') } });
  const r2 = await rounds([
    { name: 'rumpkg', run: rumpkg(['build', '--force'], { cwd: dir, env }) },
    { name: 'sh', run: tool('sh', [join(work, 'plan.sh')], { cwd: work, env: { ...env, OUT: join(work, 'by-hand.img') } }) },
    { name: 'link', run: tool('sh', ['-c', linkLine], { cwd: staged, env }) },
    { name: 'cold', setup: () => rmSync(join(env.RUMPKG_HOME, 'objects'), { recursive: true, force: true }), run: rumpkg(['build', '--force'], { cwd: dir, env }) },
  ], { rounds: 3 * ROUNDS });
  report({ metric: METRICS.build[0], rumpkg: r2.rumpkg, peer: r2.sh, peerName: 'sh plan', goal: METRICS.build[1], floor: { name: 'the link alone', ...r2.link } });
  report({ metric: METRICS.link[0], rumpkg: r2.rumpkg, peer: r2.link, peerName: 'cc link', goal: METRICS.link[1], note: 'rumpkg takes the app and glue objects from its object cache and links, as the plan does; its link starts from the previous build\'s memo before the plan is made and is kept because the plan made is the same (packager/build/early-link.ts)' });
  report({ metric: METRICS.cold[0], rumpkg: r2.cold, peer: r2.sh, peerName: 'sh plan', goal: METRICS.cold[1], note: 'no object cache: every step of the plan runs, the same work as the sh row' });

  // audit vs nm
  const r3 = await rounds([
    { name: 'rumpkg', run: rumpkg(['audit', image, '--json'], { cwd: dir, env }) },
    { name: 'nm', run: tool('nm', [image]) },
    { name: 'node', run: nodeFloor('audit') },
  ]);
  report({ metric: METRICS.audit[0], rumpkg: r3.rumpkg, peer: r3.nm, peerName: 'nm', goal: METRICS.audit[1], floor: { name: 'node -e 0', ...r3.node }, note: 'the audit also hashes the image, matches every archive member by content and checks licences' });
} finally {
  rmSync(work, { recursive: true, force: true });
}
