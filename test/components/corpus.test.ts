/**
 * The miniature corpus: every catalog component builds, its manifest is valid and comes from the
 * catalog, its archive follows the conventions (checked with the real nm/objdump), a full closure
 * links and prints its init lines in the real run order, and a closure missing one hard
 * dependency fails at link time with an undefined rumpns_ symbol.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INIT_LEVEL_RUN_ORDER,
  loadCatalog,
  loadComponentDir,
  type CatalogEntry,
  type ComponentManifest,
} from '../../components/index.js';
import { buildCorpus, cachedCorpus, corpusEntry, corpusFingerprint, CORPUS_EXTRA_COMPONENTS, CORPUS_VERSIONS } from '../../scripts/corpus/index.js';
import { corpusBuildInfo, corpusDir } from '../helpers/corpus.js';

const POSIX = 'posix-x86_64';
const LATEST = CORPUS_VERSIONS[CORPUS_VERSIONS.length - 1] as string;

function sh(cmd: string, args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const entry = (name: string): CatalogEntry => corpusEntry(name) as CatalogEntry;

let root: string;
let work: string;
const manifests = new Map<string, ComponentManifest>(); // `${version}/${name}`

beforeAll(async () => {
  root = await corpusDir();
  work = await mkdtemp(join(tmpdir(), 'rumpkg-corpus-test-'));
  for (const v of CORPUS_VERSIONS) {
    for (const name of await readdir(join(root, v))) {
      manifests.set(`${v}/${name}`, JSON.parse(await readFile(join(root, v, name, 'package.json'), 'utf8')) as ComponentManifest);
    }
  }
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const archive = (version: string, name: string, target = POSIX): string => join(root, version, name, 'lib', target, `${entry(name).lib}.a`);

/** Hard-dependency closure of `names` in `version` (from the manifests), dependents first. */
function closure(version: string, names: string[]): string[] {
  const seen: string[] = [];
  const visit = (n: string): void => {
    if (seen.includes(n)) return;
    seen.push(n);
    const m = manifests.get(`${version}/${n}`) as ComponentManifest;
    for (const d of Object.keys(m.dependencies)) visit(d.replace('@rump/', ''));
  };
  names.forEach(visit);
  return seen;
}

async function link(names: string[], main: string, opts: { version?: string; rumpuser?: string } = {}): Promise<{ code: number; exe: string; stderr: string }> {
  const version = opts.version ?? LATEST;
  const dir = await mkdtemp(join(work, 'link-'));
  await writeFile(join(dir, 'main.c'), main);
  const exe = join(dir, 'app');
  const r = await sh('cc', [
    '-o',
    exe,
    join(dir, 'main.c'),
    '-Wl,--whole-archive',
    ...names.map((n) => archive(version, n)),
    '-Wl,--no-whole-archive',
    opts.rumpuser ?? archive(version, 'rumpuser'),
  ]);
  return { code: r.code, exe, stderr: r.stderr };
}

const MAIN_INIT = `int rump_init(void);\nint main(void) { return rump_init(); }\n`;

