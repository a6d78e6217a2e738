/**
 * Component registrations and fingerprints read from the real archives (../shared/netbsd/real):
 * the posix build registers through constructors (`.init_array`), the rumprun hw build through
 * `link_set_rump_components`. Oracles: the struct's symbol name carries the level as the enum
 * identifier (`rumpcomp<LEVEL>`, set by NetBSD's RUMP_COMPONENT macro), and facts measured on
 * these archives with other tools (readelf/objdump; ../shared/netbsd/REAL-ARCHIVES.md).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { archivePrints, archiveTables, isAr, isRumpkgError, parseAr, parseElf, objectRegistrations, symbolEvidence, viewRegistrations, type ElfHeaderInfo, type MemberPrint } from '../../components/index.js';
import { realSet, title } from '../helpers/real.js';

const posix = realSet('posix');
const hw = realSet('hw');

/**
 * The importer's reading of every member (`viewRegistrations`: the symbol table read entry by
 * entry, never decoded) against `objectRegistrations` of the fully decoded object. Returns how
 * many registrations were compared.
 */
function compareReadings(dir: string): number {
  let compared = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.a')).sort()) {
    const bytes = readFileSync(join(dir, f));
    if (!isAr(bytes)) continue;
    const members = new Map(parseAr(bytes, { file: f }).members.map((m) => [m.name, m.data]));
    for (const o of archiveTables(bytes, { file: f }).objects) {
      const lean = viewRegistrations(o.layout as ElfHeaderInfo, o.view);
      expect(lean, o.label).toEqual(objectRegistrations(parseElf(members.get(o.member) as Uint8Array, { file: o.label })));
      compared += lean.length;
    }
  }
  return compared;
}

function levelsByArchive(dir: string): Map<string, Array<{ member: string; levels: string[]; via: string[] }>> {
  const out = new Map<string, Array<{ member: string; levels: string[]; via: string[] }>>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.a')).sort()) {
    const bytes = readFileSync(join(dir, f));
    if (!isAr(bytes)) continue;
    const prints = archivePrints(bytes, { file: f });
    const members = prints.filter((p) => p.registrations.length > 0).map((p) => ({ member: p.member, levels: p.registrations.map((r) => r.level ?? 'null'), via: [...new Set(p.registrations.map((r) => r.via))] }));
    out.set(f.replace(/\.a$/, ''), members);
  }
  return out;
}

