/**
 * Freestanding hw targets end to end: the corpus (with the platform packages and virtio-mmio) is
 * published into a file registry, examples/hello-virtio is installed, built and booted under QEMU
 * on hw-x86_64 and hw-riscv64; the closure differs per target as designed; boot failures are
 * typed errors within the timeout and leave no QEMU running. Skipped (with a message) only when
 * clang, ld.lld, llvm-objcopy or QEMU are missing (.ci/run installs them).
 */
import { spawn, spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { statSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  catalogShipsTarget,
  packComponent,
  type CatalogEntry,
  type Lockfile,
} from '../../components/index.js';
import { CORPUS_VERSIONS, corpusEntry } from '../../scripts/corpus/index.js';
import {
  buildProject,
  findProgram,
  installProject,
  planQemu,
  readLock,
  readSizeReport,
  runImage,
  storeComponentDirResolver,
} from '../../packager/index.js';
import { RACY_MARGIN_WHOLE_SECONDS_NS } from '../../packager/early/index.js';
import { runMemoFile, type RunMemo } from '../../packager/run/early-qemu.js';
import { createFileStorage, homePaths } from '../../registry/index.js';
import { corpusDir } from '../helpers/corpus.js';
import { expectCode, noProcess } from '../helpers/process.js';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/hello-virtio');
const LATEST = CORPUS_VERSIONS[CORPUS_VERSIONS.length - 1] as string;
const HW = ['hw-x86_64', 'hw-riscv64'] as const;
const TOOLS = ['clang', 'ld.lld', 'llvm-objcopy', 'qemu-system-x86_64', 'qemu-system-riscv64'];
const missing = TOOLS.filter((t) => findProgram(t) === null);
if (missing.length > 0) console.warn(`test/packager/hw.test.ts skipped: ${missing.join(', ')} not on PATH (Debian: clang lld llvm qemu-system-x86 qemu-system-misc)`);

let work: string;
let env: NodeJS.ProcessEnv;
/** A home whose registry lacks platform-hw-riscv64. */
let envNoRiscvPlatform: NodeJS.ProcessEnv;

async function project(name: string, patch: (m: Record<string, unknown>) => void = () => undefined, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name);
  await cp(EXAMPLE, dir, { recursive: true });
  const m = JSON.parse(await readFile(join(dir, 'rumpkg.json'), 'utf8')) as Record<string, unknown>;
  patch(m);
  await writeFile(join(dir, 'rumpkg.json'), `${JSON.stringify(m, null, 2)}\n`);
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
  return dir;
}

/** examples/hello-virtio for hw-x86_64 alone, named uniquely (a process can be told by its image path). */
const x86Project = (name: string, files: Record<string, string> = {}): Promise<string> =>
  project(
    name,
    (m) => {
      m.name = `${name}-unique`;
      m.targets = ['hw-x86_64'];
    },
    files,
  );

/** Installs and builds a project; returns target → image path. */
async function installAndBuild(dir: string, e = env): Promise<{ lock: Lockfile; images: Record<string, string> }> {
  await installProject(dir, { env: e });
  const results = await buildProject(dir, { resolveComponentDir: await storeComponentDirResolver(dir, { env: e }) });
  return { lock: (await readLock(dir)) as Lockfile, images: Object.fromEntries(results.map((r) => [r.target, r.image])) };
}

/**
 * The expected closure from the catalog alone: hard dependencies, and each required capability
 * through the one component (catalog or corpus extra) that provides it for the target.
 */