describe('corpus build', () => {
  it('builds every catalog component (plus rumpkg\'s own), with a manifest from the catalog', async () => {
    const cat = loadCatalog();
    const built = new Set([...manifests.keys()].map((k) => k.split('/')[1]));
    expect([...built].sort()).toEqual([...cat.components, ...CORPUS_EXTRA_COMPONENTS].map((c) => c.name).sort());
    expect(manifests.get(`${LATEST}/base`)?.rump.providers).toEqual({ 'hypercall:17': ['@rump/platform-hw-riscv64', '@rump/platform-hw-x86_64', '@rump/rumpuser'] });
    expect(manifests.get(`${LATEST}/virtio-net`)?.rump.providers).toEqual({ 'bus:virtio': ['@rump/virtio-mmio', '@rump/virtio-pci'] });
    expect(manifests.get(`${LATEST}/pci`)?.rump.providers).toEqual({ 'bus:mainbus': ['@rump/dev'], 'pci-backend': ['@rump/platform-hw-x86_64'] });
    const info = await corpusBuildInfo(root);
    expect(info.components).toBe(manifests.size);
    for (const [key, m] of manifests) {
      const [version, name] = key.split('/') as [string, string];
      const e = entry(name);
      expect(m.name).toBe(`@rump/${name}`);
      expect(m.version).toBe(version);
      expect(m.license).toBe(e.license);
      expect(m.rump.lib).toBe(e.lib);
      expect(m.rump.kind).toBe(e.kind);
      expect(m.rump.aliases).toEqual(e.aliases);
      expect(m.rump.requires).toEqual(e.requires);
      expect(m.rump.provides).toEqual(e.provides);
      expect(m.rump.conflicts).toEqual(e.conflicts.map((c) => `@rump/${c}`));
      // Known providers of every requirement, from the corpus entries that provide it.
      expect(Object.keys(m.rump.providers ?? {})).toEqual([...e.requires].sort());
      if (e.requires.length === 0) expect(m.rump.providers).toBeUndefined();
      for (const [cap, names] of Object.entries(m.rump.providers ?? {})) {
        for (const n of names) expect(entry(n.replace('@rump/', '')).provides, `${n} provides ${cap}`).toContain(cap);
      }
      expect(m.keywords).toEqual(['rump-component', `rump-lib:${e.lib}`, ...e.provides.map((c) => `rump-provides:${c}`)]);
      const major = version.split('.')[0];
      for (const range of [...Object.values(m.dependencies), ...Object.values(m.rump.optionalDependencies)]) expect(range).toBe(`^${major}.0.0`);
      expect(m.rump.upstream?.ref).toBe(e.origin === 'netbsd' ? `netbsd-${major}-${version.split('.')[1]}-RELEASE` : 'master');
      expect(Object.keys(m.rump.targets).length).toBeGreaterThan(0);
    }
  });

  it('has valid manifests (loadComponentDir: schema, semantics, archives present)', async () => {
    for (const key of manifests.keys()) {
      const r = await loadComponentDir(join(root, key));
      expect(r.errors, key).toEqual([]);
    }
  });

  it('ships each component only for the targets the catalog allows', () => {
    const targetsOf = (name: string): string[] => Object.keys((manifests.get(`${LATEST}/${name}`) as ComponentManifest).rump.targets).sort();
    expect(targetsOf('tcpip')).toEqual(['hw-riscv64', 'hw-x86_64', POSIX, 'xen-x86_64']);
    expect(targetsOf('rumpuser')).toEqual([POSIX]);
    expect(targetsOf('virtif')).toEqual([POSIX]);
    expect(targetsOf('pci')).toEqual(['hw-x86_64', 'xen-x86_64']);
    expect(targetsOf('net-xenif')).toEqual(['xen-x86_64']);
    expect(targetsOf('virtio-net')).toContain(POSIX);
    expect(targetsOf('platform-hw-x86_64')).toEqual(['hw-x86_64']);
    expect(targetsOf('platform-hw-riscv64')).toEqual(['hw-riscv64']);
    expect(targetsOf('virtio-mmio')).toEqual(['hw-riscv64', 'hw-x86_64']);
  });

  it('differs between versions as documented', () => {
    const deps = (v: string, n: string): string[] => Object.keys((manifests.get(`${v}/${n}`) as ComponentManifest).dependencies);
    expect(manifests.has('8.0.0/dev-virtio-vioscsi')).toBe(false);
    expect(manifests.has('9.0.0/dev-virtio-vioscsi')).toBe(true);
    expect(deps('9.0.0', 'net-config')).toContain('@rump/dev-bpf');
    expect(deps('10.0.0', 'net-config')).not.toContain('@rump/dev-bpf');
    expect(deps('8.0.0', 'kern-tty')).toEqual(['@rump/base']);
    expect(deps('9.0.0', 'kern-tty')).toEqual(['@rump/base', '@rump/vfs']);
    // the newest release is the catalog exactly
    for (const e of loadCatalog().components) expect(deps(LATEST, e.name).sort()).toEqual(e.dependencies.map((d) => `@rump/${d}`).sort());
  });

  it('builds reproducibly: the same archives from another directory, however the compilation is sliced (jobs)', async () => {
    for (const jobs of [1, 7]) {
      const again = join(work, `again-${jobs}`);
      await buildCorpus(again, { versions: [LATEST], targets: [POSIX], jobs });
      for (const name of ['base', 'tcpip', 'rumpuser', 'virtio-net']) {
        const a = await readFile(archive(LATEST, name));
        const b = await readFile(join(again, LATEST, name, 'lib', POSIX, `${entry(name).lib}.a`));
        expect(b.equals(a), `${name} (jobs ${jobs})`).toBe(true);
      }
    }
    // and the archives of two versions differ (the version string is embedded)
    expect((await readFile(archive('10.0.0', 'tcpip'))).equals(await readFile(archive(LATEST, 'tcpip')))).toBe(false);
  });
});

