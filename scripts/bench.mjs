// `npm run bench`: runs every bench/*.mjs in name order against the built dist/ and the real peer
// tools, each in its own process, printing each file's report; then ends with ONE table of the
// rows the benches reported (bench/README.md: the row protocol) — metric, rumpkg, peer, ratio,
// goal, met. Arguments select files by substring (`npm run bench -- pack add`).
//
// Env: BENCH_ROUNDS (rounds per comparison, default 5), BENCH_TABLE_JSON=FILE (also write the
// rows as JSON), and whatever the single benches read (their heads say).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const only = process.argv.slice(2);
const files = readdirSync('bench').filter((f) => f.endsWith('.mjs')).sort()
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
const work = mkdtempSync(join(tmpdir(), 'rumpkg-bench-rows-'));
const rowsFile = join(work, 'rows.jsonl');
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const startLoad = load();
const t0 = Date.now();
const failed = [];
for (const f of files) {
  // Each file starts with the disk settled: what the previous one wrote (pack's 50 MB tree and
  // 29 MB tarball, the scale registry) is flushed first, not by the kernel while this one
  // measures. (It does not explain everything: real-posix measured its build 193 and 189 ms in
  // two full runs, without and with this, and 161 ms run alone minutes later at the same load.)
  spawnSync('sync', [], { stdio: 'ignore' });
  process.stdout.write(`\n## ${f}  (load average ${load()})\n`);
  // A missing peer tool or toolchain ends a bench with what to install, not a stack trace.
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', './bench/lib/tool-errors.mjs', join('bench', f)], {
    stdio: 'inherit',
    env: { ...process.env, RUMPKG_BENCH_ROWS: rowsFile, RUMPKG_BENCH_FILE: f },
  });
  if (r.status !== 0) failed.push(f);
}

const rows = existsSync(rowsFile)
  ? readFileSync(rowsFile, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l))
  : [];
rmSync(work, { recursive: true, force: true });
if (process.env.BENCH_TABLE_JSON) writeFileSync(process.env.BENCH_TABLE_JSON, `${JSON.stringify(rows, null, 2)}\n`);

const ms = (x) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`);
const cell = (s) => (s === undefined ? '—' : `${ms(s.median)} (min ${ms(s.min)}${s.cpu === undefined ? '' : `; CPU ${ms(s.cpu.median)}`})`);
const lines = [
  '| metric | rumpkg | peer | ratio | goal | met |',
  '|---|---|---|---|---|---|',
];
for (const r of rows) {
  if (r.skipped !== undefined) {
    lines.push(`| ${r.metric} | skipped: ${r.skipped} | | | ${r.goalText ?? '—'} | — |`);
    continue;
  }
  const peer = r.peer === undefined ? (r.floor === undefined ? '—' : `${r.floor.name}: ${cell(r.floor)} (floor)`) : `${r.peerName}: ${cell(r.peer)}`;
  const ratio = r.ratio === undefined
    ? (r.floor === undefined ? '—' : `${(r.rumpkg.median / r.floor.median).toFixed(2)}× floor`)
    : `${r.ratio.toFixed(2)}×${r.cpuRatio === undefined ? '' : ` (CPU ${r.cpuRatio.toFixed(2)}×)`}`;
  const floor = r.floor !== undefined && r.peer !== undefined ? `; floor ${r.floor.name} ${cell(r.floor)}` : '';
  const met = r.met === undefined ? '—' : r.met ? 'yes' : 'no';
  lines.push(`| ${r.metric} | ${cell(r.rumpkg)} | ${peer}${floor} | ${ratio} | ${r.goalText ?? '—'} | ${met} |`);
}
for (const f of failed) lines.push(`| ${f} | FAILED (see its output above) | | | | |`);
const silent = files.filter((f) => !failed.includes(f) && !rows.some((r) => r.bench === f));
for (const f of silent) lines.push(`| ${f} | no rows (its own report is above) | | | | |`);
const minutes = ((Date.now() - t0) / 60000).toFixed(1);
process.stdout.write(`\n## results (${rows.length} rows from ${files.length} bench files in ${minutes} min; node ${process.version}; ${availableParallelism()} cores; load average ${startLoad} at the start, ${load()} at the end; wall-time medians of alternating rounds, min and CPU time (user + system) in parentheses; goals are judged on the wall-time medians)\n\n`);
process.stdout.write(`${lines.join('\n')}\n`);
const notes = rows.filter((r) => r.note !== undefined);
if (notes.length > 0) {
  process.stdout.write('\nnotes:\n');
  for (const r of notes) process.stdout.write(`- ${r.metric}: ${r.note}\n`);
}
process.exitCode = failed.length === 0 ? 0 : 1;
