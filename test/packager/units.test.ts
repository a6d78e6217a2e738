import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isRumpkgError, type LockedTarget } from '../../components/index.js';
import { cString, ipv4Mask, renderGlue } from '../../packager/build/glue.js';
import { componentSlug, planLink, renderPlanScript } from '../../packager/build/link-plan.js';
import { manifestObjectFits } from '../../packager/build/manifest-object.js';
import { findProgram, findToolchain, selectToolchain } from '../../packager/build/toolchain.js';
import { parseTarget } from '../../packager/build/targets.js';
import { parseLinkerMap } from '../../components/index.js';

/** Decodes the C string literal cString produces back to bytes. */
function decodeC(lit: string): Buffer {
  expect(lit.startsWith('"') && lit.endsWith('"')).toBe(true);
  const body = lit.slice(1, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\') {
      out.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else out.push(body.charCodeAt(i));
  }
  return Buffer.from(out);
}

const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

describe('glue', () => {
  it('cString round-trips any string and leaves only safe characters unescaped', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')), (s) => {
        const lit = cString(s);
        expect(lit.slice(1, -1)).toMatch(/^(?:[ !#-/0-9:-><=@-[\]-~]|\\[0-7]{3})*$/);
        expect(lit.slice(1, -1)).not.toMatch(/\?/);
        expect(decodeC(lit).equals(Buffer.from(s, 'utf8'))).toBe(true);
      }),
    );
    expect(cString('a"b\\c\n??=')).toBe('"a\\042b\\134c\\012\\077\\077="');
    expect(isRumpkgError(thrown(() => cString('a\0b')), 'E_MANIFEST')).toBe(true);
  });

  it('converts prefix lengths to netmasks and rejects nonsense', () => {
    expect(ipv4Mask('24', 'm')).toBe('255.255.255.0');
    expect(ipv4Mask('/20', 'm')).toBe('255.255.240.0');
    expect(ipv4Mask('0', 'm')).toBe('0.0.0.0');
    expect(ipv4Mask(undefined, 'm')).toBe('255.255.255.0');
    expect(ipv4Mask('255.0.0.0', 'm')).toBe('255.0.0.0');
    expect(isRumpkgError(thrown(() => ipv4Mask('33', 'm')), 'E_MANIFEST')).toBe(true);
    expect(isRumpkgError(thrown(() => ipv4Mask('x', 'm')), 'E_MANIFEST')).toBe(true);
  });

  it('declares only the rump calls it uses and renames entry points in order', () => {
    const none = renderGlue({ net: [], block: [], entries: 1 });
    expect(none).not.toMatch(/rump_pub_/);
    expect(none).toMatch(/rv = rumpkg_main_0\(argc, argv, envp\);/);
    const g = renderGlue({
      net: [
        { if: 'vioif0', type: 'inet', method: 'dhcp' },
        { if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '24', gw: '10.0.0.1' },
      ],
      block: [{ source: '/tmp/disk "1".img', path: '/dev/ld0a' }],
      entries: 2,
    });
    expect(g).toMatch(/rump_pub_netconfig_dhcp_ipv4_oneshot\("vioif0"\)/);
    expect(g).toMatch(/rump_pub_netconfig_ipv4_ifaddr\("virt0", "10.0.0.2", "255.255.255.0"\)/);
    expect(g).toMatch(/rump_pub_netconfig_ipv4_gw\("10.0.0.1"\)/);
    expect(g).toMatch(/rump_pub_etfs_register\("\/dev\/ld0a", "\/tmp\/disk \\0421\\042.img", 1\)/);
    expect(g.indexOf('rumpkg_main_0(argc')).toBeLessThan(g.indexOf('rumpkg_main_1(argc'));
    for (const bad of [
      { if: '../x', type: 'inet', method: 'dhcp' },
      { if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.300' },
      { if: 'virt0', type: 'inet', method: 'static', addr: '1.2.3.4', gw: 'nope' },
      { if: 'virt0', type: 'ipx', method: 'dhcp' },
    ]) {
      expect(isRumpkgError(thrown(() => renderGlue({ net: [bad as never], block: [], entries: 1 })), 'E_MANIFEST')).toBe(true);
    }
    expect(isRumpkgError(thrown(() => renderGlue({ net: [], block: [{ source: 'x', path: 'relative' }], entries: 1 })), 'E_MANIFEST')).toBe(true);
  });
});

