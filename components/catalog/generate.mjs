#!/usr/bin/env node
// Regenerates components/catalog/netbsd.json — the trimmed, normalised copy of
// ../shared/netbsd/components.json that the product reads (the product never reads ../shared).
//
//   node components/catalog/generate.mjs [path/to/components.json [out.json]]
//
// Every rule applied here is documented in components/catalog.ts (module head). The output is
// deterministic (fixed key order, sorted lists where order carries no meaning), so re-running the
// script on unchanged input gives a byte-identical file; test/components/catalog.test.ts checks
// that the committed copy still matches ../shared.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const input = process.argv[2] ?? new URL('../../../shared/netbsd/components.json', import.meta.url);
const outFile = process.argv[3] ?? new URL('./netbsd.json', import.meta.url);

/** NetBSD library → friendly registry name, where the catalog's own name is not the one users say. */
const NAME_OVERRIDES = {
  librump: 'base',
  librumpuser: 'rumpuser',
  librumpnet: 'net',
  librumpvfs: 'vfs',
  librumpdev: 'dev',
  librumpnet_netinet: 'tcpip',
  librumpnet_netinet6: 'tcpip6',
  librumpnet_sockin: 'sockin',
  librumpnet_virtif: 'virtif',
  librumpnet_shmif: 'shmif',
  librumpdev_pci: 'pci',
  librumpdev_pci_virtio: 'virtio-pci',
  librumpdev_virtio_if_vioif: 'virtio-net',
  librumpdev_virtio_ld: 'virtio-blk',
};

/** The bus a component provides to children that attach to it (dependsDetail kind ioconf-attach). */
const BUS_OF = {
  librumpdev: 'mainbus',
  librumpdev_pci: 'pci',
  librumpdev_pci_virtio: 'virtio',
  librumpdev_usb: 'usb',
  librumpdev_pci_hdaudio: 'hdaudio',
  librumpdev_scsipi: 'scsi',
  librumpdev_audio: 'audio',
};

/** Components whose archive carries host-side hypercall code (libc calls): posix targets only. */
const POSIX_ONLY = {
  librumpuser: 'the POSIX hypercall layer itself (host libc)',
  librumpnet_shmif: 'shmif_user.c: memory-mapped host file as Ethernet bus',
  librumpnet_sockin: 'sockin_user.c: host kernel sockets',
  librumpnet_virtif: 'virtif_user.c: host tap device',
  librumpdev_ugenhc: 'ugenhc_user.c: host /dev/ugen',
  librumpdev_netsmb: 'netsmb_user.c: host iconv',
};

/** Extra capability requirements where the data says a component needs platform hypercalls. */
const PLATFORM_REQUIRES = {
  librumpdev_pci: ['pci-backend'],
};

/**
 * Hard edges of the data that rumpkg does not keep, with the reason. `from→to` → why.
 * (Recorded in the component's `edges` with `as: "dropped"`, so nothing disappears silently.)
 */
const DROPPED_EDGES = {
  'librumpdev_usb→librumpdev_pci':
    'a "source" edge for bus_dma*, which the platform supplies; real posix archives of usb leave bus_dma* unresolved and use ugenhc, not PCI (real-archive-deps.json)',
};

/** Arch restrictions from buildCondition (null = any arch). */
const X86 = ['x86_64', 'i386'];
const ARCHES = {
  librumpfs_zfs: ['x86_64'], // MKZFS=yes only for amd64
  librumpkern_solaris: ['x86_64'],
  librumpkern_sljit: ['x86_64', 'i386', 'sparc', 'sparc64'], // MKSLJIT
  librumpnet_bpfjit: ['x86_64', 'i386', 'sparc', 'sparc64'],
  librumpdev_usb: X86, // real sources only on i386/amd64, dummy.c elsewhere
  librumpdev_umass: X86,
  librumpdev_ugenhc: X86,
  librumpdev_pci: X86, // hw: PLATFORM_PCI_P only amd64/i386; xen is x86 anyway
};

const SPDX = {
  'BSD-2-Clause': 'BSD-2-Clause',
  'BSD-3-Clause': 'BSD-3-Clause',
  'BSD-4-Clause': 'BSD-4-Clause',
  ISC: 'ISC',
  Zlib: 'Zlib',
  'CDDL-1.0': 'CDDL-1.0',
  'MIT-style': 'MIT',
  'CMU-style': 'MIT-CMU',
  'BSD-3-Clause+GPL-2.0-alternative': '(BSD-3-Clause OR GPL-2.0-only)',
  'OpenBSD-crypto-permissive': 'LicenseRef-OpenBSD-crypto-permissive',
  'OSTA/MDI-free-use': 'LicenseRef-OSTA-MDI-free-use',
};
/** Heuristic buckets that carry no licence obligation of their own. */
const NO_LICENCE = new Set(['no-license-header', 'public-domain', 'other']);
/** Always named when present in any file: obligations that must not disappear in a majority vote. */
const ALWAYS = new Set(['BSD-4-Clause', 'CDDL-1.0', '(BSD-3-Clause OR GPL-2.0-only)']);
/** Share of a component's licensed files above which a licence is part of the expression. */
const MAJOR_SHARE = 0.2;
const DEFAULT_LICENCE = 'BSD-2-Clause';

