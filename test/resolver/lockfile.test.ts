/** The lockfile model: closure entries, edges, link/init order, frozen checks, why, prefer-locked, determinism. */
import { describe, expect, it } from 'vitest';
import { parseLockfileText, renderLockfile } from '../../components/index.js';
import {
  buildLockedTarget,
  buildLockfile,
  createMemoryProvider,
  lockedVersions,
  lockfileSatisfies,
  planLinkOrder,
  registryOf,
  renderFailure,
  solve,
  whyChains,
  type CandidateVersion,
  type Solution,
} from '../../resolver/index.js';

const spec = {
  'platform-hw 10.0.0': { kind: 'platform' as const, provides: ['hypercall:17', 'pci-backend'], targets: ['hw-x86_64'], initLevels: [] },
  'rump 10.0.0': { requires: ['hypercall:17'], initLevels: ['RUMP_COMPONENT_KERN'] },
  'net 10.0.0': { deps: { rump: '^10.0.0' }, initLevels: ['RUMP__FACTION_NET'] },
  'tcpip 10.0.0': { deps: { net: '^10.0.0' }, conflicts: ['sockin'], initLevels: ['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG'] },
  'pci 10.0.0': { deps: { rump: '^10.0.0' }, provides: ['bus:pci'], requires: ['pci-backend'], initLevels: ['RUMP_COMPONENT_DEV'] },
  'virtio-pci 10.0.0': { deps: { rump: '^10.0.0' }, provides: ['bus:virtio'], requires: ['bus:pci'], initLevels: ['RUMP_COMPONENT_DEV'] },
  'virtio-net 10.0.0': { deps: { net: '^10.0.0' }, requires: ['bus:virtio'], optional: { bpf: '^10.0.0' }, initLevels: ['RUMP_COMPONENT_DEV'] },
};
const request = { root: { name: 'hello', dependencies: { tcpip: '^10.0.0', 'virtio-net': '^10.0.0' } }, target: 'hw-x86_64' };

