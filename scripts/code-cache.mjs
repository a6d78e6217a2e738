// Build step (run by scripts/bundle.mjs after it wrote the bundle and the launcher): trains the
// bundle's V8 code caches — dist/rumpkg-bundle.cjs.cache (start-up, --version, --help) and one
// dist/rumpkg-bundle.cjs.cache-<command> per trained command (the launcher picks the command's
// own cache when there is one; V8 reads a whole cache on every start, so each command carries
// only its own code).
//
// V8 puts into a code cache the functions compiled in the run that made it, so a cache made from
// `rumpkg --version` alone left every command's own code (commander's program, the registry
// client, the ELF readers, the planner, the audit) to be compiled lazily on every run: measured
// on the real-archive benches, 20–40 ms of CPU per import, build or audit. Here the launcher runs
// real workloads; each run of a command starts from the cache the previous run of it wrote (the
// first from the base cache) and writes it again (RUMPKG_WRITE_CODE_CACHE=1: the launcher
// serialises what V8 holds compiled at exit, the functions it read from the cache included):
//
//   always      --version, --help (every command builds commander's program first)
//   with cc, ar and objcopy (binutils, gcc; what `rumpkg build` needs anyway), on one release of
//   the miniature corpus for posix-x86_64 (built once and cached in the temp directory, shared
//   with the tests and benches):
//               import archives (--dry-run --json, then writing), validate, pack, inspect
//               --extract, publish into a private home, install, build, build again (no-op),
//               build --force, run, audit, tree, why, and add over HTTP from a
//               `rumpkg registry serve` of that home (the client's cold path)
//
// Nothing here decides what the bundle does: a cache only spares V8 compiling, and V8 rejects a
// cache that does not fit (another node, other flags) and compiles normally. A workload that
// fails is reported and skipped; the build fails only when the bundle cannot even print its
// version.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const launcher = join(dist, 'rumpkg.cjs');
const cache = join(dist, 'rumpkg-bundle.cjs.cache');
const CACHE_FILE = /^rumpkg-bundle\.cjs\.cache(?:-[a-z]+)?$/;
const TARGET = 'posix-x86_64';

const work = mkdtempSync(join(tmpdir(), 'rumpkg-code-cache-'));
const home = join(work, 'home');
const env = { ...process.env, RUMPKG_HOME: home, NO_COLOR: '1', RUMPKG_WRITE_CODE_CACHE: '1' };
delete env.RUMPKG_CODE_CACHE_REPORT;
const trained = [];
const skipped = [];

/** One workload: the launcher with `args`; true when it exited 0 (its cache was written either way). */
function train(args, options = {}) {
  const r = spawnSync(process.execPath, [launcher, ...args], { cwd: options.cwd ?? work, env: options.env ?? env, encoding: 'utf8', timeout: 120_000 });
  const label = args.filter((a) => !a.startsWith('/')).slice(0, 3).join(' ');
  if (r.status === 0) trained.push(label);
  else skipped.push(`${label} (exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout || '').trim().split('\n')[0]})`);
  return r.status === 0;
}

const onPath = (tool) => (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, tool)));

/** `rumpkg registry serve DIR --port 0` in a process of its own (never trained: it is killed); its URL. */
async function serve(registryDir) {
  const child = spawn(process.execPath, [launcher, '--json', 'registry', 'serve', registryDir, '--port', '0'], { env: { ...env, RUMPKG_WRITE_CODE_CACHE: '' }, stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('registry serve printed no URL in 10 s')), 10_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"url":\s*"([^"]+)"/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`registry serve exited ${code}`));
    });
  });
  return { url, stop: () => child.kill() };
}

