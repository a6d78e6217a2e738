/**
 * The NetBSD component catalog: the 106 rump kernel libraries of ../shared/netbsd/components.json
 * as data (`components/catalog/netbsd.json`), normalised by `components/catalog/generate.mjs`
 * (re-run it when the shared data changes; the product never reads ../shared). One source of
 * truth for the miniature corpus generator and the archive importer.
 *
 * Normalisation rules (implemented in generate.mjs, asserted by test/components/catalog.test.ts):
 *
 * - **Friendly names** (registry names without scope) are the catalog's own names
 *   (`fs-ffs`, `net-net`, `dev-disk`; `_` → `-`), except for this override table:
 *
 *   | lib                          | name         |   | lib                      | name        |
 *   |------------------------------|--------------|---|--------------------------|-------------|
 *   | librump                      | base         |   | librumpnet_sockin        | sockin      |
 *   | librumpuser                  | rumpuser     |   | librumpnet_virtif        | virtif      |
 *   | librumpnet                   | net          |   | librumpnet_shmif         | shmif       |
 *   | librumpvfs                   | vfs          |   | librumpdev_pci           | pci         |
 *   | librumpdev                   | dev          |   | librumpdev_pci_virtio    | virtio-pci  |
 *   | librumpnet_netinet           | tcpip        |   | librumpdev_virtio_if_vioif | virtio-net |
 *   | librumpnet_netinet6          | tcpip6       |   | librumpdev_virtio_ld     | virtio-blk  |
 *
 * - **Aliases**: the library name (`librumpnet_netinet`), without `lib` (`rumpnet_netinet`), the
 *   short word after the first `_` (`netinet`), and the catalog's own name where the friendly name
 *   differs (`net-netinet`). A candidate that is another component's name or is claimed by two
 *   components is dropped (listed in `droppedAliases`: `net` of librumpnet_net, `base` of
 *   librumprunfs_base). Names and aliases are unique across the catalog.
 * - **Capabilities** (DESIGN.md §4.1): the edge base → librumpuser becomes
 *   `requires: hypercall:17`, provided by `rumpuser` (the posix platform package). An edge whose
 *   evidence includes `ioconf-attach` (the child attaches to a bus of the parent) becomes
 *   `requires: bus:<b>` on the child and `provides: bus:<b>` on the parent, with b from `buses`:
 *   librumpdev → mainbus, librumpdev_pci → pci, librumpdev_pci_virtio → virtio, librumpdev_usb →
 *   usb, librumpdev_pci_hdaudio → hdaudio (scsi/audio listed for completeness; no attach edges
 *   use them). `pci` also requires `pci-backend`: its PCI/DMA hypercalls come from the platform
 *   (RUMPCOMP_MAKEFILEINC_rumpdev_pci), so a hw/xen platform package provides it, never rumpuser.
 * - **Dependencies**: the remaining `depends` edges, as friendly names. One data edge is dropped
 *   with a recorded reason (dev-usb → pci, a bus_dma "source" edge; see `edges[].why`).
 * - **Conflicts** from the data's `conflicts` (sockin ↔ net-net, tcpip, virtif), both ways.
 *   fifofs ↔ vfs (REAL-ARCHIVES.md) is a note, not a conflict: fifofs needs vfs.
 * - **Optional edges** from `optionalEdges` (net-net → net-agr/net-bridge/net-pppoe); an optional
 *   edge that is also a hard edge (dev → vfs) stays hard and is listed in `notes`.
 * - **Licence**: licenseHeuristic buckets mapped to SPDX (MIT-style → MIT, CMU-style → MIT-CMU,
 *   the BSD-3/GPL-2 alternative → `(BSD-3-Clause OR GPL-2.0-only)`, others → LicenseRef-*);
 *   no-header/public-domain/other are ignored. Every licence covering ≥ 20 % of the licensed files
 *   is ANDed in (sorted), and BSD-4-Clause, CDDL-1.0 and the GPL alternative always are when
 *   present (advertising clause, copyleft). No data → BSD-2-Clause (rumprun/buildrump licence).
 * - **Where it ships**: `platforms` ⊆ posix/hw/xen and `arches` (null = any). posix only for
 *   archives with host-side hypercall code (rumpuser, shmif, sockin, virtif, ugenhc, netsmb);
 *   hw/xen for rumprun's own libraries and `pci` (platform PCI hypercalls); xen only for xenif,
 *   xendev; arch limits from buildCondition (zfs/solaris x86_64; sljit/bpfjit; usb/umass/ugenhc
 *   and pci x86). The PCI drivers themselves ship everywhere: on posix they cannot resolve because
 *   nothing provides `bus:pci`, which is the explanation a user should get.
 */
