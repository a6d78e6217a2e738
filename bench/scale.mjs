// A registry at scale, simulated on loopback: BENCH_SCALE_COMPONENTS components (default
// 100,000) × BENCH_SCALE_VERSIONS versions (default 50) served by `rumpkg registry serve` (the
// shipped bin, its own process). The packuments are written straight into registry/storage's
// on-disk layout (`<dir>/@scale/<name>/packument.json`; publishing 5 M versions one by one is not
// the point), with compact but complete version documents. Component c<i> (i < 30) depends on
// c<i+1> and c<i+2> (^ ranges), so requesting @scale/c0 resolves a 30-component closure; c29
// requires the capability `scale:platform`, provided by c29p and named by c29 as its known provider
// (rump.providers), so the closure also makes one capability search.
//
// Measured (each in a fresh node process: registry client + provider + solve, the library the
// CLI runs), alternating:
//   - the closure cold (empty RUMPKG_HOME) and warm (the same home again: conditional GETs);
//     requests and bytes on the wire are counted by the client's own fetch;
//   - one search over the whole registry (`rump-provides:scale:platform`) with the server's search
//     cache empty — what a capability search costs at this size;
//   - 100 CI runners (BENCH_SCALE_RUNNERS), each resolving the closure's packuments (31 GETs) at
//     once from this process, bounded to RUNNERS concurrent connections: throughput, p50/p99
//     latency and the server's CPU, with and without the validators a warm runner sends.
// The design note on what the server needs beyond this is docs/registry-scale.md.
// Env: BENCH_ROUNDS (default 5), BENCH_KEEP=1 keeps the generated registry (it is large).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BIN, ROUNDS, exec, fmtMs, loadAverage, procCpuMs, report, stats, tmpName } from './lib/measure.mjs';

const N = Number(process.env.BENCH_SCALE_COMPONENTS ?? 100_000);
const V = Number(process.env.BENCH_SCALE_VERSIONS ?? 50);
const RUNNERS = Number(process.env.BENCH_SCALE_RUNNERS ?? 100);
const CLOSURE = 30;
const TARGET = 'posix-x86_64';
const root = join(tmpdir(), `rumpkg-bench-scale-${N}x${V}`);
const dir = join(root, 'registry');

function versionDoc(name, version, deps, extra) {
  const lib = `librump_${name.slice('@scale/'.length).replace(/-/g, '_')}`;
  return {
    name,
    version,
    license: 'BSD-2-Clause',
    description: `simulated component ${name}`,
    keywords: ['rump-component', `rump-lib:${lib}`, ...(extra.provides ?? []).map((c) => `rump-provides:${c}`)],
    dependencies: deps,
    rump: {
      schemaVersion: 1, kind: 'component', lib, aliases: [], faction: 'dev', initLevels: ['RUMP_COMPONENT_DEV'],
      requires: extra.requires ?? [], provides: extra.provides ?? [], conflicts: [], optionalDependencies: {},
      ...(extra.providers === undefined ? {} : { providers: extra.providers }),
      targets: { [TARGET]: { archive: `lib/${TARGET}/${lib}.a` } },
    },
    dist: {
      tarball: `${name}/-/${name.slice('@scale/'.length)}-${version}.tgz`,
      integrity: `sha512-${createHash('sha512').update(`${name}@${version}`).digest('base64')}`,
    },
  };
}