describe('targets and toolchains', () => {
  it('parses targets and refuses unknown ones', () => {
    expect(parseTarget('posix-x86_64')).toMatchObject({ platform: 'posix', arch: 'x86_64', elfMachine: 62, elfClass: 64, hosted: true });
    for (const t of ['posix', 'posix-sparc', 'amiga-x86_64', '../x86_64']) expect(isRumpkgError(thrown(() => parseTarget(t)), 'E_TARGET')).toBe(true);
  });

  it('uses the host cc only for the host arch', () => {
    expect(selectToolchain('posix-x86_64', { hostArch: 'x86_64' }).tools.cc.command).toBe('cc');
    const e = thrown(() => selectToolchain('posix-aarch64', { hostArch: 'x86_64' }));
    expect(isRumpkgError(e, 'E_TARGET')).toBe(true);
    expect((e as Error).message).toMatch(/this host is x86_64/);
  });

  it('findProgram: the first PATH entry holding an executable regular file of that name; a directory, a non-executable file, a dangling link or an entry that is a file are passed over', () => {
    const t = mkdtempSync(join(tmpdir(), 'rumpkg-path-'));
    try {
      const dirs = ['asdir', 'noexec', 'dangling', 'good', 'later'].map((d) => join(t, d));
      for (const d of dirs) mkdirSync(d);
      mkdirSync(join(dirs[0]!, 'tool'));
      writeFileSync(join(dirs[1]!, 'tool'), '#!/bin/sh\n', { mode: 0o644 });
      symlinkSync(join(t, 'nowhere'), join(dirs[2]!, 'tool'));
      for (const d of [dirs[3]!, dirs[4]!]) {
        writeFileSync(join(d, 'tool'), '#!/bin/sh\n');
        chmodSync(join(d, 'tool'), 0o755);
      }
      writeFileSync(join(t, 'file-entry'), '');
      const path = [join(t, 'file-entry'), join(t, 'missing'), '', ...dirs].join(':');
      expect(findProgram('tool', path)).toBe(join(dirs[3]!, 'tool'));
      expect(findProgram('tool', [join(t, 'file-entry'), ...dirs.slice(0, 3)].join(':'))).toBeNull();
      expect(findProgram('absent', path)).toBeNull();
      expect(findProgram(join(dirs[4]!, 'tool'), '')).toBe(join(dirs[4]!, 'tool'));
      expect(findProgram(join(dirs[1]!, 'tool'), path)).toBeNull();
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it('names the missing tool and its Debian package', () => {
    const e = thrown(() => findToolchain('posix-x86_64', { path: '/nonexistent', hostArch: 'x86_64' }));
    expect(isRumpkgError(e, 'E_TOOLCHAIN')).toBe(true);
    expect((e as Error).message).toMatch(/'cc'/);
    expect((e as { hint: string }).hint).toBe('install it: apt-get install gcc');
  });
});

describe('link plan', () => {
  const lt: LockedTarget = {
    platform: '@rump/rumpuser',
    components: Object.fromEntries(
      [['@rump/tcpip', 'librumpnet_netinet'], ['@rump/net', 'librumpnet'], ['@rump/base', 'librump'], ['@rump/rumpuser', 'librumpuser']].map(([n, lib]) => [
        n,
        { version: '10.0.0', registry: '@rump', tarball: 't', integrity: 'sha512-x', license: 'BSD-2-Clause', lib: lib!, kind: n === '@rump/rumpuser' ? 'platform' : 'component', initLevels: [], dependencies: {}, requires: {}, provides: [], optionalDependencies: {}, requiredBy: [] },
      ]),
    ),
    linkOrder: ['@rump/tcpip', '@rump/net', '@rump/base', '@rump/rumpuser'],
    initOrder: [],
  };
  const dirs = Object.fromEntries(Object.keys(lt.components).map((n) => [n, `/store/${componentSlug(n)}`]));
  const plan = (over: Partial<Parameters<typeof planLink>[0]> = {}) =>
    planLink({
      target: 'posix-x86_64',
      lockedTarget: lt,
      componentDirs: dirs,
      app: { sources: ['/p/app.c', '/p/util.c'], objects: ['/p/extra.o'] },
      glue: 'int x;\n',
      manifest: '{}\n',
      output: '/p/build/img',
      toolchain: selectToolchain('posix-x86_64', { hostArch: 'x86_64' }),
      ...over,
    });

  it('orders the link line: app, glue, whole-archive components in link order, platform', () => {
    const p = plan();
    const link = p.steps.find((s) => s.args.includes('image.linked') && s.args.includes('-o'))!;
    const a = link.args;
    const at = (x: string): number => a.indexOf(x);
    expect(at('obj/app0.entry.o')).toBeLessThan(at('obj/app1.entry.o'));
    expect(at('obj/app1.entry.o')).toBeLessThan(at('obj/user0-extra.entry.o'));
    expect(at('obj/user0-extra.entry.o')).toBeLessThan(at('obj/rumpkg_main.o'));
    expect(at('obj/rumpkg_main.o')).toBeLessThan(at('-Wl,--whole-archive'));
    expect(a.slice(at('-Wl,--whole-archive') + 1, at('-Wl,--no-whole-archive'))).toEqual([
      'lib/rump+tcpip/librumpnet_netinet.a',
      'lib/rump+net/librumpnet.a',
      'lib/rump+base/librump.a',
    ]);
    expect(a[at('-Wl,--no-whole-archive') + 1]).toBe('lib/rump+rumpuser/librumpuser.a');
    expect(a).toContain('-Wl,--build-id=none');
    expect(p.inputs.map((i) => i.role)).toEqual(['app-object', 'app-object', 'app-object', 'glue-object', 'archive', 'archive', 'archive', 'platform-archive']);
    // No absolute path in any command: the image cannot depend on where the build ran.
    for (const s of p.steps) for (const x of s.args) expect(x.startsWith('/')).toBe(false);
    // the manifest is linked in as an object after every archive (x86_64: no objcopy step)
    expect(a[at('lib/rump+rumpuser/librumpuser.a') + 1]).toBe('rumpkg-manifest.o');
    expect(p.files.find((f) => f.path === 'rumpkg-manifest.o')).toEqual({ path: 'rumpkg-manifest.o', role: 'manifest-object', content: '{}\n' });
    expect(p.steps.some((s) => s.args.includes('--add-section'))).toBe(false);
    expect(p.output).toBe('image.linked');
    expect(renderPlanScript(p)).toMatch(/^cc .*-o image\.linked/m);
  });

  it('keeps the objcopy step where an object would have to agree on ELF flags (riscv64)', () => {
    for (const target of ['posix-riscv64', 'hw-riscv64'] as const) {
      expect(manifestObjectFits(target)).toBe(false);
    }
    for (const target of ['posix-x86_64', 'hw-x86_64'] as const) expect(manifestObjectFits(target)).toBe(true);
    const p = plan({ target: 'posix-riscv64', toolchain: selectToolchain('posix-riscv64', { hostArch: 'riscv64' }) });
    expect(p.steps.at(-1)!.args).toContain('.rumpkg.manifest=rumpkg-manifest.json');
    expect(p.steps.at(-2)!.args).not.toContain('rumpkg-manifest.o');
    expect(p.output).toBe('image');
  });

  it('renames main per entry point when several are given', () => {
    const p = plan({ app: { sources: ['/p/a.c', '/p/b.c', '/p/lib.c'], objects: [], entries: ['/p/b.c', '/p/a.c'] } });
    expect(p.entries).toEqual([
      { object: 'obj/app1.o', symbol: 'rumpkg_main_0' },
      { object: 'obj/app0.o', symbol: 'rumpkg_main_1' },
    ]);
    const renames = p.steps.filter((s) => s.tool === 'objcopy' && s.args[0] === '--redefine-sym');
    expect(renames.map((s) => s.args.slice(1, 3))).toEqual([
      ['main=rumpkg_main_1', 'obj/app0.o'],
      ['main=rumpkg_main_0', 'obj/app1.o'],
    ]);
  });

  it('fails with E_NOT_FOUND naming a component without a directory', () => {
    const { ['@rump/net']: _drop, ...rest } = dirs;
    const e = thrown(() => plan({ componentDirs: rest }));
    expect(isRumpkgError(e, 'E_NOT_FOUND')).toBe(true);
    expect((e as { context: { component: string } }).context.component).toBe('@rump/net');
  });
});

describe('linker map', () => {
  it('parses one-line and wrapped input sections and fill', () => {
    const map = [
      'Discarded input sections',
      ' .text          0x0 0x10 obj/x.o',
      'Linker script and memory map',
      '',
      '.text           0x0000000000001070      0x8b9',
      ' *(.text.unlikely .text.*_unlikely .text.unlikely.*)',
      ' .text.startup  0x0000000000001070       0x17 obj/app0.entry.o',
      '                0x0000000000001070                rumpkg_main_0',
      ' *fill*         0x0000000000001087        0x9 ',
      ' .text          0x0000000000001090       0x2a lib/rump+net/librumpnet.a(librumpnet.o)',
      '.rodata.str1.1',
      '                0x0000000000002000       0x30',
      ' .rodata.str1.1',
      '                0x0000000000002000        0xd lib/rump+base/librump.a(librump.o)',
    ].join('\n');
    expect(parseLinkerMap(map)).toEqual([
      { outputSection: '.text', inputSection: '.text.startup', size: 0x17, file: 'obj/app0.entry.o' },
      { outputSection: '.text', inputSection: '*fill*', size: 9, file: '*fill*' },
      { outputSection: '.text', inputSection: '.text', size: 0x2a, file: 'lib/rump+net/librumpnet.a(librumpnet.o)' },
      { outputSection: '.rodata.str1.1', inputSection: '.rodata.str1.1', size: 0xd, file: 'lib/rump+base/librump.a(librump.o)' },
    ]);
  });
});
