/**
 * The rumprun convention without QEMU or the real archives (they have their own tests in
 * test/real/): the link plan a platform package's `platform` object makes, the configuration
 * rendered for the kernel command line, what a configuration needs from the closure, the glue,
 * the QEMU command and the console reader (fed lines of a real boot transcript).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRumpkgError, type ImageManifest, type LockedTarget, type TargetEntry } from '../../components/index.js';
import {
  buildImage,
  checkPortForwards,
  findProgram,
  checkRumprunConfig,
  componentSlug,
  planLink,
  renderPlanScript,
  renderRumprunCmdline,
  renderRumprunGlue,
  rumprunProgramNames,
  selectToolchain,
} from '../../packager/index.js';
import { createRumprunConsole, planRumprunQemu } from '../../packager/run/index.js';

function thrown(f: () => unknown): Error & { code?: string; hint?: string; context?: Record<string, unknown> } {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

const manifestWith = (config: Partial<ImageManifest['config']>, programs = ['app']): ImageManifest & { boot: NonNullable<ImageManifest['boot']> } => ({
  imageManifestVersion: 1,
  target: 'hw-x86_64',
  tool: { name: 'rumpkg', version: '0.1.0' },
  project: 'p',
  components: [],
  linkOrder: [],
  initOrder: [],
  config: { net: [], block: [], entry: [], ...config },
  boot: { convention: 'rumprun', platform: '@rump/rumprun-hw', programs },
});

describe('the kernel command line (the platform reads JSON, repeats keys, decodes no escapes)', () => {
  it('static and DHCP interfaces, IPv6 autoconfiguration, a mounted disk, one program with arguments', () => {
    const m = manifestWith({
      net: [
        { if: 'vioif0', type: 'inet', method: 'static', addr: '10.0.2.15', mask: '255.255.255.0', gw: '10.0.2.2' },
        { if: 'vioif1', type: 'inet', method: 'dhcp' },
        { if: 'vioif1', type: 'inet6', method: 'dhcp' },
      ],
      block: [{ source: 'data.ext2', path: '/dev/ld0a', fstype: 'ext2fs', mountpoint: '/data' }, { source: 'raw.img', path: '/dev/ld1a' }],
    });
    expect(renderRumprunCmdline(m, ['80', 'two words'])).toBe(
      '{"net":{"if":"vioif0","type":"inet","method":"static","addr":"10.0.2.15","mask":"24","gw":"10.0.2.2"},' +
        '"net":{"if":"vioif1","type":"inet","method":"dhcp"},"net":{"if":"vioif1","type":"inet6","method":"auto"},' +
        '"blk":{"source":"dev","path":"/dev/ld0a","fstype":"blk","mountpoint":"/data"},' +
        '"cmdline":"app 80 \'two words\'"}',
    );
  });

  it('several programs run in order through "rc"; arguments only for one program', () => {
    const m = manifestWith({}, ['first', 'second']);
    expect(renderRumprunCmdline(m)).toBe('{"rc":[{"bin":"first","argv":[]},{"bin":"second","argv":[]}]}');
    expect(thrown(() => renderRumprunCmdline(m, ['x'])).code).toBe('E_USAGE');
  });

  it('refuses what the platform cannot read: quotes in arguments, non-contiguous masks, devices that are not /dev/ldNa, too long', () => {
    expect(thrown(() => renderRumprunCmdline(manifestWith({}), ['say "hi"'])).code).toBe('E_USAGE');
    expect(thrown(() => renderRumprunCmdline(manifestWith({}), ['back\\slash'])).code).toBe('E_USAGE');
    const mask = thrown(() => renderRumprunCmdline(manifestWith({ net: [{ if: 'vioif0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '255.0.255.0' }] })));
    expect(mask.code).toBe('E_MANIFEST');
    expect(mask.message).toContain('image.net[0].mask');
    const dev = thrown(() => renderRumprunCmdline(manifestWith({ block: [{ source: 'a', path: '/dev/ld0a' }, { source: 'b', path: '/dev/ld0a' }] })));
    expect(dev.message).toContain("image.block[1].path: '/dev/ld0a' cannot be");
    expect(dev.hint).toBe('set path to /dev/ld1a');
    const fs = thrown(() => renderRumprunCmdline(manifestWith({ block: [{ source: 'a', path: '/dev/ld0a', fstype: 'zfs', mountpoint: '/d' }] })));
    expect(fs.message).toContain("'zfs' is not a file system the platform mounts");
    const mp = thrown(() => renderRumprunCmdline(manifestWith({ block: [{ source: 'a', path: '/dev/ld0a', fstype: 'ffs', mountpoint: '/a "b' }] })));
    expect(mp.code).toBe('E_MANIFEST');
    const long = thrown(() => renderRumprunCmdline(manifestWith({}), ['x'.repeat(5000)]));
    expect(long.code).toBe('E_RUN');
    expect(long.message).toMatch(/at most 4095/);
  });
});

describe('what a configuration needs from the closure', () => {
  const libs = (...l: string[]): Set<string> => new Set(['librump', 'librumpvfs', ...l]);
  it('names the component to add: net-config, tcpip, dev-bpf for DHCP, virtio-blk, the file system', () => {
    const cases: Array<[Parameters<typeof checkRumprunConfig>[0], Set<string>, string]> = [
      [{ net: [{ if: 'vioif0', type: 'inet', method: 'static', addr: '10.0.2.15' }], block: [], programs: 1 }, libs(), 'net-config'],
      [{ net: [{ if: 'vioif0', type: 'inet', method: 'static', addr: '10.0.2.15' }], block: [], programs: 1 }, libs('librumpnet_config'), 'tcpip'],
      [{ net: [{ if: 'vioif0', type: 'inet', method: 'dhcp' }], block: [], programs: 1 }, libs('librumpnet_config', 'librumpnet_netinet'), 'dev-bpf'],
      [{ net: [{ if: 'vioif0', type: 'inet6', method: 'dhcp' }], block: [], programs: 1 }, libs('librumpnet_config', 'librumpnet_netinet'), 'tcpip6'],
      [{ net: [], block: [{ source: 'd', path: '/dev/ld0a', fstype: 'ffs', mountpoint: '/d' }], programs: 1 }, libs(), 'virtio-blk'],
      [{ net: [], block: [{ source: 'd', path: '/dev/ld0a', fstype: 'ffs', mountpoint: '/d' }], programs: 1 }, libs('librumpdev_virtio_ld'), 'fs-ffs'],
    ];
    for (const [config, have, add] of cases) {
      const e = thrown(() => checkRumprunConfig(config, have, 'hw-x86_64'));
      expect(e.code, add).toBe('E_BUILD');
      expect(e.hint).toBe(`rumpkg add ${add}`);
    }
    expect(() => checkRumprunConfig({ net: [{ if: 'vioif0', type: 'inet', method: 'dhcp' }], block: [], programs: 1 }, libs('librumpnet_config', 'librumpnet_netinet', 'librumpdev_bpf'), 'hw-x86_64')).not.toThrow();
    expect(thrown(() => checkRumprunConfig({ net: [], block: [], programs: 9 }, libs(), 'hw-x86_64')).code).toBe('E_MANIFEST');
  });

  it('port forwards: tcp/udp, ports 1..65535, each host port once', () => {
    expect(checkPortForwards([{ proto: 'tcp', host: 8080, guest: 80 }, { proto: 'udp', host: 8080, guest: 7 }])).toHaveLength(2);
    expect(thrown(() => checkPortForwards([{ proto: 'tcp', host: 8080, guest: 80 }, { proto: 'tcp', host: 8080, guest: 81 }])).message).toContain('forwarded twice');
    expect(thrown(() => checkPortForwards([{ proto: 'sctp' as 'tcp', host: 1, guest: 1 }])).code).toBe('E_MANIFEST');
    expect(thrown(() => checkPortForwards([{ proto: 'tcp', host: 0, guest: 1 }])).code).toBe('E_MANIFEST');
  });
});

describe('programs and the glue', () => {
  it('names programs after their entry files, the project when there is one program of sources', () => {
    expect(rumprunProgramNames([], '@rump/my-app', 1)).toEqual(['my-app']);
    expect(rumprunProgramNames(['src/main.c', 'tools/main.c', 'b.o'], 'p', 3)).toEqual(['main', 'main-2', 'b']);
  });

  it('fills one program slot per entry point with a strong definition, and stands in for librumpnet_config weakly', () => {
    const g = renderRumprunGlue(2);
    expect(g).toContain('rumprun_main1(int argc, char **argv)\n{\n\treturn rumpkg_main_0(argc, argv, environ);');
    expect(g).toContain('return rumpkg_main_1(argc, argv, environ);');
    expect(g).not.toContain('rumprun_main3');
    expect(g).toMatch(/RUMPKG_NO_NETCONFIG\(rump_pub_netconfig_ifcreate, /);
    expect(g).toContain('__attribute__((weak))');
    expect(() => renderRumprunGlue(9)).toThrow();
  });
});

describe('the link plan of a rumprun platform package (data in its manifest, not a target switch)', () => {
  const comp = (lib: string, kind: 'component' | 'platform' = 'component') => ({ version: '7.99.34', registry: '@rump', tarball: 't', integrity: 'sha512-x', license: 'BSD-2-Clause', lib, kind, initLevels: [], dependencies: {}, requires: {}, provides: [], optionalDependencies: {}, requiredBy: [] });
  const lt: LockedTarget = {
    platform: '@rump/rumprun-hw',
    components: { '@rump/tcpip': comp('librumpnet_netinet'), '@rump/base': comp('librump'), '@rump/rumprun-hw': comp('librumprun_base', 'platform') },
    linkOrder: ['@rump/tcpip', '@rump/base', '@rump/rumprun-hw'],
    initOrder: [],
  };
  const platformEntry: TargetEntry = {
    archive: 'lib/hw-x86_64/librumprun_base.a',
    objects: ['lib/hw-x86_64/rumprun.o'],
    linkerScript: 'lib/hw-x86_64/hw.ldscript',
    platform: { convention: 'rumprun', compile: { triple: 'x86_64-unknown-netbsd', cflags: ['-nostdinc', '-D__RUMPRUN__', '-fcommon'], include: ['include/hw-x86_64'] }, libraries: ['lib/hw-x86_64/libc.a', 'lib/hw-x86_64/libpthread.a'], maxPageSize: 4096 },
  };
  const plan = (target = 'hw-x86_64') =>
    planLink({
      target,
      lockedTarget: lt,
      componentDirs: Object.fromEntries(Object.keys(lt.components).map((n) => [n, `/store/${componentSlug(n)}`])),
      componentTargets: {
        '@rump/tcpip': { archive: 'lib/hw-x86_64/librumpnet_netinet.a', abiFlags: ['-fcommon'] },
        '@rump/base': { archive: 'lib/hw-x86_64/librump.a' },
        '@rump/rumprun-hw': platformEntry,
      },
      app: { sources: ['/p/app.c'], objects: [] },
      glue: 'int x;\n',
      manifest: '{}\n',
      output: '/p/build/img',
      toolchain: selectToolchain(target, { hostArch: 'x86_64' }),
    });

  it('compiles with clang for the platform triple and its headers, links its userland in one group', () => {
    const p = plan();
    expect(p.convention).toBe('rumprun');
    const cc = p.steps.find((s) => s.description === 'compile /p/app.c')!;
    expect(cc.command).toEqual(['clang', '--target=x86_64-unknown-netbsd']);
    expect(cc.args).toEqual(['-c', '-O2', '-fno-ident', '-nostdinc', '-D__RUMPRUN__', '-fcommon', '-isystem', 'lib/rump+rumprun-hw/include0', '-MD', '-MF', 'obj/app0.d', '-o', 'obj/app0.o', 'src/0/app.c']);
    const link = p.steps.find((s) => s.tool === 'ld')!.args;
    expect(link.slice(0, 6)).toEqual(['--build-id=none', '-static', '-Map=image.map', '-z', 'max-page-size=0x1000', '-T']);
    expect(link.slice(link.indexOf('--whole-archive'))).toEqual([
      '--whole-archive', 'lib/rump+tcpip/librumpnet_netinet.a', 'lib/rump+base/librump.a', '--no-whole-archive',
      '--start-group', 'lib/rump+rumprun-hw/librumprun_base.a', 'lib/rump+rumprun-hw/libc.a', 'lib/rump+rumprun-hw/libpthread.a', '--end-group',
      // the image manifest, linked in last as an object (manifest-object.ts): no objcopy step
      'rumpkg-manifest.o',
    ]);
    expect(p.steps.some((s) => s.args.includes('--add-section'))).toBe(false);
    expect(p.output).toBe('image.linked');
    expect(p.files.find((f) => f.role === 'include-dir')).toEqual({ path: 'lib/rump+rumprun-hw/include0', role: 'include-dir', component: '@rump/rumprun-hw', from: '/store/rump+rumprun-hw/include/hw-x86_64' });
    expect(renderPlanScript(p)).toContain('ln -s /store/rump+rumprun-hw/include/hw-x86_64 lib/rump+rumprun-hw/include0');
    for (const s of p.steps) for (const x of s.args) expect(x.startsWith('/')).toBe(false);
  });

  it.skipIf(['clang', 'ld.lld', 'llvm-objcopy'].some((t) => findProgram(t) === null))('a platform manifest naming files outside its package: E_MANIFEST before anything is read', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rumpkg-rumprun-paths-'));
    try {
      const dirs: Record<string, string> = {};
      for (const [name, entry] of Object.entries({ '@rump/tcpip': { archive: 'lib/hw-x86_64/librumpnet_netinet.a' }, '@rump/base': { archive: 'lib/hw-x86_64/librump.a' }, '@rump/rumprun-hw': { ...platformEntry, platform: { ...platformEntry.platform!, libraries: ['lib/hw-x86_64/libc.a', 'lib/../../../../etc/passwd'] } } })) {
        const d = join(root, componentSlug(name));
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'package.json'), JSON.stringify({ name, version: '7.99.34', license: 'BSD-2-Clause', rump: { schemaVersion: 1, lib: 'librumpx', faction: 'x', targets: { 'hw-x86_64': entry } } }));
        dirs[name] = d;
      }
      const e = await buildImage({ projectDir: root, target: 'hw-x86_64', lockedTarget: lt, componentDirs: dirs, project: { name: 'x', image: { sources: [] } } }).then(() => new Error('built'), (x: unknown) => x as Error & { code?: string });
      // Read through the one validated reader of component manifests: the path is refused by the
      // schema (a relative path inside the package), naming the file and the offending entry.
      expect((e as { code?: string }).code).toBe('E_SCHEMA');
      expect(e.message).toContain('/rump/targets/hw-x86_64/platform/libraries/1');
      expect(e.message).toContain(join(dirs['@rump/rumprun-hw']!, 'package.json'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a rumprun platform package for a hosted target: E_BUILD before anything runs', () => {
    const e = thrown(() => plan('posix-x86_64'));
    expect(isRumpkgError(e, 'E_BUILD')).toBe(true);
    expect(e.message).toContain('@rump/rumprun-hw follows the rumprun convention');
  });
});

describe('booting: the QEMU command and the console', () => {
  it('QEMU: -vga none, the configuration on -append, forwards on 127.0.0.1, virtio disks; restrict=on unless a UDP port is forwarded', () => {
    const tcp = planRumprunQemu('/img', manifestWith({ forward: [{ proto: 'tcp', host: 8080, guest: 80 }], block: [{ source: 'd,1.img', path: '/dev/ld0a' }] }), { cwd: '/proj' });
    expect(tcp.command).toEqual([
      'qemu-system-x86_64', '-nodefaults', '-no-reboot', '-vga', 'none', '-display', 'none', '-serial', 'stdio', '-m', '128',
      '-netdev', 'user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=n0',
      '-drive', 'if=virtio,format=raw,file=/proj/d,,1.img', '-kernel', '/img', '-append', '{"cmdline":"app"}',
    ]);
    const udp = planRumprunQemu('/img', manifestWith({ forward: [{ proto: 'udp', host: 5353, guest: 7 }] }));
    expect(udp.command).toContain('user,id=n0,restrict=off,hostfwd=udp:127.0.0.1:5353-:7');
  });

  const boot = (lines: string[]) => {
    const c = createRumprunConsole();
    const events = lines.map((l) => c.line(l));
    return { state: c.state, events };
  };
  const HEAD = ['rump kernel bare metal bootstrap', '', 'NetBSD 7.99.34 (RUMP-ROAST)', 'vioif0 at virtio0: Ethernet address 52:54:00:12:34:56', 'mounted tmpfs on /tmp', '', '=== calling "udpecho" main() ===', ''];

  it('a program that returns: its status, the events rumpkg times, halted is terminal', () => {
    const { state, events } = boot([...HEAD, 'udpecho: listening', '', '=== main() of "udpecho" returned 3 ===', '', '=== ERROR: _exit(3) called ===', 'rump kernel halting...', 'halted']);
    expect(state).toMatchObject({ platformUp: true, called: ['udpecho'], returned: 3, exit: 3, panic: null, trap: null, halted: true });
    expect(events.filter((e) => e !== null)).toEqual(['platform-up', 'main-called', 'app-output', 'terminal']);
  });

  it('exit(0) from inside main prints only the _exit line; CR LF is taken', () => {
    const { state } = boot([...HEAD, 'bye\r', '=== _exit(0) called ===\r', 'halted\r']);
    expect(state).toMatchObject({ exit: 0, returned: null, halted: true });
  });

  it('panics (kernel and platform), a failed bootstrap, a CPU exception', () => {
    expect(boot(['rump kernel bare metal bootstrap', 'panic: netconfig: missing both inet and inet6', 'rump kernel halting...', 'PANIC: rumpuser panic', 'halted']).state.panic).toBe('netconfig: missing both inet and inet6');
    expect(boot(['rump kernel bare metal bootstrap', 'PANIC: platefs: mkdir', 'halted']).state.panic).toBe('platefs: mkdir');
    const b = boot(['rump kernel bare metal bootstrap', 'rumprun: ifconfig "vioif0" for "10.0.2.15/24" failed', '=== bootstrap failed', 'halted']).state;
    expect(b).toMatchObject({ bootstrapFailed: true, lastPlatformError: 'rumprun: ifconfig "vioif0" for "10.0.2.15/24" failed' });
    const t = boot([...HEAD, 'trapping', 'FATAL TRAP: page fault at 0x110ccb (0x8)']);
    expect(t.state.trap).toBe('FATAL TRAP: page fault at 0x110ccb (0x8)');
    expect(t.events.at(-1)).toBe('terminal');
  });
});
