// A synthetic registry shaped like a real one (calibrated on the Elm snapshot: ~3.4 dependencies
// per version, ~75 % of consecutive versions with identical dependencies), for the resolver
// bench and its tests. Deterministic for a seed.
//
// Model: component i is released over time, starting later the higher i is (low indices are the
// old, foundational, popular components). Each version depends on components older than it,
// chosen with a strong bias to popular ones (j = i·u³) plus some "same family" neighbours
// (j in [i-40, i)), and pins each with a caret on the dependency's newest version at the time
// of the release (some tilde, >=, exact and * ranges). A new version keeps its predecessor's
// dependencies most of the time; otherwise it adds one, drops one, or moves one to the
// dependency's current release. So old versions need old majors, and a project that wants the
// newest of two components may have to settle for an older one of a third: real backtracking,
// and now and then no solution at all.
//
// Output: `doc` in the corpus format (name → version → { deps }) and `apps`: root dependency
// maps of projects (2–8 components, mostly a caret on their newest version).

export function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the last element of the ascending `times` that is <= t, or -1. */
function lastAtOrBefore(times, t) {
  let lo = 0;
  let hi = times.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

export function syntheticRegistry({ components: N, versions: V = 20, seed = 42, apps: A = 20 }) {
  const rnd = prng(seed);
  const names = Array.from({ length: N }, (_, i) => `c${i}`);
  const times = [];
  const numbers = [];
  for (let i = 0; i < N; i++) {
    const start = (i / N) * 0.7 + rnd() * 0.2;
    const ts = Array.from({ length: V }, (_, k) => (k === 0 ? start : start + rnd() * (1 - start))).sort((a, b) => a - b);
    const vs = [];
    let [M, m, p] = rnd() < 0.1 ? [0, 1, 0] : [1, 0, 0];
    // Foundational components break their API rarely; leaves more often.
    const majorRate = 0.015 + 0.085 * (i / N);
    for (let k = 0; k < V; k++) {
      if (k > 0) {
        const r = rnd();
        if (r < majorRate) [M, m, p] = [M + 1, 0, 0];
        else if (r < 0.45 && M > 0) [m, p] = [m + 1, 0];
        else p++;
      }
      vs.push([M, m, p]);
    }
    times.push(ts);
    numbers.push(vs);
  }
  const text = ([M, m, p]) => `${M}.${m}.${p}`;
  const rangeFor = (j, t) => {
    const k = lastAtOrBefore(times[j], t);
    if (k < 0) return null;
    const v = numbers[j][k];
    const r = rnd();
    if (r < 0.5) return `^${v[0]}.${v[0] === 0 ? v[1] : 0}.0`;
    if (r < 0.87) return `^${text(v)}`;
    if (r < 0.92) return `~${v[0]}.${v[1]}.0`;
    if (r < 0.97) return `>=${v[0]}.0.0`;
    if (r < 0.98) return text(v);
    return '*';
  };
  // Whether a range written by rangeFor admits version v (only the forms rangeFor writes).
  const admits = (range, v) => {
    if (range === '*') return true;
    const m = /^(\^|~|>=)?(\d+)\.(\d+)\.(\d+)$/.exec(range);
    const w = [Number(m[2]), Number(m[3]), Number(m[4])];
    const cmp = v[0] - w[0] || v[1] - w[1] || v[2] - w[2];
    if (cmp < 0) return false;
    if (m[1] === '>=') return true;
    if (m[1] === '~') return v[0] === w[0] && v[1] === w[1];
    if (m[1] === '^') return w[0] > 0 ? v[0] === w[0] : w[1] > 0 ? v[0] === 0 && v[1] === w[1] : cmp === 0;
    return cmp === 0;
  };
  // A dependency: an older member of the same family of 50 (one in ten), one of the ~100 core
  // components (half), or an older one biased to the popular.
  const pick = (i) => {
    const r = rnd();
    if (i % 50 > 0 && r < 0.1) return i - 1 - Math.floor(rnd() * (i % 50));
    if (r < 0.6) return Math.floor(Math.min(i, 100) * rnd() ** 2);
    return Math.floor(i * rnd() ** 4);
  };
  const doc = {};
  for (let i = 0; i < N; i++) {
    const versions = {};
    let deps = {};
    for (let k = 0; k < V; k++) {
      const t = times[i][k];
      const r = rnd();
      if (i > 0 && (k === 0 || r < 0.25)) {
        deps = { ...deps };
        const want = k === 0 ? Math.floor(rnd() * (1.5 + 4.5 * (i / N))) : 1;
        const op = k === 0 ? 0 : rnd();
        const existing = Object.keys(deps);
        if (op < 0.45 || existing.length === 0) {
          for (let d = 0; d < want; d++) {
            const j = pick(i);
            const range = rangeFor(j, t);
            if (range !== null) deps[names[j]] = range;
          }
        } else if (op < 0.6) {
          delete deps[existing[Math.floor(rnd() * existing.length)]];
        } else {
          const name = existing[Math.floor(rnd() * existing.length)];
          const range = rangeFor(Number(name.slice(1)), t);
          if (range !== null) deps[name] = range;
        }
      }
      // Maintenance: a dependency whose range has fallen behind its newest release is moved on
      // in about half of the releases.
      for (const name of Object.keys(deps)) {
        const j = Number(name.slice(1));
        const kj = lastAtOrBefore(times[j], t);
        if (kj >= 0 && !admits(deps[name], numbers[j][kj]) && rnd() < 0.7) {
          deps = { ...deps, [name]: `^${text(numbers[j][kj])}` };
        }
      }
      versions[text(numbers[i][k])] = { deps };
    }
    doc[names[i]] = versions;
  }
  const apps = [];
  for (let a = 0; a < A; a++) {
    const deps = {};
    const n = 2 + Math.floor(rnd() * 7);
    for (let d = 0; d < n; d++) {
      const i = Math.floor(N * rnd() ** 2);
      // Mostly the newest release; sometimes an older one the project has not moved on from.
      const v = numbers[i][rnd() < 0.85 ? V - 1 : Math.floor(rnd() * V)];
      deps[names[i]] = `^${text(v)}`;
    }
    apps.push(deps);
  }
  return { doc, apps };
}

/**
 * The resolver bench's former part (b), kept as a stress workload: every version of component i
 * depends on up to 3 of the next 300 components (`^M.0.0` or `>=M.m.0`), versions M.m.0 for
 * M 1–4, m 0–4. Not shaped like a registry — roots are single components with closures from
 * 1 to ~27,000 components at 50,000 — but it is where issue 18's "6.5 s, 1.7 GB" came from.
 */
export function randomDagRegistry({ components: N, seed = 42, roots: R = 20 }) {
  const rnd = prng(seed);
  const doc = {};
  for (let i = 0; i < N; i++) {
    const versions = {};
    for (let M = 1; M <= 4; M++) {
      for (let m = 0; m < 5; m++) {
        const deps = {};
        const k = Math.floor(rnd() * 4);
        for (let d = 0; d < k; d++) {
          const j = i + 1 + Math.floor(rnd() * 300);
          if (j >= N) continue;
          deps[`s${j}`] = rnd() < 0.8 ? `^${1 + Math.floor(rnd() * 4)}.0.0` : `>=${1 + Math.floor(rnd() * 3)}.${Math.floor(rnd() * 5)}.0`;
        }
        versions[`${M}.${m}.0`] = { deps };
      }
    }
    doc[`s${i}`] = versions;
  }
  const rootsRnd = prng(7);
  const apps = Array.from({ length: R }, () => ({ [`s${Math.floor(rootsRnd() * N)}`]: '*' }));
  return { doc, apps };
}