describe('archive conventions (nm, objdump)', () => {
  it('defines only rumpns_/rump*/RUMP*/__ globals, references each hard dependency, registers through constructors (posix)', async () => {
    const names = [...manifests.keys()].filter((k) => k.startsWith(`${LATEST}/`)).map((k) => k.split('/')[1] as string);
    const posix = names.filter((n) => (manifests.get(`${LATEST}/${n}`) as ComponentManifest).rump.targets[POSIX] !== undefined);
    const files = posix.map((n) => archive(LATEST, n));
    const defined = await sh('nm', ['-A', '-P', '-g', '--defined-only', ...files]);
    const undef = await sh('nm', ['-A', '-P', '-u', ...files]);
    const objdump = await sh('objdump', ['-h', ...files]);
    expect(defined.code).toBe(0);
    const per = (out: string, file: string): string[] =>
      out
        .split('\n')
        .filter((l) => l.startsWith(`${file}[`))
        .map((l) => (/\]: (\S+)/.exec(l) as RegExpExecArray)[1] as string);
    for (const n of posix) {
      const e = entry(n);
      const file = archive(LATEST, n);
      const defs = per(defined.stdout, file);
      const uses = per(undef.stdout, file);
      if (e.lib !== 'librumpuser') {
        for (const s of defs) expect(s, `${n} defines ${s}`).toMatch(/^(rumpns_|rump|RUMP|__)/);
      }
      if (e.lib === 'librumpnet_netinet' || e.lib === 'librumpnet_netinet6') expect(defs, n).toEqual([]); // activation shims
      else expect(defs.length, n).toBeGreaterThan(0);
      if (e.lib !== 'librumpuser' && !['librumpnet_netinet', 'librumpnet_netinet6'].includes(e.lib)) {
        expect(defs).toContain(`rumpns_${e.lib}_version`);
      }
      const m = manifests.get(`${LATEST}/${n}`) as ComponentManifest;
      for (const d of Object.keys(m.dependencies)) expect(uses, `${n} → ${d}`).toContain(`rumpns_${entry(d).lib}_attach`);
      for (const c of e.requires.filter((r) => r.startsWith('bus:'))) expect(uses).toContain(`rumpns_bus_${c.slice(4)}_attach`);
      // Linux-hosted builds register through .init_array constructors calling rump_component_load,
      // never through the link set (the hw builds use that).
      const sections = objdump.stdout.split(/\n(?=In archive )/).find((b) => b.startsWith(`In archive ${file}:`)) ?? '';
      expect(sections.includes('link_set_rump_components'), n).toBe(false);
      expect(sections.includes('.init_array'), n).toBe(e.initLevels.length > 0);
      if (e.initLevels.length > 0) expect(uses, n).toContain('rump_component_load');
      // the evidence in the manifest is the archive's
      const ev = m.rump.targets[POSIX]?.symbols;
      expect(ev?.defined, n).toBe(new Set(defs).size);
      expect(ev?.linkSet, n).toBeUndefined();
      expect([...(ev?.constructors ?? [])].sort(), n).toEqual([...e.initLevels].sort());
    }
    expect(per(defined.stdout, archive(LATEST, 'base'))).toEqual(expect.arrayContaining(['rump_init', 'rump_printf']));
    expect(per(undef.stdout, archive(LATEST, 'base'))).toEqual(expect.arrayContaining(['rumpuser_init', 'rumpuser_putchar']));
    expect(per(defined.stdout, archive(LATEST, 'rumpuser'))).toEqual(expect.arrayContaining(['rumpuser_init', 'rumpuser_putchar', 'rumpuser_exit']));
    expect(per(undef.stdout, archive(LATEST, 'virtif'))).toContain('getpid');
  });

  it('keeps the C header enum in NetBSD numbering (what symbol readers decode rc_type with)', async () => {
    const { RUMP_COMPONENT_TYPES } = await import('../../components/index.js');
    const h = await readFile(join(root, LATEST, 'base', 'src', 'rump_component.h'), 'utf8');
    const body = (/enum rump_component_type \{([^}]*)\}/.exec(h) as RegExpExecArray)[1] as string;
    const names = body.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'RUMP_COMPONENT_MAX');
    expect(names).toEqual([...RUMP_COMPONENT_TYPES]);
  });
});

