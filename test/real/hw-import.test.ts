/**
 * Importing the real rumprun hw-x86_64 set (../shared/netbsd/real): the kernel archives through
 * `importArchives` (every component carries its link-set evidence), rumprun's bare-metal layer
 * through `importRumprunPlatform` (a platform package with the userland, the headers and how
 * images are made), and `rumpkg add tcpip virtio-net net-config` resolving against it. Bad input
 * (another target, missing or foreign files, a link out of the header tree, a posix archive
 * offered for hw) is a typed error naming the file, and nothing is written.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  importArchives,
  importRumprunPlatform,
  loadComponentDir,
  packComponent,
  type ComponentManifest,
} from '../../components/index.js';
import { installProject, planTree, planWhy, readLock } from '../../packager/index.js';
import { HW_TARGET, HW_VERSION, RUMPRUN_COMMIT, hwProject, realHwRegistry, type RealHwRegistry } from '../helpers/real-hw.js';
import { realSet, title } from '../helpers/real.js';
import { expectCode } from '../helpers/process.js';

const hw = realSet('hw');
const posix = realSet('posix');
let reg: RealHwRegistry;
let scratch: string;

const manifestOf = (name: string): ComponentManifest => reg.archives.components.find((c) => c.name === `@rump/${name}`)!.manifest;

describe.skipIf(!hw.available)(title(hw, 'the real rumprun hw-x86_64 set imported'), () => {
  beforeAll(async () => {
    reg = await realHwRegistry(hw);
    scratch = mkdtempSync(join(tmpdir(), 'rumpkg-hw-import-'));
  }, 120_000);
  afterAll(async () => {
    await reg?.dispose();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('kernel archives: one component each with link-set evidence; rumprun\'s own libraries left to the platform import', () => {
    const names = reg.archives.components.map((c) => c.name);
    expect(names).toHaveLength(38);
    for (const n of ['@rump/base', '@rump/tcpip', '@rump/virtio-net', '@rump/virtio-pci', '@rump/pci', '@rump/net-config', '@rump/kern-mman']) expect(names).toContain(n);
    expect(names.some((n) => n.includes('run-base') || n.includes('rumprunfs'))).toBe(false);
    const skipped = reg.archives.skipped.map((s) => `${s.file.split('/').pop()}: ${s.reason}`);
    expect(skipped).toContainEqual(expect.stringMatching(/^librumprun_base\.a: .*rumprun's platform.*rumpkg import platform/));
    expect(skipped).toContainEqual(expect.stringMatching(/^librumprunfs_base\.a: .*rumprun's platform/));
    // hw components register through the link set: the init levels are in the bytes.
    expect(manifestOf('tcpip').rump.targets[HW_TARGET]!.symbols!.linkSet).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
    expect(manifestOf('pci').rump.targets[HW_TARGET]!.symbols!.linkSet!.sort()).toEqual(['RUMP_COMPONENT_DEV', 'RUMP_COMPONENT_DEV_AFTERMAINBUS']);
    expect(manifestOf('virtio-net').rump.requires).toEqual(['bus:virtio']);
    expect(manifestOf('pci').rump.requires).toEqual(['bus:mainbus', 'pci-backend']);
  });

  it('the platform package: rumprun.o first, the base archive, /etc, the linker script, the userland and headers, and how to compile for it', async () => {
    const p = reg.platform;
    expect(p.name).toBe('@rump/rumprun-hw');
    const m = p.manifest;
    expect(m.rump.kind).toBe('platform');
    expect(m.rump.provides).toEqual(['hypercall:17', 'pci-backend']);
    expect(m.dependencies).toEqual({ '@rump/base': '^7.0.0', '@rump/kern-mman': '^7.0.0', '@rump/vfs': '^7.0.0' });
    expect(p.edges.filter((e) => e.kind === 'init-time').map((e) => e.name)).toEqual(['@rump/kern-mman', '@rump/vfs']);
    expect(Object.keys(m.rump.optionalDependencies).sort()).toEqual(['@rump/dev-bpf', '@rump/fs-tmpfs', '@rump/kern-bmktc', '@rump/net-config']);
    expect(p.edges.find((e) => e.name === '@rump/net-config')).toMatchObject({ kind: 'optional', symbols: expect.arrayContaining(['rump_pub_netconfig_ifcreate']) });
    expect(p.edges.find((e) => e.name === '@rump/base')!.symbols).toContain('rump_init');
    expect(m.rump.upstream).toEqual({ project: 'rumprun', repository: 'rumpkernel/rumprun', ref: RUMPRUN_COMMIT, commit: RUMPRUN_COMMIT, path: 'platform/hw' });
    const t = m.rump.targets[HW_TARGET]!;
    expect(t.objects).toEqual([`lib/${HW_TARGET}/rumprun.o`, `lib/${HW_TARGET}/librumprunfs_base.o`]);
    expect(t.archive).toBe(`lib/${HW_TARGET}/librumprun_base.a`);
    expect(t.linkerScript).toBe(`lib/${HW_TARGET}/hw.ldscript`);
    expect(t.symbols!.defined).toBeGreaterThan(50);
    expect(t.platform).toEqual({
      convention: 'rumprun',
      compile: { triple: 'x86_64-unknown-netbsd', cflags: ['-nostdinc', '-D__RUMPRUN__', '-mno-red-zone', '-fno-stack-protector', '-fcommon', '-fno-pic'], include: [`include/${HW_TARGET}`] },
      libraries: ['libc.a', 'libpthread.a', 'libm.a', 'libutil.a', 'libprop.a'].map((l) => `lib/${HW_TARGET}/${l}`),
      maxPageSize: 4096,
    });
    // Links in the header tree became regular files and directories; the dangling one is reported.
    const inc = join(p.dir, 'include', HW_TARGET);
    expect(lstatSync(join(inc, 'machine')).isDirectory()).toBe(true);
    expect(lstatSync(join(inc, 'stdbool.h')).isFile()).toBe(true);
    expect(statSync(join(inc, 'rump', 'rump.h')).isFile()).toBe(true);
    expect(p.warnings).toContainEqual(expect.stringContaining('sys/soundcard.h'));
    // A valid, packable component: its manifest checked against its files.
    const loaded = await loadComponentDir(p.dir);
    expect(loaded.errors).toEqual([]);
    const packed = await packComponent(p.dir);
    expect(packed.data.length).toBeGreaterThan(1_000_000);
    expect(packed.data.length).toBeLessThan(6_000_000);
  });

  it('rumpkg add tcpip virtio-net net-config for hw-x86_64 resolves to the real components and the rumprun platform; tree and why say which platform serves the target', async () => {
    const dir = hwProject(reg, 'resolve', {
      manifest: { schemaVersion: 1, name: 'resolve', targets: [HW_TARGET], components: { tcpip: '^7.0.0', 'virtio-net': '^7.0.0', 'net-config': '^7.0.0' }, registries: {} },
    });
    await installProject(dir, { env: reg.env });
    const lock = (await readLock(dir))!;
    const lt = lock.targets[HW_TARGET]!;
    expect(Object.keys(lt.components).sort()).toEqual(
      ['base', 'dev', 'kern-mman', 'net', 'net-config', 'net-net', 'pci', 'rumprun-hw', 'tcpip', 'vfs', 'virtio-net', 'virtio-pci'].map((n) => `@rump/${n}`),
    );
    expect(lt.platform).toBe('@rump/rumprun-hw');
    expect(lt.linkOrder.at(-1)).toBe('@rump/rumprun-hw');
    expect(lt.components['@rump/pci']!.requires).toEqual({ 'bus:mainbus': '@rump/dev', 'pci-backend': '@rump/rumprun-hw' });
    expect(lt.components['@rump/virtio-net']!.requires).toEqual({ 'bus:virtio': '@rump/virtio-pci' });
    // why: the platform is there because base needs hypercall:17; kern-mman because the platform needs it.
    expect(planWhy(lock, HW_TARGET, '@rump/rumprun-hw')).toContainEqual(['<project>', '@rump/tcpip', '@rump/net', '@rump/base', '@rump/rumprun-hw']);
    expect(planWhy(lock, HW_TARGET, '@rump/kern-mman').every((c) => c.at(-2) === '@rump/rumprun-hw')).toBe(true);
    const tree = JSON.stringify(planTree(lock, HW_TARGET, lock.requested));
    expect(tree).toContain('"name":"@rump/rumprun-hw","version":"7.99.34","via":"capability hypercall:17"');
  });

  it('another target, a missing file, a foreign architecture, a link out of the headers: typed errors naming the file; nothing written', async () => {
    const out = join(scratch, 'out');
    const e1 = await expectCode(importRumprunPlatform(reg.set, { target: 'hw-riscv64', version: HW_VERSION, out }), 'E_TARGET');
    expect(e1.message).toContain('hw-riscv64');

    // A copy of the install prefix to break (the userland and headers by link, cheap).
    const copy = (name: string): string => {
      const d = join(scratch, name);
      mkdirSync(join(d, 'lib', 'rumprun-hw'), { recursive: true });
      for (const f of readdirSync(join(reg.set, 'lib'))) if (f.endsWith('.a') || f.endsWith('.ldscript')) copyFileSync(join(reg.set, 'lib', f), join(d, 'lib', f));
      for (const f of ['rumprun.o', 'librumprun_base.a', 'librumprunfs_base.a', 'librump.a', 'librumpnet_config.a']) copyFileSync(join(reg.set, 'lib', 'rumprun-hw', f), join(d, 'lib', 'rumprun-hw', f));
      cpSync(join(reg.set, 'include'), join(d, 'include'), { recursive: true, verbatimSymlinks: true });
      return d;
    };
    const noObject = copy('no-object');
    unlinkSync(join(noObject, 'lib', 'rumprun-hw', 'rumprun.o'));
    const e2 = await expectCode(importRumprunPlatform(noObject, { target: HW_TARGET, version: HW_VERSION, out }), 'E_NOT_FOUND');
    expect(e2.message).toContain(join(noObject, 'lib', 'rumprun-hw', 'rumprun.o'));

    const foreign = copy('foreign');
    const c = join(scratch, 'x.c');
    writeFileSync(c, 'int riscv_thing(void) { return 1; }\n');
    execFileSync('clang', ['--target=riscv64-unknown-elf', '-march=rv64gc', '-c', '-o', join(scratch, 'x.o'), c]);
    rmSync(join(foreign, 'lib', 'libpthread.a'));
    execFileSync('llvm-ar', ['rcs', join(foreign, 'lib', 'libpthread.a'), join(scratch, 'x.o')]);
    const e3 = await expectCode(importRumprunPlatform(foreign, { target: HW_TARGET, version: HW_VERSION, out }), 'E_ARCH');
    expect(e3.message).toContain(join(foreign, 'lib', 'libpthread.a'));
    expect(e3.message).toMatch(/riscv|243/i);

    const escape = copy('escape');
    symlinkSync('/etc/passwd', join(escape, 'include', 'passwd.h'));
    const e4 = await expectCode(importRumprunPlatform(escape, { target: HW_TARGET, version: HW_VERSION, out }), 'E_TAR_PATH');
    expect(e4.message).toContain(join(escape, 'include', 'passwd.h'));

    expect(existsSync(out) ? readdirSync(out).filter((f) => !f.startsWith('.')) : []).toEqual([]);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  describe.skipIf(!posix.available)(title(posix, 'a posix archive offered for hw-x86_64'), () => {
    it('is refused by import archives: constructors instead of the link set, the host libc named; nothing written', async () => {
      const lib = join(scratch, 'posix-lib');
      mkdirSync(lib, { recursive: true });
      copyFileSync(join(await posix.dir(), 'lib', 'librumpnet_netinet.a'), join(lib, 'librumpnet_netinet.a'));
      copyFileSync(join(await posix.dir(), 'lib', 'librump.a'), join(lib, 'librump.a'));
      const out = join(scratch, 'posix-out');
      const e = await expectCode(importArchives(lib, { target: HW_TARGET, version: HW_VERSION, out }), 'E_TARGET');
      expect(e.message).toMatch(/librump(net_netinet)?\.a was built for a posix host, not for hw-x86_64/);
      expect(e.message).toMatch(/member \S+\.o registers through constructors \(\.init_array\)/);
      expect(e.hint).toContain('rumprun');
      expect(existsSync(out)).toBe(false);
    });
  });
});