import { readFileSync } from 'node:fs';
import { RumpkgError } from '../model/index.js';
import { DEFAULT_SCOPE, type Capability, type ComponentKind, type Target } from '../model/index.js';

/** How one `depends` edge of the data is represented. */
interface CatalogEdge {
  /** NetBSD library the edge points to. */
  to: string;
  /** The data's evidence kinds for it (dependsDetail). */
  kinds: string[];
  /** `dependency` (a hard edge), a capability it became (`bus:pci`, `hypercall:17`), or `dropped`. */
  as: string;
  why?: string;
}

export interface CatalogEntry {
  name: string;
  /** The name in ../shared/netbsd/components.json. */
  catalogName: string;
  lib: string;
  aliases: string[];
  faction: string;
  kind: ComponentKind;
  /** netbsd, rumprun or buildrump.sh. */
  origin: string;
  description: string;
  initLevels: string[];
  /** Hard dependencies (friendly names). */
  dependencies: string[];
  requires: Capability[];
  provides: Capability[];
  /** Friendly names this component can never be linked with. */
  conflicts: string[];
  /** Friendly names recorded as optional edges. */
  optionalDependencies: string[];
  edges: CatalogEdge[];
  /** SPDX expression. */
  license: string;
  /** The data's per-file licence heuristic (bucket → file count or note). */
  licenseFiles: Record<string, number | string>;
  upstream: { project: string; repository: string; path: string };
  /** Platforms it can ship on: posix, hw, xen. */
  platforms: string[];
  /** Architectures it can ship on; null = any. */
  arches: string[] | null;
  platformNote: string | null;
  buildCondition: string | null;
  rumprunBakeSets: string[];
  notes: string[];
}

export interface Catalog {
  catalogVersion: 1;
  generatedBy: string;
  source: { file: string; sha256: string; snapshot: string };
  initLevelRunOrder: string[];
  hypercallAbi: number;
  /** Library → the bus it provides. */
  buses: Record<string, string>;
  notes: string[];
  droppedAliases: Array<{ alias: string; lib: string }>;
  components: CatalogEntry[];
}

let cached: { catalog: Catalog; index: Map<string, CatalogEntry> } | undefined;

function load(): { catalog: Catalog; index: Map<string, CatalogEntry> } {
  if (cached) return cached;
  const url = new URL('./netbsd.json', import.meta.url);
  let catalog: Catalog;
  try {
    catalog = JSON.parse(readFileSync(url, 'utf8')) as Catalog;
  } catch (e) {
    throw new RumpkgError('E_IO', `cannot read the NetBSD catalog ${url.pathname}`, {
      context: { path: url.pathname },
      hint: 'reinstall rumpkg (npm run build copies components/catalog/netbsd.json into dist/)',
      cause: e,
    });
  }
  const index = new Map<string, CatalogEntry>();
  for (const c of catalog.components) {
    for (const key of [c.name, ...c.aliases]) {
      if (index.has(key)) throw new Error(`catalog: ${key} names two components`);
      index.set(key, c);
    }
  }
  cached = { catalog, index };
  return cached;
}

/** The whole catalog (read once, then cached; treat as read-only). */
export function loadCatalog(): Catalog {
  return load().catalog;
}

/**
 * The entry for a friendly name, any alias (`librumpnet_netinet`, `rumpnet_netinet`, `netinet`,
 * `net-netinet`) or a name in the default scope (`@rump/tcpip`); undefined when unknown.
 */
export function catalogEntry(nameOrAlias: string): CatalogEntry | undefined {
  const prefix = `${DEFAULT_SCOPE}/`;
  const key = nameOrAlias.startsWith(prefix) ? nameOrAlias.slice(prefix.length) : nameOrAlias;
  return load().index.get(key);
}

/** Friendly names of every catalog component, in catalog order. */
export function catalogNames(): string[] {
  return loadCatalog().components.map((c) => c.name);
}

/** Whether the catalog allows `entry` to ship for `target` (`<platform>-<arch>`). */
export function catalogShipsTarget(entry: CatalogEntry, target: Target): boolean {
  const i = target.indexOf('-');
  const platform = target.slice(0, i);
  const arch = target.slice(i + 1);
  return entry.platforms.includes(platform) && (entry.arches === null || entry.arches.includes(arch));
}
