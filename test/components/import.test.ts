/**
 * `importArchives` on a directory of archives built in the test: the miniature corpus compiled
 * for posix-x86_64 (real symbol conventions) plus foreign archives compiled here.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  importArchives,
  isRumpkgError,
  loadCatalog,
  loadComponentDir,
  packComponent,
  type Catalog,
  type ImportResult,
} from '../../components/index.js';
import { corpusDir } from '../helpers/corpus.js';

const VERSION = '10.1.0';
const TARGET = 'posix-x86_64';
let work: string;
let archives: string;

/** Compiles C sources into an archive `name` in `dir` (one object per source). */
function archive(dir: string, name: string, sources: Record<string, string>, cflags: string[] = []): void {
  const objs: string[] = [];
  for (const [file, text] of Object.entries(sources)) {
    const c = join(dir, `${name}-${file}.c`);
    const o = join(dir, `${name}-${file}.o`);
    execFileSync('sh', ['-c', 'cat > "$1"', 'sh', c], { input: text });
    execFileSync('cc', ['-c', '-O1', '-fPIC', ...cflags, '-o', o, c]);
    objs.push(o);
  }
  execFileSync('ar', ['rcsD', join(dir, name), ...objs]);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'rumpkg-import-'));
  archives = join(work, 'lib');
  await mkdir(archives);
  const root = join(await corpusDir({ versions: [VERSION], targets: [TARGET] }), VERSION);
  for (const name of await readdir(root)) {
    const d = join(root, name, 'lib', TARGET);
    let files: string[] = [];
    try {
      files = await readdir(d);
    } catch {
      continue;
    }
    for (const f of files) await copyFile(join(d, f), join(archives, f));
  }
  // Foreign archives: an unknown component, a non-rump library, a PIC twin, a host-side library.
  const objs = join(work, 'objs');
  await mkdir(objs);
  archive(objs, 'librumpfoo.a', {
    foo: 'void rumpns_librumpnet_attach(void);\nvoid rumpuser_putchar(int);\nint getpid(void);\nvoid rumpns_foo_attach(void) { rumpns_librumpnet_attach(); rumpuser_putchar(getpid()); }\n',
  });
  archive(objs, 'libbar.a', { bar: 'int bar(void) { return 1; }\n' });
  archive(objs, 'librumpclient.a', { c: 'int rumpclient_init(void) { return 0; }\n' });
  for (const f of ['librumpfoo.a', 'libbar.a', 'librumpclient.a']) await copyFile(join(objs, f), join(archives, f));
  await copyFile(join(archives, 'librumpnet.a'), join(archives, 'librumpnet_pic.a'));
  await writeFile(join(archives, 'librumpnet.so.0.0'), 'not an archive');
}, 600_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('importArchives on the corpus + foreign archives', () => {
  let result: ImportResult;
  let out: string;

  beforeAll(async () => {
    out = join(work, 'out');
    result = await importArchives(archives, { target: TARGET, version: VERSION, out });
  });

  it('writes a valid, packable component directory for every librump*.a', async () => {
    const libs = (await readdir(archives)).filter((f) => /^librump.*\.a$/.test(f) && !f.endsWith('_pic.a') && f !== 'librumpclient.a');
    expect(result.components.map((c) => c.lib).sort()).toEqual(libs.map((f) => f.slice(0, -2)).sort());
    expect(libs.length).toBeGreaterThan(60);
    for (const c of result.components) {
      const loaded = await loadComponentDir(c.dir);
      expect(loaded.errors, c.dir).toEqual([]);
      expect(loaded.value?.rump.targets[TARGET]?.archive).toBe(`lib/${TARGET}/${c.lib}.a`);
      expect(await readFile(join(c.dir, 'package.json'), 'utf8'), c.dir).toBe(`${JSON.stringify(c.manifest, null, 2)}\n`);
      expect(await readFile(join(c.dir, 'lib', TARGET, `${c.lib}.a`)), c.dir).toEqual(await readFile(c.source));
    }
    for (const c of result.components.filter((x) => ['@rump/tcpip', '@rump/foo', '@rump/base', '@rump/rumpuser'].includes(x.name))) {
      const packed = await packComponent(c.dir);
      expect(packed.manifest.name).toBe(c.name);
      expect(packed.files.map((f) => f.path)).toContain(`lib/${TARGET}/${c.lib}.a`);
    }
  });

  it('takes names, capabilities and upstream from the catalog and ranges from the version', () => {
    const tcpip = result.components.find((c) => c.name === '@rump/tcpip')?.manifest;
    expect(tcpip?.dependencies).toEqual({ '@rump/net': '^10.0.0', '@rump/net-net': '^10.0.0' });
    expect(tcpip?.rump.conflicts).toEqual(['@rump/sockin']);
    // No --upstream-ref / --upstream-commit: the ref is unknown, never invented.
    expect(tcpip?.rump.upstream).toEqual({ project: 'NetBSD', repository: 'NetBSD/src', path: 'sys/rump/net/lib/libnetinet' });
    expect(result.warnings).toContain('no --upstream-ref or --upstream-commit: the manifests record no upstream ref (unknown); rumpkg verify --upstream needs one');
    const user = result.components.find((c) => c.name === '@rump/rumpuser')?.manifest;
    expect(user?.rump.kind).toBe('platform');
    expect(user?.rump.provides).toEqual(['hypercall:17']);
    const base = result.components.find((c) => c.name === '@rump/base')?.manifest;
    expect(base?.rump.requires).toEqual(['hypercall:17']);
    expect(base?.rump.targets[TARGET]?.symbols?.defined).toBeGreaterThan(0);
  });

  it('finds no missing edge: the corpus follows the catalog', () => {
    expect(result.findings.filter((f) => f.status !== 'unneeded')).toEqual([]);
    // Every unneeded edge is one the catalog itself calls sufficient-not-needed, or to a shim.
    expect(result.findings.filter((f) => f.status === 'unneeded' && f.expected !== true)).toEqual([]);
  });

  it('imports the activation shims (no global definitions, only constructors, as on Linux-hosted builds)', () => {
    const tcpip = result.components.find((c) => c.name === '@rump/tcpip');
    const ev = tcpip?.manifest.rump.targets[TARGET]?.symbols;
    expect(ev?.defined).toBe(0);
    expect(ev?.constructors).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
    expect(ev?.linkSet).toBeUndefined();
    expect(tcpip?.manifest.rump.initLevels).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
    expect(result.analysis.archives.librumpnet_netinet?.noGlobals).toBe(true);
  });

  it('records -fcommon only where the bytes show common symbols, and the host libraries of rumpuser', () => {
    const user = result.components.find((c) => c.name === '@rump/rumpuser')?.manifest.rump.targets[TARGET];
    expect(user?.abiFlags).toBeUndefined();
  });

  it('imports an unknown archive with a warning and edges from its symbols; skips the rest with reasons', () => {
    const foo = result.components.find((c) => c.lib === 'librumpfoo');
    expect(foo?.known).toBe(false);
    expect(foo?.name).toBe('@rump/foo');
    expect(foo?.manifest.dependencies).toEqual({ '@rump/net': '^10.0.0' });
    expect(foo?.manifest.license).toBe('LicenseRef-unknown');
    expect(foo?.manifest.rump.upstream).toBeUndefined();
    expect(result.warnings.some((w) => w.includes('librumpfoo is not in the catalog'))).toBe(true);
    const skipped = Object.fromEntries(result.skipped.map((s) => [s.file.split('/').pop(), s.reason]));
    expect(Object.keys(skipped).sort()).toEqual(['libbar.a', 'librumpclient.a', 'librumpnet.so.0.0', 'librumpnet_pic.a']);
    expect(skipped['librumpnet_pic.a']).toMatch(/PIC twin/);
    expect(skipped['librumpclient.a']).toMatch(/host-side/);
  });

  it('a second import of the same target merges into the existing directories', async () => {
    const again = await importArchives(archives, { target: TARGET, version: VERSION, out });
    expect(again.components.every((c) => c.merged)).toBe(true);
    expect((await loadComponentDir(join(out, 'tcpip'))).errors).toEqual([]);
    // every package.json holds exactly the manifest returned: replaced whole, never written over
    for (const c of again.components) expect(await readFile(join(c.dir, 'package.json'), 'utf8'), c.dir).toBe(`${JSON.stringify(c.manifest, null, 2)}\n`);
  });

  it('refuses to merge another version and leaves the output as it was', async () => {
    const before = await readFile(join(out, 'tcpip', 'package.json'), 'utf8');
    const e = await importArchives(archives, { target: TARGET, version: '11.0.0', out }).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_EXISTS')).toBe(true);
    expect(await readFile(join(out, 'tcpip', 'package.json'), 'utf8')).toBe(before);
    expect((await readdir(out)).filter((f) => f.startsWith('.rumpkg-import'))).toEqual([]);
  });
});

