/**
 * A real unikernel: NetBSD's TCP/IP stack and virtio-net driver from the real rumprun hw build
 * (../shared/netbsd/real), linked by `rumpkg build` with rumprun's bare-metal platform package
 * and booted by `rumpkg run` under QEMU — answering over the network through ports forwarded
 * from the host. examples/unikernel-http (TCP, static address, through the CLI), a UDP echo with
 * DHCP, an image without networking, and the faults: configuration the closure cannot serve, an
 * application object for another architecture, a posix archive published for hw, a missing
 * QEMU, a port in use, a guest that panics, traps or hangs — each a typed error in bounded time,
 * QEMU never left running, the previous image byte-identical. examples/unikernel-fs mounts an
 * ext2 disk made by mke2fs. Audit, size and SBOM of the real image. Boots are ~0.5 s each under
 * TCG; this file boots eight times (and starts QEMU once more to find a port in use).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packComponent, readImageManifest, type Lockfile } from '../../components/index.js';
import { buildProject, findProgram, installProject, readLock, readSizeReport, renderPlanScript, runImage, storeComponentDirResolver, type BuildResult } from '../../packager/index.js';
import { linkMemoFile } from '../../packager/build/early-link.js';
import { createFileStorage, storeKey } from '../../registry/index.js';
import { HW_TARGET, hwProject, realHwRegistry, type RealHwRegistry } from '../helpers/real-hw.js';
import { realSet, title } from '../helpers/real.js';
import { expectCode, freePort, noProcess } from '../helpers/process.js';

const hw = realSet('hw');
const posix = realSet('posix');
const BIN = resolve(import.meta.dirname, '../../dist/rumpkg.cjs');
const TOOLS = ['clang', 'ld.lld', 'llvm-objcopy', 'qemu-system-x86_64', 'mke2fs', 'debugfs', 'e2fsck'];
const missingTools = TOOLS.filter((t) => findProgram(t) === null);
const skip = !hw.available || missingTools.length > 0;
const why = !hw.available ? hw.skipReason : `${missingTools.join(', ')} not on PATH (Debian: clang lld llvm qemu-system-x86 e2fsprogs)`;

let reg: RealHwRegistry;

async function installAndBuild(dir: string, options: { force?: boolean } = {}): Promise<{ lock: Lockfile; result: BuildResult }> {
  await installProject(dir, { env: reg.env });
  const [result] = await buildProject(dir, { resolveComponentDir: await storeComponentDirResolver(dir, { env: reg.env }), ...(options.force === true ? { force: true } : {}) });
  return { lock: (await readLock(dir))!, result: result! };
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 10_000 }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

const UDPECHO = `/* UDP echo on port 7; the datagram "quit" is answered "bye" and ends the program with status 3. */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int
main(void)
{
	struct sockaddr_in sin, from;
	socklen_t fl;
	char buf[2048];
	ssize_t n;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_len = sizeof(sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(7);
	if (s == -1 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1) { perror("udpecho"); return 1; }
	printf("udpecho: ready\\n");
	fflush(stdout);
	for (;;) {
		fl = sizeof(from);
		if ((n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)) < 0) return 1;
		if (n == 4 && memcmp(buf, "quit", 4) == 0) { sendto(s, "bye", 3, 0, (struct sockaddr *)&from, fl); return 3; }
		sendto(s, buf, n, 0, (struct sockaddr *)&from, fl);
	}
}
`;

describe.skipIf(skip)(skip ? `real unikernel on hw-x86_64 — skipped: ${why}` : title(hw, 'a real unikernel on hw-x86_64 under QEMU'), () => {
  let http: { dir: string; lock: Lockfile; result: BuildResult; port: number };

  beforeAll(async () => {
    reg = await realHwRegistry(hw);
    const port = await freePort();
    const dir = hwProject(reg, 'unikernel-http', {
      example: 'unikernel-http',
      patch: (m) => {
        (m.image as { forward: Array<{ host: number }> }).forward[0]!.host = port;
      },
    });
    const { lock, result } = await installAndBuild(dir);
    http = { dir, lock, result, port };
  }, 180_000);
  afterAll(async () => {
    await reg?.dispose();
  });

  it('examples/unikernel-http: the link plan is rumpkg\'s own — ld.lld, the platform\'s linker script, rumprun.o first, components whole-archive, the userland in one group', () => {
    const plan = http.result.plan;
    expect(plan.convention).toBe('rumprun');
    const cc = plan.steps.find((s) => s.tool === 'cc' && s.description.startsWith('compile '))!;
    expect(cc.command).toEqual(['clang', '--target=x86_64-unknown-netbsd']);
    expect(cc.args).toEqual(expect.arrayContaining(['-nostdinc', '-D__RUMPRUN__', '-mno-red-zone', '-fno-stack-protector', '-fcommon', '-fno-pic', '-isystem', 'lib/rump+rumprun-hw/include0']));
    expect(cc.args).not.toContain('-ffreestanding');
    const rename = plan.steps.find((s) => s.tool === 'objcopy' && s.args[0] === '--redefine-sym')!;
    expect(rename.args[1]).toBe('main=rumpkg_main_0');
    const link = plan.steps.find((s) => s.tool === 'ld')!;
    expect(link.command).toEqual(['ld.lld']);
    const a = link.args;
    expect(a).toEqual(expect.arrayContaining(['--build-id=none', '-Map=image.map', '-z', 'max-page-size=0x1000']));
    expect(a[a.indexOf('-T') + 1]).toBe('lib/rump+rumprun-hw/hw.ldscript');
    const o = a.indexOf('image.linked');
    expect(a.slice(o + 1, o + 5)).toEqual(['lib/rump+rumprun-hw/obj0-rumprun.o', 'lib/rump+rumprun-hw/obj1-librumprunfs_base.o', 'obj/app0.entry.o', 'obj/rumpkg_main.o']);
    const whole = a.slice(a.indexOf('--whole-archive') + 1, a.indexOf('--no-whole-archive'));
    expect(whole.map((p) => p.split('/')[1]).sort()).toEqual(Object.keys(http.lock.targets[HW_TARGET]!.components).filter((n) => n !== '@rump/rumprun-hw').map((n) => n.replace('@', '').replace('/', '+')).sort());
    expect(a.slice(a.indexOf('--start-group'), a.indexOf('--end-group') + 1)).toEqual([
      '--start-group',
      'lib/rump+rumprun-hw/librumprun_base.a',
      ...['libc.a', 'libpthread.a', 'libm.a', 'libutil.a', 'libprop.a'].map((l) => `lib/rump+rumprun-hw/${l}`),
      '--end-group',
    ]);
  });

  it('the image carries its manifest: the platform\'s convention, its program, the configuration and the forwarded port', async () => {
    const m = await readImageManifest(http.result.image);
    expect(m.boot).toEqual({ convention: 'rumprun', platform: '@rump/rumprun-hw', programs: ['unikernel-http'] });
    expect(m.config.forward).toEqual([{ proto: 'tcp', host: http.port, guest: 80 }]);
    expect(m.config.net).toEqual([{ if: 'vioif0', type: 'inet', method: 'static', addr: '10.0.2.15', mask: '24', gw: '10.0.2.2' }]);
    expect(http.result.bytes).toBeGreaterThan(2_000_000);
    expect(http.result.bytes).toBeLessThan(4_000_000);
  });

  it('rumpkg run boots it: NetBSD attaches vioif0, the host\'s HTTP requests through the forwarded port are answered, /quit ends it with status 0 and QEMU is gone', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '--target', HW_TARGET, '--timeout', '60'], { cwd: http.dir, env: { ...reg.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const deadline = Date.now() + 30_000;
    while (!out.includes('httpd: listening on tcp port 80') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(out, err).toContain('httpd: listening on tcp port 80');
    const hello = await httpGet(http.port, '/hello');
    expect(hello).toEqual({ status: 200, body: 'hello from NetBSD on rumprun: /hello (request 1)\n' });
    const again = await httpGet(http.port, '/again');
    expect(again.body).toBe('hello from NetBSD on rumprun: /again (request 2)\n');
    expect((await httpGet(http.port, '/quit')).body).toBe('bye\n');
    expect(await exited).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toBe('rump kernel bare metal bootstrap');
    expect(lines).toContain('NetBSD 7.99.34 (RUMP-ROAST)');
    expect(lines).toContainEqual(expect.stringMatching(/^vioif0 at virtio0: Ethernet address 52:54:00:12:34:56$/));
    expect(lines).toContain('=== calling "unikernel-http" main() ===');
    expect(lines).toContainEqual(expect.stringMatching(/^httpd: 10\.0\.2\.2:\d+ GET \/hello$/));
    expect(lines).toContain('httpd: served 2 requests');
    expect(lines).toContain('=== main() of "unikernel-http" returned 0 ===');
    expect(lines.filter((l) => l !== '').at(-1)).toBe('halted');
    expect(noProcess(http.result.image)).toBe(true);
  }, 90_000);

  it('rumpkg run after the application changed: E_STALE with the build command; QEMU, started paused meanwhile, ran no guest code and is gone', () => {
    const src = join(http.dir, 'httpd.c');
    const text = readFileSync(src, 'utf8');
    writeFileSync(src, `${text}/* changed */\n`);
    try {
      const r = spawnSync(process.execPath, [BIN, 'run', '--target', HW_TARGET, '--timeout', '30'], { cwd: http.dir, env: { ...reg.env, NO_COLOR: '1' }, encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`error[E_STALE]: ${http.result.image} is out of date`);
      expect(r.stderr).toContain(`rebuild it: rumpkg build --target ${HW_TARGET}`);
      expect(r.stdout).toBe('');
      expect(noProcess(http.result.image)).toBe(true);
    } finally {
      writeFileSync(src, text);
    }
  }, 60_000);

  it('builds reproducibly: --force, a second project directory and the --dry-run script give the same bytes; nothing runs when nothing changed', async () => {
    const before = readFileSync(http.result.image);
    const [same] = await buildProject(http.dir, { resolveComponentDir: await storeComponentDirResolver(http.dir, { env: reg.env }) });
    expect(same!.upToDate).toBe(true);
    const [forced] = await buildProject(http.dir, { force: true, resolveComponentDir: await storeComponentDirResolver(http.dir, { env: reg.env }) });
    expect(forced!.upToDate).toBe(false);
    expect(readFileSync(forced!.image).equals(before)).toBe(true);
    // Through the CLI: the second --force takes the ld.lld link its launcher started from the
    // first one's memo (packager/build/early-link.ts), and it makes the same bytes.
    rmSync(linkMemoFile(join(reg.env.RUMPKG_HOME!, 'objects'), http.dir), { force: true });
    for (const early of [false, true]) {
      const r = spawnSync(process.execPath, [BIN, '--verbose', 'build', '--force'], { cwd: http.dir, env: reg.env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(/^link the image for hw-x86_64 \(started early\): ld\.lld /m.test(r.stderr), r.stderr).toBe(early);
      expect(readFileSync(http.result.image).equals(before)).toBe(true);
    }
    const other = join(reg.work, 'elsewhere', 'deeper');
    cpSync(http.dir, other, { recursive: true, filter: (p) => !p.includes('/build') });
    const { result } = await installAndBuild(other);
    expect(readFileSync(result.image).equals(before)).toBe(true);
    // The --dry-run script, run by sh with the same tools, makes the same bytes.
    const out = join(reg.work, 'by-hand.elf');
    execFileSync('sh', ['-c', renderPlanScript(http.result.plan)], { env: { ...process.env, OUT: out } });
    expect(readFileSync(out).equals(before)).toBe(true);
  }, 120_000);

  it('the headers a compile read are followed: editing one makes the image stale', async () => {
    const stamp = JSON.parse(readFileSync(`${http.result.image}.stamp`, 'utf8')) as { headers: Record<string, string> };
    expect(Object.keys(stamp.headers).some((h) => h.endsWith('/include/hw-x86_64/sys/socket.h'))).toBe(true);
    expect(Object.keys(stamp.headers).length).toBeLessThan(400); // the headers read, not all 1.3k of the package
    // The platform from the imported directory instead of the store (which would repair an edit).
    const store = await storeComponentDirResolver(http.dir, { env: reg.env });
    const resolveComponentDir = async (name: string, locked: Parameters<typeof store>[1]): Promise<string> => (name === '@rump/rumprun-hw' ? reg.platform.dir : store(name, locked));
    const dir = join(reg.work, 'header-edit');
    cpSync(http.dir, dir, { recursive: true, filter: (p) => !p.includes('/build') });
    const [first] = await buildProject(dir, { resolveComponentDir });
    const [second] = await buildProject(dir, { resolveComponentDir });
    expect(second!.upToDate).toBe(true);
    const socketH = Object.keys((JSON.parse(readFileSync(`${first!.image}.stamp`, 'utf8')) as { headers: Record<string, string> }).headers).find((h) => h.endsWith('/sys/socket.h'))!;
    expect(socketH.startsWith(reg.platform.dir)).toBe(true);
    const text = readFileSync(socketH, 'utf8');
    writeFileSync(socketH, `${text}/* edited */\n`);
    try {
      const [third] = await buildProject(dir, { resolveComponentDir });
      expect(third!.upToDate).toBe(false);
      expect(readFileSync(third!.image).equals(readFileSync(first!.image))).toBe(true); // a comment changes no byte
    } finally {
      writeFileSync(socketH, text);
    }
  }, 60_000);

  it('--force over the store checks what the build read: a damaged header no compile reads leaves it on its fast path; one it reads, or one it misses, is restored from the kept tarball first', async () => {
    const before = readFileSync(http.result.image);
    const platform = http.lock.targets[HW_TARGET]!.components['@rump/rumprun-hw']!;
    const include = join(reg.home, 'store', storeKey(platform.integrity), 'pkg', 'include', HW_TARGET);
    const read = Object.keys((JSON.parse(readFileSync(`${http.result.image}.stamp`, 'utf8')) as { headers: Record<string, string> }).headers);
    const warnings: string[] = [];
    const inner = await storeComponentDirResolver(http.dir, { env: reg.env, reporter: { warn: (m) => warnings.push(m) } });
    let verified = 0;
    const resolveComponentDir = Object.assign((name: string, l: Parameters<typeof inner>[1]) => (verified++, inner(name, l)), { lookup: inner.lookup, checkLookup: inner.checkLookup });
    const force = async (): Promise<BuildResult> => (await buildProject(http.dir, { force: true, resolveComponentDir }))[0]!;
    /** One byte of a comment changed: the same size, and every compile still passes. */
    const damage = (file: string): Buffer => {
      const good = readFileSync(file);
      const bad = Buffer.from(good);
      const at = good.indexOf('/*') + 3;
      bad[at] = good[at] === 0x58 ? 0x59 : 0x58;
      writeFileSync(file, bad);
      return good;
    };

    // A header no compile of this image reads: not read, not checked — no verified path.
    const unread = join(include, 'sys', readdirSync(join(include, 'sys')).find((n) => n.endsWith('.h') && !read.some((h) => h.endsWith(`/sys/${n}`)))!);
    const unreadGood = damage(unread);
    try {
      const r = await force();
      expect(verified).toBe(0);
      expect(readFileSync(r.image).equals(before)).toBe(true);
      expect(readFileSync(unread).equals(unreadGood)).toBe(false);
    } finally {
      writeFileSync(unread, unreadGood);
    }

    // A header the compile reads: the check of what was read finds it; the verified path restores it.
    const socketH = join(include, 'sys', 'socket.h');
    expect(read).toContain(socketH);
    const socketGood = damage(socketH);
    const r2 = await force();
    expect(verified).toBeGreaterThan(0);
    expect(warnings.some((w) => w.includes('@rump/rumprun-hw@') && w.includes('modified include/'))).toBe(true);
    expect(readFileSync(socketH).equals(socketGood)).toBe(true);
    expect(readFileSync(r2.image).equals(before)).toBe(true);

    // A header gone: the compile fails without reading it, so every file of every entry is
    // checked before that failure could be reported — and the entry is restored instead.
    verified = 0;
    warnings.length = 0;
    rmSync(socketH);
    const r3 = await force();
    expect(verified).toBeGreaterThan(0);
    expect(warnings.some((w) => w.includes('@rump/rumprun-hw@') && w.includes('missing include/'))).toBe(true);
    expect(readFileSync(socketH).equals(socketGood)).toBe(true);
    expect(readFileSync(r3.image).equals(before)).toBe(true);
  }, 120_000);

  it('UDP with DHCP: the guest gets its address from QEMU, echoes datagrams through a forwarded UDP port and exits with the application\'s status', async () => {
    const port = await freePort();
    const dir = hwProject(reg, 'udpecho', {
      manifest: {
        schemaVersion: 1,
        name: 'udpecho',
        targets: [HW_TARGET],
        components: { tcpip: '^7.0.0', 'virtio-net': '^7.0.0', 'net-config': '^7.0.0', 'dev-bpf': '^7.0.0' },
        registries: {},
        image: { sources: ['udpecho.c'], net: [{ if: 'vioif0', type: 'inet', method: 'dhcp' }], forward: [{ proto: 'udp', host: port, guest: 7 }] },
      },
      files: { 'udpecho.c': UDPECHO },
    });
    const { result } = await installAndBuild(dir);
    const sock = createSocket('udp4');
    const replies: string[] = [];
    sock.on('message', (m) => replies.push(m.toString()));
    let console = '';
    const stdout = { write: (d: string | Buffer) => ((console += d.toString()), true) } as unknown as NodeJS.WritableStream;
    const run = runImage(result.image, { target: HW_TARGET, timeoutMs: 60_000, stdout: stdout as never, cwd: dir });
    try {
      const deadline = Date.now() + 30_000;
      while (!console.includes('udpecho: ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(console).toContain('udpecho: ready');
      for (const msg of ['hello rumprun', 'x'.repeat(1000)]) {
        const n = replies.length;
        sock.send(msg, port, '127.0.0.1');
        const until = Date.now() + 5_000;
        while (replies.length === n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        expect(replies.at(-1)).toBe(msg);
      }
      sock.send('quit', port, '127.0.0.1');
      const r = await run;
      expect(r.status).toBe(3);
      expect(replies.at(-1)).toBe('bye');
      expect(console).toContain('dhcp: vioif0: adding IP address 10.0.2.15/24');
      expect(r.timings!.appOutputMs).toBeGreaterThanOrEqual(r.timings!.mainMs!); // the same millisecond is possible
    } finally {
      sock.close();
      await run.catch(() => undefined);
    }
    expect(noProcess(result.image)).toBe(true);
  }, 120_000);

  it('without networking: the platform\'s network configuration calls are stood in for, the image is two thirds the size; arguments reach main and exit(5) is the status', async () => {
    const dir = hwProject(reg, 'hello', {
      manifest: { schemaVersion: 1, name: 'hello', targets: [HW_TARGET], components: { base: '^7.0.0' }, registries: {}, image: { sources: ['hello.c'] } },
      files: { 'hello.c': '#include <stdio.h>\n#include <stdlib.h>\nint main(int argc, char **argv) { printf("hello from %s (%d):", argv[0], argc); for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]); printf("\\n"); exit(5); }\n' },
    });
    const { lock, result } = await installAndBuild(dir);
    expect(Object.keys(lock.targets[HW_TARGET]!.components).sort()).toEqual(['@rump/base', '@rump/kern-mman', '@rump/rumprun-hw', '@rump/vfs']);
    expect(result.bytes).toBeLessThan(2_000_000);
    const r = await runImage(result.image, { target: HW_TARGET, timeoutMs: 60_000, args: ['one', 'two words'] });
    expect(r.status).toBe(5);
    expect(r.stdout).toContain('hello from hello (3): [one] [two words]\n'); // arguments of rumpkg run -- ARGS
    expect(r.stdout).toContain('=== ERROR: _exit(5) called ===');
  }, 120_000);

  it('configuration the closure cannot serve: E_BUILD naming the component to add, before anything runs; the previous image stays byte-identical', async () => {
    const dir = hwProject(reg, 'needs', {
      manifest: { schemaVersion: 1, name: 'needs', targets: [HW_TARGET], components: { tcpip: '^7.0.0', 'virtio-net': '^7.0.0', 'net-config': '^7.0.0' }, registries: {}, image: { sources: ['app.c'] } },
      files: { 'app.c': 'int main(void) { return 0; }\n' },
    });
    const { result } = await installAndBuild(dir);
    const before = readFileSync(result.image);
    const patch = (image: Record<string, unknown>): void => {
      const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as Record<string, unknown>;
      m.image = { sources: ['app.c'], ...image };
      writeFileSync(join(dir, 'rumpkg.json'), JSON.stringify(m));
    };
    const resolver = await storeComponentDirResolver(dir, { env: reg.env });
    patch({ net: [{ if: 'vioif0', type: 'inet', method: 'dhcp' }] });
    const e1 = await expectCode(buildProject(dir, { resolveComponentDir: resolver }), 'E_BUILD');
    expect(e1.message).toContain('dev-bpf (librumpdev_bpf)');
    expect(e1.hint).toBe('rumpkg add dev-bpf');
    patch({ block: [{ source: 'disk.img', path: '/dev/ld0a', fstype: 'ext2fs', mountpoint: '/data' }] });
    const e2 = await expectCode(buildProject(dir, { resolveComponentDir: resolver }), 'E_BUILD');
    expect(e2.hint).toBe('rumpkg add virtio-blk');
    patch({ block: [{ source: 'disk.img', path: '/dev/sd0a' }] });
    const e3 = await expectCode(buildProject(dir, { resolveComponentDir: resolver }), 'E_MANIFEST');
    expect(e3.message).toContain('/dev/ld0a');
    // rumpkg.json is read through its one validated reader: an out-of-range port fails its schema.
    patch({ forward: [{ proto: 'tcp', host: 70000, guest: 80 }] });
    await expectCode(buildProject(dir, { resolveComponentDir: resolver }), 'E_SCHEMA');
    expect(readFileSync(result.image).equals(before)).toBe(true);
  }, 120_000);

  it('an application object for another architecture: E_ARCH naming the file before linking; the previous image stays', async () => {
    const dir = hwProject(reg, 'wrong-arch', {
      manifest: { schemaVersion: 1, name: 'wrong-arch', targets: [HW_TARGET], components: { base: '^7.0.0' }, registries: {}, image: { sources: ['app.c'] } },
      files: { 'app.c': 'int main(void) { return 0; }\n' },
    });
    const { result } = await installAndBuild(dir);
    const before = readFileSync(result.image);
    execFileSync('clang', ['--target=riscv64-unknown-elf', '-march=rv64gc', '-c', '-o', join(dir, 'app.o'), join(dir, 'app.c')]);
    const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as Record<string, unknown>;
    m.image = { entry: ['app.o'] };
    writeFileSync(join(dir, 'rumpkg.json'), JSON.stringify(m));
    const e = await expectCode(buildProject(dir, { resolveComponentDir: await storeComponentDirResolver(dir, { env: reg.env }) }), 'E_ARCH');
    expect(e.message).toContain(join(dir, 'app.o'));
    expect(e.message).toMatch(/riscv64.*not for hw-x86_64/);
    expect(readFileSync(result.image).equals(before)).toBe(true);
  }, 120_000);

  describe.skipIf(!posix.available)(title(posix, 'a posix archive published for hw-x86_64'), () => {
    it('is refused by the build: E_TARGET naming the component and the member that registers through constructors', async () => {
      const comp = join(reg.work, 'bad-tcpip');
      cpSync(join(reg.components, 'tcpip'), comp, { recursive: true });
      cpSync(join(await posix.dir(), 'lib', 'librumpnet_netinet.a'), join(comp, 'lib', HW_TARGET, 'librumpnet_netinet.a'));
      const pj = JSON.parse(readFileSync(join(comp, 'package.json'), 'utf8')) as { version: string; rump: { targets: Record<string, { symbols?: unknown }> } };
      pj.version = '7.99.35';
      delete pj.rump.targets[HW_TARGET]!.symbols;
      writeFileSync(join(comp, 'package.json'), JSON.stringify(pj, null, 2));
      await createFileStorage(join(reg.home, 'registry')).publish((await packComponent(comp)).data);
      const dir = hwProject(reg, 'posix-in-hw', {
        manifest: { schemaVersion: 1, name: 'posix-in-hw', targets: [HW_TARGET], components: { tcpip: '7.99.35' }, registries: {}, image: { sources: ['app.c'] } },
        files: { 'app.c': 'int main(void) { return 0; }\n' },
      });
      await installProject(dir, { env: reg.env });
      const e = await expectCode(buildProject(dir, { resolveComponentDir: await storeComponentDirResolver(dir, { env: reg.env }) }), 'E_TARGET');
      expect(e.message).toContain('component @rump/tcpip');
      expect(e.message).toContain('member netinet_component.o registers through constructors (.init_array)');
      expect(e.context?.component).toBe('@rump/tcpip');
      expect(existsSync(join(dir, 'build', HW_TARGET, 'posix-in-hw'))).toBe(false);
    }, 120_000);
  });

  it('a missing QEMU: E_TOOLCHAIN naming the Debian package; a missing disk image: E_NOT_FOUND naming it; a host port in use: E_RUN naming the port — QEMU never left running', async () => {
    const e1 = await expectCode(runImage(http.result.image, { target: HW_TARGET, path: '/nonexistent' }), 'E_TOOLCHAIN');
    expect(e1.hint).toBe('install it: apt-get install qemu-system-x86');

    const busy = createServer();
    await new Promise<void>((r) => busy.listen(http.port, '127.0.0.1', r));
    try {
      const t0 = Date.now();
      const e2 = await expectCode(runImage(http.result.image, { target: HW_TARGET, timeoutMs: 30_000 }), 'E_RUN');
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(`${e2.message} ${e2.hint}`).toContain(String(http.port));
      expect(e2.hint).toMatch(/port is in use/);
    } finally {
      await new Promise((r) => busy.close(r));
    }
    expect(noProcess(http.result.image)).toBe(true);
  }, 60_000);

  it('a guest that panics, traps or hangs: E_RUN with the console\'s reason, within the timeout; QEMU gone', async () => {
    // net-config without an address family panics at init (an init-time requirement no symbol shows).
    const panics = hwProject(reg, 'panics', {
      manifest: { schemaVersion: 1, name: 'panics', targets: [HW_TARGET], components: { 'net-config': '^7.0.0' }, registries: {}, image: { sources: ['app.c'] } },
      files: { 'app.c': 'int main(void) { return 0; }\n' },
    });
    const p = (await installAndBuild(panics)).result.image;
    const e1 = await expectCode(runImage(p, { target: HW_TARGET, timeoutMs: 30_000 }), 'E_RUN');
    expect(e1.message).toBe(`the hw-x86_64 guest ${p} panicked: netconfig: missing both inet and inet6`);

    const traps = hwProject(reg, 'traps', {
      manifest: { schemaVersion: 1, name: 'traps', targets: [HW_TARGET], components: { base: '^7.0.0' }, registries: {}, image: { sources: ['app.c'] } },
      files: { 'app.c': '#include <stdio.h>\nint main(void) { volatile int *p = (int *)8; printf("trapping\\n"); return *p; }\n' },
    });
    const t = (await installAndBuild(traps)).result.image;
    const e2 = await expectCode(runImage(t, { target: HW_TARGET, timeoutMs: 30_000 }), 'E_RUN');
    expect(e2.message).toMatch(/stopped on a CPU exception: FATAL TRAP: page fault/);

    const hangs = hwProject(reg, 'hangs', {
      manifest: { schemaVersion: 1, name: 'hangs', targets: [HW_TARGET], components: { base: '^7.0.0' }, registries: {}, image: { sources: ['app.c'] } },
      files: { 'app.c': '#include <stdio.h>\nint main(void) { printf("hanging\\n"); fflush(stdout); for (;;) continue; }\n' },
    });
    const h = (await installAndBuild(hangs)).result.image;
    const t0 = Date.now();
    const e3 = await expectCode(runImage(h, { target: HW_TARGET, timeoutMs: 4_000 }), 'E_RUN');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(4_000);
    expect(took).toBeLessThan(8_000);
    expect(e3.message).toMatch(/did not halt within 4 s; QEMU was killed/);
    expect(e3.hint).toMatch(/still running/);
    for (const img of [p, t, h]) expect(noProcess(img)).toBe(true);
  }, 180_000);

  it('examples/unikernel-fs: an ext2 disk made with mke2fs -d is mounted on /data from the first virtio disk; the guest reads it and writes a file the host then finds', async () => {
    const dir = hwProject(reg, 'unikernel-fs', { example: 'unikernel-fs' });
    const { lock, result } = await installAndBuild(dir);
    expect(Object.keys(lock.targets[HW_TARGET]!.components)).toEqual(expect.arrayContaining(['@rump/fs-ext2fs', '@rump/fs-ffs', '@rump/virtio-blk', '@rump/dev-disk', '@rump/virtio-pci']));
    // No disk yet: E_NOT_FOUND naming it, before QEMU starts.
    const e = await expectCode(runImage(result.image, { target: HW_TARGET, cwd: dir }), 'E_NOT_FOUND');
    expect(e.message).toContain(join(dir, 'data.ext2'));
    execFileSync('mke2fs', ['-q', '-t', 'ext2', '-I', '128', '-b', '1024', '-O', '^dir_index,^ext_attr,^resize_inode', '-d', join(dir, 'fsroot'), join(dir, 'data.ext2'), '4M'], { stdio: 'ignore' });
    const r = await runImage(result.image, { target: HW_TARGET, cwd: dir, timeoutMs: 60_000 });
    expect(r.status, r.stdout).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^ld0 at virtio\d/));
    expect(lines).toContain('fsls: /data/hello.txt');
    expect(lines).toContain('fsls: hello.txt: hello from an ext2 file system on a virtio disk');
    expect(lines).toContain('fsls: /data is ext2fs from /dev/ld0a');
    expect(lines).toContain('unmounted /dev/ld0a on /data type ext2fs');
    expect(execFileSync('debugfs', ['-R', 'cat /written-by-guest.txt', join(dir, 'data.ext2')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toBe("written by NetBSD's ext2fs in a rumprun unikernel\n");
    execFileSync('e2fsck', ['-fn', join(dir, 'data.ext2')], { stdio: 'ignore' }); // exit 0: clean
  }, 120_000);

  it('rumpkg tree and why name the platform package that serves hw-x86_64 and its convention', () => {
    const cli = (...args: string[]): string => execFileSync(process.execPath, [BIN, ...args], { cwd: http.dir, env: { ...reg.env, NO_COLOR: '1' }, encoding: 'utf8' });
    expect(cli('tree').split('\n')[0]).toBe("unikernel-http (hw-x86_64) · platform @rump/rumprun-hw@7.99.34 (rumprun convention: real NetBSD drivers on rumprun's bare-metal platform)");
    const why = cli('why', 'pci');
    expect(why).toContain('<project> → @rump/virtio-net → @rump/virtio-pci → @rump/pci');
    expect(why).toContain("hw-x86_64 is served by platform @rump/rumprun-hw@7.99.34 (rumprun convention");
    const json = JSON.parse(cli('--json', 'why', 'rumprun-hw')) as { platforms: Record<string, { name: string; convention: string }> };
    expect(json.platforms[HW_TARGET]).toMatchObject({ name: '@rump/rumprun-hw', version: '7.99.34', convention: 'rumprun' });
  });

  it('rumpkg audit: every component confirmed by its link-set entries and symbols, the platform recognised; without the manifest every one is still found; a CycloneDX SBOM lists them', () => {
    const audit = (image: string, ...extra: string[]): { code: number; report: { manifest: string; components: Array<{ name: string; kind: string; evidence: string; reasons: string[]; linkSet: { found: string[] } }>; unattributedLinkSet: unknown[] } } => {
      const r = spawnSync(process.execPath, [BIN, '--json', 'audit', image, ...extra], { cwd: http.dir, env: reg.env, encoding: 'utf8' });
      return { code: r.status ?? -1, report: JSON.parse(r.stdout) };
    };
    const names = Object.keys(http.lock.targets[HW_TARGET]!.components).sort();
    const a = audit(http.result.image);
    expect(a.report.manifest).toBe('embedded');
    expect(a.report.components.map((c) => c.name).sort()).toEqual(names);
    for (const c of a.report.components) expect(`${c.name}: ${c.evidence} ${c.reasons.join('; ')}`).toBe(`${c.name}: confirmed `);
    expect(a.code).toBe(0);
    expect(a.report.components.find((c) => c.name === '@rump/rumprun-hw')!.kind).toBe('platform');
    // tcpip defines no global symbol: only its link-set entries show it.
    expect(a.report.components.find((c) => c.name === '@rump/tcpip')!.linkSet.found).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
    expect(a.report.unattributedLinkSet).toEqual([]);

    const stripped = join(reg.work, 'stripped.elf');
    execFileSync('llvm-objcopy', ['--remove-section', '.rumpkg.manifest', http.result.image, stripped]);
    const b = audit(stripped, '--components-dir', reg.components, '--target', HW_TARGET);
    expect(b.report.manifest).toBe('missing');
    const found = b.report.components.map((c) => c.name);
    expect(found).toEqual(expect.arrayContaining(names));
    for (const c of b.report.components) expect(['confirmed', 'present-but-unclaimed'], `${c.name}: ${c.evidence} ${c.reasons.join('; ')}`).toContain(c.evidence);
    // By fingerprint alone, a component whose every name a present one also defines looks present
    // too (the audit's shared-names rule): sysproxy's one global is also librump's, fifofs' vnode
    // operations are also librumpvfs'. Nothing else is.
    expect(found.filter((n) => !names.includes(n)).every((n) => ['@rump/kern-sysproxy', '@rump/vfs-fifofs'].includes(n))).toBe(true);
    expect(b.report.components.find((c) => c.name === '@rump/rumprun-hw')!.kind).toBe('platform');
    expect(b.report.unattributedLinkSet).toEqual([]);

    const sbom = JSON.parse(execFileSync(process.execPath, [BIN, 'audit', http.result.image, '--sbom', 'cyclonedx'], { cwd: http.dir, env: reg.env, encoding: 'utf8' })) as { components: Array<{ group?: string; name: string; version: string }> };
    expect(sbom.components.map((c) => `${c.group === undefined ? '' : `${c.group}/`}${c.name}@${c.version}`).sort()).toEqual(names.map((n) => `${n}@7.99.34`).sort());
  }, 60_000);

  it('rumpkg size attributes the image to every component, the platform (its object, base, /etc and userland), the glue and the application', async () => {
    const size = await readSizeReport(http.result.image);
    const owners = size.rows.map((r) => r.owner);
    for (const c of Object.keys(http.lock.targets[HW_TARGET]!.components)) expect(owners).toContain(c);
    expect(owners).toEqual(expect.arrayContaining(['glue', 'app']));
    const platform = size.rows.find((r) => r.owner === '@rump/rumprun-hw')!;
    expect(platform.kind).toBe('platform');
    expect(platform.total).toBeGreaterThan(300_000); // rumprun.o, libc, /etc
    const byOwner = Object.fromEntries(size.rows.map((r) => [r.owner, r.total]));
    expect(byOwner['@rump/base']).toBeGreaterThan(byOwner['@rump/virtio-net']!);
    expect(byOwner['@rump/tcpip']).toBeGreaterThan(0);
    expect(size.rows.reduce((n, r) => n + r.total, 0) + size.unattributed).toBe(size.allocBytes);
    expect(size.unattributed / size.allocBytes).toBeLessThan(0.02);
  });

  it('leaves no build directories behind', () => {
    expect(readdirSync(join(http.dir, 'build', HW_TARGET)).filter((f) => f.includes('rumpkg-tmp'))).toEqual([]);
    rmSync(join(reg.work, 'elsewhere'), { recursive: true, force: true });
  });
});