const FACTIONS_PLATFORMS = ['posix', 'hw', 'xen'];

function fail(msg) {
  throw new Error(`catalog generator: ${msg}`);
}

function licenceOf(c) {
  const counts = new Map();
  for (const [k, v] of Object.entries(c.licenseHeuristic ?? {})) {
    if (NO_LICENCE.has(k)) continue;
    const id = SPDX[k] ?? fail(`${c.lib}: no SPDX mapping for licence bucket ${k}`);
    counts.set(id, (counts.get(id) ?? 0) + (typeof v === 'number' ? v : 1));
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return DEFAULT_LICENCE;
  const ids = [...counts].filter(([id, n]) => ALWAYS.has(id) || n / total >= MAJOR_SHARE).map(([id]) => id);
  return ids.sort().join(' AND ');
}

function platformsOf(c) {
  if (POSIX_ONLY[c.lib]) return { platforms: ['posix'], why: POSIX_ONLY[c.lib] };
  if (c.lib === 'librumpdev_pci') {
    return { platforms: ['hw', 'xen'], why: 'its PCI/DMA hypercalls (rumpcomp_pci_*) come from the platform (RUMPCOMP_MAKEFILEINC_rumpdev_pci)' };
  }
  const p = (c.platforms ?? []).join(' ');
  if (p.includes('rumprun xen only')) return { platforms: ['xen'], why: 'rumprun xen platform library' };
  if (p.includes('rumprun hw and xen') || p.includes('rumprun only')) return { platforms: ['hw', 'xen'], why: 'rumprun platform library' };
  return { platforms: FACTIONS_PLATFORMS, why: null };
}

function upstreamOf(c) {
  const m = /^(\S+) \((\S+)\)$/.exec(c.path);
  if (c.origin === 'netbsd') return { project: 'NetBSD', repository: 'NetBSD/src', path: c.path };
  if (!m) fail(`${c.lib}: cannot parse upstream path ${c.path}`);
  return { project: c.origin, repository: m[2], path: m[1] };
}

function short(lib) {
  const i = lib.indexOf('_');
  return i < 0 ? null : lib.slice(i + 1);
}

function main() {
  const raw = readFileSync(input, 'utf8');
  const data = JSON.parse(raw);
  const comps = data.components;
  const byLib = new Map(comps.map((c) => [c.lib, c]));
  if (byLib.size !== comps.length) fail('duplicate lib names');

  const nameOf = new Map(comps.map((c) => [c.lib, NAME_OVERRIDES[c.lib] ?? c.name.toLowerCase().replaceAll('_', '-')]));
  const names = new Set(nameOf.values());
  if (names.size !== comps.length) fail('friendly names are not unique');
  for (const k of Object.keys(DROPPED_EDGES)) {
    const [from, to] = k.split('→');
    if (!(byLib.get(from)?.depends ?? []).includes(to)) fail(`dropped edge ${k} is not in the data`);
  }
  for (const lib of Object.keys(NAME_OVERRIDES)) if (!byLib.has(lib)) fail(`override for unknown lib ${lib}`);

  // Aliases: every NetBSD spelling, the short word, the catalog's own name. A candidate that is
  // another component's name, or claimed by two components, is dropped (ambiguity is worse than absence).
  const candidates = new Map(); // alias -> Set(lib)
  const want = new Map(); // lib -> alias[]
  for (const c of comps) {
    const own = nameOf.get(c.lib);
    const list = [c.lib, c.lib.slice(3), short(c.lib), c.name.toLowerCase()].filter((a) => a && a !== own);
    want.set(c.lib, [...new Set(list)]);
    for (const a of want.get(c.lib)) {
      if (!candidates.has(a)) candidates.set(a, new Set());
      candidates.get(a).add(c.lib);
    }
  }
  const droppedAliases = [];
  const aliasesOf = new Map();
  for (const c of comps) {
    aliasesOf.set(
      c.lib,
      want.get(c.lib).filter((a) => {
        const ok = !names.has(a) && candidates.get(a).size === 1;
        if (!ok) droppedAliases.push({ alias: a, lib: c.lib });
        if (!ok && (a === c.lib || a === c.lib.slice(3))) fail(`NetBSD library alias ${a} is ambiguous`);
        return ok;
      }).sort(),
    );
  }

  const provides = new Map(comps.map((c) => [c.lib, new Set()]));
  const requires = new Map(comps.map((c) => [c.lib, new Set(PLATFORM_REQUIRES[c.lib] ?? [])]));
  const deps = new Map();
  const edges = new Map();
  const abi = data.hypercallAbi.version;
  provides.get('librumpuser').add(`hypercall:${abi}`);
  for (const c of comps) {
    const d = [];
    const e = [];
    for (const to of c.depends ?? []) {
      if (!byLib.has(to)) fail(`${c.lib} depends on unknown ${to}`);
      const kinds = [...new Set((c.dependsDetail ?? []).filter((x) => x.lib === to).map((x) => x.kind))].sort();
      let as;
      const dropped = DROPPED_EDGES[`${c.lib}→${to}`];
      if (dropped) {
        e.push({ to, kinds, as: 'dropped', why: dropped });
        continue;
      }
      if (to === 'librumpuser') {
        as = `hypercall:${abi}`;
      } else if (kinds.some((k) => k.includes('ioconf-attach'))) {
        const bus = BUS_OF[to] ?? fail(`${c.lib} attaches to ${to}, which has no bus in BUS_OF`);
        as = `bus:${bus}`;
        provides.get(to).add(as);
      } else {
        as = 'dependency';
        d.push(nameOf.get(to));
      }
      if (as !== 'dependency') requires.get(c.lib).add(as);
      e.push({ to, kinds, as });
    }
    deps.set(c.lib, [...new Set(d)].sort());
    edges.set(c.lib, e);
  }

  const conflicts = new Map(comps.map((c) => [c.lib, new Set()]));
  for (const k of data.conflicts) {
    for (const b of k.b) {
      conflicts.get(k.a).add(nameOf.get(b));
      conflicts.get(b).add(nameOf.get(k.a));
    }
  }
  const optional = new Map(comps.map((c) => [c.lib, new Set()]));
  const optionalNotes = [];
  for (const o of data.optionalEdges) {
    for (const to of o.to) {
      if ((byLib.get(o.from).depends ?? []).includes(to)) {
        optionalNotes.push(`${nameOf.get(o.from)} → ${nameOf.get(to)} is listed as optional but is a hard edge in depends; it stays hard (${o.why})`);
      } else optional.get(o.from).add(nameOf.get(to));
    }
  }

  const notesOf = new Map(comps.map((c) => [c.lib, []]));
  notesOf.get('librumpvfs_fifofs').push(
    'real archives at 7.99.34: cannot be linked together with vfs (duplicate fifo_vnodeop_entries); not a conflict here because fifofs needs vfs',
  );
  notesOf.get('librumpfs_nfs').push('real archives: needs net-net or sockin (any-of: both define rumpns_ifunit, rumpns_ifreq_setaddr, rumpns_rtrequest)');
  notesOf.get('librumpfs_nfsserver').push('real archives: needs net-net or sockin via nfs (any-of)');
  notesOf.get('librumpnet_config').push('real archives: links without tcpip/tcpip6 but panics at init (netconfig: missing both inet and inet6)');
  notesOf.get('librumpnet_netinet').push('real archives: an activation shim with no global definitions, only a link-set entry');
  notesOf.get('librumpnet_netinet6').push('real archives: an activation shim with no global definitions, only a link-set entry');

  const out = {
    catalogVersion: 1,
    generatedBy: 'components/catalog/generate.mjs',
    source: {
      file: 'netbsd/components.json',
      sha256: createHash('sha256').update(raw).digest('hex'),
      snapshot: data.sourceSnapshot,
    },
    initLevelRunOrder: data.initLevelRunOrder,
    hypercallAbi: abi,
    buses: BUS_OF,
    notes: optionalNotes,
    droppedAliases,
    components: comps.map((c) => {
      const pl = platformsOf(c);
      const faction = c.faction.replace(/\s*\(.*\)$/, '');
      return {
        name: nameOf.get(c.lib),
        catalogName: c.name,
        lib: c.lib,
        aliases: aliasesOf.get(c.lib),
        faction,
        kind: c.lib === 'librumpuser' ? 'platform' : 'component',
        origin: c.origin,
        description: c.description,
        initLevels: c.initLevels ?? [],
        dependencies: deps.get(c.lib),
        requires: [...requires.get(c.lib)].sort(),
        provides: [...provides.get(c.lib)].sort(),
        conflicts: [...conflicts.get(c.lib)].sort(),
        optionalDependencies: [...optional.get(c.lib)].sort(),
        edges: edges.get(c.lib),
        license: licenceOf(c),
        licenseFiles: c.licenseHeuristic ?? {},
        upstream: upstreamOf(c),
        platforms: pl.platforms,
        arches: ARCHES[c.lib] ?? null,
        platformNote: pl.why,
        buildCondition: c.buildCondition ?? null,
        rumprunBakeSets: c.rumprunBakeSets ?? [],
        notes: notesOf.get(c.lib),
      };
    }),
  };
  writeFileSync(outFile, JSON.stringify(out, null, 1) + '\n');
  process.stdout.write(`wrote ${outFile instanceof URL ? fileURLToPath(outFile) : outFile} (${out.components.length} components)\n`);
}

main();
