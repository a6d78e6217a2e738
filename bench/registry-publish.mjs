// Publish the whole miniature corpus (every version of every component) to the embedded file
// registry (in-process) and to `rumpkg registry serve` (HTTP PUT as npm sends it), and — as the
// peer — the same tarballs with the same HTTP client to a real Verdaccio on loopback; plus
// `npm publish` of a few tarballs to rumpkg's server (the stock client's per-publish cost).
// Needs `npm run build` first. Prints seconds in total and ratios.
//
//   node bench/registry-publish.mjs [--concurrency N] [--npm N]
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const repo = resolve(import.meta.dirname, '..');
const components = await import(join(repo, 'dist/components/index.js'));
const corpusLib = await import(join(repo, 'dist/scripts/corpus/index.js'));
const registry = await import(join(repo, 'dist/registry/index.js'));

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i < 0 ? dflt : Number(argv[i + 1]);
};
const concurrency = opt('--concurrency', 8);
const npmSamples = opt('--npm', 5);

/** The corpus the tests and the demo use (scripts/corpus cachedCorpus: built once per content). */
async function findCorpus() {
  const c = await corpusLib.cachedCorpus();
  if (c.built) console.log(`built the corpus in ${(c.info.ms / 1000).toFixed(1)} s`);
  return c.root;
}

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
  const file = `${m.name}-${m.version}.tgz`;
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
  const t0 = performance.now();
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
  return { s: (performance.now() - t0) / 1000, failed };
}

async function startVerdaccio() {
  const bin = join(repo, 'node_modules/.bin/verdaccio');
  if (!existsSync(bin)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rumpkg-bench-verdaccio-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  writeFileSync(join(dir, 'config.yaml'), [
    `storage: ${join(dir, 'storage')}`,
    'auth:',
    '  htpasswd:',
    `    file: ${join(dir, 'htpasswd')}`,
    '    max_users: 10',
    'uplinks: {}',
    'packages:',
    "  '@rump/*':",
    '    access: $all',
    '    publish: $authenticated',
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    'max_body_size: 100mb',
    'log: { type: stdout, format: pretty, level: error }',
    'server:',
    '  keepAliveTimeout: 60',
    '',
  ].join('\n'));
  const child = spawn(process.execPath, [bin, '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${url}/-/ping`);
      if (r.ok) break;
    } catch {
      await sleep(100);
    }
  }
  const r = await fetch(`${url}/-/user/org.couchdb.user:bench`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', password: 'bench-password-1' }),
  });
  const { token } = await r.json();
  return { url, token, stop: () => { child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); } };
}

function npmPublish(file, url, home) {
  return new Promise((res) => {
    execFile('npm', ['publish', file, '--registry', `${url}/`, '--userconfig', join(home, 'npmrc'), '--cache', join(home, 'cache'), '--no-update-notifier', '--no-audit', '--no-fund'],
      { env: { PATH: process.env.PATH, HOME: home } }, (err) => res(err ? 1 : 0));
  });
}

// ---------------------------------------------------------------------------------------------

const corpus = await findCorpus();
const dirs = [];
for (const v of readdirSync(corpus).filter((d) => /^\d+\.\d+\.\d+$/.test(d)).sort()) {
  for (const n of readdirSync(join(corpus, v)).sort()) if (existsSync(join(corpus, v, n, 'package.json'))) dirs.push(join(corpus, v, n));
}
const tPack = performance.now();
const packs = [];
for (const d of dirs) packs.push(await components.packComponent(d));
const bytes = packs.reduce((n, p) => n + p.size, 0);
console.log(`corpus: ${corpus}`);
console.log(`${packs.length} tarballs (${new Set(packs.map((p) => p.manifest.name)).size} components), ${(bytes / 1024 / 1024).toFixed(1)} MiB, packed in ${((performance.now() - tPack) / 1000).toFixed(2)} s`);

const work = mkdtempSync(join(tmpdir(), 'rumpkg-bench-publish-'));
try {
  // 1. file registry, in-process
  const storage = registry.createFileStorage(join(work, 'file'));
  let t0 = performance.now();
  await pool(packs, concurrency, (p) => storage.publish(p.data));
  const fileS = (performance.now() - t0) / 1000;
  console.log(`file registry:       ${fileS.toFixed(2)} s total, ${((fileS * 1000) / packs.length).toFixed(1)} ms/publish (concurrency ${concurrency})`);

  // 2. rumpkg registry server
  const server = await registry.createRegistryServer(join(work, 'server'), { host: '127.0.0.1', port: 0 });
  const token = await server.tokens.add('bench');
  const srv = await publishHttp(server.url, token, packs);
  console.log(`rumpkg server:       ${srv.s.toFixed(2)} s total, ${((srv.s * 1000) / packs.length).toFixed(1)} ms/publish${srv.failed ? `, ${srv.failed} FAILED` : ''}`);

  // 3. peer: Verdaccio, same tarballs, same client
  const verdaccio = await startVerdaccio();
  if (verdaccio !== undefined) {
    try {
      const ver = await publishHttp(verdaccio.url, verdaccio.token, packs);
      console.log(`verdaccio 6 (peer):  ${ver.s.toFixed(2)} s total, ${((ver.s * 1000) / packs.length).toFixed(1)} ms/publish${ver.failed ? `, ${ver.failed} FAILED` : ''}`);
      console.log(`ratio rumpkg server / verdaccio: ${(srv.s / ver.s).toFixed(2)}  (file registry / verdaccio: ${(fileS / ver.s).toFixed(2)})`);
    } finally {
      verdaccio.stop();
    }
  } else console.log('verdaccio not installed: peer comparison skipped');

  // 4. the stock npm client publishing to rumpkg's server (a few versions of a fresh name)
  if (npmSamples > 0) {
    const home = join(work, 'npm-home');
    mkdirSync(home);
    writeFileSync(join(home, 'npmrc'), `//127.0.0.1:${server.port}/:_authToken=${token}\n`, { mode: 0o600 });
    const files = [];
    for (let i = 0; i < npmSamples; i++) {
      // a fresh version of an existing component: same files, version bumped
      const src = packs[i];
      const unpack = join(work, `npm-unpack-${i}`);
      await components.unpackComponent(src.data, unpack, { integrity: src.integrity });
      writeFileSync(join(unpack, 'package.json'), JSON.stringify({ ...src.manifest, version: `99.0.${i}` }, null, 2));
      const p = await components.packComponent(unpack);
      const f = join(work, `npm-${i}.tgz`);
      writeFileSync(f, p.data);
      files.push(f);
    }
    t0 = performance.now();
    let failed = 0;
    for (const f of files) failed += await npmPublish(f, server.url, home);
    const npmS = (performance.now() - t0) / 1000;
    const perNpm = (npmS * 1000) / files.length;
    console.log(`npm publish → rumpkg server: ${perNpm.toFixed(0)} ms/publish over ${files.length}${failed ? `, ${failed} FAILED` : ''}; rumpkg's PUT: ${((srv.s * 1000) / packs.length).toFixed(1)} ms/publish (ratio ${(((srv.s * 1000) / packs.length) / perNpm).toFixed(3)})`);
  }
  await server.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}
