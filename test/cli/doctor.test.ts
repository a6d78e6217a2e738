/**
 * A machine without the tools: `rumpkg doctor` says per target what is missing and the one
 * apt-get line that fixes it; `scripts/setup.mjs --check` prints that command; the corpus
 * script reports a missing compiler as a message with the package to install — never a stack
 * trace. "Missing" is made real with a PATH that holds only what the test puts there (empty
 * executables with the tools' names: doctor looks programs up, it does not run them).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRegistryServer, type RegistryServer } from '../../registry/index.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../registry/client-fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const work = tempDir('doctor');
const ALL = ['cc', 'objcopy', 'clang', 'ld.lld', 'llvm-objcopy', 'qemu-system-x86_64', 'qemu-system-riscv64'];

/** A directory of empty executables named `tools`, for PATH. */
function bin(name: string, tools: string[]): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const t of tools) {
    writeFileSync(join(dir, t), '#!/bin/sh\nexit 0\n');
    chmodSync(join(dir, t), 0o755);
  }
  return dir;
}

interface Report {
  ready: boolean;
  home: { path: string; ok: boolean; detail: string };
  registries: Array<{ scope: string; url: string; ok: boolean; detail: string }>;
  targets: Array<{ target: string; ready: boolean; runs: string; problem?: string; missingPackages: string[]; tools: Array<{ role: string; command: string; path: string | null; debianPackage: string }> }>;
  missingPackages: string[];
  install: string | null;
}

