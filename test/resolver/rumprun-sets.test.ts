/**
 * Acceptance (issue "Resolver"): the closures of rumprun's `hw_virtio` and `hw_generic` bake sets
 * (../shared/netbsd/rumprun-bake-sets.json, `sets.<name>.resolvedLibNames`, minus rumprun's own
 * libraries) resolve for hw-x86_64 against the real catalog, and each closure is compared with
 * the hand-written set. The provider is built from `loadCatalog()` (targets from
 * `catalogShipsTarget`) plus the hw-x86_64 platform package, which provides `hypercall:17` and
 * `pci-backend` (the corpus's `platform-hw-x86_64`). The only differences from rumprun's lists
 * are the ones the catalog's edges explain, asserted member by member below.
 */
import { describe, expect, it } from 'vitest';
import {
  catalogShipsTarget,
  loadCatalog,
  type CatalogEntry,
} from '../../components/index.js';
import { CORPUS_EXTRA_COMPONENTS } from '../../scripts/corpus/index.js';
import {
  buildLockedTarget,
  createMemoryProvider,
  renderFailure,
  solve,
  type CandidateVersion,
  type Resolution,
  type Solution,
} from '../../resolver/index.js';
import { sharedFile, sharedTitle } from '../helpers/shared.js';

interface BakeSets {
  sets: Record<string, { resolvedLibNames: string[] }>;
  alwaysLinked: { viaSpecsBake: string[] };
}

const bakeFile = sharedFile('netbsd/rumprun-bake-sets.json');
const bake: BakeSets = bakeFile.available ? bakeFile.json<BakeSets>() : { sets: {}, alwaysLinked: { viaSpecsBake: [] } };
const catalog = loadCatalog();
const VERSION = '10.0.0';
const TARGETS = ['posix-x86_64', 'posix-aarch64', 'hw-x86_64', 'hw-riscv64', 'xen-x86_64'];
const platformHw = CORPUS_EXTRA_COMPONENTS.find((e) => e.name === 'platform-hw-x86_64') as CatalogEntry;
const virtioMmio = CORPUS_EXTRA_COMPONENTS.find((e) => e.name === 'virtio-mmio') as CatalogEntry;

function candidate(e: CatalogEntry): CandidateVersion {
  return {
    name: e.name,
    version: VERSION,
    dependencies: Object.fromEntries(e.dependencies.map((d) => [d, `^${VERSION}`])),
    optionalDependencies: Object.fromEntries(e.optionalDependencies.map((d) => [d, `^${VERSION}`])),
    requires: [...e.requires],
    provides: [...e.provides],
    conflicts: [...e.conflicts],
    targets: TARGETS.filter((t) => catalogShipsTarget(e, t)),
    yanked: false,
    kind: e.kind,
    lib: e.lib,
    license: e.license,
    initLevels: [...e.initLevels],
  };
}

/** Every catalog component plus the hw-x86_64 platform package (and virtio-mmio, a rival bus:virtio provider). */
const provider = createMemoryProvider([...catalog.components, platformHw, virtioMmio].map(candidate));
const byLib = new Map(catalog.components.map((e) => [e.lib, e]));

function setMembers(set: string): CatalogEntry[] {
  const libs = bake.sets[set]?.resolvedLibNames;
  if (libs === undefined) throw new Error(`no bake set ${set}`);
  return libs.map((lib) => {
    const e = byLib.get(lib);
    if (e === undefined) throw new Error(`${set}: ${lib} is not in the catalog`);
    return e;
  });
}

async function resolve(names: string[], target: string): Promise<Resolution> {
  const dependencies = Object.fromEntries(names.map((n) => [n, `^${VERSION}`]));
  return solve({ root: { name: 'bake', dependencies }, target }, provider);
}

