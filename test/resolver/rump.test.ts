/** rumpkg's additions to PubGrub: targets, capabilities, conflicts, optional edges, yanked, prereleases, locked. */
import { describe, expect, it } from 'vitest';
import { createMemoryProvider, registryOf, renderFailure, solve, type Resolution, type SolveRequest } from '../../resolver/index.js';

type Spec = Parameters<typeof registryOf>[0];

async function run(deps: Record<string, string>, spec: Spec, req: Partial<SolveRequest> = {}): Promise<Resolution> {
  return solve({ root: { name: 'hello', dependencies: deps }, target: 'posix-x86_64', ...req }, createMemoryProvider(registryOf(spec, { targets: ['posix-x86_64', 'hw-x86_64'] })));
}

function versions(r: Resolution): Record<string, string> {
  if (!r.ok) throw new Error(renderFailure(r.failure));
  return Object.fromEntries(Object.entries(r.solution.components).map(([n, c]) => [n, c.version]));
}

function explain(r: Resolution): string {
  if (r.ok) throw new Error(`expected a failure, got ${JSON.stringify(versions(r))}`);
  return renderFailure(r.failure);
}

/** A registry shaped like the corpus: virtio-net → bus:virtio → virtio-pci → bus:pci → pci → pci-backend → platform-hw. */
const corpus: Spec = {
  'platform-posix 10.0.0': { kind: 'platform', provides: ['hypercall:17'], targets: ['posix-x86_64'] },
  'platform-hw 10.0.0': { kind: 'platform', provides: ['hypercall:17', 'pci-backend'], targets: ['hw-x86_64'] },
  'rump 10.0.0': { requires: ['hypercall:17'] },
  'net 10.0.0': { deps: { rump: '^10.0.0' } },
  'tcpip 10.0.0': { deps: { net: '^10.0.0' }, conflicts: ['sockin'] },
  'sockin 10.0.0': { deps: { rump: '^10.0.0' }, conflicts: ['tcpip'] },
  'pci 10.0.0': { deps: { rump: '^10.0.0' }, provides: ['bus:pci'], requires: ['pci-backend'] },
  'virtio-pci 10.0.0': { deps: { rump: '^10.0.0' }, provides: ['bus:virtio'], requires: ['bus:pci'] },
  'virtio-net 10.0.0': { deps: { net: '^10.0.0' }, requires: ['bus:virtio'] },
};

describe('targets', () => {
  it('a version that does not ship the target is not a candidate', async () => {
    const r = await run({ foo: '*' }, { 'foo 1.0.0': {}, 'foo 2.0.0': { targets: ['hw-x86_64'] } });
    expect(versions(r)).toEqual({ foo: '1.0.0' });
  });

  it('no version of X ships target T', async () => {
    const r = await run({ foo: '^1.0.0' }, { 'foo 1.0.0': { targets: ['hw-x86_64'] }, 'foo 1.1.0': { targets: ['hw-x86_64'] } });
    expect(explain(r)).toBe('Because hello depends on foo ^1.0.0 which does not ship target posix-x86_64, version solving failed.');
  });

  it('names the target through a dependency chain', async () => {
    const r = await run({ app: '^1.0.0' }, { 'app 1.0.0': { xen: '^1.0.0' }, 'xen 1.0.0': { targets: ['xen-x86_64'] } });
    expect(explain(r)).toBe(
      [
        'Because every version of app depends on xen ^1.0.0 which does not ship target posix-x86_64, app is forbidden.',
        'So, because hello depends on app ^1.0.0, version solving failed.',
      ].join('\n'),
    );
  });
});

describe('capabilities', () => {
  it('virtio-net resolves on hw-x86_64 through virtio-pci, pci and the hw platform', async () => {
    const r = await run({ tcpip: '^10.0.0', 'virtio-net': '^10.0.0' }, corpus, { target: 'hw-x86_64' });
    expect(versions(r)).toEqual({
      net: '10.0.0',
      pci: '10.0.0',
      'platform-hw': '10.0.0',
      rump: '10.0.0',
      tcpip: '10.0.0',
      'virtio-net': '10.0.0',
      'virtio-pci': '10.0.0',
    });
    if (!r.ok) return;
    expect(r.solution.capabilities).toEqual({ 'bus:pci': 'pci', 'bus:virtio': 'virtio-pci', 'hypercall:17': 'platform-hw', 'pci-backend': 'platform-hw' });
    expect(r.solution.edges.filter((e) => e.kind === 'capability')).toEqual([
      { from: 'pci', to: 'platform-hw', kind: 'capability', capability: 'pci-backend' },
      { from: 'rump', to: 'platform-hw', kind: 'capability', capability: 'hypercall:17' },
      { from: 'virtio-net', to: 'virtio-pci', kind: 'capability', capability: 'bus:virtio' },
      { from: 'virtio-pci', to: 'pci', kind: 'capability', capability: 'bus:pci' },
    ]);
  });

  it('virtio-net on posix-x86_64 fails naming virtio-net and bus:pci', async () => {
    const r = await run({ tcpip: '^10.0.0', 'virtio-net': '^10.0.0' }, corpus);
    const text = explain(r);
    expect(text).toContain('virtio-net');
    expect(text).toContain('bus:pci');
    expect(text).toBe(
      [
        'Because every version of virtio-net requires bus:virtio which is provided only by virtio-pci, every version of virtio-net requires virtio-pci.',
        'And because every version of virtio-pci requires bus:pci, every version of virtio-net requires bus:pci.',
        'And because bus:pci is provided only by pci which requires pci-backend, every version of virtio-net requires pci-backend.',
        'So, because no component for posix-x86_64 provides pci-backend (platform-hw provides it but not for posix-x86_64) and hello depends on virtio-net ^10.0.0, version solving failed.',
      ].join('\n'),
    );
  });

  it('an already chosen provider satisfies a requirement (no second provider)', async () => {
    const r = await run(
      { app: '*', 'pci-b': '*' },
      { 'app 1.0.0': { requires: ['bus:pci'] }, 'pci-a 1.0.0': { provides: ['bus:pci'] }, 'pci-b 1.0.0': { provides: ['bus:pci'] } },
    );
    expect(versions(r)).toEqual({ app: '1.0.0', 'pci-b': '1.0.0' });
  });

  it('falls back to another provider when the first cannot be used', async () => {
    const r = await run(
      { app: '*' },
      { 'app 1.0.0': { requires: ['bus:pci'] }, 'pci-a 1.0.0': { provides: ['bus:pci'], deps: { missing: '^1.0.0' } }, 'pci-b 1.0.0': { provides: ['bus:pci'] } },
    );
    expect(versions(r)).toEqual({ app: '1.0.0', 'pci-b': '1.0.0' });
  });

  it('only versions that provide the capability count', async () => {
    const r = await run(
      { app: '*' },
      { 'app 1.0.0': { requires: ['bus:pci'] }, 'pci 1.0.0': { provides: ['bus:pci'] }, 'pci 2.0.0': {} },
    );
    expect(versions(r)).toEqual({ app: '1.0.0', pci: '1.0.0' });
  });
});

