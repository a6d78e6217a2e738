/**
 * `rumpkg new component`: the directory it writes builds with the real toolchains (its own
 * build.sh), validates, packs and publishes to a file registry without a single edit, follows
 * the archive conventions (only rumpns_ globals here; a constructor registration on posix, a
 * link-set entry on hw), and — resolved with
 * the miniature corpus's base and platforms — registers its init level in real images: a posix
 * process and an hw-x86_64 unikernel under QEMU both print `init RUMP_COMPONENT_DEV <lib>`.
 * Bad input (an existing directory, a bad name, a target without a toolchain, a faction rumpkg
 * does not know) fails with a typed error and writes nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { corpusDir } from '../helpers/corpus.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../registry/client-fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'dist', 'rumpkg.cjs');
const work = tempDir('new-component');
const registry = join(work, 'registry');
const TARGETS = ['posix-x86_64', 'hw-x86_64'];

afterEach(() => {
  vi.unstubAllEnvs();
});

let corpus: string;
beforeAll(async () => {
  corpus = await corpusDir();
}, 600_000);

function sh(cmd: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, RUMPKG_HOME: join(work, 'home'), NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('rumpkg new component', () => {
  it('writes a component that builds, validates, packs and publishes unchanged, and runs in posix and hw images', async () => {
    vi.stubEnv('RUMPKG_HOME', join(work, 'home'));
    const created = await runCli(['--json', '--cwd', work, 'new', 'component', 'hello', ...TARGETS.flatMap((t) => ['--target', t])]);
    expect(created.code).toBe(0);
    const dir = join(work, 'hello');
    expect(JSON.parse(created.stdout)).toEqual({
      dir,
      name: '@rump/hello',
      lib: 'librumpdev_hello',
      targets: TARGETS,
      files: ['package.json', 'src/hello.c', 'src/rump_component.h', 'build.sh', 'README.md'],
    });
    const manifest = readFileSync(join(dir, 'package.json'), 'utf8');

    // Build with its own script and the real compilers; only the archives are added.
    const built = sh('sh', ['build.sh'], dir);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    expect(built.stdout).toBe('built lib/posix-x86_64/librumpdev_hello.a\nbuilt lib/hw-x86_64/librumpdev_hello.a\n');
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'build.sh', 'lib', 'package.json', 'src']);

    // The archive conventions.
    const posixA = join(dir, 'lib', 'posix-x86_64', 'librumpdev_hello.a');
    const globals = sh('nm', ['-g', '-P', '--defined-only', posixA], dir).stdout.split('\n').filter((l) => / [A-Z] /.test(l)).map((l) => l.split(' ')[0]!);
    expect(globals.sort()).toEqual(['rumpns_hello_attach', 'rumpns_hello_version']);
    // Registration: a constructor calling rump_component_load on posix, a link-set entry on hw.
    const posixSections = sh('objdump', ['-h', posixA], dir).stdout;
    expect(posixSections).toContain('.init_array');
    expect(posixSections).not.toContain('link_set_rump_components');
    expect(sh('nm', ['-u', posixA], dir).stdout).toMatch(/\brump_component_load\b/);
    const hwSections = sh('llvm-objdump', ['-h', join(dir, 'lib', 'hw-x86_64', 'librumpdev_hello.a')], dir).stdout;
    expect(hwSections).toContain('link_set_rump_components');
    expect(hwSections).not.toContain('.init_array');

    // validate, pack, publish — the directory as written.
    const v = await runCli(['validate', dir]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/valid component manifest \(@rump\/hello@0\.1\.0\)/);
    expect((await runCli(['pack', dir, '-o', join(work, 'hello.tgz')])).code).toBe(0);
    const pub = await runCli(['publish', '--registry', `file:${registry}`, dir]);
    expect(pub).toMatchObject({ code: 0, stdout: '+ @rump/hello@0.1.0\n' });
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(manifest);

    // In images, with the corpus's base and platform packages from the same registry.
    expect((await runCli(['--quiet', 'publish', '--registry', `file:${registry}`, ...readdirSync(join(corpus, '10.1.0')).map((n) => join(corpus, '10.1.0', n))])).code).toBe(0);
    const proj = join(work, 'proj');
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, 'app.c'), 'int main(void) { return 0; }\n');
    writeFileSync(join(proj, 'rumpkg.json'), `${JSON.stringify({ schemaVersion: 1, name: 'proj', targets: TARGETS, components: {}, registries: { '@rump': `file:${registry}` }, image: { sources: ['app.c'] } }, null, 2)}\n`);
    const add = await runCli(['--cwd', proj, 'add', 'hello']);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect((await runCli(['--cwd', proj, 'build'])).code).toBe(0);
    if (!existsSync(BIN)) return; // rumpkg run through the bin needs `npm run build`
    const posix = sh(process.execPath, [BIN, 'run', '--target', 'posix-x86_64'], proj);
    expect(posix.status).toBe(0);
    expect(posix.stdout).toMatch(/^init RUMP_COMPONENT_DEV librumpdev_hello$/m);
    const hw = sh(process.execPath, [BIN, 'run', '--target', 'hw-x86_64', '--timeout', '60'], proj);
    expect(hw.status).toBe(0);
    expect(hw.stdout).toMatch(/rumpkg: hw-x86_64 platform up/);
    expect(hw.stdout).toMatch(/^init RUMP_COMPONENT_DEV librumpdev_hello\r?$/m);
  }, 300_000);

  it('bad input is a typed error and writes nothing', async () => {
    const at = join(work, 'bad');
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, 'taken'), 'x');
    const cases: Array<{ argv: string[]; code: number; error: RegExp }> = [
      { argv: ['new', 'component', 'taken-dir', '--dir', at], code: 1, error: /error\[E_EXISTS\]: .*bad already exists and is not empty/ },
      { argv: ['new', 'component', 'Hello'], code: 1, error: /error\[E_NAME\]: invalid component name "Hello": a name must be lowercase/ },
      { argv: ['new', 'component', 'x1', '--target', 'xen-x86_64'], code: 1, error: /error\[E_TARGET\]: no toolchain is known for target xen-x86_64/ },
      { argv: ['new', 'component', 'x2', '--target', 'vax-9000'], code: 1, error: /error\[E_TARGET\]: unknown target 'vax-9000'/ },
      { argv: ['new', 'component', 'x3', '--faction', 'gpu'], code: 2, error: /error\[E_USAGE\]: --faction gpu: expected one of dev, net, vfs, kern/ },
    ];
    for (const c of cases) {
      const r = await runCli(['--cwd', work, ...c.argv]);
      expect(r.code, c.argv.join(' ')).toBe(c.code);
      expect(r.stderr, c.argv.join(' ')).toMatch(c.error);
    }
    expect(readdirSync(at)).toEqual(['taken']);
    for (const d of ['Hello', 'x1', 'x2', 'x3']) expect(existsSync(join(work, d)), d).toBe(false);
    // build.sh refuses a target the component was not made for.
    expect((await runCli(['--cwd', work, 'new', 'component', 'only-posix'])).code).toBe(0);
    const r = sh('sh', ['build.sh', 'hw-riscv64'], join(work, 'only-posix'));
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('build.sh: hw-riscv64 is not a target of this component (posix-x86_64)\n');
  });
});