describe('a failure after the staging began (the directories are staged while the archives are read)', () => {
  /** The corpus archives and, read last, one that is not an archive. */
  let lateBad: string;
  beforeAll(async () => {
    lateBad = join(work, 'late-bad');
    await mkdir(lateBad);
    for (const f of await readdir(archives)) if (/^librump[a-z0-9_]*\.a$/.test(f)) await copyFile(join(archives, f), join(lateBad, f));
    await writeFile(join(lateBad, 'librumpzz_bad.a'), 'this is not an archive\n');
  });

  it('leaves an existing output directory exactly as it was', async () => {
    const out = join(work, 'late-bad-out');
    await mkdir(join(out, 'other'), { recursive: true });
    await writeFile(join(out, 'notes.txt'), 'mine\n');
    await writeFile(join(out, 'other', 'x'), 'x\n');
    const e = await importArchives(lateBad, { target: TARGET, version: VERSION, out }).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_ELF'), String(e)).toBe(true);
    expect((e as Error).message).toContain('librumpzz_bad.a');
    expect((await readdir(out)).sort()).toEqual(['notes.txt', 'other']);
    expect(await readdir(join(out, 'other'))).toEqual(['x']);
  });

  it('a step of the staging itself failing (a FIFO among the headers) fails the import and leaves the output directory as it was', async () => {
    const build = join(work, 'fifo-build');
    await mkdir(join(build, 'lib'), { recursive: true });
    await mkdir(join(build, 'include', 'rump'), { recursive: true });
    for (const f of await readdir(archives)) if (/^librump[a-z0-9_]*\.a$/.test(f)) await copyFile(join(archives, f), join(build, 'lib', f));
    await writeFile(join(build, 'include', 'rump', 'rump.h'), '/* rump.h */\n');
    execFileSync('mkfifo', [join(build, 'include', 'rump', 'pipe')]);
    const out = join(work, 'fifo-out');
    await mkdir(out);
    await writeFile(join(out, 'notes.txt'), 'mine\n');
    const e = await importArchives(join(build, 'lib'), { target: TARGET, version: VERSION, out }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(/FIFO|pipe/i);
    expect(await readdir(out)).toEqual(['notes.txt']);
  });

  it('removes the output directory and the parents it created', async () => {
    const fresh = join(work, 'late-bad-fresh');
    const e = await importArchives(lateBad, { target: TARGET, version: VERSION, out: join(fresh, 'a', 'b') }).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_ELF'), String(e)).toBe(true);
    await expect(readdir(fresh)).rejects.toThrow(/ENOENT/);
  });

  it('removes the staging directory a killed import left in the output directory (CA-01), never a live import\'s', async () => {
    const out = join(work, 'leftovers-out');
    const dead = '.rumpkg-import-2147483646-0123456789ab'; // above any pid_max: that process is gone
    const live = `.rumpkg-import-${process.ppid}-0123456789ab`;
    await mkdir(join(out, dead, 'librumpvfs', 'lib'), { recursive: true });
    await writeFile(join(out, dead, 'librumpvfs', 'package.json'), '');
    await mkdir(join(out, live));
    await importArchives(archives, { target: TARGET, version: VERSION, out });
    const names = await readdir(out);
    expect(names).not.toContain(dead);
    expect(names).toContain(live);
    expect(names.filter((n) => n.startsWith('.rumpkg-import-'))).toEqual([live]);
  });

  it('two archives that would make one component directory: E_NAME naming both, before anything is written', async () => {
    const dir = join(work, 'same-name');
    await mkdir(dir);
    const one = (await readdir(archives)).find((f) => /^librump[a-z0-9_]*\.a$/.test(f))!;
    await copyFile(join(archives, one), join(dir, 'librumpzzfoo.a'));
    await copyFile(join(archives, one), join(dir, 'librumpzzfoo_.a'));
    const out = join(work, 'same-name-out');
    const e = await importArchives(dir, { target: TARGET, version: VERSION, out }).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_NAME'), String(e)).toBe(true);
    expect((e as Error).message).toContain('librumpzzfoo.a');
    expect((e as Error).message).toContain('librumpzzfoo_.a');
    expect((e as Error).message).toContain('@rump/zzfoo');
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });

  it('checks the options before reading or writing anything', async () => {
    const out = join(work, 'late-bad-usage');
    const e = await importArchives(lateBad, { target: TARGET, version: VERSION, out, upstreamCommit: 'not-a-commit' }).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_USAGE'), String(e)).toBe(true);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });
});

describe('symbol analysis against an edited catalog', () => {
  it('detects an edge deliberately removed from a catalog copy as missing, and writes it back', async () => {
    const catalog = structuredClone(loadCatalog()) as Catalog;
    const netnet = catalog.components.find((c) => c.name === 'net-net');
    if (netnet === undefined) throw new Error('no net-net');
    netnet.dependencies = netnet.dependencies.filter((d) => d !== 'net');
    netnet.edges = netnet.edges.filter((e) => e.to !== 'librumpnet');
    const r = await importArchives(archives, { target: TARGET, version: VERSION, catalog, dryRun: true, out: join(work, 'never') });
    const missing = r.findings.filter((f) => f.status === 'missing');
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ from: 'librumpnet_net', to: 'librumpnet', status: 'missing' });
    expect(missing[0]?.examples).toContain('rumpns_librumpnet_attach');
    expect(r.components.find((c) => c.lib === 'librumpnet_net')?.manifest.dependencies).toEqual({ '@rump/net': '^10.0.0' });
    await expect(readdir(join(work, 'never'))).rejects.toThrow();
  });

  it('reports a catalog edge no symbol proves as unneeded (not expected when its kind is not link-set)', async () => {
    const catalog = structuredClone(loadCatalog()) as Catalog;
    const agr = catalog.components.find((c) => c.name === 'net-agr');
    if (agr === undefined) throw new Error('no net-agr');
    agr.dependencies = [...agr.dependencies, 'vfs'];
    agr.edges = [...agr.edges, { to: 'librumpvfs', kinds: ['source'], as: 'dependency' }];
    const r = await importArchives(archives, { target: TARGET, version: VERSION, catalog, dryRun: true });
    expect(r.findings.filter((f) => f.status === 'unneeded' && f.expected !== true)).toEqual([
      expect.objectContaining({ from: 'librumpnet_agr', to: 'librumpvfs', kinds: ['source'], expected: false }),
    ]);
  });
});

describe('real-archive facts (REAL-ARCHIVES.md) on archives compiled here', () => {
  let r: ImportResult;
  beforeAll(async () => {
    const dir = join(work, 'real');
    const objs = join(work, 'real-objs');
    await mkdir(dir);
    await mkdir(objs);
    // As NetBSD's RUMP_COMPONENT(RUMP_COMPONENT_NET) expands on a Linux host: a constructor
    // registers the struct (rc_type 2) with rump_component_load.
    const shim =
      'struct rc { int t; void (*f)(void); void *n, *p; };\nvoid rump_component_load(const struct rc *);\n' +
      'static void rumpcompinitRUMP_COMPONENT_NET(void) {}\nstatic struct rc rumpcompRUMP_COMPONENT_NET = { 2, rumpcompinitRUMP_COMPONENT_NET, 0, 0 };\n' +
      'static void __attribute__((constructor)) rumpcomp_ctorRUMP_COMPONENT_NET(void) { rump_component_load(&rumpcompRUMP_COMPONENT_NET); }\n';
    const libs: Record<string, string> = {
      // base and kern-tty both hold the common (tentative) definition rumpns_tty_gen (-fcommon)
      'librump.a': 'int rumpns_tty_gen;\nvoid *rumpns_kmem_alloc(unsigned long n) { return (void *)n; }\nint rumpuser_init(int, void *);\nint rump_init(void) { return rumpuser_init(17, 0); }\n',
      'librumpkern_tty.a': 'int rumpns_tty_gen;\nvoid *rumpns_kmem_alloc(unsigned long);\nvoid rumpns_tty_attach(void) { rumpns_kmem_alloc(1); }\n',
      'librumpvfs.a': 'void *rumpns_kmem_alloc(unsigned long);\nvoid rumpns_vfs_init(void) { rumpns_kmem_alloc(2); }\n',
      'librumpdev_ucom.a': 'extern int rumpns_tty_gen;\nvoid rumpns_tty_attach(void);\nint rumpns_ucom_attach(void) { rumpns_tty_attach(); return rumpns_tty_gen; }\n',
      // librumpnet carries a weak stub that librumpnet_agr overrides
      'librumpnet.a':
        'void *rumpns_kmem_alloc(unsigned long);\n__attribute__((weak)) int rumpns_agr_input(int x) { return x; }\nvoid rumpns_net_init(void) { rumpns_kmem_alloc(3); }\n',
      'librumpnet_net.a': 'int rumpns_agr_input(int);\nvoid rumpns_net_init(void);\nint rumpns_ifunit(int x) { rumpns_net_init(); return rumpns_agr_input(x); }\n',
      'librumpnet_sockin.a': 'void rumpns_net_init(void);\nint rumpns_ifunit(int x) { rumpns_net_init(); return x; }\n',
      'librumpnet_agr.a': 'int rumpns_ifunit(int);\nint rumpns_agr_input(int x) { return rumpns_ifunit(x); }\n',
      // nfs needs ifunit: net-net or sockin (any-of), which the catalog does not say
      'librumpfs_nfs.a': 'int rumpns_ifunit(int);\nvoid rumpns_vfs_init(void);\nint rumpns_nfs_attach(int x) { rumpns_vfs_init(); return rumpns_ifunit(x); }\n',
      // an activation shim: no global definition, one component registered by a constructor
      'librumpnet_netinet.a': shim,
      'librumpuser.a':
        '#include <pthread.h>\n#include <dlfcn.h>\nstatic void *run(void *a) { return a; }\nint rumpuser_init(int v, void *h) { pthread_t t; (void)h; return pthread_create(&t, 0, run, 0) + (dlsym(0, "x") != 0) + v; }\n',
    };
    for (const [file, src] of Object.entries(libs)) {
      archive(objs, file, { m: src }, ['-fcommon']);
      await copyFile(join(objs, file), join(dir, file));
    }
    await copyFile(join(objs, 'librumpnet.a'), join(dir, 'librumpnet_pic.a'));
    r = await importArchives(dir, { target: TARGET, version: '7.99.34', out: join(work, 'real-out') });
  }, 120_000);

  const manifest = (lib: string) => r.components.find((c) => c.lib === lib)?.manifest;

  it('a weak stub gives a hard edge to the stub and an optional edge to the override', () => {
    expect(r.analysis.archives.librumpnet_net?.hard).toHaveProperty('librumpnet');
    expect(r.analysis.archives.librumpnet_net?.optional).toHaveProperty('librumpnet_agr');
    expect(manifest('librumpnet_net')?.rump.optionalDependencies).toHaveProperty('@rump/net-agr');
    expect(manifest('librumpnet_net')?.dependencies).not.toHaveProperty('@rump/net-agr');
  });

  it('an any-of requirement (net-net | sockin) is reported, never written as two hard edges', () => {
    expect(r.analysis.archives.librumpfs_nfs?.anyOf).toEqual([
      expect.objectContaining({ providers: ['librumpnet_net', 'librumpnet_sockin'], kind: 'strong' }),
    ]);
    expect(r.findings).toContainEqual(expect.objectContaining({ from: 'librumpfs_nfs', status: 'missing-any-of', providers: ['librumpnet_net', 'librumpnet_sockin'] }));
    const deps = Object.keys(manifest('librumpfs_nfs')?.dependencies ?? {});
    expect(deps).not.toContain('@rump/net-net');
    expect(deps).not.toContain('@rump/sockin');
    // net-agr also needs ifunit, but its catalog edge to net-net satisfies the any-of.
    expect(r.findings.some((f) => f.from === 'librumpnet_agr' && f.status === 'missing-any-of')).toBe(false);
  });

  it('shared common symbols are an any-of too, and prove -fcommon', () => {
    expect(r.analysis.archives.librumpdev_ucom?.anyOf).toEqual([expect.objectContaining({ providers: ['librump', 'librumpkern_tty'], kind: 'common' })]);
    expect(manifest('librump')?.rump.targets[TARGET]?.abiFlags).toEqual(['-fcommon']);
    expect(manifest('librumpnet')?.rump.targets[TARGET]?.abiFlags).toBeUndefined();
  });

  it('the activation shim imports with its constructor evidence; edges to it are expected-unneeded', () => {
    const ev = manifest('librumpnet_netinet')?.rump.targets[TARGET]?.symbols;
    expect(ev).toMatchObject({ defined: 0, constructors: ['RUMP_COMPONENT_NET'] });
    expect(manifest('librumpnet_netinet')?.dependencies).toEqual({ '@rump/net': '^7.0.0', '@rump/net-net': '^7.0.0' });
    expect(r.findings.filter((f) => f.status === 'unneeded' && f.from === 'librumpnet_netinet').every((f) => f.expected === true)).toBe(true);
  });

  it('rumpuser: platform package, hypercalls ignored as edges, host libraries recorded', () => {
    expect(manifest('librumpuser')?.rump.kind).toBe('platform');
    expect(manifest('librumpuser')?.rump.targets[TARGET]?.ldflags).toEqual(['-ldl', '-lpthread']);
    expect(r.analysis.archives.librump?.hard).toEqual({});
    expect(r.skipped.map((s) => s.file.split('/').pop())).toEqual(['librumpnet_pic.a']);
  });

  it('an archive for another architecture is refused before anything is written', async () => {
    const dir = join(work, 'arch');
    await mkdir(dir);
    execFileSync('clang', ['--target=riscv64-unknown-elf', '-c', '-o', join(work, 'rv.o'), '-x', 'c', '-'], { input: 'int rumpns_x;\n' });
    execFileSync('ar', ['rcsD', join(dir, 'librumpvfs.a'), join(work, 'rv.o')]);
    const e = await importArchives(dir, { target: TARGET, version: '1.0.0', out: join(work, 'arch-out') }).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_ARCH')).toBe(true);
    await expect(readdir(join(work, 'arch-out'))).rejects.toThrow();
  });
});