async function workloads() {
  const missing = ['cc', 'ar', 'objcopy'].filter((t) => !onPath(t));
  if (missing.length > 0) {
    skipped.push(`the corpus workloads (${missing.join(', ')} not on PATH)`);
    return;
  }
  const { cachedCorpus } = await import(new URL('../dist/scripts/corpus/index.js', import.meta.url).href);
  const corpus = await cachedCorpus({ versions: ['10.1.0'], targets: [TARGET] });
  const release = join(corpus.root, '10.1.0');
  const dirs = readdirSync(release).sort().map((n) => join(release, n));

  // import: the corpus's archives, as a user's build directory holds them
  const archives = join(work, 'archives');
  mkdirSync(archives);
  for (const d of dirs) {
    const lib = join(d, 'lib', TARGET);
    if (!existsSync(lib)) continue;
    for (const a of readdirSync(lib)) if (a.endsWith('.a')) copyFileSync(join(lib, a), join(archives, a));
  }
  const importArgs = ['import', 'archives', archives, '--target', TARGET, '--version', '10.1.0'];
  train([...importArgs, '-o', join(work, 'import-dry'), '--dry-run', '--json']);
  train([...importArgs, '-o', join(work, 'imported'), '--quiet']);

  // validate, pack, inspect --extract
  const tcpip = join(release, 'tcpip');
  train(['validate', join(tcpip, 'package.json')]);
  const tgz = join(work, 'tcpip.tgz');
  if (train(['pack', tcpip, '-o', tgz])) train(['inspect', tgz, '--extract', join(work, 'extracted')]);

  // publish, then a project: install, build, run, audit
  if (!train(['--quiet', 'publish', ...dirs])) return;
  const project = join(work, 'hello-net');
  cpSync(join(root, 'examples', 'hello-net'), project, { recursive: true });
  const inProject = { cwd: project };
  if (train(['install'], inProject)) {
    train(['install'], inProject);
    if (train(['build'], inProject)) {
      train(['build'], inProject);
      train(['build', '--force'], inProject);
      train(['run'], inProject);
      train(['audit', join(project, 'build', TARGET, 'hello-net')], inProject);
    }
    train(['tree'], inProject);
    train(['why', 'net'], inProject);
  }

  // add over HTTP, cold: a fresh home and project against a served registry
  const server = await serve(join(home, 'registry')).catch((e) => {
    skipped.push(`add over HTTP (${e.message})`);
    return undefined;
  });
  if (server === undefined) return;
  try {
    const client = join(work, 'client');
    mkdirSync(client);
    const clientEnv = { ...env, RUMPKG_HOME: join(work, 'client-home') };
    const manifest = { schemaVersion: 1, name: 'client', targets: [TARGET], components: {}, registries: { '@rump': `${server.url}/` } };
    writeFileSync(join(client, 'rumpkg.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    train(['add', 'tcpip', 'virtif', 'net-config'], { cwd: client, env: clientEnv });
  } finally {
    server.stop();
  }
}

try {
  for (const f of readdirSync(dist)) if (CACHE_FILE.test(f)) rmSync(join(dist, f), { force: true });
  if (!train(['--version']) || !existsSync(cache)) throw new Error(`the bundle does not run: ${skipped.join('; ')}`);
  train(['--help']);
  try {
    await workloads();
  } catch (e) {
    skipped.push(`the corpus workloads (${e instanceof Error ? e.message : String(e)})`);
  }
  const own = readdirSync(dist).filter((f) => CACHE_FILE.test(f) && f !== 'rumpkg-bundle.cjs.cache').sort();
  const kib = (f) => (statSync(join(dist, f)).size / 1024).toFixed(0);
  const owns = own.map((f) => `${f.slice('rumpkg-bundle.cjs.cache-'.length)} ${kib(f)}`).join(', ');
  process.stdout.write(`code-cache: base ${kib('rumpkg-bundle.cjs.cache')} KiB; per command (KiB): ${owns === '' ? 'none' : owns}; from ${trained.length} workloads${skipped.length === 0 ? '' : `; skipped: ${skipped.join('; ')}`}\n`);
} catch (e) {
  process.stderr.write(`code-cache: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
