/**
 * The pictures through the shipped bin (dist/rumpkg.cjs, needs `npm run build`): the ESM-only
 * Graphviz-in-WebAssembly package loads from the bundle through the launcher's import(), and only
 * when a picture is drawn: `rumpkg --version` never resolves it (an ESM resolve hook, registered
 * with `node --import`, logs every package the process imports). The audit's HTML report (with
 * d3-hierarchy's treemap when a linker map is there) and `registry serve`'s web UI with its graphs
 * work from the bundle too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode } from '../helpers/cli.js';
import { demoWorld, releaseDemoWorld, type DemoWorld } from '../helpers/demo.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'dist/rumpkg.cjs');
const work = mkdtempSync(join(tmpdir(), 'rumpkg-pictures-bin-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HOOKS = join(work, 'hooks.mjs');
const REGISTER = join(work, 'register.mjs');
writeFileSync(
  HOOKS,
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  if (!/^(node:|file:|data:|\\.|\\/)/.test(specifier)) appendFileSync(process.env.RUMPKG_TEST_IMPORT_LOG, specifier + '\\n');
  return next(specifier, context);
}
`,
);
writeFileSync(REGISTER, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(HOOKS).href)});\n`);

function rumpkg(args: string[], log: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode(['--import', pathToFileURL(REGISTER).href, BIN, ...args], { cwd, env: { ...env, NO_COLOR: '1', RUMPKG_TEST_IMPORT_LOG: log } });
}

const imported = (log: string): string[] => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter((l) => l !== '') : []);

let world: DemoWorld;
beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build`);
  world = await demoWorld();
}, 900_000);

describe('pictures from the bundled CLI', () => {
  it('--version loads no picture library; graph --format svg loads Graphviz-in-WebAssembly from the bundle', async () => {
    const vlog = join(work, 'version.log');
    const v = await rumpkg(['--version'], vlog, work, world.env);
    expect(v.code).toBe(0);
    expect(imported(vlog).filter((s) => /hpcc|d3-|playwright/.test(s))).toEqual([]);

    const glog = join(work, 'graph.log');
    const g = await rumpkg(['graph', '--format', 'svg'], glog, world.project, world.env);
    expect(g.code, g.stderr).toBe(0);
    expect(imported(glog)).toContain('@hpcc-js/wasm-graphviz');
    expect(g.stdout).toMatch(/^<\?xml[\s\S]*<svg [\s\S]*<\/svg>\n?$/);
    expect(g.stdout).toContain('<title>hw&#45;riscv64|@rump/virtio&#45;mmio</title>');
    expect(g.stdout).toContain('<title>hw&#45;x86_64|@rump/pci</title>');

    const dlog = join(work, 'dot.log');
    const d = await rumpkg(['graph', '--format', 'dot'], dlog, world.project, world.env);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^digraph "hello-virtio" \{/);
    expect(imported(dlog).filter((s) => /hpcc/.test(s))).toEqual([]);
  });

  it('audit --html writes the report (graph, and the treemap when the build left a linker map)', async () => {
    const log = join(work, 'audit.log');
    const out = join(work, 'audit.html');
    const { buildProject, storeComponentDirResolver, findProgram } = await import('../../packager/index.js');
    const hw = ['clang', 'ld.lld', 'llvm-objcopy'].every((t) => findProgram(t) !== null);
    let image: string;
    if (hw) {
      const [r] = await buildProject(world.project, { target: 'hw-x86_64', resolveComponentDir: await storeComponentDirResolver(world.project, { env: world.env }) });
      image = r!.image;
    } else {
      // No cross toolchain: audit a plain ELF file (no manifest, no map) — the page still comes out.
      image = process.execPath;
    }
    const a = await rumpkg(['audit', image, '--html', out, '--no-registry'], log, world.project, world.env);
    expect(a.stderr).not.toMatch(/internal|TypeError|Cannot find/);
    const page = readFileSync(out, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/);
    if (hw) {
      expect(a.code, a.stderr).toBe(0);
      expect(imported(log)).toEqual(expect.arrayContaining(['d3-hierarchy', '@hpcc-js/wasm-graphviz']));
      expect(page).toContain('<svg class="treemap"');
      expect(page).toContain('<title>hw&#45;x86_64|@rump/pci</title>');
    }
  }, 300_000);

  it('registry serve: the web UI with its graphs, from the bundle', async () => {
    const child: ChildProcess = spawn(process.execPath, [BIN, 'registry', 'serve', world.registry, '--port', '0'], { env: { ...world.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
      for (let i = 0; i < 300 && !/http:\/\/127\.0\.0\.1:\d+/.test(out); i++) await new Promise((r) => setTimeout(r, 20));
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(out)![0];
      const index = await fetch(`${url}/`);
      expect(index.status).toBe(200);
      expect(await index.text()).toContain('<a href="/-/web/component/%40rump/virtio-net">@rump/virtio-net</a>');
      const page = await (await fetch(`${url}/-/web/component/@rump/virtio-net`)).text();
      expect(page).toContain('<title>hw&#45;riscv64|@rump/virtio&#45;mmio</title>');
      expect((await (await fetch(`${url}/@rump%2fvirtio-net`)).json()) as { name: string }).toMatchObject({ name: '@rump/virtio-net' });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
  }, 120_000);
});

afterAll(async () => {
  await releaseDemoWorld();
});
