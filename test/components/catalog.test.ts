/**
 * The NetBSD catalog copy (components/catalog/netbsd.json) against ../shared/netbsd/components.json,
 * and the normalisation rules documented in components/catalog.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedFile, sharedTitle } from '../helpers/shared.js';
import { catalogEntry, catalogNames, catalogShipsTarget, INIT_LEVEL_RUN_ORDER, loadCatalog, type CatalogEntry } from '../../components/index.js';

// spdx-expression-parse is CommonJS without types.
const parseSpdx = createRequire(import.meta.url)('spdx-expression-parse') as (expression: string) => unknown;
const repo = resolve(import.meta.dirname, '../..');
const shared = sharedFile('netbsd/components.json');

interface SharedComponent {
  name: string;
  lib: string;
  depends?: string[] | null;
  initLevels?: string[] | null;
  licenseHeuristic?: Record<string, unknown>;
}

const cat = loadCatalog();
const byLib = new Map(cat.components.map((c) => [c.lib, c]));
const get = (name: string): CatalogEntry => {
  const e = catalogEntry(name);
  if (e === undefined) throw new Error(`no catalog entry ${name}`);
  return e;
};

describe.skipIf(!shared.available)(sharedTitle(shared, 'the catalog copy matches ../shared'), () => {
  const doc = shared.available
    ? shared.json<{ components: SharedComponent[]; initLevelRunOrder: string[]; conflicts: Array<{ a: string; b: string[] }> }>()
    : { components: [], initLevelRunOrder: [], conflicts: [] };
  const tmp = mkdtempSync(join(tmpdir(), 'rumpkg-catalog-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('regenerating from ../shared gives the committed file byte for byte', () => {
    const out = join(tmp, 'netbsd.json');
    execFileSync(process.execPath, [join(repo, 'components/catalog/generate.mjs'), shared.path, out]);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(repo, 'components/catalog/netbsd.json'), 'utf8'));
  });

  it('has the same 106 components, names and libs, in the same order', () => {
    expect(cat.components).toHaveLength(106);
    expect(cat.components.map((c) => [c.catalogName, c.lib])).toEqual(doc.components.map((c) => [c.name, c.lib]));
    expect(cat.initLevelRunOrder).toEqual(doc.initLevelRunOrder);
    expect(cat.initLevelRunOrder).toEqual([...INIT_LEVEL_RUN_ORDER]);
  });

  it('accounts for every depends edge: a dependency, a capability or a documented drop', () => {
    let edges = 0;
    for (const s of doc.components) {
      const c = byLib.get(s.lib) as CatalogEntry;
      expect(c.edges.map((e) => e.to)).toEqual(s.depends ?? []);
      for (const e of c.edges) {
        edges++;
        const to = byLib.get(e.to) as CatalogEntry;
        if (e.as === 'dependency') expect(c.dependencies).toContain(to.name);
        else if (e.as === 'dropped') expect(e.why).toBeTruthy();
        else {
          expect(c.requires).toContain(e.as);
          expect(to.provides).toContain(e.as);
          expect(c.dependencies).not.toContain(to.name);
        }
      }
      const fromEdges = c.edges.filter((e) => e.as === 'dependency').map((e) => (byLib.get(e.to) as CatalogEntry).name);
      expect(c.dependencies).toEqual([...new Set(fromEdges)].sort());
      expect(c.initLevels).toEqual(s.initLevels ?? []);
    }
    expect(edges).toBe(doc.components.reduce((n, s) => n + (s.depends?.length ?? 0), 0));
  });

  it('turns the data conflicts into symmetric name conflicts', () => {
    for (const k of doc.conflicts) {
      const a = byLib.get(k.a) as CatalogEntry;
      for (const lib of k.b) {
        const b = byLib.get(lib) as CatalogEntry;
        expect(a.conflicts).toContain(b.name);
        expect(b.conflicts).toContain(a.name);
      }
    }
  });
});

describe('names and aliases', () => {
  it('has the required friendly names', () => {
    const want: Record<string, string> = {
      tcpip: 'librumpnet_netinet',
      tcpip6: 'librumpnet_netinet6',
      'virtio-net': 'librumpdev_virtio_if_vioif',
      'virtio-pci': 'librumpdev_pci_virtio',
      'virtio-blk': 'librumpdev_virtio_ld',
      pci: 'librumpdev_pci',
      net: 'librumpnet',
      base: 'librump',
      vfs: 'librumpvfs',
      dev: 'librumpdev',
      sockin: 'librumpnet_sockin',
      virtif: 'librumpnet_virtif',
      shmif: 'librumpnet_shmif',
      rumpuser: 'librumpuser',
      'net-net': 'librumpnet_net',
    };
    for (const [name, lib] of Object.entries(want)) expect(get(name).lib, name).toBe(lib);
    expect(catalogNames()).toHaveLength(106);
  });

  it('resolves every NetBSD library spelling, the short word and the default scope', () => {
    for (const c of cat.components) {
      expect(catalogEntry(c.lib)).toBe(c);
      expect(catalogEntry(c.lib.slice(3))).toBe(c);
      expect(catalogEntry(`@rump/${c.name}`)).toBe(c);
    }
    expect(catalogEntry('netinet')?.name).toBe('tcpip');
    expect(catalogEntry('rumpnet_netinet')?.name).toBe('tcpip');
    expect(catalogEntry('net-netinet')?.name).toBe('tcpip');
    expect(catalogEntry('vioif')).toBeUndefined();
    expect(catalogEntry('no-such-thing')).toBeUndefined();
  });

  it('keeps names and aliases unique across the catalog, and valid as registry names', () => {
    const all = cat.components.flatMap((c) => [c.name, ...c.aliases]);
    expect(new Set(all).size).toBe(all.length);
    for (const n of all) expect(n).toMatch(/^[a-z0-9][a-z0-9._-]*$/);
    // `net` stays the faction's name; librumpnet_net's short word is dropped, not shared.
    expect(catalogEntry('net')?.lib).toBe('librumpnet');
    expect(cat.droppedAliases).toContainEqual({ alias: 'net', lib: 'librumpnet_net' });
  });
});

describe('capabilities, conflicts, optional edges', () => {
  it('base needs the hypercall ABI that rumpuser provides', () => {
    expect(get('base').requires).toEqual(['hypercall:17']);
    expect(get('base').dependencies).toEqual([]);
    expect(get('rumpuser').provides).toEqual(['hypercall:17']);
    expect(get('rumpuser').kind).toBe('platform');
    expect(cat.components.filter((c) => c.kind === 'platform').map((c) => c.name)).toEqual(['rumpuser']);
  });

  it('turns bus parents into capabilities: virtio-net → bus:virtio → virtio-pci → bus:pci → pci → pci-backend', () => {
    expect(get('virtio-net').requires).toEqual(['bus:virtio']);
    expect(get('virtio-net').dependencies).toEqual(['net', 'net-net']);
    expect(get('virtio-pci').provides).toEqual(['bus:virtio']);
    expect(get('virtio-pci').requires).toEqual(['bus:pci']);
    expect(get('virtio-pci').dependencies).toEqual([]);
    expect(get('pci').provides).toEqual(['bus:pci']);
    expect(get('pci').requires).toEqual(['bus:mainbus', 'pci-backend']);
    expect(get('dev').provides).toEqual(['bus:mainbus']);
    expect(get('dev-umass').requires).toEqual(['bus:usb']);
    expect(get('dev-usb').provides).toEqual(['bus:usb']);
    // pci-backend comes from a hw/xen platform package, never from the catalog (not rumpuser).
    expect(cat.components.filter((c) => c.provides.includes('pci-backend'))).toEqual([]);
    // every required capability except pci-backend has a provider in the catalog
    const provided = new Set(cat.components.flatMap((c) => c.provides));
    const required = new Set(cat.components.flatMap((c) => c.requires));
    expect([...required].filter((r) => !provided.has(r))).toEqual(['pci-backend']);
  });

  it('records sockin conflicts both ways and fifofs/vfs only as a note', () => {
    expect(get('sockin').conflicts).toEqual(['net-net', 'tcpip', 'virtif']);
    for (const n of ['net-net', 'tcpip', 'virtif']) expect(get(n).conflicts).toEqual(['sockin']);
    expect(get('vfs-fifofs').conflicts).toEqual([]);
    expect(get('vfs-fifofs').dependencies).toContain('vfs');
    expect(get('vfs-fifofs').notes.join(' ')).toMatch(/fifo_vnodeop_entries/);
  });

  it('records optional edges and keeps dev → vfs hard', () => {
    expect(get('net-net').optionalDependencies).toEqual(['net-agr', 'net-bridge', 'net-pppoe']);
    expect(get('dev').optionalDependencies).toEqual([]);
    expect(get('dev').dependencies).toEqual(['base', 'vfs']);
  });
});

describe('licences and targets', () => {
  it('gives every component a parsable SPDX expression with the known exceptions', () => {
    for (const c of cat.components) expect(() => parseSpdx(c.license), `${c.name}: ${c.license}`).not.toThrow();
    expect(get('fs-zfs').license).toBe('CDDL-1.0');
    expect(get('kern-solaris').license).toContain('CDDL-1.0');
    expect(get('base').license).toBe('BSD-2-Clause AND BSD-3-Clause AND BSD-4-Clause');
    expect(get('tcpip').license).toBe('BSD-2-Clause');
    expect(get('net-net80211').license).toBe('(BSD-3-Clause OR GPL-2.0-only)');
    // any file under the advertising clause shows in the expression
    for (const c of cat.components) {
      if (typeof c.licenseFiles['BSD-4-Clause'] === 'number') expect(c.license, c.name).toContain('BSD-4-Clause');
    }
  });

  it('knows where each component can ship', () => {
    const posixOnly = cat.components.filter((c) => c.platforms.join() === 'posix').map((c) => c.name).sort();
    expect(posixOnly).toEqual(['dev-netsmb', 'dev-ugenhc', 'rumpuser', 'shmif', 'sockin', 'virtif']);
    expect(catalogShipsTarget(get('tcpip'), 'posix-x86_64')).toBe(true);
    expect(catalogShipsTarget(get('tcpip'), 'hw-riscv64')).toBe(true);
    expect(catalogShipsTarget(get('virtif'), 'hw-x86_64')).toBe(false);
    expect(catalogShipsTarget(get('pci'), 'posix-x86_64')).toBe(false);
    expect(catalogShipsTarget(get('pci'), 'hw-x86_64')).toBe(true);
    expect(catalogShipsTarget(get('pci'), 'hw-riscv64')).toBe(false);
    expect(catalogShipsTarget(get('net-xenif'), 'hw-x86_64')).toBe(false);
    expect(catalogShipsTarget(get('net-xenif'), 'xen-x86_64')).toBe(true);
    expect(catalogShipsTarget(get('fs-zfs'), 'hw-riscv64')).toBe(false);
    // the PCI drivers ship on posix: there nothing provides bus:pci, which explains the failure
    expect(catalogShipsTarget(get('virtio-net'), 'posix-x86_64')).toBe(true);
  });
});