describe('conflicts', () => {
  it('sockin vs tcpip', async () => {
    const r = await run({ tcpip: '^10.0.0', sockin: '^10.0.0' }, corpus);
    expect(explain(r)).toBe(
      [
        'Because every version of tcpip conflicts with sockin and hello depends on sockin ^10.0.0, tcpip is forbidden.',
        'So, because hello depends on tcpip ^10.0.0, version solving failed.',
      ].join('\n'),
    );
  });

  it('a conflict is avoided by choosing another version', async () => {
    const r = await run({ a: '*', b: '*' }, { 'a 2.0.0': { conflicts: ['b'] }, 'a 1.0.0': {}, 'b 1.0.0': {} });
    expect(versions(r)).toEqual({ a: '1.0.0', b: '1.0.0' });
  });

  it('a self-conflict makes the version unusable', async () => {
    const r = await run({ a: '*' }, { 'a 1.0.0': { conflicts: ['a'] } });
    expect(explain(r)).toBe('Because hello depends on a which conflicts with itself, version solving failed.');
    const r2 = await run({ a: '*' }, { 'a 1.0.0': { conflicts: ['a'] }, 'a 0.9.0': {} });
    expect(versions(r2)).toEqual({ a: '0.9.0' });
  });
});

describe('optional edges, yanked, prereleases, locked', () => {
  it('records optional edges without pulling them in', async () => {
    const r = await run({ a: '*' }, { 'a 1.0.0': { optional: { b: '^1.0.0' } }, 'b 1.0.0': {} });
    expect(versions(r)).toEqual({ a: '1.0.0' });
    if (r.ok) expect(r.solution.edges).toContainEqual({ from: 'a', to: 'b', kind: 'optional', range: '^1.0.0' });
  });

  it('never chooses a yanked version unless it is locked', async () => {
    const spec: Spec = { 'a 1.0.0': {}, 'a 1.1.0': { yanked: true } };
    expect(versions(await run({ a: '^1.0.0' }, spec))).toEqual({ a: '1.0.0' });
    expect(versions(await run({ a: '^1.0.0' }, spec, { locked: { a: '1.1.0' } }))).toEqual({ a: '1.1.0' });
    expect(explain(await run({ a: '^1.1.0' }, spec))).toBe(
      'Because hello depends on a ^1.1.0 which doesn\'t match any versions, version solving failed.',
    );
  });

  it('prereleases only when asked', async () => {
    const spec: Spec = { 'a 1.0.0': {}, 'a 1.1.0-beta.1': {} };
    expect(versions(await run({ a: '>=1.0.0' }, spec))).toEqual({ a: '1.0.0' });
    expect(versions(await run({ a: '>=1.0.0' }, spec, { prerelease: true }))).toEqual({ a: '1.1.0-beta.1' });
    expect(versions(await run({ a: '>=1.0.0' }, spec, { prerelease: ['b'] }))).toEqual({ a: '1.0.0' });
    expect(versions(await run({ a: '>=1.0.0' }, spec, { prerelease: ['a'] }))).toEqual({ a: '1.1.0-beta.1' });
  });

  it('prefers locked versions, unless unlocked or out of range', async () => {
    const spec: Spec = { 'a 1.0.0': {}, 'a 1.1.0': {}, 'a 2.0.0': {} };
    expect(versions(await run({ a: '*' }, spec, { locked: { a: '1.0.0' } }))).toEqual({ a: '1.0.0' });
    expect(versions(await run({ a: '*' }, spec, { locked: { a: '1.0.0' }, unlock: ['a'] }))).toEqual({ a: '2.0.0' });
    expect(versions(await run({ a: '^2.0.0' }, spec, { locked: { a: '1.0.0' } }))).toEqual({ a: '2.0.0' });
  });

  it('unknown components', async () => {
    expect(explain(await run({ nope: '^1.0.0' }, {}))).toBe("Because hello depends on nope ^1.0.0 which doesn't exist, version solving failed.");
  });
});