describe('linking', () => {
  it('links the tcpip closure with rumpuser and prints the init lines in the real run order', async () => {
    const names = closure(LATEST, ['tcpip', 'net-config']);
    expect(names.sort()).toEqual(['base', 'net', 'net-config', 'net-net', 'tcpip']);
    const main = `int rump_init(void);
int rump_pub_netconfig_ifcreate(const char *);
int rump_pub_netconfig_ipv4_ifaddr(const char *, const char *, const char *);
int rump_pub_netconfig_dhcp_ipv4_oneshot(const char *);
int rump_pub_etfs_register(const char *, const char *, int);
int main(void) {
  if (rump_init() != 0) return 1;
  rump_pub_netconfig_ifcreate("vioif0");
  rump_pub_netconfig_ipv4_ifaddr("vioif0", "10.0.0.2", "255.255.255.0");
  return rump_pub_netconfig_dhcp_ipv4_oneshot("vioif0");
}
`;
    const l = await link(names, main);
    expect(l.stderr).toBe('');
    const run = await sh(l.exe, []);
    expect(run.code).toBe(0);
    // expected: every (level, lib) ordered by the run order of the level, ties in link order
    const steps = names.flatMap((n, i) => entry(n).initLevels.map((level) => ({ level, lib: entry(n).lib, i })));
    steps.sort((a, b) => INIT_LEVEL_RUN_ORDER.indexOf(a.level as never) - INIT_LEVEL_RUN_ORDER.indexOf(b.level as never) || a.i - b.i);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      ...steps.map((s) => `init ${s.level} ${s.lib}`),
      'config ifcreate vioif0',
      'config ipv4_ifaddr vioif0 10.0.0.2 255.255.255.0',
      'config dhcp_ipv4_oneshot vioif0',
    ]);
    expect(lines).toContain('init RUMP_COMPONENT_NET librumpnet_netinet');
  });

  it('prints an ABI mismatch when the hypercall layer is not version 17', async () => {
    const dir = await mkdtemp(join(work, 'abi-'));
    const obj = join(dir, 'rumpuser16.o');
    const src = join(root, LATEST, 'rumpuser', 'src', 'librumpuser.c');
    expect((await sh('cc', ['-c', '-DRUMPUSER_VERSION=16', '-o', obj, src])).code).toBe(0);
    const l = await link(['base'], MAIN_INIT, { rumpuser: obj });
    const run = await sh(l.exe, []);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('rump_init: hypercall ABI mismatch\n');
  });

  it.each([
    ['tcpip', 'net-net'],
    ['fs-ffs', 'dev-disk'],
    ['dev-cgd', 'kern-crypto'],
    ['net-config', 'net'],
  ])('fails to link %s without its hard dependency %s (undefined rumpns_ symbol)', async (name, missing) => {
    const all = closure(LATEST, [name]);
    expect(all).toContain(missing);
    const l = await link(all.filter((n) => n !== missing), MAIN_INIT);
    expect(l.code).not.toBe(0);
    expect(l.stderr).toContain(`undefined reference to \`rumpns_${entry(missing).lib}_attach'`);
    // and with it, the same closure links and boots
    const ok = await link(all, MAIN_INIT);
    expect(ok.stderr).toBe('');
    expect((await sh(ok.exe, [])).code).toBe(0);
  });

  it('links freestanding archives with ld.lld for hw-x86_64 and hw-riscv64', async () => {
    const dir = await mkdtemp(join(work, 'hw-'));
    const stub = join(dir, 'stub.c');
    await writeFile(
      stub,
      `int rumpuser_init(int v, const void *h) { (void)h; return v == 17 ? 0 : 1; }
void rumpuser_putchar(int c) { (void)c; }
void rumpuser_exit(int s) { (void)s; for (;;) ; }
int rumpcomp_pci_confread(unsigned b, unsigned d, unsigned f, int r, unsigned *v) { (void)b; (void)d; (void)f; (void)r; *v = 0; return 0; }
int rump_init(void);
void _start(void) { rumpuser_exit(rump_init()); }
`,
    );
    const rows: Array<[string, string[]]> = [
      ['hw-x86_64', ['--target=x86_64-unknown-none-elf']],
      ['hw-riscv64', ['--target=riscv64-unknown-elf', '-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany']],
    ];
    for (const [target, flags] of rows) {
      const obj = join(dir, `stub-${target}.o`);
      expect((await sh('clang', [...flags, '-ffreestanding', '-O2', '-c', '-o', obj, stub])).code).toBe(0);
      // capability providers added by hand here (the resolver's job): bus:virtio, bus:pci, bus:mainbus
      const names = closure(LATEST, ['tcpip', 'virtio-net', ...(target === 'hw-x86_64' ? ['pci', 'virtio-pci', 'dev'] : [])]);
      const libs = names.map((n) => archive(LATEST, n, target));
      const r = await sh('ld.lld', ['-static', '-o', join(dir, `img-${target}`), obj, '--whole-archive', ...libs, '--no-whole-archive']);
      if (target === 'hw-x86_64') expect(r.stderr).toBe('');
      // riscv64: no pci/virtio-pci → bus:virtio is missing, and the linker says so
      else expect(r.stderr).toContain('rumpns_bus_virtio_attach');
    }
  });
});

describe('the corpus cache (cachedCorpus: tests and the demo share it)', () => {
  it('builds once per fingerprint: concurrent callers get one build, later callers the cached root', async () => {
    const cacheDir = join(work, 'cache');
    const opts = { versions: [LATEST], targets: [POSIX], cacheDir };
    const [a, b] = await Promise.all([cachedCorpus(opts), cachedCorpus(opts)]);
    expect(a.root).toBe(b.root);
    expect([a.built, b.built].sort()).toEqual([false, true]);
    expect(a.root).toBe(join(cacheDir, await corpusFingerprint({ versions: [LATEST], targets: [POSIX] })));
    const again = await cachedCorpus(opts);
    expect(again).toMatchObject({ root: a.root, built: false, info: { components: a.info.components, archives: a.info.archives } });
    // Nothing but the corpus and its build record is left in the cache (no temporary directories, no lock).
    expect((await readdir(cacheDir)).sort()).toEqual([basename(a.root), `${basename(a.root)}.build.json`]);
    // Another key (another version set) is another corpus.
    expect((await corpusFingerprint({ versions: ['10.0.0'], targets: [POSIX] })) === basename(a.root)).toBe(false);
  });
});