/** The registry directory, generated once (a marker file says it is complete). */
function generate() {
  if (existsSync(join(root, '.done'))) return;
  rmSync(root, { recursive: true, force: true });
  const t0 = performance.now();
  const time = { created: '2024-01-01T00:00:00.000Z', modified: '2024-06-01T00:00:00.000Z' };
  const versions = [];
  for (let M = 1; versions.length < V; M++) for (let m = 0; m < 10 && versions.length < V; m++) versions.push(`${M}.${m}.0`);
  for (const v of versions) time[v] = '2024-01-01T00:00:00.000Z';
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const base = `c${i}`;
    const name = `@scale/${base}`;
    const deps = i < CLOSURE - 2 ? { [`@scale/c${i + 1}`]: '^1.0.0', [`@scale/c${i + 2}`]: '^1.0.0' } : i === CLOSURE - 2 ? { [`@scale/c${i + 1}`]: '^1.0.0' } : {};
    const extra = i === CLOSURE - 1 ? { requires: ['scale:platform'], providers: { 'scale:platform': ['@scale/c29p'] } } : {};
    const doc = {
      name,
      description: `simulated component ${name}`,
      'dist-tags': { latest: versions[versions.length - 1] },
      versions: Object.fromEntries(versions.map((v) => [v, versionDoc(name, v, deps, extra)])),
      time,
      maintainers: [{ name: 'bench' }],
    };
    const text = JSON.stringify(doc);
    bytes += text.length;
    mkdirSync(join(dir, '@scale', base), { recursive: true });
    writeFileSync(join(dir, '@scale', base, 'packument.json'), text);
  }
  // The provider of the capability the closure requires.
  const p = '@scale/c29p';
  mkdirSync(join(dir, '@scale', 'c29p'), { recursive: true });
  writeFileSync(join(dir, '@scale', 'c29p', 'packument.json'), JSON.stringify({
    name: p, description: 'simulated platform', 'dist-tags': { latest: '1.0.0' },
    versions: { '1.0.0': versionDoc(p, '1.0.0', {}, { provides: ['scale:platform'] }) }, time: { ...time, '1.0.0': time.created }, maintainers: [{ name: 'bench' }],
  }));
  writeFileSync(join(root, '.done'), '');
  console.log(`generated ${N + 1} packuments × ${V} versions (${(bytes / 1e9).toFixed(2)} GB of JSON) in ${dir} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

/** `rumpkg registry serve` in its own process; resolves with its URL and pid. */
async function serve() {
  const child = spawn(BIN, ['--json', 'registry', 'serve', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((res, rej) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"url":\s*"([^"]+)"/.exec(out);
      if (m !== null) res(m[1]);
    });
    child.on('exit', (code) => rej(new Error(`rumpkg registry serve exited ${code}`)));
  });
  child.stdout.resume();
  return { child, url };
}

// The closure resolution in a fresh process, counting what crosses the wire with its own fetch.
const resolveScript = (url) => `
  const dist = ${JSON.stringify(new URL('../dist/', import.meta.url).href)};
  const { createRegistryClient, createRegistryProvider, httpFetch } = await import(dist + 'registry/index.js');
  const { solve } = await import(dist + 'resolver/index.js');
  let requests = 0, bytes = 0, notModified = 0;
  const counting = async (u, init) => {
    const res = await httpFetch(u, init);
    requests++;
    if (res.status === 304) notModified++;
    const body = res.body;
    return { ...res, status: res.status, headers: res.headers, body: body === null ? null : Object.assign((async function* () { for await (const c of body) { bytes += c.length; yield c; } })(), { cancel: () => body.cancel() }) };
  };
  const client = createRegistryClient({ home: process.env.RUMPKG_HOME, registries: { '@scale': ${JSON.stringify(`${url}/`)} }, fetch: counting });
  const t0 = performance.now();
  const r = await solve({ root: { name: 'ci', dependencies: { '@scale/c0': '^1.0.0' } }, target: ${JSON.stringify(TARGET)} }, createRegistryProvider(client));
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error('no solution');
  process.stdout.write(JSON.stringify({ ms, requests, notModified, bytes, closure: Object.keys(r.solution.components).length }));
`;

async function resolveOnce(url, home) {
  const out = await exec(process.execPath, ['--input-type=module', '-e', resolveScript(url)], { env: { ...process.env, RUMPKG_HOME: home }, capture: true });
  return { ...JSON.parse(out.stdout), cpuMs: out.cpuMs };
}

/** RUNNERS concurrent clients, each GETting the closure's packuments and its search once. */
async function load(url, paths, etags) {
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: RUNNERS });
  const latencies = [];
  let bytes = 0;
  let notModified = 0;
  const get = (path) => new Promise((res, rej) => {
    const t = performance.now();
    const headers = etags?.has(path) ? { 'if-none-match': etags.get(path) } : {};
    http.get(`${url}${path}`, { agent, headers: { accept: 'application/json', ...headers } }, (r) => {
      r.on('data', (c) => (bytes += c.length));
      r.on('end', () => {
        latencies.push(performance.now() - t);
        if (r.statusCode === 304) notModified++;
        else if (r.statusCode !== 200) return rej(new Error(`HTTP ${r.statusCode} for ${path}`));
        res(r.headers.etag);
      });
    }).on('error', rej);
  });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: RUNNERS }, async () => {
    for (const p of paths) await get(p);
  }));
  const wall = performance.now() - t0;
  agent.destroy();
  const s = [...latencies].sort((a, b) => a - b);
  return { wall, requests: latencies.length, rps: latencies.length / (wall / 1000), p50: s[Math.floor(s.length * 0.5)], p99: s[Math.floor(s.length * 0.99)], bytes, notModified };
}

const work = tmpName('rumpkg-bench-scale-');
mkdirSync(work, { recursive: true });
let server;
try {
  generate();
  server = await serve();
  console.log(`rumpkg registry serve at ${server.url} over ${N + 1} components × ${V} versions; ${availableParallelism()} cores; ${loadAverage()}`);

  // One search over the whole registry, its cache empty (a fresh server process).
  const c0 = procCpuMs(server.child.pid);
  let t = performance.now();
  const sr = await fetch(`${server.url}/-/v1/search?text=${encodeURIComponent('rump-provides:scale:platform')}&size=250`);
  const hits = (await sr.json()).objects.map((o) => o.package.name);
  const searchMs = performance.now() - t;
  const searchCpu = procCpuMs(server.child.pid) - c0;
  t = performance.now();
  await (await fetch(`${server.url}/-/v1/search?text=${encodeURIComponent('rump-provides:scale:platform')}&size=250`)).arrayBuffer();
  const searchCachedMs = performance.now() - t;
  console.log(`one capability search, server cache empty: ${fmtMs(searchMs)} (server CPU ${fmtMs(searchCpu)}), hits ${JSON.stringify(hits)}; again (cached): ${fmtMs(searchCachedMs)}`);
  report({ metric: `one capability search over ${N + 1} packuments (rumpkg registry serve, search cache empty)`, rumpkg: stats([searchMs], [searchCpu]), rounds: 1, note: 'a search reads every packument; at this size it needs an index (docs/registry-scale.md)' });

  // The closure, cold and warm, in fresh processes, alternating.
  const cold = [];
  const warm = [];
  for (let r = -1; r < ROUNDS; r++) {
    const home = join(work, `home-${r + 1}`);
    const a = await resolveOnce(server.url, home);
    const b = await resolveOnce(server.url, home);
    if (r >= 0) {
      cold.push(a);
      warm.push(b);
    }
  }
  const show = (xs, label) => `${label}: ${xs[0].closure} components, ${xs[0].requests} requests (${xs[0].notModified} × 304), ${(xs[0].bytes / 1024).toFixed(0)} KiB on the wire`;
  console.log(show(cold, 'cold cache'));
  console.log(show(warm, 'warm cache'));
  report({ metric: `resolve a ${CLOSURE}-component closure from a ${N / 1000}k × ${V} registry, cold cache (fresh process; ${cold[0].requests} requests, ${(cold[0].bytes / 1024).toFixed(0)} KiB)`, rumpkg: stats(cold.map((x) => x.ms), cold.map((x) => x.cpuMs)) });
  report({ metric: `resolve the same closure, warm cache (${warm[0].requests} conditional requests, ${warm[0].notModified} × 304, ${(warm[0].bytes / 1024).toFixed(0)} KiB)`, rumpkg: stats(warm.map((x) => x.ms), warm.map((x) => x.cpuMs)) });

  // 100 CI runners at once: first without validators (a cold cache on every runner), then with
  // the ETags a warm runner sends.
  const paths = [...Array.from({ length: CLOSURE }, (_, i) => `/@scale%2fc${i}`), '/@scale%2fc29p'];
  const etags = new Map();
  for (const p of paths) etags.set(p, (await fetch(`${server.url}${p}`)).headers.get('etag'));
  for (const [label, tags] of [['cold', undefined], ['warm', etags]]) {
    const l0 = procCpuMs(server.child.pid);
    const r = await load(server.url, paths, tags);
    const cpu = procCpuMs(server.child.pid) - l0;
    console.log(`${RUNNERS} runners × ${paths.length} packuments, ${label}: ${r.requests} requests in ${fmtMs(r.wall)} = ${r.rps.toFixed(0)} req/s, p50 ${fmtMs(r.p50)}, p99 ${fmtMs(r.p99)}, ${(r.bytes / 1e6).toFixed(1)} MB sent, ${r.notModified} × 304; server CPU ${fmtMs(cpu)} (${(cpu / r.requests).toFixed(2)} ms per request)`);
    report({ metric: `${RUNNERS} CI runners × ${paths.length} packuments at once, ${label} (${r.rps.toFixed(0)} req/s, p99 ${fmtMs(r.p99)}, ${(r.bytes / 1e6).toFixed(1)} MB, server CPU ${(cpu / r.requests).toFixed(2)} ms/request)`, rumpkg: stats([r.wall], [cpu]), rounds: 1 });
  }
} finally {
  server?.child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
  if (process.env.BENCH_KEEP !== '1') rmSync(root, { recursive: true, force: true });
}
