// Publishing over HTTP, each server in its own process: `rumpkg registry serve` (the shipped bin)
// against Verdaccio 6 (the peer), alternating:
//   - the miniature corpus (every version of every component), the same tarballs with the same
//     client (this process's fetch, npm's PUT body, concurrency 8), in 5 + 1 slices: a round
//     publishes one slice to each server (the first slice is the warm-up);
//   - the stock client: `npm publish` of a fresh version to rumpkg's server vs to Verdaccio;
//   - the clients: `rumpkg publish` vs `npm publish` (whole processes) of a fresh version of the
//     same component to rumpkg's server.
// Needs `npm run build`, npm and Verdaccio (a devDependency). Env: BENCH_ROUNDS (default 5),
// BENCH_CONCURRENCY (8).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packComponent, unpackComponent } from '../dist/components/index.js';
import { cachedCorpus, corpusDirs } from './lib/corpus.mjs';
import { BIN, ROOT, ROUNDS, cli, loadAverage, missingTools, procCpuMs, report, rounds, rumpkg, skip, tmpName, tool } from './lib/measure.mjs';

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);

async function pool(items, n, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

function npmBody(pack, url) {
  const m = pack.manifest;
  const file = `${m.name.split('/').pop()}-${m.version}.tgz`;
  return JSON.stringify({
    _id: m.name,
    name: m.name,
    description: m.description,
    'dist-tags': { latest: m.version },
    versions: {
      [m.version]: {
        ...m,
        _id: `${m.name}@${m.version}`,
        dist: { integrity: pack.integrity, shasum: createHash('sha1').update(pack.data).digest('hex'), tarball: `${url}/${m.name}/-/${file}` },
      },
    },
    _attachments: { [file]: { content_type: 'application/octet-stream', data: pack.data.toString('base64'), length: pack.data.length } },
  });
}

async function publishHttp(url, token, packs) {
  let failed = 0;
  await pool(packs, concurrency, async (p) => {
    const r = await fetch(`${url}/${encodeURIComponent(p.manifest.name)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: npmBody(p, url),
    });
    await r.arrayBuffer();
    if (r.status !== 201 && r.status !== 200) {
      failed++;
      if (failed <= 3) console.error(`  ${p.manifest.name}@${p.manifest.version}: HTTP ${r.status}`);
    }
  });
  if (failed > 0) throw new Error(`${failed} publishes failed`);
}

/** A server process; resolves once `ready(url)` answers. */
async function startProcess(cmd, args, url, stdout) {
  const child = spawn(cmd, args, { stdio: ['ignore', stdout ? 'pipe' : 'ignore', 'inherit'] });
  let found = url;
  if (stdout) {
    found = await new Promise((res, rej) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /"url":\s*"([^"]+)"/.exec(out);
        if (m !== null) res(m[1]);
      });
      child.on('exit', (code) => rej(new Error(`${cmd} exited ${code}`)));
    });
    child.stdout.resume();
  }
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${found}/-/ping`)).ok) break;
    } catch {
      await sleep(100);
    }
  }
  return { url: found, child };
}

