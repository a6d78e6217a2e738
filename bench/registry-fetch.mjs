// Cold fetch of 25 components from rumpkg's own registry server: rumpkg (packuments + verified
// tarballs + unpack into the store) vs `npm install` of the same 25 packages from the same
// server in the same run (temp project, temp npm cache), and the ratio. Then warm fetches:
// rumpkg with everything in the store, and rumpkg with the store cleared but the download
// cache full. Run after `npm run build`: `node bench/registry-fetch.mjs` (or `npm run bench`).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packComponent } from '../dist/components/index.js';
import { createRegistryClient, createRegistryServer, createStore, homePaths } from '../dist/registry/index.js';

const N = Number(process.env.BENCH_COMPONENTS ?? 25);
const PAYLOAD = Number(process.env.BENCH_PAYLOAD ?? 64 * 1024);
const root = mkdtempSync(join(tmpdir(), 'rumpkg-bench-fetch-'));
const time = async (fn) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};

function componentDir(i) {
  const base = `bench${String(i).padStart(2, '0')}`;
  const dir = join(root, 'src', base);
  const lib = `librump_${base}`;
  mkdirSync(join(dir, 'lib', 'posix-x86_64'), { recursive: true });
  // Pseudo-random payload so gzip cannot shrink it to nothing.
  const payload = Buffer.alloc(PAYLOAD);
  let x = i + 1;
  for (let k = 0; k < payload.length; k++) payload[k] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  writeFileSync(join(dir, 'lib', 'posix-x86_64', `${lib}.a`), Buffer.concat([Buffer.from('!<arch>\n'), payload]));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: `@rump/${base}`, version: '1.0.0', license: 'BSD-2-Clause', description: `bench component ${i}`, dependencies: {},
      rump: { schemaVersion: 1, kind: 'component', lib, aliases: [], faction: 'dev', initLevels: ['RUMP_COMPONENT_DEV'],
        requires: [], provides: [], conflicts: [], optionalDependencies: {},
        targets: { 'posix-x86_64': { archive: `lib/posix-x86_64/${lib}.a` } } },
    }, null, 2),
  );
  return { dir, name: `@rump/${base}` };
}

const server = await createRegistryServer(join(root, 'registry'), { host: '127.0.0.1', port: 0 });
try {
  const token = await server.tokens.add('bench');
  const url = `${server.url}/`;
  const comps = Array.from({ length: N }, (_, i) => componentDir(i));
  const publisher = createRegistryClient({ home: join(root, 'publisher'), registries: { '@rump': url } });
  for (const c of comps) await publisher.publish((await packComponent(c.dir)).data, { token });

  const rumpkgFetch = async (home) => {
    const client = createRegistryClient({ home, registries: { '@rump': url } });
    const store = createStore(client, { home });
    const queue = [...comps];
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        const [v] = await client.versions(c.name);
        await store.ensureUnpacked(c.name, v.version, { integrity: v.integrity });
      }
    }));
  };

  const home = join(root, "home");
  const cold = await time(() => rumpkgFetch(home));

  const project = join(root, 'npm-project');
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'bench', version: '1.0.0', private: true,
    dependencies: Object.fromEntries(comps.map((c) => [c.name, '1.0.0'])) }));
  writeFileSync(join(project, '.npmrc'), `@rump:registry=${url}\nregistry=${url}\nupdate-notifier=false\naudit=false\nfund=false\n`);
  let npmStatus = 0;
  // Asynchronous spawn: the server runs in this process and must keep answering.
  const npm = await time(() => new Promise((resolve) => {
    const child = spawn('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-update-notifier',
      '--cache', join(root, 'npm-cache'), '--userconfig', join(project, '.npmrc'), '--loglevel', 'error'],
    { cwd: project, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      npmStatus = code ?? 1;
      if (npmStatus !== 0) process.stderr.write(err);
      resolve();
    });
  }));

  const warmStore = await time(() => rumpkgFetch(home));
  rmSync(homePaths(home).store, { recursive: true, force: true });
  const warmCache = await time(() => rumpkgFetch(home));

  const f = (ms) => `${ms.toFixed(0).padStart(6)} ms`;
  console.log(`cold fetch of ${N} components (${(PAYLOAD / 1024).toFixed(0)} KiB archive each) from the rumpkg server`);
  console.log(`  rumpkg (packuments + verified tarballs + unpack to store) ${f(cold)}`);
  console.log(`  npm install (same packages, same server, temp cache)     ${f(npm)}${npmStatus === 0 ? '' : '  [npm FAILED]'}`);
  console.log(`  ratio rumpkg/npm                                         ${(cold / npm).toFixed(2)}`);
  console.log(`warm fetch, everything in the store                        ${f(warmStore)}`);
  console.log(`warm fetch, store cleared, downloads cached                ${f(warmCache)}`);
} finally {
  await server.close();
  rmSync(root, { recursive: true, force: true });
}
