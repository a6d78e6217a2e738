/**
 * examples/hello-net built from the miniature corpus for posix-x86_64: it runs and prints the
 * init lines in the lockfile's init order, then the configuration, then the application; builds
 * are reproducible (two clean builds in different directories, and the dry-run script run by
 * hand, give the same bytes); the manifest and the size report come back out of the image.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ProjectManifest } from '../../components/index.js';
import { readImageManifest } from '../../components/index.js';
import { buildProject, componentDirsFromRoot, readSizeReport, renderPlanScript, runImage as runImageApi } from '../../packager/index.js';
import { corpusRoot, runImage, sha256File, tempDir, writeProject } from './helpers.js';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/hello-net');
const COMPONENTS = ['@rump/net-config', '@rump/tcpip', '@rump/virtif'];

let root: string;
beforeAll(async () => {
  root = await corpusRoot();
});

/** A copy of the example with a lockfile made from the corpus (the resolver is not involved). */
function exampleProject(): string {
  const dir = tempDir('rumpkg-hello-net-');
  cpSync(EXAMPLE, dir, { recursive: true });
  const project = JSON.parse(readFileSync(join(EXAMPLE, 'rumpkg.json'), 'utf8')) as ProjectManifest;
  writeProject(dir, root, { components: COMPONENTS, image: project.image!, files: {} });
  // writeProject rewrote rumpkg.json with scoped names; keep the example's own file.
  cpSync(join(EXAMPLE, 'rumpkg.json'), join(dir, 'rumpkg.json'));
  return dir;
}

describe('examples/hello-net on posix-x86_64', () => {
  it('runs: init lines in the lockfile init order, then config, then the app', async () => {
    const dir = exampleProject();
    const [r] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root) });
    expect(r!.upToDate).toBe(false);
    const lock = JSON.parse(readFileSync(join(dir, 'rumpkg.lock'), 'utf8')) as { targets: Record<string, { initOrder: Array<{ level: string; lib: string }> }> };
    const out = runImage(r!.image, ['one']);
    expect(out.status).toBe(0);
    const lines = out.stdout.trimEnd().split('\n');
    const init = lines.filter((l) => l.startsWith('init '));
    expect(init).toEqual(lock.targets['posix-x86_64']!.initOrder.map((s) => `init ${s.level} ${s.lib}`));
    expect(init.length).toBeGreaterThan(5);
    expect(lines.slice(init.length)).toEqual([
      'config ifcreate virt0',
      'config ipv4_ifaddr virt0 10.0.0.2 255.255.255.0',
      'hello-net: hello from the application (1 argument)',
      'hello-net: arg 1: one',
    ]);

    const m = await readImageManifest(r!.image);
    expect(m.target).toBe('posix-x86_64');
    expect(m.project).toBe('hello-net');
    expect(m.linkOrder.at(-1)).toBe('@rump/rumpuser');
    expect(m.components.map((c) => c.name)).toEqual([...m.components.map((c) => c.name)].sort());
    expect(m.components.find((c) => c.name === '@rump/tcpip')).toMatchObject({ version: '10.0.0', lib: 'librumpnet_netinet', kind: 'component' });
    expect(m.config.net).toEqual([{ if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '24' }]);

    const size = await readSizeReport(r!.image);
    const owners = size.rows.map((x) => x.owner);
    for (const c of m.linkOrder) expect(owners).toContain(c);
    expect(owners).toEqual(expect.arrayContaining(['glue', 'app', 'runtime']));
    expect(size.rows.find((x) => x.owner === '@rump/base')!.text).toBeGreaterThan(0);
    const sum = size.rows.reduce((a, x) => a + x.total, 0) + size.unattributed;
    expect(sum).toBe(size.allocBytes);

    // The image is a fresh file, not a link into the store (IM-02).
    expect(statSync(r!.image).nlink).toBe(1);

    // Incremental: nothing changed → nothing runs, the file is untouched.
    const before = statSync(r!.image);
    const [again] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root) });
    expect(again!.upToDate).toBe(true);
    expect(statSync(r!.image).mtimeMs).toBe(before.mtimeMs);
    // A changed source is noticed.
    writeFileSync(join(dir, 'app.c'), readFileSync(join(dir, 'app.c'), 'utf8').replace('hello from', 'greetings from'));
    const [third] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root) });
    expect(third!.upToDate).toBe(false);
    expect(runImage(third!.image).stdout).toMatch(/greetings from the application/);

    const streamed = await runImageApi(third!.image, { target: 'posix-x86_64', args: ['a', 'b'] });
    expect(streamed.status).toBe(0);
    expect(streamed.stdout).toMatch(/arg 2: b/);
  });

  it('is reproducible: two clean builds elsewhere and the dry-run script give the same bytes', async () => {
    const a = exampleProject();
    const b = exampleProject();
    const [ra] = await buildProject(a, { resolveComponentDir: componentDirsFromRoot(root) });
    const [rb] = await buildProject(b, { resolveComponentDir: componentDirsFromRoot(root) });
    expect(ra!.sha256).toBe(rb!.sha256);
    expect(sha256File(ra!.image)).toBe(sha256File(rb!.image));

    const [dry] = await buildProject(b, { resolveComponentDir: componentDirsFromRoot(root), dryRun: true });
    expect(dry!.dryRun).toBe(true);
    const script = renderPlanScript(dry!.plan);
    const out = join(tempDir('rumpkg-by-hand-'), 'image');
    const r = spawnSync('sh', ['-c', script], { env: { ...process.env, OUT: out }, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(sha256File(out)).toBe(sha256File(rb!.image));
    expect(execFileSync(out, { encoding: 'utf8' })).toMatch(/hello-net: hello from the application/);
  });
});
