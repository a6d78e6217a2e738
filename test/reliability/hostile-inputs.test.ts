/**
 * Every place where a name, path, URL or number from a registry, tarball, lockfile or image
 * reaches the file system, a shell command, the compiler or linker, or QEMU's command line,
 * proven with hostile input (the review of issue 15; docs/registry-policy.md lists the paths):
 *
 * - component package.json → compiler and linker command lines and staged input paths (build):
 *   `abiFlags`, `ldflags`, `objects`, `linkerScript` — refused by the validated manifest reader
 *   before anything runs (a `--components-dir` or a hand-changed store entry used to go straight
 *   through: `-wrapper` ran an arbitrary command);
 * - rumpkg.lock → paths (`--components-dir`): covered in safe-json.test.ts;
 * - archive file names → component directories (`rumpkg import archives`);
 * - paths → the POSIX shell script of `rumpkg build --dry-run`, and strings → the C glue;
 * - an image path → QEMU's argv (no shell, one argument);
 * - a store entry's index.json → paths probed by the no-op install check.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importArchives, isRumpkgError } from '../../components/index.js';
import { buildProject, componentDirsFromRoot, planQemu, renderGlue, renderPlanScript } from '../../packager/index.js';
import { createStore, type TarballSource } from '../../registry/index.js';
import { hashTree, registryHome, tempDir, writeProject } from './helpers.js';

async function typed(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (!isRumpkgError(e)) throw e;
    return { code: e.code, message: e.message };
  }
  return { code: 'ok', message: '' };
}

/**
 * A project with one component `@rump/solo` (or a platform package) in a components directory
 * `<base>/components/1.0.0/solo`, locked for posix-x86_64; `target` edits what the component
 * ships for the target.
 */
function project(target: (t: Record<string, unknown>) => void, options: { platform?: boolean; image?: Record<string, unknown> } = {}): { dir: string; components: string; base: string } {
  const base = tempDir('hostile-build');
  const components = join(base, 'components');
  const cdir = join(components, '1.0.0', 'solo');
  mkdirSync(join(cdir, 'lib', 'posix-x86_64'), { recursive: true });
  writeFileSync(join(cdir, 'lib', 'posix-x86_64', 'librump_solo.a'), '!<arch>\n');
  const t: Record<string, unknown> = { archive: 'lib/posix-x86_64/librump_solo.a' };
  target(t);
  const kind = options.platform === true ? 'platform' : 'component';
  writeFileSync(
    join(cdir, 'package.json'),
    JSON.stringify({
      name: '@rump/solo', version: '1.0.0', license: 'BSD-2-Clause', description: 'solo', dependencies: {},
      rump: { schemaVersion: 1, kind, lib: 'librump_solo', aliases: [], faction: 'net', initLevels: [], requires: [], provides: [], conflicts: [], optionalDependencies: {}, targets: { 'posix-x86_64': t } },
    }),
  );
  const dir = join(base, 'p');
  mkdirSync(dir);
  writeFileSync(join(dir, 'rumpkg.json'), JSON.stringify({ schemaVersion: 1, name: 'p', targets: ['posix-x86_64'], components: { '@rump/solo': '^1.0.0' }, registries: {}, image: { entry: [], net: [], block: [], ...(options.image ?? {}) } }));
  const locked = { version: '1.0.0', registry: '@rump', tarball: '@rump/solo/-/solo-1.0.0.tgz', integrity: `sha512-${'A'.repeat(86)}==`, license: 'BSD-2-Clause', lib: 'librump_solo', kind, initLevels: [], dependencies: {}, requires: {}, provides: [], optionalDependencies: {}, requiredBy: ['<project>'] };
  writeFileSync(
    join(dir, 'rumpkg.lock'),
    JSON.stringify({ lockfileVersion: 1, revision: 1, requested: { '@rump/solo': '^1.0.0' }, targets: { 'posix-x86_64': { platform: options.platform === true ? '@rump/solo' : null, components: { '@rump/solo': locked }, linkOrder: ['@rump/solo'], initOrder: [] } } }),
  );
  return { dir, components, base };
}

describe('a component package.json cannot reach the compiler, the linker or paths outside it', () => {
  it('abiFlags ["-wrapper", "/bin/sh,-c,touch CANARY"] (gcc runs every tool under it) → E_SCHEMA before any tool runs', async () => {
    const base = tempDir('hostile-wrapper');
    const canary = join(base, 'CANARY');
    const { dir, components } = project((t) => (t.abiFlags = ['-wrapper', `/bin/sh,-c,touch ${canary}`]));
    const before = hashTree(dir);
    const e = await typed(buildProject(dir, { resolveComponentDir: componentDirsFromRoot(components) }));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.message).toContain(join(components, '1.0.0', 'solo', 'package.json'));
    expect(e.message).toContain('abiFlags');
    expect(existsSync(canary), 'the wrapper command ran').toBe(false);
    expect(hashTree(dir)).toBe(before);
  });

  const plans: Array<[string, (t: Record<string, unknown>) => void, boolean, string]> = [
    ['ldflags with -fuse-ld= and -Wl,-rpath (a linker and a search path of its choosing)', (t) => (t.ldflags = ['-fuse-ld=/tmp/evil-ld', '-Wl,-rpath,/tmp/evil']), false, '/tmp/evil'],
    ['a platform object outside the package', (t) => (t.objects = ['../../../../../../../../etc/hostname']), true, '/etc/hostname'],
    ['a linker script outside the package', (t) => (t.linkerScript = '../../../../../../../../etc/hostname'), true, '/etc/hostname'],
    ['an absolute archive path', (t) => (t.archive = '/etc/hostname'), false, '/etc/hostname'],
  ];
  it.each(plans)('%s → a typed error naming the package.json; never in a plan', async (_what, edit, platform, leak) => {
    const { dir, components } = project(edit, { platform });
    const e = await typed(buildProject(dir, { resolveComponentDir: componentDirsFromRoot(components), dryRun: true }));
    expect(['E_SCHEMA', 'E_MANIFEST']).toContain(e.code);
    expect(e.message).toContain('package.json');
    const plan = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(components), dryRun: true }).then((r) => JSON.stringify(r), () => '');
    expect(plan).not.toContain(leak);
  });
});