function solved(r: Resolution): Solution {
  if (!r.ok) throw new Error(renderFailure(r.failure));
  return r.solution;
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

describe.skipIf(!bakeFile.available)(sharedTitle(bakeFile, 'rumprun bake sets against the catalog (hw-x86_64)'), () => {
  for (const set of ['hw_virtio', 'hw_generic']) {
    describe(set, () => {
      const members = bakeFile.available ? setMembers(set) : []; // the body is collected even when skipped
      // rumprun's own libraries (bmktc, mman, rumprunfs_base) are not NetBSD components: rumpkg's
      // platform package replaces them.
      const rumprunOnly = members.filter((e) => e.origin === 'rumprun');
      const request = members.filter((e) => e.origin !== 'rumprun').map((e) => e.name);

      it('drops only rumprun-specific libraries from the request', () => {
        expect(sorted(rumprunOnly.map((e) => e.lib))).toEqual(['librumpkern_bmktc', 'librumpkern_mman', 'librumprunfs_base']);
        expect(request.length).toBe(members.length - 3);
      });

      it('resolves, and the closure is the set plus exactly what the catalog edges add', async () => {
        const s = solved(await resolve(request, 'hw-x86_64'));
        const closure = new Set(Object.keys(s.components));
        // Every requested member is in the closure.
        expect(request.filter((n) => !closure.has(n))).toEqual([]);
        // Nothing is missing: no member is dropped by a conflict or a target.
        const extra = sorted([...closure].filter((n) => !request.includes(n)));
        // The extras, and why:
        // - base (librump): every component depends on it; rumprun links it via specs-bake
        //   ("librump (whole-archive)" in alwaysLinked), not via the bake set.
        // - platform-hw-x86_64: provides hypercall:17 (base requires it) and pci-backend (pci
        //   requires it); rumprun's equivalent is rumprun.o, also linked via specs-bake.
        expect(extra).toEqual(['base', 'platform-hw-x86_64']);
        expect(bake.alwaysLinked.viaSpecsBake).toContain('librump (whole-archive)');
        expect(s.edges).toContainEqual({ from: 'base', to: 'platform-hw-x86_64', kind: 'capability', capability: 'hypercall:17' });
        expect(s.edges).toContainEqual({ from: 'pci', to: 'platform-hw-x86_64', kind: 'capability', capability: 'pci-backend' });
        // Capabilities: every bus is served by a member of the set; virtio-mmio (whose
        // virtio-mmio-backend only the riscv64 platform provides) is not chosen.
        const expected: Record<string, string> = {
          'bus:mainbus': 'dev',
          'bus:pci': 'pci',
          'bus:virtio': 'virtio-pci',
          'hypercall:17': 'platform-hw-x86_64',
          'pci-backend': 'platform-hw-x86_64',
        };
        if (set === 'hw_generic') Object.assign(expected, { 'bus:hdaudio': 'dev-pci-hdaudio', 'bus:usb': 'dev-usb' });
        expect(s.capabilities).toEqual(expected);
        expect(closure.has('virtio-mmio')).toBe(false);
        // The closure is closed under the catalog's hard edges.
        for (const c of Object.values(s.components)) for (const d of Object.keys(c.dependencies)) expect(closure).toContain(d);
        // The lockfile view links the platform package last.
        const locked = buildLockedTarget(s);
        expect(locked.linkOrder.at(-1)).toBe('platform-hw-x86_64');
      });

      it("the set's roots alone pull in the rest of rumprun's hand-written list", async () => {
        const full = solved(await resolve(request, 'hw-x86_64'));
        // Members that no other member reaches by a dependency or capability edge.
        const reached = new Set(full.edges.filter((e) => e.from !== '<project>' && e.kind !== 'optional' && e.from !== e.to).map((e) => e.to));
        const roots = request.filter((n) => !reached.has(n));
        expect(roots.length).toBeLessThan(request.length);
        const fromRoots = solved(await resolve(roots, 'hw-x86_64'));
        expect(sorted(Object.keys(fromRoots.components))).toEqual(sorted(Object.keys(full.components)));
        // Spelled out for hw_virtio, so a catalog change that moves an edge shows up here.
        if (set === 'hw_virtio') {
          expect(sorted(roots)).toEqual([
            'dev-bpf',
            'dev-rnd',
            'dev-virtio-viornd',
            'dev-vnd',
            'fs-cd9660',
            'fs-ext2fs',
            'fs-tmpfs',
            'kern-sysproxy',
            'net-config',
            'net-local',
            'tcpip',
            'tcpip6',
            'virtio-blk',
            'virtio-net',
          ]);
        }
      });

      it('fails on posix-x86_64: pci does not ship there, and without it nothing serves bus:pci', async () => {
        const r = await resolve(request, 'posix-x86_64');
        expect(!r.ok && renderFailure(r.failure)).toBe('Because bake depends on pci ^10.0.0 which does not ship target posix-x86_64, version solving failed.');
        // Asking only for the virtio drivers, the explanation walks the capability chain.
        const v = await resolve(['virtio-net'], 'posix-x86_64');
        const text = !v.ok && renderFailure(v.failure);
        expect(text).toBe(
          [
            'Because every version of virtio-net requires bus:virtio which is provided only by virtio-pci, every version of virtio-net requires virtio-pci.',
            'And because every version of virtio-pci requires bus:pci, every version of virtio-net requires bus:pci.',
            'So, because no component for posix-x86_64 provides bus:pci (pci provides it but not for posix-x86_64) and bake depends on virtio-net ^10.0.0, version solving failed.',
          ].join('\n'),
        );
      });
    });
  }
});