function shuffled<T>(list: T[], seed: number): T[] {
  const a = [...list];
  let s = seed;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

async function solved(list: CandidateVersion[] = registryOf(spec, { targets: ['hw-x86_64', 'posix-x86_64'] })): Promise<Solution> {
  const r = await solve(request, createMemoryProvider(list));
  if (!r.ok) throw new Error(renderFailure(r.failure));
  return r.solution;
}

describe('buildLockedTarget', () => {
  it('records versions, capability providers, requiredBy, link order and init order', async () => {
    const t = buildLockedTarget(await solved());
    expect(t.platform).toBe('platform-hw');
    expect(Object.keys(t.components)).toEqual(['net', 'pci', 'platform-hw', 'rump', 'tcpip', 'virtio-net', 'virtio-pci']);
    expect(t.components['virtio-net']?.requires).toEqual({ 'bus:virtio': 'virtio-pci' });
    expect(t.components['virtio-net']?.optionalDependencies).toEqual({ bpf: '^10.0.0' });
    expect(t.components['net']?.requiredBy).toEqual(['tcpip', 'virtio-net']);
    expect(t.components['tcpip']?.requiredBy).toEqual(['<project>']);
    expect(t.components['platform-hw']?.requiredBy).toEqual(['pci', 'rump']);
    expect(t.linkOrder).toEqual(['tcpip', 'virtio-net', 'net', 'virtio-pci', 'pci', 'rump', 'platform-hw']);
    expect(t.initOrder.map((s) => `${s.level}:${s.component}`)).toEqual([
      'RUMP_COMPONENT_KERN:rump',
      'RUMP__FACTION_NET:net',
      'RUMP_COMPONENT_NET:tcpip',
      'RUMP_COMPONENT_NET_IFCFG:tcpip',
      'RUMP_COMPONENT_DEV:virtio-net',
      'RUMP_COMPONENT_DEV:virtio-pci',
      'RUMP_COMPONENT_DEV:pci',
    ]);
  });

  it('groups cycles in the link order and needs no recursion for 10,000 nodes', () => {
    const comps: Record<string, { kind: 'component' | 'platform' }> = { a: { kind: 'component' }, b: { kind: 'component' }, c: { kind: 'component' }, p: { kind: 'platform' } };
    expect(planLinkOrder(comps, [{ from: 'c', to: 'a' }, { from: 'a', to: 'b' }, { from: 'b', to: 'a' }, { from: 'a', to: 'p' }])).toEqual(['c', 'a', 'b', 'p']);
    const big: Record<string, { kind: 'component' }> = {};
    const edges: Array<{ from: string; to: string }> = [];
    for (let i = 0; i < 10_000; i++) {
      big[`n${String(i).padStart(5, '0')}`] = { kind: 'component' };
      if (i > 0) edges.push({ from: `n${String(i).padStart(5, '0')}`, to: `n${String(i - 1).padStart(5, '0')}` });
    }
    const order = planLinkOrder(big, edges);
    expect(order[0]).toBe('n09999');
    expect(order[9999]).toBe('n00000');
  });
});

describe('lockfile', () => {
  it('is byte-identical when regenerated, whatever order the provider returns', async () => {
    const base = registryOf(spec, { targets: ['hw-x86_64', 'posix-x86_64'] });
    const texts = new Set<string>();
    for (const seed of [1, 2, 3, 4]) {
      const lock = buildLockfile(request.root.dependencies, { 'hw-x86_64': buildLockedTarget(await solved(shuffled(base, seed))) });
      texts.add(renderLockfile(lock));
    }
    expect(texts.size).toBe(1);
    const text = [...texts][0] as string;
    expect(text.endsWith('}\n')).toBe(true);
    const parsed = parseLockfileText(text, { file: 'rumpkg.lock' });
    expect(parsed.errors).toEqual([]);
  });

  it('lockfileSatisfies lists why a lockfile does not fit rumpkg.json', async () => {
    const lock = buildLockfile(request.root.dependencies, { 'hw-x86_64': buildLockedTarget(await solved()) });
    expect(lockfileSatisfies(lock, { components: request.root.dependencies, targets: ['hw-x86_64'] })).toEqual([]);
    expect(lockfileSatisfies(lock, { components: { tcpip: '^11.0.0', sockin: '^10.0.0' }, targets: ['hw-x86_64', 'posix-x86_64'] })).toEqual([
      'sockin@^10.0.0 is requested by rumpkg.json but not locked',
      'tcpip is requested as ^11.0.0 but locked for ^10.0.0',
      'virtio-net is locked but no longer requested by rumpkg.json',
      'target posix-x86_64 has no locked closure',
      'hw-x86_64: sockin (needed by rumpkg.json) is missing from the closure',
      'hw-x86_64: tcpip@10.0.0 does not satisfy ^11.0.0 (needed by rumpkg.json)',
    ]);
  });

  it('whyChains gives every chain from the project', async () => {
    const t = buildLockedTarget(await solved());
    expect(whyChains(t, 'rump')).toEqual([
      ['<project>', 'tcpip', 'net', 'rump'],
      ['<project>', 'virtio-net', 'net', 'rump'],
      ['<project>', 'virtio-net', 'virtio-pci', 'rump'],
      ['<project>', 'virtio-net', 'virtio-pci', 'pci', 'rump'],
    ]);
    expect(whyChains(t, 'nope')).toEqual([]);
  });

  it('lockedVersions feeds prefer-locked', async () => {
    const lock = buildLockfile(request.root.dependencies, { 'hw-x86_64': buildLockedTarget(await solved()) });
    const locked = lockedVersions(lock, 'hw-x86_64');
    expect(locked['tcpip']).toBe('10.0.0');
    expect(locked['cap:bus:pci']).toBe('pci');
    const newer = registryOf({ ...spec, 'tcpip 10.1.0': { deps: { net: '^10.0.0' } } }, { targets: ['hw-x86_64'] });
    const r = await solve({ ...request, locked }, createMemoryProvider(newer));
    expect(r.ok && r.solution.components['tcpip']?.version).toBe('10.0.0');
    const u = await solve({ ...request, locked, unlock: ['tcpip'] }, createMemoryProvider(newer));
    expect(u.ok && u.solution.components['tcpip']?.version).toBe('10.1.0');
    expect(lockedVersions(lock, 'xen-x86_64')).toEqual({});
  });
});