describe.skipIf(!posix.available)(title(posix, 'constructor registrations of the posix-x86_64 archives'), () => {
  let lib: string;
  let table: Map<string, Array<{ member: string; levels: string[]; via: string[] }>>;
  beforeAll(async () => {
    lib = join(await posix.dir(), 'lib');
    table = levelsByArchive(lib);
  });

  it('finds 56 components in 48 archives, every one through a constructor', () => {
    const withComponents = [...table].filter(([, ms]) => ms.length > 0);
    expect(withComponents).toHaveLength(48);
    expect(withComponents.flatMap(([, ms]) => ms.flatMap((m) => m.levels))).toHaveLength(56);
    expect(new Set(withComponents.flatMap(([, ms]) => ms.flatMap((m) => m.via)))).toEqual(new Set(['constructor']));
  });

  it('reads the levels of the activation shims, which define no global symbol', () => {
    expect(table.get('librumpnet_netinet')?.map((m) => ({ ...m, levels: [...m.levels].sort() }))).toEqual([{ member: 'netinet_component.o', levels: ['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG'], via: ['constructor'] }]);
    expect([...(table.get('librumpnet_netinet6')?.[0]?.levels ?? [])].sort()).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
    expect([...(table.get('librumpnet_net')?.[0]?.levels ?? [])].sort()).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IF', 'RUMP_COMPONENT_NET_ROUTE']);
    // librump registers only its syscalls: no POSTINIT component exists in any archive.
    expect(table.get('librump')).toEqual([{ member: 'rumpkern_syscalls.o', levels: ['RUMP_COMPONENT_SYSCALL'], via: ['constructor'] }]);
    expect([...table.values()].flat().flatMap((m) => m.levels)).not.toContain('RUMP_COMPONENT_POSTINIT');
  });

  it('is not fooled by member names or other constructors', () => {
    // kernel modules (every file system) and sysctl setup have constructors but register no component
    expect(table.get('librumpfs_ffs')).toEqual([]);
    expect(table.get('librumpfs_tmpfs')).toEqual([]);
    expect(table.get('librumpuser')).toEqual([]); // rumpuser_component.o is not a component
    expect(table.get('librumpkern_sysproxy')).toEqual([{ member: 'sysproxy.o', levels: ['RUMP_COMPONENT_KERN'], via: ['constructor'] }]);
  });

  it('agrees with the level the RUMP_COMPONENT macro writes into the struct name', () => {
    let checked = 0;
    for (const f of readdirSync(lib).filter((x) => x.endsWith('.a'))) {
      for (const m of parseAr(readFileSync(join(lib, f)), { file: f }).members) {
        const elf = parseElf(m.data, { file: `${f}(${m.name})` });
        for (const r of objectRegistrations(elf)) {
          const name = r.struct === null ? '' : (elf.symbols[r.struct]?.name ?? '');
          const init = r.init === null ? '' : (elf.symbols[r.init]?.name ?? '');
          expect(name).toMatch(/^rumpcomp(RUMP_\w+)$/);
          expect(init).toBe(name.replace(/^rumpcomp/, 'rumpcompinit'));
          checked++;
        }
      }
    }
    expect(checked).toBe(56);
  });

  it('reads the same registrations without decoding symbol tables as with (every member)', () => {
    expect(compareReadings(lib)).toBe(56);
  });

  it('checks every symbol of a registering object as decoding would: a bad section index is E_ELF', () => {
    // netinet_component.o registers through a constructor; corrupt st_shndx of symbol 15, a
    // local destructor no relocation the rules follow refers to (and the global-symbol scans
    // never look at locals): only the check of every entry can catch it
    const bytes = Uint8Array.from(readFileSync(join(lib, 'librumpnet_netinet.a')));
    const t = archiveTables(bytes, { file: 'netinet' });
    const o = t.objects.find((x) => x.member === 'netinet_component.o');
    const view = o?.view;
    if (o === undefined || view === undefined) throw new Error('netinet_component.o or its symbol table is missing');
    const at = view.data.byteOffset + 15 * view.entsize + 6; // st_shndx of symbol 15
    bytes[at] = 0xf0;
    bytes[at + 1] = 0xfe;
    const failure = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        if (isRumpkgError(e)) return `${e.code} ${e.message}`;
        throw e;
      }
      return 'no error';
    };
    const member = bytes.subarray(o.offset, o.offset + o.size);
    const decoded = failure(() => objectRegistrations(parseElf(member, { file: 'netinet(netinet_component.o)' })));
    expect(decoded).toBe('E_ELF malformed ELF netinet(netinet_component.o): symbol 15 refers to section 65264 (there are ' + String(o.layout.sections.length) + ')');
    expect(failure(() => symbolEvidence(bytes, { file: 'netinet' }))).toBe(decoded);
  });

  it('fingerprints tell netinet from netinet6 by their init functions, not their constructors', () => {
    const inet = archivePrints(readFileSync(join(lib, 'librumpnet_netinet.a')), { file: 'netinet' })[0] as MemberPrint;
    const inet6 = archivePrints(readFileSync(join(lib, 'librumpnet_netinet6.a')), { file: 'netinet6' })[0] as MemberPrint;
    const hashes = (p: MemberPrint, prefix: string): string[] => p.symbols.filter((s) => s.name.startsWith(prefix)).map((s) => s.hash).sort();
    expect(hashes(inet, 'rumpcomp_ctor')).toEqual(hashes(inet6, 'rumpcomp_ctor'));
    expect(hashes(inet, 'rumpcompinit')).toHaveLength(2);
    for (const h of hashes(inet, 'rumpcompinit')) expect(hashes(inet6, 'rumpcompinit')).not.toContain(h);
    for (const r of inet.registrations) expect(r.init?.name).toBe(`rumpcompinit${r.level}`);
  });
});

describe.skipIf(!hw.available)(title(hw, 'link-set registrations of the rumprun hw-x86_64 archives'), () => {
  it('finds every component through link_set_rump_components, none through constructors', async () => {
    const dir = join(await hw.dir(), 'lib/rumprun-hw');
    const table = levelsByArchive(dir);
    const all = [...table.values()].flat();
    expect(all.length).toBeGreaterThan(20);
    expect(new Set(all.flatMap((m) => m.via))).toEqual(new Set(['link-set']));
    expect([...(table.get('librumpnet_netinet')?.[0]?.levels ?? [])].sort()).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
    expect(table.get('librumpdev_virtio_if_vioif')?.flatMap((m) => m.levels)).toEqual(['RUMP_COMPONENT_DEV']);
    expect(compareReadings(dir)).toBe(all.flatMap((m) => m.levels).length);
  });
});
