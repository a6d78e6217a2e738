// Shared by the benches: medians, contenders timed in turns, peer tools as contenders.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs the contenders in turns (one round = each once), so load changes hit all alike; medians. */
export async function timeRounds(fns, runs) {
  const xs = fns.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of fns.entries()) {
      globalThis.gc?.(); // start each run from a clean heap (npm run bench passes --expose-gc)
      const t0 = performance.now();
      await fn();
      xs[k].push(performance.now() - t0);
    }
  }
  return xs.map(median);
}

/** A peer command as a contender (output discarded; a failure stops the bench). */
export function tool(cmd, args) {
  return async () => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${cmd} failed`);
  };
}