describe('hostile archive file names in `rumpkg import archives`', () => {
  it('a name that gives no valid component name is skipped with the reason, never a crash; the rest imports', async () => {
    const base = tempDir('hostile-import');
    const src = join(base, 'lib');
    mkdirSync(src);
    for (const f of ['librump__.a', 'librumpFoo.a', 'librump_-.a', 'librumpvfs.a']) writeFileSync(join(src, f), '!<arch>\n');
    const out = join(base, 'out');
    const r = await importArchives(src, { target: 'posix-x86_64', version: '10.0.0', out });
    expect(r.components.map((c) => c.name)).toEqual(['@rump/vfs']);
    expect(r.skipped.map((s) => s.file.split('/').pop()).sort()).toEqual(['librumpFoo.a', 'librump_-.a', 'librump__.a']);
    for (const s of r.skipped.filter((x) => !x.file.endsWith('librump_-.a'))) expect(s.reason).toMatch(/component name|lower-case/);
    expect(readdirSync(out)).toEqual(['vfs']);
  });
});

describe('strings that reach a shell script or C source are quoted, never interpreted', () => {
  const nasty = "we'ird $(touch CANARY1) `touch CANARY2` \"q\" \\ ;|&>x";
  it('rumpkg build --dry-run: every staged path and the destination round-trip through sh exactly', async () => {
    const { dir, components, base } = project(() => undefined);
    const src = `${nasty}.c`;
    writeFileSync(join(dir, src), 'int main(void) { return 0; }\n');
    const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as { image: Record<string, unknown> };
    m.image.sources = [src];
    writeFileSync(join(dir, 'rumpkg.json'), JSON.stringify(m));
    const output = join(base, `out $(touch CANARY3) "\`x\`.img`);
    const [r] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(components), dryRun: true, output });
    const script = renderPlanScript(r!.plan);
    // Every cp line, with cp replaced by printf, prints exactly its two paths.
    const cps = script.split('\n').filter((l) => l.startsWith('cp '));
    expect(cps.length).toBeGreaterThan(1);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'OUT'));
    const shown = execFileSync('sh', ['-c', cps.map((l) => `printf '%s\\n' ${l.slice(3)}`).join('\n')], { cwd: base, encoding: 'utf8', env });
    const expected = [...r!.plan.files.filter((f) => f.from !== undefined).flatMap((f) => [f.from!, f.path]), r!.plan.output, output];
    expect(shown).toBe(`${expected.join('\n')}\n`);
    expect(readdirSync(base).filter((f) => f.startsWith('CANARY'))).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.startsWith('CANARY'))).toEqual([]);
  });

  it('image.block strings become C string literals (quotes, backslashes, trigraphs, newlines) and nothing else', () => {
    const work = tempDir('hostile-glue');
    const payload = `/dev/x"); system("touch CANARY"); //??/\n*/ "`;
    const c = renderGlue({ net: [], block: [{ source: payload, path: '/dev/ld0a' }], entries: 0 });
    writeFileSync(join(work, 'glue.c'), c);
    const r = spawnSync('cc', ['-c', '-trigraphs', '-o', join(work, 'glue.o'), join(work, 'glue.c')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const syms = execFileSync('nm', ['-u', join(work, 'glue.o')], { encoding: 'utf8' });
    expect(syms).not.toMatch(/\bsystem\b/);
    expect(syms).toMatch(/rump_pub_etfs_register/);
  });
});

describe('an image path reaches QEMU as one argument, never through a shell', () => {
  it.each(['/tmp/a,b=c -append x', '-kernel', '/tmp/$(touch X) `y`', '/tmp/img\nwith newline'])('%j', (path) => {
    const plan = planQemu(path, 'hw-x86_64');
    const i = plan.command.indexOf('-kernel');
    expect(plan.command[i + 1]).toBe(path);
    expect(plan.command.filter((a) => a === path)).toHaveLength(path === '-kernel' ? 2 : 1);
    expect(plan.command[0]).toBe('qemu-system-x86_64');
  });
});

describe('a store entry index.json cannot make the no-op check probe paths outside the entry', () => {
  it('an index with a ../ file key is damage (lookup misses), not an entry', async () => {
    const { root, home, env } = await registryHome();
    const dir = writeProject(join(root, 'p'), { '@rump/solo-w': '^1.0.0' });
    const { installProject } = await import('../../packager/index.js');
    const r = await installProject(dir, { env });
    const c = r.lockfile.targets['posix-x86_64']!.components['@rump/solo-w']!;
    const none: TarballSource = { tarball: () => Promise.reject(new Error('no fetch')) };
    const store = createStore(none, { home });
    const entry = store.lookup('@rump/solo-w', c.version, { integrity: c.integrity });
    expect(entry).toBeDefined();
    const indexFile = join(entry!, '..', 'index.json');
    const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { files: Record<string, string>; sizes: Record<string, number> };
    const outside = '../../../../../../../../../../etc/hostname';
    index.files[outside] = 'sha256-x';
    index.sizes[outside] = statSync('/etc/hostname').size;
    writeFileSync(indexFile, JSON.stringify(index));
    expect(store.lookup('@rump/solo-w', c.version, { integrity: c.integrity })).toBeUndefined();
  });
});