const work = tmpName('rumpkg-bench-publish-');
mkdirSync(work, { recursive: true });
const children = [];
try {
  const verdaccioBin = join(ROOT, 'node_modules/.bin/verdaccio');
  if (!existsSync(verdaccioBin) || missingTools(['npm']).length > 0) {
    skip('publish over HTTP: rumpkg registry serve vs Verdaccio', 'Verdaccio (node_modules/.bin/verdaccio) or npm is missing');
    process.exit(0);
  }
  const corpus = await cachedCorpus({ targets: ['posix-x86_64'] });
  const packs = [];
  for (const d of corpusDirs(corpus)) packs.push(await packComponent(d));
  console.log(`${packs.length} tarballs of the miniature corpus (${(packs.reduce((n, p) => n + p.size, 0) / 1e6).toFixed(1)} MB)`);

  // rumpkg's server, apart, with a publish token.
  const regDir = join(work, 'rumpkg-registry');
  const token = JSON.parse(await cli(['--json', 'registry', 'token', 'add', 'bench', '--dir', regDir])).token;
  const ours = await startProcess(BIN, ['--json', 'registry', 'serve', regDir, '--port', '0'], undefined, true);
  children.push(ours.child);

  // Verdaccio, apart, with a user.
  const vdir = join(work, 'verdaccio');
  mkdirSync(vdir);
  const port = 20000 + Math.floor(Math.random() * 20000);
  writeFileSync(join(vdir, 'config.yaml'), [
    `storage: ${join(vdir, 'storage')}`, 'auth:', '  htpasswd:', `    file: ${join(vdir, 'htpasswd')}`, '    max_users: 10',
    'uplinks: {}', 'packages:', "  '@rump/*':", '    access: $all', '    publish: $authenticated', "  '**':", '    access: $all', '    publish: $authenticated',
    'max_body_size: 100mb', 'log: { type: stdout, format: pretty, level: error }', 'server:', '  keepAliveTimeout: 60', '',
  ].join('\n'));
  const theirs = await startProcess(process.execPath, [verdaccioBin, '--config', join(vdir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], `http://127.0.0.1:${port}`, false);
  children.push(theirs.child);
  const vtoken = (await (await fetch(`${theirs.url}/-/user/org.couchdb.user:bench`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', password: 'bench-password-1' }),
  })).json()).token;
  console.log(`rumpkg registry serve at ${ours.url}, Verdaccio at ${theirs.url}, both in processes of their own; ${loadAverage()}`);

  // 1. The corpus in slices, same client.
  const slices = Array.from({ length: ROUNDS + 1 }, (_, i) => packs.filter((_, k) => k % (ROUNDS + 1) === i));
  // CPU: the server's own (its process, from /proc), not the client's.
  const serverCpu = (server, fn) => async (c, r) => {
    const c0 = procCpuMs(server.child.pid);
    await fn(c, r);
    const c1 = procCpuMs(server.child.pid);
    return { cpuMs: c0 === undefined || c1 === undefined ? undefined : c1 - c0 };
  };
  const corpusRounds = await rounds([
    { name: 'rumpkg', run: serverCpu(ours, (_c, r) => publishHttp(ours.url, token, slices[r + 1])) },
    { name: 'verdaccio', run: serverCpu(theirs, (_c, r) => publishHttp(theirs.url, vtoken, slices[r + 1])) },
  ]);
  report({
    metric: `publish ~${slices[1].length} tarballs over HTTP (same client; CPU = the server's): rumpkg registry serve vs Verdaccio`,
    rumpkg: corpusRounds.rumpkg, peer: corpusRounds.verdaccio, peerName: 'Verdaccio 6',
    note: "Verdaccio's default htpasswd auth checks the password hash (bcrypt) on every authenticated request; rumpkg's server compares a sha256 of the token",
  });

  // Fresh versions of one component, as tarball files.
  const base = packs.find((p) => p.manifest.name === '@rump/tcpip') ?? packs[0];
  const unpacked = join(work, 'src');
  await unpackComponent(base.data, unpacked, { integrity: base.integrity });
  let v = 0;
  const freshTarball = async () => {
    const dir = join(work, `v${v}`);
    await unpackComponent(base.data, dir, { integrity: base.integrity });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...base.manifest, version: `99.0.${v++}` }, null, 2));
    const p = await packComponent(dir);
    const file = `${dir}.tgz`;
    writeFileSync(file, p.data);
    rmSync(dir, { recursive: true, force: true });
    return file;
  };
  const npmHome = join(work, 'npm-home');
  mkdirSync(npmHome);
  writeFileSync(join(npmHome, 'npmrc'), `//127.0.0.1:${new URL(ours.url).port}/:_authToken=${token}\n//127.0.0.1:${port}/:_authToken=${vtoken}\n`, { mode: 0o600 });
  const npmPublish = (url) => (file) => tool('npm', ['publish', file, '--registry', `${url}/`, '--userconfig', join(npmHome, 'npmrc'), '--cache', join(npmHome, 'cache'), '--no-update-notifier', '--no-audit', '--no-fund', '--loglevel=error'], { env: { PATH: process.env.PATH, HOME: npmHome } })();

  // 2. The stock client against both servers.
  const stock = await rounds([
    { name: 'rumpkg', setup: freshTarball, run: npmPublish(ours.url) },
    { name: 'verdaccio', setup: freshTarball, run: npmPublish(theirs.url) },
  ]);
  // (CPU here: npm's, the same client on both sides.)
  report({ metric: 'npm publish (stock client) of one component: to rumpkg registry serve vs to Verdaccio', rumpkg: stock.rumpkg, peer: stock.verdaccio, peerName: 'npm publish → Verdaccio' });

  // 3. The clients against rumpkg's server.
  const rHome = join(work, 'rumpkg-home');
  await cli(['login', '--registry', `${ours.url}/`], { env: { ...process.env, RUMPKG_HOME: rHome }, input: `${token}\n` });
  const clients = await rounds([
    { name: 'rumpkg', setup: freshTarball, run: (file) => rumpkg(['--quiet', 'publish', file, '--registry', `${ours.url}/`], { env: { ...process.env, RUMPKG_HOME: rHome } })() },
    { name: 'npm', setup: freshTarball, run: npmPublish(ours.url) },
  ]);
  report({ metric: 'rumpkg publish vs npm publish of one component to rumpkg registry serve (whole process)', rumpkg: clients.rumpkg, peer: clients.npm, peerName: 'npm publish' });
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
