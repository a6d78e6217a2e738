// Shared by the benches: contenders timed in alternating rounds (min and median), the machine's
// load average, the shipped bin and peer tools as contenders, and the row protocol that lets
// `npm run bench` (scripts/bench.mjs) end with one table. See bench/README.md.
//
// Fairness rules every bench follows (the project brief): both sides do the same work, either
// whole process against whole process (the shipped bin `dist/rumpkg`, package.json `bin`,
// against the peer's command) or in-process against in-process; contenders alternate within a
// round (the order rotates from round to round), >= 5 rounds (BENCH_ROUNDS), min and median.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** The shipped bin (package.json `bin`, a sh script that starts node on LAUNCHER): what a user runs. */
export const BIN = join(ROOT, 'dist', 'rumpkg');
/** The launcher the shipped bin runs (`node dist/rumpkg.cjs`): for node flags such as --cpu-prof. */
export const LAUNCHER = join(ROOT, 'dist', 'rumpkg.cjs');
/** Rounds per comparison: BENCH_ROUNDS (BENCH_RUNS is the older name), default 5. */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? process.env.BENCH_RUNS ?? 5);

if (!existsSync(BIN)) {
  process.stderr.write(`bench: ${BIN} is missing; run npm run build first\n`);
  process.exit(1);
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const min = (xs) => Math.min(...xs);

/** `load average 1.23 0.98 0.75 (2 cores)`: printed by every bench next to its numbers. */
export function loadAverage() {
  return `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${availableParallelism()} cores)`;
}

/** `{ min, median, samples }` of a list of milliseconds (and `cpu`: the same of the CPU times). */
export const stats = (samples, cpu) => ({
  min: min(samples),
  median: median(samples),
  samples,
  ...(cpu === undefined || cpu.length === 0 ? {} : { cpu: { min: min(cpu), median: median(cpu), samples: cpu } }),
});

/**
 * Times the contenders in alternating rounds: one round runs each contender once, in an order
 * that rotates from round to round (A B C, B C A, …), so a change of machine load hits every
 * contender alike. A contender is `{ name, run, setup?, teardown? }`: `setup` (untimed) prepares
 * each run (a fresh cache directory…) and its result is passed to `run`; `teardown` (untimed)
 * gets it afterwards. `warmup` untimed rounds come first (default 1: file caches, the code cache).
 * CPU time is recorded too: what `run` returns as `{ cpuMs }` (a child process's user + system
 * time, see `exec`), else this process's own CPU time over the run (in-process contenders).
 * On a loaded machine wall times wait for a core; CPU times show the work itself.
 * Returns `{ [name]: { min, median, samples, cpu: { min, median, samples } } }`.
 */
export async function rounds(contenders, options = {}) {
  const n = options.rounds ?? ROUNDS;
  const warmup = options.warmup ?? 1;
  const samples = new Map(contenders.map((c) => [c.name, []]));
  const cpu = new Map(contenders.map((c) => [c.name, []]));
  for (let r = -warmup; r < n; r++) {
    const k = ((r % contenders.length) + contenders.length) % contenders.length;
    const order = [...contenders.slice(k), ...contenders.slice(0, k)];
    for (const c of order) {
      const ctx = c.setup === undefined ? undefined : await c.setup(r);
      globalThis.gc?.(); // every run starts from a collected heap (npm run bench passes --expose-gc)
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const ret = await c.run(ctx, r);
      const ms = performance.now() - t0;
      const own = process.cpuUsage(c0);
      if (c.teardown !== undefined) await c.teardown(ctx, r);
      if (r >= 0) {
        samples.get(c.name).push(ms);
        cpu.get(c.name).push(typeof ret?.cpuMs === 'number' ? ret.cpuMs : (own.user + own.system) / 1000);
      }
    }
  }
  return Object.fromEntries([...samples].map(([name, xs]) => [name, stats(xs, cpu.get(name))]));
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
let timeFiles = 0;

/**
 * Runs a command to completion (asynchronously: servers in this process keep answering). Under
 * GNU time (/usr/bin/time, when present) so the result carries `cpuMs`: user + system time of the
 * command and of the children it waited for (tar's gzip, rumpkg's QEMU), both sides alike.
 * `watch: RegExp` → `firstMs`, the time until stdout first matched; `input`: written to stdin.
 */
export function exec(cmd, args, options = {}) {
  const timeFile = TIME === undefined || options.cpu === false ? undefined : join(tmpdir(), `rumpkg-bench-time-${process.pid}-${timeFiles++}`);
  if (timeFile !== undefined) {
    args = ['-f', '%U %S', '-o', timeFile, cmd, ...args];
    cmd = TIME;
  }
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', options.capture || options.watch ? 'pipe' : 'ignore', 'pipe'],
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    let out = '';
    let err = '';
    let firstMs;
    const t0 = performance.now();
    child.stdout?.on('data', (d) => {
      out += d;
      if (firstMs === undefined && options.watch?.test(out)) firstMs = performance.now() - t0;
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', rej);
    child.on('close', (code, signal) => {
      let cpuMs;
      if (timeFile !== undefined) {
        try {
          const t = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
          if (t.length === 2 && t.every(Number.isFinite)) cpuMs = (t[0] + t[1]) * 1000;
        } catch {
          cpuMs = undefined;
        }
        rmSync(timeFile, { force: true });
      }
      if (code === 0 || options.allowFailure) res({ code, signal, stdout: out, stderr: err, cpuMs, firstMs });
      else rej(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}\n${err.slice(0, 4000)}`));
    });
  });
}

/** A peer command as a contender's `run` (output discarded; a failure stops the bench). */
export const tool = (cmd, args, options = {}) => () => exec(cmd, args, options);

/** The shipped bin as a contender's `run`: `dist/rumpkg ARGS`. */
export const rumpkg = (args, options = {}) => () => exec(BIN, args, options);

/** Runs the shipped bin once and returns stdout (setup steps). */
export async function cli(args, options = {}) {
  return (await exec(BIN, args, { ...options, capture: true })).stdout;
}

/**
 * The environment node gets from the shipped bin for `command` ('add', 'import archives', …;
 * scripts/bundle.mjs): without NODE_EXTRA_CA_CERTS, which Node 20 would load at start (~40 ms with
 * the system bundle), except for `verify` and `import` other than `import archives`. A Node.js
 * floor (`node -e 0`) runs in it, so it starts as rumpkg does.
 */
export function binEnv(command, env = process.env) {
  const eager = command === 'verify' || (command.split(' ')[0] === 'import' && command !== 'import archives');
  if (eager || !env.NODE_EXTRA_CA_CERTS) return env;
  const { NODE_EXTRA_CA_CERTS: _, ...rest } = env;
  return rest;
}

/** `node -e 0` as the shipped bin starts node for `command`: the floor no Node.js program can beat. */
export const nodeFloor = (command, options = {}) => tool(process.execPath, ['-e', '0'], { ...options, env: binEnv(command, options.env) });

export const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`);
const fmtStat = (s) => `${fmtMs(s.median)} (min ${fmtMs(s.min)}${s.cpu === undefined ? '' : `, CPU ${fmtMs(s.cpu.median)}`})`;
const summary = (s) => ({ min: s.min, median: s.median, ...(s.cpu === undefined ? {} : { cpu: { min: s.cpu.min, median: s.cpu.median } }) });

/** A goal as text: `≤ 0.5×`, `< 150 ms`, `≤ 1.15× + 100 ms`. */
export function goalText(goal) {
  if (goal === undefined) return '—';
  if (goal.ms !== undefined) return `< ${goal.ms} ms`;
  return `≤ ${goal.ratio}×${goal.plusMs === undefined ? '' : ` + ${goal.plusMs} ms`}`;
}

/** Is the goal met by these medians? (undefined: no goal) */
export function goalMet(goal, ours, peer) {
  if (goal === undefined) return undefined;
  if (goal.ms !== undefined) return ours.median < goal.ms;
  return ours.median <= goal.ratio * peer.median + (goal.plusMs ?? 0);
}

/**
 * Reports one row of the final table. Prints it (with the load average), and appends it as one
 * JSON line to the file named by RUMPKG_BENCH_ROWS when scripts/bench.mjs runs the bench.
 *   metric   what is compared ("cold rumpkg add vs npm install, 10 components")
 *   rumpkg   { min, median } in ms        peer  { min, median } in ms (may be absent for `goal.ms` rows)
 *   peerName the peer's command          goal  { ratio, plusMs? } | { ms } | undefined
 *   floor    optional { name, min, median }: what no implementation can beat on this machine
 *   note     optional text (what differs, why a goal is out of reach)
 * Rows whose work cannot run here: `skip(metric, reason)`.
 */
export function report(row) {
  const ratio = row.peer === undefined ? undefined : row.rumpkg.median / row.peer.median;
  const met = goalMet(row.goal, row.rumpkg, row.peer);
  const out = {
    bench: process.env.RUMPKG_BENCH_FILE ?? process.argv[1]?.split('/').pop(),
    metric: row.metric,
    rumpkg: summary(row.rumpkg),
    ...(row.peer === undefined ? {} : { peer: summary(row.peer), peerName: row.peerName }),
    ...(ratio === undefined ? {} : { ratio }),
    ...(ratio !== undefined && row.rumpkg.cpu !== undefined && row.peer.cpu !== undefined ? { cpuRatio: row.rumpkg.cpu.median / row.peer.cpu.median } : {}),
    ...(row.goal === undefined ? {} : { goal: row.goal, goalText: goalText(row.goal), met }),
    ...(row.floor === undefined ? {} : { floor: { name: row.floor.name, ...summary(row.floor) } }),
    rounds: row.rounds ?? row.rumpkg.samples?.length,
    load: loadavg(),
    ...(row.note === undefined ? {} : { note: row.note }),
  };
  const parts = [`${row.metric}: rumpkg ${fmtStat(row.rumpkg)}`];
  if (row.peer !== undefined) parts.push(`${row.peerName ?? 'peer'} ${fmtStat(row.peer)}`, `ratio ${ratio.toFixed(2)}×${out.cpuRatio === undefined ? '' : ` (CPU ${out.cpuRatio.toFixed(2)}×)`}`);
  if (row.floor !== undefined) parts.push(`floor ${row.floor.name} ${fmtStat(row.floor)}`);
  if (row.goal !== undefined) parts.push(`goal ${goalText(row.goal)}: ${met ? 'met' : 'NOT met'}`);
  process.stdout.write(`${parts.join(' | ')}  [${out.rounds} rounds, ${loadAverage()}]\n`);
  if (row.note !== undefined) process.stdout.write(`  note: ${row.note}\n`);
  emit(out);
}

/** A row whose work cannot run on this machine (a missing tool or data set), with the reason. */
export function skip(metric, reason, goal) {
  process.stdout.write(`${metric}: skipped — ${reason}\n`);
  emit({ bench: process.env.RUMPKG_BENCH_FILE ?? process.argv[1]?.split('/').pop(), metric, skipped: reason, ...(goal === undefined ? {} : { goal, goalText: goalText(goal) }) });
}

function emit(obj) {
  const file = process.env.RUMPKG_BENCH_ROWS;
  if (file !== undefined && file !== '') appendFileSync(file, `${JSON.stringify(obj)}\n`);
}

/** A fresh temporary directory name under the system temp dir (not created). */
export const tmpName = (prefix) => join(tmpdir(), `${prefix}${process.pid}-${Math.random().toString(36).slice(2, 10)}`);

/**
 * CPU time (user + system, ms) a running process has used so far, from /proc/<pid>/stat (all its
 * threads); undefined where /proc is absent. For servers running apart: the difference over a
 * run is the server's share of the work.
 */
export function procCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

/** Programs missing from PATH, among `names`. */
export function missingTools(names) {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  return names.filter((n) => !dirs.some((d) => existsSync(join(d, n))));
}