let server: RegistryServer;
beforeAll(async () => {
  server = await createRegistryServer(join(work, 'served'), { port: 0 });
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('rumpkg doctor', () => {
  it('on a machine with nothing installed: every target not ready, one apt-get line, E_TOOLCHAIN; nothing is created', async () => {
    vi.stubEnv('PATH', bin('none', []));
    const home = join(work, 'fresh-home');
    vi.stubEnv('RUMPKG_HOME', home);
    const r = await runCli(['--json', 'doctor']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as Report;
    expect(doc.ready).toBe(false);
    expect(doc.targets.map((t) => [t.target, t.ready])).toEqual([['posix-x86_64', false], ['hw-x86_64', false], ['hw-riscv64', false]]);
    expect(doc.missingPackages).toEqual(['binutils', 'clang', 'gcc', 'lld', 'llvm', 'qemu-system-misc', 'qemu-system-x86']);
    expect(doc.install).toBe('apt-get install -y --no-install-recommends binutils clang gcc lld llvm qemu-system-misc qemu-system-x86');
    expect(doc.targets.find((t) => t.target === 'hw-riscv64')!.tools.map((t) => [t.role, t.command, t.debianPackage])).toEqual([
      ['cc', 'clang', 'clang'],
      ['ld', 'ld.lld', 'lld'],
      ['objcopy', 'llvm-objcopy', 'llvm'],
      ['emulator', 'qemu-system-riscv64', 'qemu-system-misc'],
    ]);
    expect(doc.home).toEqual({ path: home, ok: true, detail: 'not made yet (the first command makes it)' });
    expect(existsSync(home)).toBe(false);

    const human = await runCli(['doctor']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^hw-x86_64 {2}not ready/m);
    expect(human.stdout).toMatch(/^ {2}emulator +qemu-system-x86_64 +missing +apt-get install qemu-system-x86$/m);
    expect(human.stdout).toContain('apt-get install -y --no-install-recommends binutils clang gcc lld llvm qemu-system-misc qemu-system-x86');
    expect(human.stderr).toMatch(/^rumpkg: error\[E_TOOLCHAIN\]: not ready for posix-x86_64, hw-x86_64, hw-riscv64: missing binutils, clang/m);
    expect(human.stderr).not.toMatch(/\n\s+at /);
  });

  it('with only the host compiler: posix ready, the hw targets name exactly what they lack', async () => {
    vi.stubEnv('PATH', bin('posix-only', ['cc', 'objcopy']));
    vi.stubEnv('RUMPKG_HOME', join(work, 'home'));
    const doc = JSON.parse((await runCli(['--json', 'doctor'])).stdout) as Report;
    expect(doc.targets.map((t) => [t.target, t.ready, t.missingPackages])).toEqual([
      ['posix-x86_64', true, []],
      ['hw-x86_64', false, ['clang', 'lld', 'llvm', 'qemu-system-x86']],
      ['hw-riscv64', false, ['clang', 'lld', 'llvm', 'qemu-system-misc']],
    ]);
    expect(doc.targets[0]!.runs).toBe('host');
    expect(doc.targets[0]!.tools.map((t) => t.path)).toEqual([join(work, 'posix-only', 'cc'), join(work, 'posix-only', 'objcopy')]);
  });

  it('everything installed and the registries answer: ready, exit 0; an http registry that does not answer is E_REGISTRY', async () => {
    vi.stubEnv('PATH', bin('all', ALL));
    vi.stubEnv('RUMPKG_HOME', join(work, 'home'));
    const dir = join(work, 'project');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'rumpkg.json'), `${JSON.stringify({ schemaVersion: 1, name: 'p', targets: ['hw-riscv64'], components: {}, registries: { '@served': server.url } })}\n`);
    const ok = await runCli(['--json', '--cwd', dir, 'doctor']);
    expect(ok.code).toBe(0);
    const doc = JSON.parse(ok.stdout) as Report;
    expect(doc.ready).toBe(true);
    // The project's targets, and its registries next to the home's.
    expect(doc.targets.map((t) => t.target)).toEqual(['hw-riscv64']);
    expect(doc.registries.map((x) => [x.scope, x.ok, x.detail])).toEqual([
      ['@rump', true, expect.stringMatching(/^empty \(.*registry is made on the first publish\)$/)],
      ['@served', true, 'answers /-/ping'],
    ]);
    expect((await runCli(['--cwd', dir, 'doctor'])).stdout).toMatch(/everything is ready\n$/);

    writeFileSync(join(dir, 'rumpkg.json'), `${JSON.stringify({ schemaVersion: 1, name: 'p', targets: ['hw-riscv64'], components: {}, registries: { '@gone': 'http://127.0.0.1:9/' } })}\n`);
    const down = await runCli(['--json', '--cwd', dir, 'doctor']);
    expect(down.code).toBe(1);
    expect((JSON.parse(down.stdout) as Report).registries.find((x) => x.scope === '@gone')).toMatchObject({ ok: false, detail: expect.stringMatching(/^does not answer: /) });
    const human = await runCli(['--cwd', dir, 'doctor']);
    expect(human.stderr).toMatch(/error\[E_REGISTRY\]: registries do not answer: @gone http:\/\/127\.0\.0\.1:9\//);
    // --offline does not ask.
    expect((await runCli(['--json', '--cwd', dir, 'doctor', '--offline'])).code).toBe(0);
  });

  it('a target without a toolchain is reported, not thrown', async () => {
    vi.stubEnv('PATH', bin('all', ALL));
    const r = await runCli(['--json', 'doctor', '--target', 'xen-x86_64']);
    expect(r.code).toBe(1);
    const t = (JSON.parse(r.stdout) as Report).targets[0]!;
    expect(t).toMatchObject({ target: 'xen-x86_64', ready: false, runs: 'not supported', problem: 'no toolchain is known for target xen-x86_64' });
    const bad = await runCli(['--json', 'doctor', '--target', 'vax-9000']);
    expect((JSON.parse(bad.stdout) as Report).targets[0]!.problem).toMatch(/unknown target 'vax-9000'/);
  });
});

describe('the scripts on a machine without compilers', () => {
  const node = process.execPath;
  const env = (path: string): NodeJS.ProcessEnv => ({ ...process.env, PATH: path, TMPDIR: join(work, 'tmp'), RUMPKG_HOME: join(work, 'script-home'), NO_COLOR: '1' });
  mkdirSync(join(work, 'tmp'), { recursive: true });
  const hasDist = existsSync(join(ROOT, 'dist', 'scripts', 'corpus', 'index.js'));

  it.skipIf(!hasDist)('scripts/corpus.mjs names the missing compiler and its package, without a stack trace', () => {
    for (const args of [[join(work, 'corpus-out'), '--target', 'hw-x86_64', '--version', '10.1.0'], ['--cached', '--target', 'hw-riscv64', '--version', '10.1.0']]) {
      const r = spawnSync(node, [join(ROOT, 'scripts', 'corpus.mjs'), ...args], { env: env(bin('only-ar', ['ar'])), encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^corpus: error\[E_TOOLCHAIN\]: cannot run clang: not found\n {2}hint: install it \(Debian: apt-get install clang binutils\)\n$/m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it.skipIf(!hasDist)('scripts/setup.mjs --check prints the exact command and exits 1; ready machines pass', () => {
    // An apt-get that does nothing: --check must not run it anyway.
    const r = spawnSync(node, [join(ROOT, 'scripts', 'setup.mjs'), '--check'], { env: env(bin('posix-apt', ['cc', 'objcopy', 'apt-get'])), encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^setup: hw-x86_64: missing clang \(clang\), ld\.lld \(lld\), llvm-objcopy \(llvm\), qemu-system-x86_64 \(qemu-system-x86\)$/m);
    expect(r.stderr).toContain('sudo apt-get update && sudo apt-get install -y --no-install-recommends clang lld llvm qemu-system-misc qemu-system-x86');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Without apt-get (not Debian): the packages, for whatever package manager there is.
    const other = spawnSync(node, [join(ROOT, 'scripts', 'setup.mjs'), '--check'], { env: env(bin('posix-only', ['cc', 'objcopy'])), encoding: 'utf8' });
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/^setup: install these packages with your system's package manager: clang lld llvm qemu-system-misc qemu-system-x86$/m);
    const ok = spawnSync(node, [join(ROOT, 'scripts', 'setup.mjs'), '--check'], { env: env(`${bin('all', ALL)}:${dirname(node)}`), encoding: 'utf8' });
    expect(ok.stderr).toMatch(/^setup: ready: posix-x86_64, hw-x86_64, hw-riscv64/m);
    expect(ok.status).toBe(0);
  });

  it('a bench that cannot run a peer tool says what to install (bench/lib/tool-errors.mjs, preloaded by npm run bench)', () => {
    const script = (name: string, body: string): string => {
      const f = join(work, name);
      writeFileSync(f, body);
      return f;
    };
    const run = (file: string) => spawnSync(node, ['--import', join(ROOT, 'bench', 'lib', 'tool-errors.mjs'), file], { env: env(bin('none', [])), encoding: 'utf8' });
    const missing = run(script('needs-nm.mjs', "import { execFile } from 'node:child_process';\nimport { promisify } from 'node:util';\nawait promisify(execFile)('nm', ['-P', 'x']);\n"));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('needs-nm.mjs: cannot run nm: not found (Debian: apt-get install binutils)\n');
    const typed = run(script('typed.mjs', "const e = new Error('the cc tool for posix-x86_64 was not found'); e.code = 'E_TOOLCHAIN'; e.hint = 'install it: apt-get install gcc'; throw e;\n"));
    expect(typed.stderr).toBe('typed.mjs: error[E_TOOLCHAIN]: the cc tool for posix-x86_64 was not found\n  hint: install it: apt-get install gcc\n');
    // A bug keeps its stack.
    const bug = run(script('bug.mjs', "throw new TypeError('a bug');\n"));
    expect(bug.status).not.toBe(0);
    expect(bug.stderr).toMatch(/TypeError: a bug\n\s+at /);
  });
});