function expectedClosure(names: string[], target: string): string[] {
  const all = [...new Set([...names, 'base'])];
  const providers = (cap: string): CatalogEntry[] => CANDIDATES.filter((e) => e.provides.includes(cap) && catalogShipsTarget(e, target));
  const out = new Set<string>();
  const visit = (n: string): void => {
    if (out.has(n)) return;
    out.add(n);
    const e = corpusEntry(n) as CatalogEntry;
    for (const d of e.dependencies) visit(d);
    for (const cap of e.requires) {
      // Only providers whose own requirements can be met on this target.
      const ok = providers(cap).filter((p) => p.requires.every((r) => providers(r).length > 0));
      expect(ok.map((p) => p.name), `${cap} on ${target}`).toHaveLength(1);
      visit((ok[0] as CatalogEntry).name);
    }
  };
  all.forEach(visit);
  return [...out].map((n) => `@rump/${n}`).sort();
}
let CANDIDATES: CatalogEntry[] = [];

beforeAll(async () => {
  if (missing.length > 0) return;
  const { loadCatalog } = await import('../../components/index.js');
  const { CORPUS_EXTRA_COMPONENTS } = await import('../../scripts/corpus/index.js');
  CANDIDATES = [...loadCatalog().components, ...CORPUS_EXTRA_COMPONENTS];
  const corpus = await corpusDir();
  work = await mkdtemp(join(tmpdir(), 'rumpkg-hw-'));
  env = { ...process.env, RUMPKG_HOME: join(work, 'home') };
  envNoRiscvPlatform = { ...process.env, RUMPKG_HOME: join(work, 'home-no-riscv-platform') };
  const full = createFileStorage(join(work, 'home', 'registry'));
  const partial = createFileStorage(join(work, 'home-no-riscv-platform', 'registry'));
  for (const name of (await readdir(join(corpus, LATEST))).sort()) {
    const packed = await packComponent(join(corpus, LATEST, name));
    await full.publish(packed.data);
    if (name !== 'platform-hw-riscv64') await partial.publish(packed.data);
  }
}, 900_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)('hw targets under QEMU', () => {
  let lock: Lockfile;
  let images: Record<string, string>;

  it('examples/hello-virtio boots on hw-x86_64 and hw-riscv64: platform line, init lines in lockfile order, app, status 0', async () => {
    const dir = await project('hello-virtio');
    ({ lock, images } = await installAndBuild(dir));
    for (const target of HW) {
      const r = await runImage(images[target] as string, { target, timeoutMs: 60_000 });
      expect(r.status, `${target}: ${r.stdout}\n${r.stderr}`).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`rumpkg: ${target} platform up`);
      expect(r.stdout).not.toMatch(/OpenSBI/); // the firmware banner is dropped without verbose
      const lt = lock.targets[target]!;
      const init = lines.filter((l) => l.startsWith('init '));
      expect(init).toEqual(lt.initOrder.map((s) => `init ${s.level} ${s.lib}`));
      // init lines (and the bus probe lines they trigger), then configuration, then the app
      const lastInit = lines.lastIndexOf(init.at(-1) as string);
      expect(lines.slice(lastInit + 1)).toEqual(['config ifcreate vioif0', 'config dhcp_ipv4_oneshot vioif0', 'hello-virtio: hello from the application']);
      const probes = lines.slice(1, lastInit).filter((l) => !l.startsWith('init '));
      if (target === 'hw-x86_64') expect(probes).toContainEqual(expect.stringMatching(/^pci: 00:[0-9a-f]{2}\.0 1af4:1000$/));
      else expect(probes).toEqual([expect.stringMatching(/^virtio-mmio: slot \d at 0x1000[1-8]000 device 1 \(net\)$/)]);
      expect(r.timings!.platformUpMs).not.toBeNull();
      if (target === 'hw-riscv64') expect(r.firmware).toMatch(/OpenSBI/);
    }
  }, 300_000);

  it('resolves the same project differently per target; posix fails with the reason', async () => {
    const x86 = Object.keys(lock.targets['hw-x86_64']!.components).sort();
    expect(x86).toEqual(expectedClosure(['tcpip', 'virtio-net', 'net-config'], 'hw-x86_64'));
    // the hard-dependency closure, plus the PCI path to bus:virtio and the platform
    expect(x86).toEqual(expect.arrayContaining(['@rump/virtio-pci', '@rump/pci', '@rump/dev', '@rump/platform-hw-x86_64']));
    expect(x86).not.toContain('@rump/virtio-mmio');
    expect(lock.targets['hw-x86_64']!.platform).toBe('@rump/platform-hw-x86_64');
    expect(lock.targets['hw-x86_64']!.components['@rump/pci']!.requires).toEqual({ 'bus:mainbus': '@rump/dev', 'pci-backend': '@rump/platform-hw-x86_64' });

    const rv = Object.keys(lock.targets['hw-riscv64']!.components).sort();
    expect(rv).toEqual(expectedClosure(['tcpip', 'virtio-net', 'net-config'], 'hw-riscv64'));
    expect(rv).toEqual(expect.arrayContaining(['@rump/virtio-mmio', '@rump/platform-hw-riscv64']));
    expect(rv).not.toContain('@rump/pci');
    expect(rv).not.toContain('@rump/virtio-pci');
    expect(lock.targets['hw-riscv64']!.components['@rump/virtio-net']!.requires).toEqual({ 'bus:virtio': '@rump/virtio-mmio' });

    const dir = await project('posix', (m) => {
      m.targets = ['posix-x86_64'];
    });
    const e = await expectCode(installProject(dir, { env }), 'E_RESOLVE');
    expect(e.message).toContain('@rump/virtio-net');
    expect(e.message).toContain('bus:virtio');
    expect(e.message).toContain('posix-x86_64');
  }, 120_000);

  it('the link plan is ld.lld with the platform linker script, boot object first, components whole-archive', async () => {
    const dir = join(work, 'hello-virtio');
    const [r] = await buildProject(dir, { target: 'hw-riscv64', dryRun: true, resolveComponentDir: await storeComponentDirResolver(dir, { env }) });
    const link = r!.plan.steps.find((s) => s.tool === 'ld')!;
    expect(link.command).toEqual(['ld.lld']);
    const a = link.args;
    expect(a).toContain('--build-id=none');
    expect(a[a.indexOf('-T') + 1]).toMatch(/^lib\/rump\+platform-hw-riscv64\/platform\.ld$/);
    const out = a.indexOf('image.linked');
    expect(a[out + 1]).toMatch(/^lib\/rump\+platform-hw-riscv64\/obj0-boot\.o$/);
    expect(a.indexOf('--whole-archive')).toBeGreaterThan(a.indexOf('obj/rumpkg_main.o'));
    expect(a.at(-1)).toMatch(/librumpkg_platform_hw_riscv64\.a$/);
    expect(r!.plan.steps.filter((s) => s.tool === 'objcopy').every((s) => s.command[0] === 'llvm-objcopy')).toBe(true);
    expect(r!.plan.flags.cflags).toEqual(expect.arrayContaining(['-mcmodel=medany', '-ffreestanding', '-fno-pic']));
  }, 60_000);

  it('builds reproducibly: a second project directory gives byte-identical hw images', async () => {
    const dir = await project('hello-virtio-again');
    const again = await installAndBuild(dir);
    for (const target of HW) {
      const a = await readFile(images[target] as string);
      const b = await readFile(again.images[target] as string);
      expect(b.equals(a), target).toBe(true);
    }
  }, 300_000);

  it('rumpkg size attributes hw images (ld.lld map) to components, platform, glue and app', async () => {
    for (const target of HW) {
      const size = await readSizeReport(images[target] as string);
      const owners = size.rows.map((x) => x.owner);
      for (const c of Object.keys(lock.targets[target]!.components)) expect(owners, target).toContain(c);
      expect(owners).toEqual(expect.arrayContaining(['glue', 'app']));
      const platform = size.rows.find((x) => x.owner === `@rump/platform-${target}`)!;
      expect(platform.kind).toBe('platform');
      expect(platform.text).toBeGreaterThan(0);
      expect(platform.bss).toBeGreaterThanOrEqual(65536); // the boot stack
      expect(size.rows.reduce((a, x) => a + x.total, 0) + size.unattributed).toBe(size.allocBytes);
    }
  });

  it('wrong-arch image: E_ARCH before QEMU starts', async () => {
    const e = await expectCode(runImage(images['hw-x86_64'] as string, { target: 'hw-riscv64' }), 'E_ARCH');
    expect(e.message).toContain(images['hw-x86_64']);
    expect(e.message).toContain('hw-riscv64');
    expect(noProcess(images['hw-x86_64'] as string)).toBe(true);
  });

  it('a gate (the up-to-date check rumpkg run overlaps with QEMU\'s start-up): the guest runs only once it resolved; a rejected gate is the run\'s error, with no console output and no QEMU left', async () => {
    for (const target of HW) {
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let resolved = false;
      let called = 0;
      const run = runImage(images[target] as string, { target, timeoutMs: 60_000, gate: () => (called++, gate.then(() => void (resolved = true))) });
      await new Promise((r) => setTimeout(r, 300)); // QEMU is up, paused: the guest has not run
      open();
      const r = await run;
      expect(resolved).toBe(true);
      expect(called).toBe(1);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('hello-virtio: hello from the application');

      const stale = new Error('out of date');
      let out = '';
      const e = await runImage(images[target] as string, {
        target,
        timeoutMs: 60_000,
        stdout: new Writable({ write: (d: Buffer, _e, cb) => ((out += d.toString()), cb()) }),
        gate: () => new Promise((_, reject) => setTimeout(() => reject(stale), 300)),
      }).catch((x: unknown) => x);
      expect(e).toBe(stale);
      expect(out).toBe('');
      expect(noProcess(images[target] as string)).toBe(true);
    }
  }, 120_000);

  it('missing QEMU: E_TOOLCHAIN naming the Debian package', async () => {
    const e1 = await expectCode(runImage(images['hw-x86_64'] as string, { target: 'hw-x86_64', path: '/nonexistent' }), 'E_TOOLCHAIN');
    expect(e1.hint).toContain('qemu-system-x86');
    const e2 = await expectCode(runImage(images['hw-riscv64'] as string, { target: 'hw-riscv64', path: '/nonexistent' }), 'E_TOOLCHAIN');
    expect(e2.hint).toContain('qemu-system-misc');
  });

  it('QEMU gets a restricted user network and a virtio-net device, nothing else', () => {
    const x = planQemu('/img', 'hw-x86_64').command;
    expect(x).toEqual(expect.arrayContaining(['-nodefaults', '-no-reboot', 'user,id=n0,restrict=on', 'virtio-net-pci,netdev=n0']));
    const r = planQemu('/img', 'hw-riscv64').command;
    expect(r).toEqual(expect.arrayContaining(['virt', 'user,id=n0,restrict=on', 'virtio-net-device,netdev=n0']));
  });

  it('guest hang: E_RUN within the timeout, and QEMU is gone', async () => {
    const hang = 'void rump_printf(const char *);\nint main(void) { rump_printf("hanging\\n"); for (;;) __asm__ volatile(""); }\n';
    const dir = await project('hang', (m) => {
      m.name = 'hang-image-unique';
      m.targets = ['hw-x86_64'];
    }, { 'app.c': hang });
    const { images: img } = await installAndBuild(dir);
    const image = img['hw-x86_64'] as string;
    const t0 = Date.now();
    const e = await expectCode(runImage(image, { target: 'hw-x86_64', timeoutMs: 5_000 }), 'E_RUN');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(5_000);
    expect(took).toBeLessThan(8_000);
    expect(e.message).toMatch(/did not power off within 5 s/);
    expect(e.context?.platformUp).toBe(true);
    expect(noProcess(image)).toBe(true);
  }, 180_000);

  it('rumpkg killed with SIGKILL mid-boot: QEMU dies with it (setpriv --pdeathsig)', async () => {
    const hang = 'void rump_printf(const char *);\nint main(void) { rump_printf("hanging\\n"); for (;;) __asm__ volatile(""); }\n';
    const dir = await x86Project('hang-sigkill', { 'app.c': hang });
    const { images: img } = await installAndBuild(dir);
    const image = img['hw-x86_64'] as string;
    const bin = join(import.meta.dirname, '../../dist/cli/bin.js');
    const child = spawn(process.execPath, [bin, 'run', '--target', 'hw-x86_64', '--timeout', '60'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!out.includes('hanging') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('hanging');
    expect(noProcess(image)).toBe(false);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const gone = Date.now() + 5_000;
    while (!noProcess(image) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(noProcess(image)).toBe(true);
  }, 180_000);

  it('rumpkg run over a rumpkg.json its checks refuse (the JSON itself fine): the full read\'s E_MANIFEST, nothing on stdout, no QEMU left; with the image gone too, still E_MANIFEST first', async () => {
    const dir = await x86Project('refused-manifest');
    const { images: img } = await installAndBuild(dir);
    const image = img['hw-x86_64'] as string;
    const bin = join(import.meta.dirname, '../../dist/cli/bin.js');
    const run = (): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [bin, 'run', '--target', 'hw-x86_64', '--timeout', '60'], { cwd: dir, env, encoding: 'utf8' });
    expect(run().stdout).toContain('hello-virtio: hello from the application');
    const m = JSON.parse(await readFile(join(dir, 'rumpkg.json'), 'utf8')) as { components: Record<string, string> };
    m.components['a..b'] = '^1.0.0';
    await writeFile(join(dir, 'rumpkg.json'), `${JSON.stringify(m, null, 2)}\n`);
    const refused = run();
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`error[E_MANIFEST]: ${join(dir, 'rumpkg.json')} is not a valid project manifest`);
    expect(refused.stderr).toContain('/components/a..b');
    expect(refused.stdout).toBe('');
    expect(noProcess(image)).toBe(true);
    await rm(image);
    const gone = run();
    expect(gone.stderr).toContain('error[E_MANIFEST]');
    expect(gone.stderr).not.toContain('E_NOT_FOUND');
  }, 180_000);

  it('missing platform package: resolution fails naming hypercall:17; a closure without it cannot link', async () => {
    const dir = await project('no-platform', (m) => {
      m.targets = ['hw-riscv64'];
    });
    const e = await expectCode(installProject(dir, { env: envNoRiscvPlatform }), 'E_RESOLVE');
    expect(e.message).toContain('hypercall:17');
    expect(e.message).toContain('hw-riscv64');

    // A lockfile edited to drop the platform: E_BUILD before any tool runs.
    const ok = await project('no-platform-lock', (m) => {
      m.targets = ['hw-riscv64'];
    });
    await installProject(ok, { env });
    const l = JSON.parse(await readFile(join(ok, 'rumpkg.lock'), 'utf8')) as Lockfile;
    const lt = l.targets['hw-riscv64']!;
    const p = lt.platform as string;
    delete lt.components[p];
    lt.linkOrder = lt.linkOrder.filter((n) => n !== p);
    lt.platform = null;
    // …consistently (the lockfile reader refuses edges to a component the closure lacks).
    lt.initOrder = lt.initOrder.filter((s) => s.component !== p);
    for (const c of Object.values(lt.components)) {
      delete c.dependencies[p];
      for (const [cap, provider] of Object.entries(c.requires)) if (provider === p) delete c.requires[cap];
      c.requiredBy = c.requiredBy.filter((n) => n !== p);
    }
    await writeFile(join(ok, 'rumpkg.lock'), `${JSON.stringify(l, null, 2)}\n`);
    const b = await expectCode(buildProject(ok, { resolveComponentDir: await storeComponentDirResolver(ok, { env }) }), 'E_BUILD');
    expect(b.message).toMatch(/no platform package/);
    expect(b.hint).toContain('platform-hw-riscv64');
  }, 120_000);

  it('an image whose guest fails reports the decoded status on both arches', async () => {
    const fail = 'void rump_printf(const char *);\nint main(void) { rump_printf("failing\\n"); return 3; }\n';
    const dir = await project('fail', (m) => {
      m.name = 'fail-image';
    }, { 'app.c': fail });
    const { images: img } = await installAndBuild(dir);
    for (const target of HW) {
      const r = await runImage(img[target] as string, { target, timeoutMs: 60_000 });
      expect(r.status, target).toBe(3);
      expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('failing');
    }
  }, 300_000);

  /** A built hw-x86_64 project, its image, the early boot's memo file for it, and the shipped launcher. */
  const earlyProject = async (name: string): Promise<{ dir: string; image: string; memoFile: string; launcher: string }> => {
    const dir = await x86Project(name);
    const { images: img } = await installAndBuild(dir);
    return { dir, image: img['hw-x86_64'] as string, memoFile: runMemoFile(homePaths(env.RUMPKG_HOME as string).objects, dir), launcher: join(import.meta.dirname, '../../dist/rumpkg.cjs') };
  };

  it('rumpkg run boots from the launcher once nothing its last passed check depended on has changed (settled); a change, a memo that does not fit, or an error before the boot: as always, nothing left running', async () => {
    const { dir, image, memoFile, launcher } = await earlyProject('early-boot');
    type Out = { status?: number; early?: boolean; stdout?: string; error?: { code: string } };
    const run = (timeout = '60'): { status: number | null; json: Out; stderr: string } => {
      const r = spawnSync(process.execPath, [launcher, '--json', 'run', '--timeout', timeout], { cwd: dir, env, encoding: 'utf8' });
      if (r.stdout === '') throw new Error(`no output (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
      return { status: r.status, json: JSON.parse(r.stdout) as Out, stderr: r.stderr };
    };
    // past the file system's tick, whatever it keeps (early-qemu.ts)
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, Number(RACY_MARGIN_WHOLE_SECONDS_NS / 1_000_000n) + 200));

    // Built a moment ago: the first run boots as always (whether its memo is written depends on
    // how long ago that was: early-qemu.test.ts checks the rule).
    const fresh = run();
    expect(fresh.json.status, fresh.stderr).toBe(0);
    expect(fresh.json.early).toBe(false);
    await settle();
    await rm(memoFile, { force: true });
    const first = run();
    expect(first.json.early).toBe(false);
    const memo = JSON.parse(await readFile(memoFile, 'utf8')) as RunMemo;
    expect(statSync(memoFile).mode & 0o777).toBe(0o600);
    const present = new Map(memo.facts.map((f) => [f[0], f.length === 6]));
    for (const f of ['rumpkg.json', 'rumpkg.lock', 'app.c', 'build/.rumpkg-images.json']) expect(present.get(join(dir, f)), f).toBe(true);
    for (const f of [image, `${image}.map`, `${image}.stamp`, findProgram('qemu-system-x86_64') as string, findProgram('clang') as string]) expect(present.get(f), f).toBe(true);
    expect(memo.spawn).toContain(image);
    expect(memo.argv).toEqual(['--json', 'run', '--timeout', '60']);
    // Unchanged: QEMU started by the launcher, the same console and status.
    const early = run();
    expect(early.json.early, early.stderr).toBe(true);
    expect(early.json.status).toBe(0);
    expect(early.json.stdout).toBe(first.json.stdout);
    // Another command line: no early boot.
    const other = run('61');
    expect(other.json.status, other.stderr).toBe(0);
    expect(other.json.early).toBe(false);

    // A changed source: E_STALE, nothing ran, no QEMU left.
    const source = await readFile(join(dir, 'app.c'), 'utf8');
    await writeFile(join(dir, 'app.c'), `${source}/* changed */\n`);
    const stale = run();
    expect(stale.status).toBe(1);
    expect(stale.json.error?.code).toBe('E_STALE');
    expect(stale.json.stdout).toBeUndefined();
    expect(noProcess(image)).toBe(true);
    // Its bytes back (a new identity): not early; the check passes by hashing.
    await writeFile(join(dir, 'app.c'), source);
    const back = run();
    expect(back.json.early).toBe(false);
    expect(back.json.status).toBe(0);

    // A memo whose QEMU command is not the one the run plans (tampered): started, not taken, killed.
    await settle();
    await rm(memoFile, { force: true });
    expect(run().json.early).toBe(false);
    const good = JSON.parse(await readFile(memoFile, 'utf8')) as RunMemo;
    const sleeper = findProgram('sleep') as string;
    await writeFile(memoFile, JSON.stringify({ ...good, spawn: [sleeper, '31.4159'] }));
    const tampered = run();
    expect(tampered.json.early).toBe(false);
    expect(tampered.json.stdout).toBe(first.json.stdout);
    expect(noProcess('sleep 31.4159')).toBe(true);
    // A run that fails before its boot (a bad --timeout) with a memo for that command line: E_USAGE, nothing left.
    await writeFile(memoFile, JSON.stringify({ ...good, argv: ['--json', 'run', '--timeout', '0'], spawn: [sleeper, '27.1828'] }));
    const refused = spawnSync(process.execPath, [launcher, '--json', 'run', '--timeout', '0'], { cwd: dir, env, encoding: 'utf8' });
    expect((JSON.parse(refused.stdout) as Out).error?.code).toBe('E_USAGE');
    expect(noProcess('sleep 27.1828')).toBe(true);
    // A memo that is not one (malformed): ignored.
    await writeFile(memoFile, '{"v":1,"argv":');
    expect(run().json.status).toBe(0);
    expect(noProcess(image)).toBe(true);
  }, 180_000);

  it('rumpkg run to the terminal, early: the launcher runs the guest to its end without loading the CLI (the same console and status); a guest that ends in an error is handed to the CLI, which reports it; nothing left running', async () => {
    const { dir, image, memoFile, launcher } = await earlyProject('early-finish');
    // The launcher says on stderr when it loads the CLI (its code cache).
    const reporting = { ...env, RUMPKG_CODE_CACHE_REPORT: '1' };
    const loadsCli = (stderr: string): boolean => /^rumpkg: code cache /m.test(stderr);
    const run = (): { status: number | null; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, [launcher, 'run', '--timeout', '60'], { cwd: dir, env: reporting, encoding: 'utf8' });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    await new Promise((r) => setTimeout(r, Number(RACY_MARGIN_WHOLE_SECONDS_NS / 1_000_000n) + 200));
    await rm(memoFile, { force: true });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    expect(loadsCli(first.stderr)).toBe(true);
    expect(first.stdout).toContain('rumpkg: hw-x86_64 platform up');
    const memo = JSON.parse(await readFile(memoFile, 'utf8')) as RunMemo;
    expect(memo.console).toEqual({ convention: 'glue', image, target: 'hw-x86_64', arch: 'x86_64', emulator: expect.arrayContaining(['-kernel', image]), timeoutMs: 60_000, verbose: false });
    // rumpkg's own files are facts: another rumpkg may plan another run
    expect(memo.facts.map((f) => f[0])).toContain(launcher);
    const early = run();
    expect(loadsCli(early.stderr), early.stderr).toBe(false);
    expect(early.status).toBe(0);
    expect(early.stdout).toBe(first.stdout);
    expect(early.stderr).toBe(first.stderr.replace(/^rumpkg: code cache .*\n/m, ''));
    expect(noProcess(image)).toBe(true);
    // A guest that does not end in time (the memo's deadline, 1 ms): killed; the CLI reports it.
    await writeFile(memoFile, JSON.stringify({ ...memo, console: { ...memo.console, timeoutMs: 1 } }));
    const late = run();
    expect(late.status).toBe(1);
    expect(loadsCli(late.stderr)).toBe(true);
    expect(late.stderr).toMatch(/error\[E_RUN\]: the hw-x86_64 guest .* did not power off within 0\.001 s; QEMU was killed/);
    expect(noProcess(image)).toBe(true);
  }, 180_000);
});
